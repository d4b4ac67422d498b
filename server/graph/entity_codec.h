// The binary encoding of an entity: how the graph keeps entities in memory (one
// allocation each) and how the store keeps them on disk. Thread-safe (pure functions).
//
// The bytes are exactly the protobuf wire encoding of kg.v1.Entity's fields 2-5 (name,
// attributes, metrics, update_time_ms; proto/kg/v1/types.proto), written here by hand,
// without the protobuf library: the API layers send a stored entity as it is, prefixed
// with its key (field 1), instead of rebuilding it as a message. Fields in number order,
// map entries sorted by name, each entry with its key and value, empty name and zero time
// omitted. tests/unit/partition/entity_wire_test.cc checks it against the generated code.
// DecodeEntity also reads the first format of this project (it began with a version byte 1,
// which no protobuf field tag can be), so older data directories stay readable.
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
