// The insight indexes kept by GraphPartition on writes: products by category and metric
// (ranked, filtered, paged, members), and buyer segment counts.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "server/graph/graph_partition.h"

namespace kg {
namespace {

EntityKey Product(uint64_t id) { return {EntityType::kProduct, id}; }

void PutProduct(GraphPartition* g, uint64_t id, double sales, double price) {
  EntityData d;
  d.name = "p";
  d.metrics = {{"price", price}, {"sales_30d", sales}};
  ASSERT_TRUE(g->UpsertEntity(Product(id), d, false).ok());
}

void Link(GraphPartition* g, uint64_t id, EdgeType type, uint64_t other) {
  ASSERT_TRUE(g->UpsertEdgeCopy(Product(id), type, Direction::kOut, other, 1000, 1).ok());
}

std::vector<uint64_t> Ids(const std::vector<RankedProductId>& r) {
  std::vector<uint64_t> out;
  for (const auto& x : r) out.push_back(x.id);
  return out;
}

std::vector<uint64_t> TopIds(const GraphPartition& g, ProductFilter f, const char* metric,
                             size_t limit, uint64_t* candidates = nullptr,
                             std::optional<RankedProductId> after = std::nullopt) {
  uint64_t n = 0;
  auto top = g.products().Top(f, metric, after, limit, &n);
  if (candidates != nullptr) *candidates = n;
  return Ids(top);
}

TEST(ProductIndexTest, RanksByMetricAcrossCategoriesAndFollowsWrites) {
  GraphPartition g(4);
  // Category 10: products 1..5 (sales 10, 50, 30, 50, 5); category 11: product 6 (sales 40).
  const double sales[] = {10, 50, 30, 50, 5, 40};
  for (uint64_t id = 1; id <= 6; ++id) {
    PutProduct(&g, id, sales[id - 1], 10.0 * id);
    Link(&g, id, EdgeType::kInCategory, id <= 5 ? 10 : 11);
  }
  ProductFilter f;
  f.categories = {10};
  uint64_t candidates = 0;
  // Ties by id ascending.
  EXPECT_EQ(TopIds(g, f, "sales_30d", 3, &candidates), (std::vector<uint64_t>{2, 4, 3}));
  EXPECT_EQ(candidates, 5u);
  f.categories = {10, 11};
  EXPECT_EQ(TopIds(g, f, "sales_30d", 4, &candidates), (std::vector<uint64_t>{2, 4, 6, 3}));
  EXPECT_EQ(candidates, 6u);
  // Paging: after (50, 4) comes 6.
  EXPECT_EQ(TopIds(g, f, "sales_30d", 2, nullptr, RankedProductId{50, 4}),
            (std::vector<uint64_t>{6, 3}));
  // A metric update re-ranks; a merge keeps the other metric.
  EntityData up;
  up.metrics = {{"sales_30d", 100}};
  ASSERT_TRUE(g.UpsertEntity(Product(5), up, true).ok());
  EXPECT_EQ(TopIds(g, f, "sales_30d", 2), (std::vector<uint64_t>{5, 2}));
  f.min_price = 45;  // product 5 kept its price 50 through the merge
  EXPECT_EQ(TopIds(g, f, "sales_30d", 1), (std::vector<uint64_t>{5}));
  f.min_price = 0;
  // Moving product 2 to category 11 and deleting product 4 (entity and edges).
  ASSERT_TRUE(g.DeleteEdgeCopy(Product(2), EdgeType::kInCategory, Direction::kOut, 10).ok());
  Link(&g, 2, EdgeType::kInCategory, 11);
  std::vector<RemovedEdge> removed;
  ASSERT_TRUE(g.DeleteEntity(Product(4), &removed).ok());
  f.categories = {10};
  EXPECT_EQ(TopIds(g, f, "sales_30d", 10, &candidates), (std::vector<uint64_t>{5, 3, 1}));
  EXPECT_EQ(candidates, 3u);
  f.categories = {11};
  EXPECT_EQ(TopIds(g, f, "sales_30d", 10), (std::vector<uint64_t>{2, 6}));
  // A product in two categories of the query is listed once.
  Link(&g, 3, EdgeType::kInCategory, 11);
  f.categories = {10, 11};
  EXPECT_EQ(TopIds(g, f, "sales_30d", 10), (std::vector<uint64_t>{5, 2, 6, 3, 1}));
  // An unknown metric or category: nothing.
  EXPECT_TRUE(TopIds(g, f, "no_such_metric", 10).empty());
  f.categories = {99};
  EXPECT_TRUE(TopIds(g, f, "sales_30d", 10).empty());
}

TEST(ProductIndexTest, FiltersByBrandMerchantAndPrice) {
  GraphPartition g(4);
  for (uint64_t id = 1; id <= 6; ++id) {
    PutProduct(&g, id, static_cast<double>(id), 10.0 * id);
    Link(&g, id, EdgeType::kInCategory, 10);
    Link(&g, id, EdgeType::kHasBrand, id % 2 ? 100 : 200);
    Link(&g, id, EdgeType::kSoldBy, id <= 3 ? 7 : 8);
  }
  ProductFilter f;
  f.categories = {10};
  f.brands = {200};
  uint64_t candidates = 0;
  EXPECT_EQ(TopIds(g, f, "sales_30d", 10, &candidates), (std::vector<uint64_t>{6, 4, 2}));
  EXPECT_EQ(candidates, 3u);
  f.merchant = 7;
  EXPECT_EQ(TopIds(g, f, "sales_30d", 10), (std::vector<uint64_t>{2}));
  f = ProductFilter{};
  f.categories = {10};
  f.min_price = 20;
  f.max_price = 40;
  EXPECT_EQ(TopIds(g, f, "sales_30d", 10), (std::vector<uint64_t>{4, 3, 2}));
  bool truncated = false;
  EXPECT_EQ(g.products().Members(f, 10, &truncated), (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_FALSE(truncated);
  EXPECT_EQ(g.products().Members(f, 2, &truncated), (std::vector<uint64_t>{2, 3}));
  EXPECT_TRUE(truncated);
  // Removing a brand edge takes the product out of the brand's filter.
  ASSERT_TRUE(g.DeleteEdgeCopy(Product(6), EdgeType::kHasBrand, Direction::kOut, 200).ok());
  f = ProductFilter{};
  f.categories = {10};
  f.brands = {200};
  EXPECT_EQ(TopIds(g, f, "sales_30d", 10), (std::vector<uint64_t>{4, 2}));
}

TEST(ProductIndexTest, RecoveryLoadsWholeListsAndDeletesForget) {
  GraphPartition g(4);
  PutProduct(&g, 1, 5, 1);
  ASSERT_TRUE(g.LoadEdgeList(Product(1), EdgeType::kInCategory, Direction::kOut,
                             {{10, 1000, 1}, {11, 1001, 1}})
                  .ok());
  ProductFilter f;
  f.categories = {11};
  EXPECT_EQ(TopIds(g, f, "sales_30d", 10), (std::vector<uint64_t>{1}));
  ASSERT_TRUE(
      g.LoadEdgeList(Product(1), EdgeType::kInCategory, Direction::kOut, {{10, 1000, 1}}).ok());
  EXPECT_TRUE(TopIds(g, f, "sales_30d", 10).empty());
  std::vector<RemovedEdge> removed;
  ASSERT_TRUE(g.DeleteEntity(Product(1), &removed).ok());
  EXPECT_EQ(g.products().size(), 0u);
}

TEST(ProductIndexTest, MemoryEstimateFollowsWrites) {
  ProductIndex index;
  const uint64_t empty = index.MemoryBytes();
  auto fill = [&index] {
    for (uint64_t id = 1; id <= 1000; ++id) {
      index.SetMetrics(id, {{"price", 1.0 * id}, {"sales_30d", 2.0 * id}});
      index.AddLink(id, ProductLink::kCategory, id % 10 + 1);
      index.AddLink(id, ProductLink::kBrand, id % 7 + 1);
      index.AddLink(id, ProductLink::kBrand, id % 7 + 1);  // again: no change
    }
  };
  fill();
  const uint64_t filled = index.MemoryBytes();
  // At least the links (2 x 8 bytes), metrics (2 x 16), ranked records (2 x 16) and the
  // member record (8) of each product.
  EXPECT_GT(filled - empty, 1000u * (16 + 32 + 32 + 8));
  for (uint64_t id = 1; id <= 500; ++id) index.RemoveProduct(id);
  for (uint64_t id = 501; id <= 1000; ++id) index.RemoveLink(id, ProductLink::kBrand, id % 7 + 1);
  const uint64_t half = index.MemoryBytes();
  EXPECT_LT(half, filled);
  EXPECT_GT(half, empty);
  fill();  // the same contents in tables of the same capacity: the same estimate
  EXPECT_EQ(index.MemoryBytes(), filled);
  for (uint64_t id = 1; id <= 1000; ++id) index.RemoveProduct(id);
  EXPECT_LT(index.MemoryBytes(), half);
}

TEST(SegmentCounterTest, CountsBuyersThroughUpdatesAndDeletes) {
  GraphPartition g(4);
  auto buyer = [&](uint64_t id, const char* gender, const char* age, bool merge = false) {
    EntityData d;
    d.attributes = {{"age_band", age}, {"gender", gender}};
    ASSERT_TRUE(g.UpsertEntity({EntityType::kBuyer, id}, d, merge).ok());
  };
  buyer(1, "F", "25-34");
  buyer(2, "F", "35-44");
  buyer(3, "M", "25-34");
  buyer(2, "M", "35-44");  // replaced
  std::vector<RemovedEdge> removed;
  ASSERT_TRUE(g.DeleteEntity({EntityType::kBuyer, 3}, &removed).ok());
  SegmentCountsSnapshot s = g.segments().Snapshot();
  EXPECT_EQ(s.buyers, 2u);
  std::map<std::pair<std::string, std::string>, uint64_t> counts(s.counts.begin(), s.counts.end());
  EXPECT_EQ(counts[std::make_pair(std::string("gender"), std::string("F"))], 1u);
  EXPECT_EQ(counts[std::make_pair(std::string("gender"), std::string("M"))], 1u);
  EXPECT_EQ(counts[std::make_pair(std::string("age_band"), std::string("25-34"))], 1u);
  EXPECT_EQ(counts[std::make_pair(std::string("age_band"), std::string("35-44"))], 1u);
  EXPECT_EQ(counts.size(), 4u);
  // An attribute with more distinct values than a segment may have is dropped.
  for (uint64_t id = 10; id < 10 + kMaxSegmentValues + 1; ++id) {
    EntityData d;
    d.attributes = {{"email", "b" + std::to_string(id) + "@x"}, {"gender", "F"}};
    ASSERT_TRUE(g.UpsertEntity({EntityType::kBuyer, id}, d, false).ok());
  }
  s = g.segments().Snapshot();
  EXPECT_EQ(s.dropped, (std::vector<std::string>{"email"}));
  for (const auto& [key, n] : s.counts) EXPECT_NE(key.first, "email");
  EXPECT_EQ(s.buyers, 2u + kMaxSegmentValues + 1);
}

}  // namespace
}  // namespace kg
