// The edge schema and the names of types: the one place that knows which entity types
// an edge type connects, and the limits on entity content. Thread-safe (constant data).
#ifndef KG_SERVER_GRAPH_SCHEMA_H_
#define KG_SERVER_GRAPH_SCHEMA_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/graph/key.h"

namespace kg {

// Limits on one entity (documented in proto/kg/v1/types.proto).
inline constexpr size_t kMaxNameBytes = 4096;
inline constexpr size_t kMaxMapEntries = 256;
inline constexpr size_t kMaxAttributeKeyBytes = 128;
inline constexpr size_t kMaxAttributeValueBytes = 4096;

struct EdgeSchema {
  EntityType src;
  EntityType dst;
};

bool IsValidEntityType(int value);  // a known, specified EntityType
bool IsValidEdgeType(int value);    // a known, specified EdgeType

// Requires IsValidEdgeType(type).
EdgeSchema SchemaOf(EdgeType type);

// The entity type at the `dir` end of an edge of `type` seen from its owner: for kOut the
// owner is the source and the neighbor the destination.
EntityType OwnerType(EdgeType type, Direction dir);
EntityType NeighborType(EdgeType type, Direction dir);

// Upper-case proto names ("PRODUCT", "PURCHASED").
absl::string_view EntityTypeName(EntityType type);
absl::string_view EdgeTypeName(EdgeType type);
absl::string_view DirectionName(Direction dir);

// The name of an item's field, `list[index]suffix` (e.g. "keys[3]", "queries[2].key"),
// built only when an error needs it: validating the items of a large batch allocates
// nothing while they are valid.
struct ItemField {
  absl::string_view list;
  int index;
  absl::string_view suffix = "";
  std::string Name() const;
};

// OK when the key has a valid type and a non-zero id; else INVALID_ARGUMENT naming
// `field` (e.g. "keys[3]").
absl::Status ValidateKey(const EntityKey& key, absl::string_view field);
absl::Status ValidateKey(const EntityKey& key, const ItemField& field);

// OK when `owner` may hold edges of `type` in direction `dir`; else INVALID_ARGUMENT
// naming `field`.
absl::Status ValidateOwner(const EntityKey& owner, EdgeType type, Direction dir,
                           absl::string_view field);
absl::Status ValidateOwner(const EntityKey& owner, EdgeType type, Direction dir,
                           const ItemField& field);

// Validates a whole edge: keys, type, the schema, no self-loop, time >= 0. Fields are
// named under `field` (e.g. "edges[2]" -> "edges[2].dst.type").
absl::Status ValidateEdge(const EntityKey& src, EdgeType type, const EntityKey& dst,
                          int64_t time_ms, absl::string_view field);

}  // namespace kg

#endif  // KG_SERVER_GRAPH_SCHEMA_H_
