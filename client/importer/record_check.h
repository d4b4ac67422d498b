// The client-side pre-check of import records, with the server's rules (README.md's schema
// table, the limits of proto/kg/v1/types.proto) plus valid UTF-8 in every string, so bad
// input is reported on the client by line instead of being sent. Pure; thread-safe.
#ifndef KG_CLIENT_IMPORTER_RECORD_CHECK_H_
#define KG_CLIENT_IMPORTER_RECORD_CHECK_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kg/v1/types.pb.h"

namespace kg {

// The source and destination entity types of a specified edge type (the schema).
struct EdgeEnds {
  v1::EntityType src;
  v1::EntityType dst;
};
// Returns false for EDGE_TYPE_UNSPECIFIED and unknown values.
bool EdgeSchemaOf(v1::EdgeType type, EdgeEnds* ends);

// Whether `text` is well-formed UTF-8 (no overlongs, surrogates or values > U+10FFFF).
bool IsValidUtf8(absl::string_view text);

// Checks one record as the server would; returns INVALID_ARGUMENT naming the field, e.g.
// "edge.dst.type: PURCHASED edges end at PRODUCT, got BRAND".
absl::Status CheckRecord(const v1::ImportRecord& record);

}  // namespace kg

#endif  // KG_CLIENT_IMPORTER_RECORD_CHECK_H_
