// Micro-benchmarks of one GraphPartition: entity lookup, neighbor pages (with and without a
// time window), edge inserts, and count queries. Run: build/bench/kg_partition_bench
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "server/graph/graph_partition.h"

namespace kg {
namespace {

constexpr uint64_t kBuyers = 20000;
constexpr uint64_t kProducts = 20000;
constexpr int kEdgesPerBuyer = 50;
constexpr uint64_t kManyProducts = 400000;

// A partition with kBuyers buyers x kEdgesPerBuyer purchases (both copies) and products.
GraphPartition& Loaded() {
  static GraphPartition* g = [] {
    auto* p = new GraphPartition();
    std::mt19937_64 rng(1);
    for (uint64_t pid = 1; pid <= kProducts; ++pid) {
      EntityData d;
      d.name = "Product " + std::to_string(pid) + " with a realistic title, blue, size 42";
      d.attributes = {{"color", "blue"}, {"size", "42"}};
      d.metrics = {{"price", 19.9}, {"rating", 4.5}};
      (void)p->UpsertEntity({EntityType::kProduct, pid}, std::move(d), false);
    }
    for (uint64_t b = 1; b <= kBuyers; ++b) {
      for (int i = 0; i < kEdgesPerBuyer; ++i) {
        uint64_t pid = 1 + rng() % kProducts;
        int64_t t = 1700000000000 + static_cast<int64_t>(rng() % 7776000000);
        (void)p->UpsertEdgeCopy({EntityType::kBuyer, b}, EdgeType::kPurchased, Direction::kOut, pid,
                                t, 1);
        (void)p->UpsertEdgeCopy({EntityType::kProduct, pid}, EdgeType::kPurchased, Direction::kIn,
                                b, t, 1);
      }
    }
    return p;
  }();
  return *g;
}

void BM_ReadEntity(benchmark::State& state) {
  GraphPartition& g = Loaded();
  std::mt19937_64 rng(2);
  size_t bytes = 0;
  for (auto _ : state) {
    g.ReadEntity({EntityType::kProduct, 1 + rng() % kProducts},
                 [&](const EntityData& d) { bytes += d.name.size(); });
  }
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReadEntity);

// A partition of 400,000 products (~150 bytes each, beyond the CPU caches), for lookups
// whose cost is memory latency.
GraphPartition& ManyEntities() {
  static GraphPartition* g = [] {
    auto* p = new GraphPartition();
    for (uint64_t pid = 1; pid <= kManyProducts; ++pid) {
      EntityData d;
      d.name = "Product " + std::to_string(pid) + " with a realistic title, blue, size 42";
      d.attributes = {{"color", "blue"}, {"material", "cotton"}, {"size", "42"}};
      d.metrics = {{"price", 19.9}, {"rating", 4.5}, {"sales_30d", 120}};
      (void)p->UpsertEntity({EntityType::kProduct, pid}, std::move(d), false);
    }
    return p;
  }();
  return *g;
}

// 100 random keys a call, read one by one (ReadEncodedEntity) or as a batch with
// look-ahead prefetching (ReadEncodedEntities); items are keys.
void BM_ReadEncoded100(benchmark::State& state) {
  GraphPartition& g = ManyEntities();
  std::mt19937_64 rng(7);
  std::vector<EntityKey> keys(100);
  size_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (EntityKey& k : keys) k = {EntityType::kProduct, 1 + rng() % kManyProducts};
    state.ResumeTiming();
    if (state.range(0) == 0) {
      for (const EntityKey& k : keys) {
        g.ReadEncodedEntity(k, [&](absl::string_view e) { bytes += e.size(); });
      }
    } else {
      g.ReadEncodedEntities(keys, [&](size_t, absl::string_view e) { bytes += e.size(); });
    }
  }
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(state.iterations() * 100);
  state.SetLabel(state.range(0) == 0 ? "one by one" : "batch");
}
BENCHMARK(BM_ReadEncoded100)->Arg(0)->Arg(1);

void BM_Neighbors20(benchmark::State& state) {
  GraphPartition& g = Loaded();
  std::mt19937_64 rng(3);
  NeighborPage page;
  NeighborQuery q;
  q.type = EdgeType::kPurchased;
  q.limit = 20;
  for (auto _ : state) {
    q.key = {EntityType::kBuyer, 1 + rng() % kBuyers};
    (void)g.GetNeighbors(q, &page);
    benchmark::DoNotOptimize(page.edges.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Neighbors20);

void BM_Neighbors20Window(benchmark::State& state) {
  GraphPartition& g = Loaded();
  std::mt19937_64 rng(4);
  NeighborPage page;
  NeighborQuery q;
  q.type = EdgeType::kPurchased;
  q.direction = Direction::kIn;  // products: ~50 buyers each
  q.limit = 20;
  q.min_time_ms = 1700000000000 + 2592000000;
  q.max_time_ms = 1700000000000 + 5184000000;
  for (auto _ : state) {
    q.key = {EntityType::kProduct, 1 + rng() % kProducts};
    (void)g.GetNeighbors(q, &page);
    benchmark::DoNotOptimize(page.edges.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Neighbors20Window);

void BM_Count(benchmark::State& state) {
  GraphPartition& g = Loaded();
  std::mt19937_64 rng(5);
  uint64_t n = 0;
  for (auto _ : state) {
    (void)g.CountNeighbors({EntityType::kProduct, 1 + rng() % kProducts}, EdgeType::kPurchased,
                           Direction::kIn, 0, 0, &n);
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Count);

void BM_InsertEdge(benchmark::State& state) {
  GraphPartition g;
  std::mt19937_64 rng(6);
  int64_t t = 1700000000000;
  for (auto _ : state) {
    (void)g.UpsertEdgeCopy({EntityType::kBuyer, 1 + rng() % 100000}, EdgeType::kViewed,
                           Direction::kOut, 1 + rng() % 1000000, ++t, 1);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_per_edge"] =
      static_cast<double>(g.Stats().memory_bytes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_InsertEdge);

}  // namespace
}  // namespace kg

BENCHMARK_MAIN();
