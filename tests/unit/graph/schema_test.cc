#include "server/graph/schema.h"

#include "gtest/gtest.h"

namespace kg {
namespace {

TEST(SchemaTest, EveryEdgeTypeHasItsEndpoints) {
  EXPECT_EQ(SchemaOf(EdgeType::kInCategory).src, EntityType::kProduct);
  EXPECT_EQ(SchemaOf(EdgeType::kInCategory).dst, EntityType::kCategory);
  EXPECT_EQ(SchemaOf(EdgeType::kSubcategoryOf).src, EntityType::kCategory);
  EXPECT_EQ(SchemaOf(EdgeType::kPosted).dst, EntityType::kContent);
  EXPECT_EQ(SchemaOf(EdgeType::kFeatures).src, EntityType::kContent);
  EXPECT_EQ(SchemaOf(EdgeType::kFollows).dst, EntityType::kInfluencer);
  for (int t = 1; t < kEdgeTypeCount; ++t) {
    EdgeSchema s = SchemaOf(static_cast<EdgeType>(t));
    EXPECT_TRUE(IsValidEntityType(static_cast<int>(s.src))) << t;
    EXPECT_TRUE(IsValidEntityType(static_cast<int>(s.dst))) << t;
  }
}

TEST(SchemaTest, OwnerAndNeighborTypesFollowDirection) {
  EXPECT_EQ(OwnerType(EdgeType::kPurchased, Direction::kOut), EntityType::kBuyer);
  EXPECT_EQ(OwnerType(EdgeType::kPurchased, Direction::kIn), EntityType::kProduct);
  EXPECT_EQ(NeighborType(EdgeType::kPurchased, Direction::kIn), EntityType::kBuyer);
}

TEST(SchemaTest, ValidateEdgeNamesTheField) {
  EntityKey buyer{EntityType::kBuyer, 1}, product{EntityType::kProduct, 2};
  EXPECT_TRUE(ValidateEdge(buyer, EdgeType::kPurchased, product, 5, "e").ok());
  absl::Status s = ValidateEdge(product, EdgeType::kPurchased, product, 5, "edges[3]");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("edges[3].src.type"), absl::string_view::npos) << s;
  s = ValidateEdge(buyer, EdgeType::kPurchased, buyer, 5, "e");
  EXPECT_NE(s.message().find("e.dst.type"), absl::string_view::npos) << s;
  s = ValidateEdge(buyer, EdgeType::kPurchased, {EntityType::kProduct, 0}, 5, "e");
  EXPECT_NE(s.message().find("e.dst.id"), absl::string_view::npos) << s;
  s = ValidateEdge(buyer, EdgeType::kPurchased, product, -1, "e");
  EXPECT_NE(s.message().find("e.time_ms"), absl::string_view::npos) << s;
  s = ValidateEdge(buyer, static_cast<EdgeType>(99), product, 1, "e");
  EXPECT_NE(s.message().find("e.type"), absl::string_view::npos) << s;
  EntityKey cat{EntityType::kCategory, 4};
  s = ValidateEdge(cat, EdgeType::kSubcategoryOf, cat, 1, "e");
  EXPECT_NE(s.message().find("loop"), absl::string_view::npos) << s;
}

TEST(SchemaTest, ValidateKeyRejectsUnspecifiedAndZero) {
  EXPECT_FALSE(ValidateKey({EntityType::kUnspecified, 1}, "k").ok());
  EXPECT_FALSE(ValidateKey({EntityType::kProduct, 0}, "k").ok());
  EXPECT_FALSE(ValidateKey({static_cast<EntityType>(9), 1}, "k").ok());
  EXPECT_TRUE(ValidateKey({EntityType::kContent, 1}, "k").ok());
}

TEST(SchemaTest, ItemFieldsNameTheItemInErrors) {
  EXPECT_TRUE(ValidateKey({EntityType::kProduct, 7}, ItemField{"keys", 3}).ok());
  absl::Status s = ValidateKey({EntityType::kProduct, 0}, ItemField{"queries", 2, ".key"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "queries[2].key.id: must not be 0");
  EXPECT_TRUE(ValidateOwner({EntityType::kBuyer, 1}, EdgeType::kPurchased, Direction::kOut,
                            ItemField{"keys", 0})
                  .ok());
  s = ValidateOwner({EntityType::kProduct, 1}, EdgeType::kPurchased, Direction::kOut,
                    ItemField{"keys", 4});
  EXPECT_EQ(s.message().substr(0, 13), "keys[4].type:");
}

TEST(SchemaTest, Names) {
  EXPECT_EQ(EntityTypeName(EntityType::kSpu), "SPU");
  EXPECT_EQ(EdgeTypeName(EdgeType::kAddedToCart), "ADDED_TO_CART");
  EXPECT_EQ(DirectionName(Direction::kIn), "IN");
}

}  // namespace
}  // namespace kg
