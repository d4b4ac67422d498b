// The compact binary encoding of an entity: how the graph keeps entities in memory (one
// allocation each) and how the store keeps them on disk. Thread-safe (pure functions).
//
//   version(1) name(varint len + bytes) update_time(varint)
//   n_attributes(varint) { key, value }*   n_metrics(varint) { key, double(8, big-endian) }*
#ifndef KG_SERVER_GRAPH_ENTITY_CODEC_H_
#define KG_SERVER_GRAPH_ENTITY_CODEC_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/graph/graph_partition.h"

namespace kg {

std::string EncodeEntity(const EntityData& data);

// DATA_LOSS when `bytes` is not a complete encoding. Reuses the capacity of *data's strings
// and vectors (cheap when decoding repeatedly into the same buffer).
absl::Status DecodeEntity(absl::string_view bytes, EntityData* data);

}  // namespace kg

#endif  // KG_SERVER_GRAPH_ENTITY_CODEC_H_
