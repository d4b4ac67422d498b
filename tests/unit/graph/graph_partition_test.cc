#include "server/graph/graph_partition.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace kg {
namespace {

constexpr EntityKey Buyer(uint64_t id) { return {EntityType::kBuyer, id}; }
constexpr EntityKey Product(uint64_t id) { return {EntityType::kProduct, id}; }

class GraphPartitionTest : public ::testing::Test {
 protected:
  // Stores the buyer-side copy of buyer -PURCHASED-> product.
  void Buy(uint64_t buyer, uint64_t product, int64_t t, float w = 1) {
    ASSERT_TRUE(
        g_.UpsertEdgeCopy(Buyer(buyer), EdgeType::kPurchased, Direction::kOut, product, t, w).ok());
  }
  std::vector<uint64_t> Ids(const NeighborPage& page) {
    std::vector<uint64_t> ids;
    for (const auto& e : page.edges) ids.push_back(e.id);
    return ids;
  }
  NeighborPage Page(NeighborQuery q) {
    NeighborPage page;
    EXPECT_TRUE(g_.GetNeighbors(q, &page).ok());
    return page;
  }
  NeighborQuery Query(uint64_t buyer, uint32_t limit = 20) {
    NeighborQuery q;
    q.key = Buyer(buyer);
    q.type = EdgeType::kPurchased;
    q.limit = limit;
    return q;
  }
  GraphPartition g_{4};
};

TEST_F(GraphPartitionTest, EntityUpsertReadReplaceMerge) {
  EntityData d;
  d.name = "shoe";
  d.attributes = {{"color", "red"}, {"size", "42"}};
  d.metrics = {{"price", 10}};
  ASSERT_TRUE(g_.UpsertEntity(Product(1), d, false).ok());
  EntityData got;
  ASSERT_TRUE(g_.ReadEntity(Product(1), [&](const EntityData& e) { got = e; }));
  EXPECT_EQ(got.name, "shoe");
  EXPECT_EQ(got.attributes.size(), 2u);
  EXPECT_FALSE(g_.ReadEntity(Product(2), [](const EntityData&) {}));

  EntityData patch;
  patch.attributes = {{"color", "blue"}, {"material", "leather"}};
  NormalizeEntity(&patch);
  ASSERT_TRUE(g_.UpsertEntity(Product(1), patch, /*merge=*/true).ok());
  ASSERT_TRUE(g_.ReadEntity(Product(1), [&](const EntityData& e) { got = e; }));
  EXPECT_EQ(got.name, "shoe");  // kept: patch has no name
  ASSERT_EQ(got.attributes.size(), 3u);
  EXPECT_EQ(got.attributes[0], (std::pair<std::string, std::string>("color", "blue")));
  EXPECT_EQ(got.attributes[1].first, "material");
  EXPECT_EQ(got.metrics.size(), 1u);

  ASSERT_TRUE(g_.UpsertEntity(Product(1), patch, /*merge=*/false).ok());
  ASSERT_TRUE(g_.ReadEntity(Product(1), [&](const EntityData& e) { got = e; }));
  EXPECT_EQ(got.name, "");
  EXPECT_TRUE(got.metrics.empty());
  EXPECT_EQ(g_.Stats().entities_by_type[static_cast<int>(EntityType::kProduct)], 1u);
}

TEST_F(GraphPartitionTest, NormalizeKeepsLastDuplicate) {
  EntityData d;
  d.attributes = {{"b", "1"}, {"a", "2"}, {"b", "3"}};
  NormalizeEntity(&d);
  ASSERT_EQ(d.attributes.size(), 2u);
  EXPECT_EQ(d.attributes[0].first, "a");
  EXPECT_EQ(d.attributes[1].second, "3");
}

TEST_F(GraphPartitionTest, NewestFirstAndUpsertMovesEdge) {
  Buy(1, 10, 100);
  Buy(1, 11, 300);
  Buy(1, 12, 200);
  EXPECT_EQ(Ids(Page(Query(1))), (std::vector<uint64_t>{11, 12, 10}));
  Buy(1, 10, 400, 2.5f);  // same edge, newer: moves to the front, no duplicate
  NeighborPage p = Page(Query(1));
  EXPECT_EQ(Ids(p), (std::vector<uint64_t>{10, 11, 12}));
  EXPECT_EQ(p.total_count, 3u);
  EXPECT_FLOAT_EQ(p.edges[0].weight, 2.5f);
  EXPECT_EQ(p.edges[0].time_ms, 400);
  EXPECT_EQ(g_.Stats().out_edge_count, 3u);
}

TEST_F(GraphPartitionTest, TiesOrderByDescendingId) {
  Buy(1, 5, 100);
  Buy(1, 7, 100);
  Buy(1, 6, 100);
  EXPECT_EQ(Ids(Page(Query(1))), (std::vector<uint64_t>{7, 6, 5}));
}

TEST_F(GraphPartitionTest, TimeWindowIsInclusive) {
  for (uint64_t p = 1; p <= 10; ++p) Buy(1, p, static_cast<int64_t>(p) * 10);
  NeighborQuery q = Query(1);
  q.min_time_ms = 30;
  q.max_time_ms = 60;
  NeighborPage page = Page(q);
  EXPECT_EQ(Ids(page), (std::vector<uint64_t>{6, 5, 4, 3}));
  EXPECT_EQ(page.total_count, 4u);
  uint64_t count = 0;
  ASSERT_TRUE(
      g_.CountNeighbors(Buyer(1), EdgeType::kPurchased, Direction::kOut, 30, 60, &count).ok());
  EXPECT_EQ(count, 4u);
  ASSERT_TRUE(
      g_.CountNeighbors(Buyer(1), EdgeType::kPurchased, Direction::kOut, 95, 0, &count).ok());
  EXPECT_EQ(count, 1u);
  ASSERT_TRUE(
      g_.CountNeighbors(Buyer(1), EdgeType::kPurchased, Direction::kOut, 0, 0, &count).ok());
  EXPECT_EQ(count, 10u);
}

TEST_F(GraphPartitionTest, PagingVisitsEveryEdgeOnceUnderConcurrentInserts) {
  // 250 edges with many equal times, paged 7 at a time; inserts between pages of newer
  // edges must not shift the cursor.
  for (uint64_t p = 1; p <= 250; ++p) Buy(1, p, static_cast<int64_t>(p / 3));
  NeighborQuery q = Query(1, 7);
  std::vector<uint64_t> seen;
  for (int pages = 0; pages < 100; ++pages) {
    NeighborPage page = Page(q);
    EXPECT_EQ(page.total_count, 250u + pages);
    for (auto id : Ids(page)) seen.push_back(id);
    Buy(1, 1000 + pages, 1000 + pages);  // newer than everything: not in later pages
    if (!page.next) break;
    q.after = page.next;
  }
  ASSERT_EQ(seen.size(), 250u);
  std::vector<uint64_t> sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end());
  EXPECT_EQ(seen.front(), 250u);
  EXPECT_EQ(seen.back(), 1u);
}

TEST_F(GraphPartitionTest, PagingWithWindowStopsAtWindowEdge) {
  for (uint64_t p = 1; p <= 20; ++p) Buy(1, p, static_cast<int64_t>(p));
  NeighborQuery q = Query(1, 3);
  q.min_time_ms = 5;
  q.max_time_ms = 11;
  std::vector<uint64_t> seen;
  for (int pages = 0; pages < 10; ++pages) {
    NeighborPage page = Page(q);
    for (auto id : Ids(page)) seen.push_back(id);
    if (!page.next) break;
    q.after = page.next;
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{11, 10, 9, 8, 7, 6, 5}));
}

TEST_F(GraphPartitionTest, DeleteEdgeAndNotFound) {
  Buy(1, 10, 100);
  Buy(1, 11, 200);
  EXPECT_TRUE(g_.DeleteEdgeCopy(Buyer(1), EdgeType::kPurchased, Direction::kOut, 10).ok());
  EXPECT_TRUE(
      absl::IsNotFound(g_.DeleteEdgeCopy(Buyer(1), EdgeType::kPurchased, Direction::kOut, 10)));
  EXPECT_TRUE(
      absl::IsNotFound(g_.DeleteEdgeCopy(Buyer(9), EdgeType::kPurchased, Direction::kOut, 10)));
  EXPECT_EQ(Ids(Page(Query(1))), (std::vector<uint64_t>{11}));
  EXPECT_TRUE(g_.DeleteEdgeCopy(Buyer(1), EdgeType::kPurchased, Direction::kOut, 11).ok());
  EXPECT_EQ(g_.Stats().out_edge_count, 0u);
}

TEST_F(GraphPartitionTest, ListsGrowShrinkAndReloadNarrow) {
  // Growing a list to 9 edges takes more memory; deleting shrinks it (below a quarter
  // full); a reload of one edge takes exactly the memory of one edge at the start; order
  // and content hold throughout.
  Buy(1, 100, 50);
  EXPECT_EQ(Ids(Page(Query(1))), (std::vector<uint64_t>{100}));
  uint64_t one = g_.Stats().memory_bytes;
  for (uint64_t p = 1; p <= 8; ++p) Buy(1, p, static_cast<int64_t>(p * 10));
  // Product 100 (time 50) ties with product 5: the higher id comes first.
  EXPECT_EQ(Ids(Page(Query(1))), (std::vector<uint64_t>{8, 7, 6, 100, 5, 4, 3, 2, 1}));
  uint64_t nine = g_.Stats().memory_bytes;
  EXPECT_GT(nine, one);
  for (uint64_t p = 1; p <= 8; ++p) {
    ASSERT_TRUE(g_.DeleteEdgeCopy(Buyer(1), EdgeType::kPurchased, Direction::kOut, p).ok());
  }
  NeighborPage page = Page(Query(1));
  ASSERT_EQ(page.edges.size(), 1u);
  EXPECT_EQ(page.edges[0].id, 100u);
  EXPECT_EQ(page.edges[0].time_ms, 50);
  EXPECT_LT(g_.Stats().memory_bytes, nine);
  ASSERT_TRUE(g_.LoadEdgeList(Buyer(1), EdgeType::kPurchased, Direction::kOut,
                              {{7, 70, 1}, {9, 90, 2}, {8, 80, 3}})
                  .ok());
  EXPECT_EQ(Ids(Page(Query(1))), (std::vector<uint64_t>{9, 8, 7}));
  EXPECT_EQ(Page(Query(1)).edges[0].weight, 2);
  ASSERT_TRUE(g_.LoadEdgeList(Buyer(1), EdgeType::kPurchased, Direction::kOut, {{5, 5, 1}}).ok());
  EXPECT_EQ(Ids(Page(Query(1))), (std::vector<uint64_t>{5}));
  EXPECT_EQ(g_.Stats().memory_bytes, one);  // narrow widths again, as at the start
  EXPECT_EQ(g_.Stats().out_edge_count, 1u);
  ASSERT_TRUE(g_.LoadEdgeList(Buyer(1), EdgeType::kPurchased, Direction::kOut, {}).ok());
  EXPECT_EQ(g_.Stats().out_edge_count, 0u);
  EXPECT_TRUE(Page(Query(1)).edges.empty());
}

TEST_F(GraphPartitionTest, DeleteEntityReturnsItsEdgeCopies) {
  EntityData d;
  ASSERT_TRUE(g_.UpsertEntity(Buyer(1), d, false).ok());
  Buy(1, 10, 100, 3);
  ASSERT_TRUE(g_.UpsertEdgeCopy(Buyer(1), EdgeType::kFollows, Direction::kOut, 77, 50, 1).ok());
  std::vector<RemovedEdge> removed;
  ASSERT_TRUE(g_.DeleteEntity(Buyer(1), &removed).ok());
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_FALSE(g_.ReadEntity(Buyer(1), [](const EntityData&) {}));
  EXPECT_TRUE(Page(Query(1)).edges.empty());
  PartitionStats s = g_.Stats();
  EXPECT_EQ(s.entity_count, 0u);
  EXPECT_EQ(s.out_edge_count, 0u);
  removed.clear();
  EXPECT_TRUE(absl::IsNotFound(g_.DeleteEntity(Buyer(1), &removed)));
}

TEST_F(GraphPartitionTest, RejectsSchemaViolations) {
  EXPECT_EQ(g_.UpsertEdgeCopy(Product(1), EdgeType::kPurchased, Direction::kOut, 2, 1, 1).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(g_.UpsertEdgeCopy(Buyer(1), EdgeType::kPurchased, Direction::kOut, 0, 1, 1).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(g_.UpsertEntity({EntityType::kUnspecified, 1}, EntityData(), false).code(),
            absl::StatusCode::kInvalidArgument);
  NeighborPage page;
  NeighborQuery q = Query(1);
  q.key = Product(1);  // products have no OUT PURCHASED edges
  EXPECT_EQ(g_.GetNeighbors(q, &page).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(GraphPartitionTest, LongListsStayExactAgainstAReferenceModel) {
  // Random upserts and deletes on a list long enough to use the id filter, checked
  // against a simple model after every step batch.
  std::mt19937_64 rng(7);
  std::map<uint64_t, int64_t> model;  // id -> time
  for (int step = 0; step < 20000; ++step) {
    uint64_t id = 1 + rng() % 3000;
    if (rng() % 5 == 0) {
      bool existed = model.erase(id) > 0;
      EXPECT_EQ(g_.DeleteEdgeCopy(Buyer(1), EdgeType::kPurchased, Direction::kOut, id).ok(),
                existed);
    } else {
      int64_t t = static_cast<int64_t>(rng() % 100000);
      model[id] = t;
      Buy(1, id, t);
    }
  }
  std::vector<std::pair<int64_t, uint64_t>> expected;
  for (auto [id, t] : model) expected.emplace_back(t, id);
  std::sort(expected.rbegin(), expected.rend());
  NeighborPage page = Page(Query(1, 100000));
  ASSERT_EQ(page.edges.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(page.edges[i].time_ms, expected[i].first);
    EXPECT_EQ(page.edges[i].id, expected[i].second);
  }
  EXPECT_EQ(g_.Stats().out_edge_count, model.size());
}

TEST_F(GraphPartitionTest, ConcurrentReadersAndWritersStayConsistent) {
  constexpr int kWriters = 2, kReaders = 2, kPerWriter = 5000;
  std::atomic<bool> bad{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) Buy(1 + i % 50, w * kPerWriter + i + 1, i);
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        NeighborPage page = Page(Query(1 + i % 50, 50));
        for (size_t k = 1; k < page.edges.size(); ++k) {
          if (page.edges[k - 1].time_ms < page.edges[k].time_ms) bad = true;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(bad);
  EXPECT_EQ(g_.Stats().out_edge_count, static_cast<uint64_t>(kWriters * kPerWriter));
}

TEST_F(GraphPartitionTest, MemoryEstimateGrowsWithEdges) {
  uint64_t before = g_.Stats().memory_bytes;
  for (uint64_t p = 1; p <= 10000; ++p) Buy(p % 100 + 1, p, static_cast<int64_t>(p));
  uint64_t after = g_.Stats().memory_bytes;
  // Ids and time offsets below 2^16 and one weight: 4 bytes a record, plus headers and
  // growth room; far below the 20 bytes of an unpacked record.
  EXPECT_GT(after - before, 10000u * 4);
  EXPECT_LT(after - before, 10000u * 8);
}

}  // namespace
}  // namespace kg
