// The graph's entity encoding (server/graph/entity_codec.h) is, byte for byte, what the
// API sends as a kg.v1.Entity: checked here against the generated protobuf code.
#include <random>
#include <string>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "kg/v1/types.pb.h"
#include "server/graph/entity_codec.h"
#include "server/partition/convert.h"

namespace kg {
namespace {

EntityData Sample(std::mt19937_64& rng) {
  EntityData d;
  auto text = [&](size_t max) {
    std::string s(rng() % (max + 1), 'a');
    for (char& c : s) c = static_cast<char>('a' + rng() % 26);
    return s;
  };
  d.name = rng() % 5 == 0 ? "" : text(200);
  for (size_t i = rng() % 6; i > 0; --i) d.attributes.emplace_back(text(12), text(300));
  for (size_t i = rng() % 6; i > 0; --i) {
    d.metrics.emplace_back(text(12), static_cast<double>(static_cast<int64_t>(rng())) / 7.0);
  }
  d.update_time_ms = rng() % 4 == 0 ? 0 : static_cast<int64_t>(rng() % 4000000000000) - 1;
  NormalizeEntity(&d);
  return d;
}

TEST(EntityWireTest, EncodingParsesAsTheEntityMessage) {
  std::mt19937_64 rng(3);
  ReadMask all;
  for (int i = 0; i < 300; ++i) {
    EntityData d = Sample(rng);
    EntityKey key{static_cast<EntityType>(1 + rng() % 8), 1 + rng()};
    std::string wire;
    AppendEncodedEntity(key, EncodeEntity(d), &wire);
    v1::Entity parsed;
    ASSERT_TRUE(parsed.ParseFromString(wire));
    v1::Entity expected;
    EntityToProto(key, d, all, &expected);
    if (d.update_time_ms == 0) expected.clear_update_time_ms();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, expected)) << i;
    EXPECT_EQ(parsed.key().id(), key.id);
    EXPECT_EQ(static_cast<int>(parsed.key().type()), static_cast<int>(key.type));
    EXPECT_EQ(parsed.attributes_size(), static_cast<int>(d.attributes.size()));
    EXPECT_EQ(parsed.metrics_size(), static_cast<int>(d.metrics.size()));
    // And back: what the generated code writes decodes to the same entity.
    EntityData back;
    v1::Entity fields = parsed;
    fields.clear_key();
    std::string deterministic;
    {
      google::protobuf::io::StringOutputStream out(&deterministic);
      google::protobuf::io::CodedOutputStream coded(&out);
      coded.SetSerializationDeterministic(true);
      ASSERT_TRUE(fields.SerializeToCodedStream(&coded));
    }
    ASSERT_TRUE(DecodeEntity(deterministic, &back).ok());
    EXPECT_EQ(back.name, d.name);
    EXPECT_EQ(back.attributes, d.attributes);
    EXPECT_EQ(back.metrics, d.metrics);
    EXPECT_EQ(back.update_time_ms, d.update_time_ms);
    // Deterministic protobuf output (fields in order, map entries sorted) is our encoding.
    EXPECT_EQ(deterministic, EncodeEntity(d)) << i;
  }
}

}  // namespace
}  // namespace kg
