#include "server/partition/convert.h"

#include <cmath>

#include "gtest/gtest.h"

namespace kg {
namespace {

TEST(ConvertTest, ReadMaskPaths) {
  google::protobuf::FieldMask m;
  m.add_paths("name");
  m.add_paths("metrics.price");
  ReadMask mask;
  ASSERT_TRUE(ParseReadMask(m, "read_mask", &mask).ok());
  EntityData d;
  d.name = "n";
  d.attributes = {{"color", "red"}};
  d.metrics = {{"price", 3}, {"rating", 4}};
  d.update_time_ms = 9;
  v1::Entity e;
  EntityToProto({EntityType::kProduct, 1}, d, mask, &e);
  EXPECT_EQ(e.name(), "n");
  EXPECT_EQ(e.attributes_size(), 0);
  ASSERT_EQ(e.metrics_size(), 1);
  EXPECT_EQ(e.metrics().at("price"), 3);
  EXPECT_EQ(e.update_time_ms(), 0);
  EXPECT_EQ(e.key().id(), 1u);
  m.add_paths("bogus");
  absl::Status s = ParseReadMask(m, "read_mask", &mask);
  EXPECT_NE(s.message().find("read_mask.paths[2]"), absl::string_view::npos) << s;
}

TEST(ConvertTest, EntityValidationNamesFields) {
  v1::Entity e;
  EntityKey key;
  EntityData data;
  EXPECT_NE(EntityFromProto(e, "entities[0]", 1, &key, &data).message().find("entities[0].key"),
            absl::string_view::npos);
  e.mutable_key()->set_type(v1::PRODUCT);
  e.mutable_key()->set_id(5);
  (*e.mutable_metrics())["price"] = std::nan("");
  absl::Status s = EntityFromProto(e, "entities[0]", 1, &key, &data);
  EXPECT_NE(s.message().find("entities[0].metrics[price]"), absl::string_view::npos) << s;
  e.clear_metrics();
  e.set_name(std::string(5000, 'x'));
  EXPECT_NE(EntityFromProto(e, "x", 1, &key, &data).message().find("x.name"),
            absl::string_view::npos);
  e.set_name("ok");
  ASSERT_TRUE(EntityFromProto(e, "x", 77, &key, &data).ok());
  EXPECT_EQ(data.update_time_ms, 77);  // 0 means now
}

TEST(ConvertTest, EdgeValidation) {
  v1::Edge e;
  e.mutable_src()->set_type(v1::BUYER);
  e.mutable_src()->set_id(1);
  e.mutable_dst()->set_type(v1::PRODUCT);
  e.mutable_dst()->set_id(2);
  e.set_type(v1::PURCHASED);
  v1::Edge out;
  ASSERT_TRUE(ValidateEdgeProto(e, "edge", 123, &out).ok());
  EXPECT_EQ(out.time_ms(), 123);
  e.set_weight(INFINITY);
  EXPECT_NE(ValidateEdgeProto(e, "edge", 1, &out).message().find("edge.weight"),
            absl::string_view::npos);
  e.set_weight(1);
  e.mutable_dst()->set_type(static_cast<v1::EntityType>(42));
  EXPECT_NE(ValidateEdgeProto(e, "edge", 1, &out).message().find("edge.dst.type"),
            absl::string_view::npos);
}

}  // namespace
}  // namespace kg
