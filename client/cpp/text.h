// Text forms of the API's values, shared by kgctl, tests and benchmarks: entity keys
// ("PRODUCT:123"), entity and edge type names, directions, and one-line JSON of any
// message in protobuf's JSON mapping. All functions are pure and thread-safe.
#ifndef KG_CLIENT_CPP_TEXT_H_
#define KG_CLIENT_CPP_TEXT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "kg/v1/types.pb.h"
#include "proto/jsonl.h"  // ToJsonLine

namespace kg {

// Parses an entity type name, case-insensitively ("product", "PRODUCT"). Returns
// INVALID_ARGUMENT for an unknown name or ENTITY_TYPE_UNSPECIFIED.
absl::StatusOr<v1::EntityType> ParseEntityType(absl::string_view text);

// Parses "TYPE:ID", e.g. "PRODUCT:123" or "buyer:7": the type name case-insensitive, the id
// a decimal uint64 greater than 0. Returns INVALID_ARGUMENT naming the bad part.
absl::StatusOr<v1::EntityKey> ParseEntityKey(absl::string_view text);

// Formats a key as "TYPE:ID" (the inverse of ParseEntityKey).
std::string FormatEntityKey(const v1::EntityKey& key);

// Parses an edge type name, case-insensitively, '-' accepted for '_' ("purchased",
// "added-to-cart"). Returns INVALID_ARGUMENT for an unknown name or EDGE_TYPE_UNSPECIFIED.
absl::StatusOr<v1::EdgeType> ParseEdgeType(absl::string_view text);

// Parses "out" or "in" (case-insensitive). Returns INVALID_ARGUMENT otherwise.
absl::StatusOr<v1::Direction> ParseDirection(absl::string_view text);

}  // namespace kg

#endif  // KG_CLIENT_CPP_TEXT_H_
