#include "server/graph/key.h"

#include <vector>

#include "gtest/gtest.h"

namespace kg {
namespace {

// Golden values, computed by an independent implementation of the same mix. If one of
// these changes, every stored key moves partition: never change them.
TEST(KeyTest, StableHashGoldenValues) {
  EXPECT_EQ(StableKeyHash({EntityType::kProduct, 1}), 0xbeeb8da1658eec67ULL);
  EXPECT_EQ(StableKeyHash({EntityType::kProduct, 2}), 0xbfc846100bfc1e42ULL);
  EXPECT_EQ(StableKeyHash({EntityType::kBuyer, 123456789}), 0xc56da70a99d3435cULL);
  EXPECT_EQ(StableKeyHash({EntityType::kCategory, 5595}), 0x5634b9fdb0a5c9e6ULL);
  EXPECT_EQ(StableKeyHash({EntityType::kContent, ~0ULL}), 0xc4fea708156e0c84ULL);
}

TEST(KeyTest, PartitionGoldenValues) {
  EXPECT_EQ(PartitionOf({EntityType::kProduct, 1}, 8), 7u);
  EXPECT_EQ(PartitionOf({EntityType::kProduct, 2}, 8), 2u);
  EXPECT_EQ(PartitionOf({EntityType::kBuyer, 123456789}, 4), 0u);
  EXPECT_EQ(PartitionOf({EntityType::kCategory, 5595}, 1024), 486u);
  EXPECT_EQ(PartitionOf({EntityType::kContent, ~0ULL}, 1), 0u);
}

TEST(KeyTest, TypeIsPartOfTheKey) {
  EXPECT_NE(StableKeyHash({EntityType::kProduct, 42}), StableKeyHash({EntityType::kBuyer, 42}));
}

TEST(KeyTest, SequentialIdsSpreadEvenly) {
  constexpr uint32_t kParts = 8;
  std::vector<int> counts(kParts);
  for (uint64_t id = 1; id <= 80000; ++id) ++counts[PartitionOf({EntityType::kBuyer, id}, kParts)];
  for (int c : counts) {
    EXPECT_GT(c, 9500);
    EXPECT_LT(c, 10500);
  }
}

}  // namespace
}  // namespace kg
