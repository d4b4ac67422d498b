// The graph's entity encoding (server/graph/entity_codec.h), as the store's records and
// the API's encoded entities are read back: any bytes are decoded; where they decode, the
// re-encoding decodes to the same entity (and encodes identically), and, when its strings
// are UTF-8 (the server validates what it stores; the decoder does not), it is
// kg.v1.Entity wire format that protobuf reads as the same name, time and fields.
#include <cstddef>
#include <cstdint>
#include <string>

#include "client/importer/record_check.h"
#include "fuzz/fuzz_util.h"
#include "kg/v1/types.pb.h"
#include "server/graph/entity_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  kg::EntityData entity;
  if (!kg::DecodeEntity(bytes, &entity).ok()) return 0;

  const std::string encoded = kg::EncodeEntity(entity);
  kg::EntityData again;
  KG_FUZZ_CHECK(kg::DecodeEntity(encoded, &again).ok(), "a re-encoded entity does not decode");
  KG_FUZZ_CHECK(kg::EncodeEntity(again) == encoded, "encode(decode(x)) is not stable");
  KG_FUZZ_CHECK(again.name == entity.name && again.update_time_ms == entity.update_time_ms &&
                    again.attributes == entity.attributes &&
                    again.metrics.size() == entity.metrics.size(),
                "decode(encode(e)) differs from e");

  bool utf8 = kg::IsValidUtf8(entity.name);
  for (const auto& [name, value] : entity.attributes) {
    utf8 = utf8 && kg::IsValidUtf8(name) && kg::IsValidUtf8(value);
  }
  for (const auto& [name, value] : entity.metrics) utf8 = utf8 && kg::IsValidUtf8(name);
  if (!utf8) return 0;
  kg::v1::Entity message;
  KG_FUZZ_CHECK(message.ParseFromString(encoded), "the encoding is not kg.v1.Entity wire format");
  KG_FUZZ_CHECK(message.name() == entity.name, "protobuf reads another name");
  KG_FUZZ_CHECK(message.update_time_ms() == entity.update_time_ms, "protobuf reads another time");
  for (const auto& [name, value] : entity.attributes) {
    KG_FUZZ_CHECK(message.attributes().contains(name), "protobuf misses an attribute");
  }
  for (const auto& [name, value] : entity.metrics) {
    KG_FUZZ_CHECK(message.metrics().contains(name), "protobuf misses a metric");
  }
  return 0;
}
