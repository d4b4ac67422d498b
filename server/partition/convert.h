// Conversions between the kg.v1 messages and the graph's plain types, with the
// validation of every field (errors name the field, e.g. "entities[2].metrics[price]").
// Thread-safe (pure functions).
#ifndef KG_SERVER_PARTITION_CONVERT_H_
#define KG_SERVER_PARTITION_CONVERT_H_

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/field_mask.pb.h"
#include "kg/v1/types.pb.h"
#include "server/graph/graph_partition.h"
#include "server/graph/key.h"
#include "server/graph/schema.h"

namespace kg {

// Which entity fields a reader wants (from a FieldMask; empty = everything).
struct ReadMask {
  bool name = true;
  bool update_time = true;
  bool all_attributes = true;
  bool all_metrics = true;
  absl::flat_hash_set<std::string> attributes;  // when !all_attributes
  absl::flat_hash_set<std::string> metrics;     // when !all_metrics

  bool SelectsAll() const { return name && update_time && all_attributes && all_metrics; }
};

// Parses read-mask paths: "name", "attributes", "metrics", "update_time_ms",
// "attributes.<name>", "metrics.<name>" (camelCase "updateTimeMs" is accepted too).
// INVALID_ARGUMENT names `field`.paths[i] for an unknown path.
absl::Status ParseReadMask(const google::protobuf::FieldMask& mask, absl::string_view field,
                           ReadMask* out);

// Key conversion. KeyFromProto does not validate (an out-of-range type becomes 255);
// ValidateKey does, reporting the type as the request gave it.
EntityKey KeyFromProto(const v1::EntityKey& key);
absl::Status ValidateKey(const v1::EntityKey& key, absl::string_view field);
absl::Status ValidateKey(const v1::EntityKey& key, const ItemField& field);
void KeyToProto(const EntityKey& key, v1::EntityKey* out);

// Validates an entity (key, sizes, finite metrics, time) and converts it; an
// update_time_ms of 0 becomes `now_ms`. Errors name fields under `field`.
absl::Status EntityFromProto(const v1::Entity& entity, absl::string_view field, int64_t now_ms,
                             EntityKey* key, EntityData* data);

// Writes the fields of `data` selected by `mask` into `out` (which gets `key`).
void EntityToProto(const EntityKey& key, const EntityData& data, const ReadMask& mask,
                   v1::Entity* out);

// Appends the wire encoding of a kg.v1.Entity: `key` (field 1) followed by `encoded`, the
// entity's other fields as the graph stores them (server/graph/entity_codec.h).
void AppendEncodedEntity(const EntityKey& key, absl::string_view encoded, std::string* out);

// Validates an edge (schema, ids, time, finite weight) naming fields under `field`; a
// time_ms of 0 becomes `now_ms`.
absl::Status ValidateEdgeProto(const v1::Edge& edge, absl::string_view field, int64_t now_ms,
                               v1::Edge* normalized);

// Milliseconds since the Unix epoch.
int64_t NowMs();

}  // namespace kg

#endif  // KG_SERVER_PARTITION_CONVERT_H_
