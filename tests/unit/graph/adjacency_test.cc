#include "server/graph/adjacency.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"

namespace kg {
namespace {

// The expected content of one list: id -> (time, weight).
using Model = std::map<uint64_t, std::pair<int64_t, float>>;

// The list of `slot` as (time, id, weight), ascending, from the view and from ForEach.
std::vector<std::tuple<int64_t, uint64_t, float>> Read(const Adjacency& adj, uint8_t slot) {
  std::vector<std::tuple<int64_t, uint64_t, float>> out;
  ListView view = adj.List(slot);
  for (size_t i = 0; i < view.size(); ++i)
    out.emplace_back(view.time(i), view.id(i), view.weight(i));
  std::vector<std::tuple<int64_t, uint64_t, float>> walked;
  adj.ForEach([&](uint8_t s, const EdgeRec& r) {
    if (s == slot) walked.emplace_back(r.time_ms, r.id, r.weight);
  });
  EXPECT_EQ(out, walked);
  return out;
}

std::vector<std::tuple<int64_t, uint64_t, float>> Expect(const Model& model) {
  std::vector<std::tuple<int64_t, uint64_t, float>> out;
  for (const auto& [id, tw] : model) out.emplace_back(tw.first, id, tw.second);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(AdjacencyTest, ValuesOfEveryWidthRoundTrip) {
  // Ids and times at the limits force every list width up to 8 bytes, weights from
  // uniform to per-record; every earlier record keeps its value.
  Adjacency adj;
  Model model;
  const std::vector<std::tuple<uint64_t, int64_t, float>> inserts = {
      {1, 1000, 1.0f},
      {2, 1000, 1.0f},
      {300, 999, 1.0f},               // older: base moves down
      {70000, 5'000'000'000, 1.0f},   // wider id and time
      {uint64_t{1} << 40, -5, 2.5f},  // negative time, weighted
      {std::numeric_limits<uint64_t>::max(), std::numeric_limits<int64_t>::max(), -1.0f},
      {7, std::numeric_limits<int64_t>::min(), 0.0f},
  };
  for (const auto& [id, t, w] : inserts) {
    EXPECT_TRUE(adj.Upsert(24, EdgeRec{id, t, w}));
    model[id] = {t, w};
    ASSERT_EQ(Read(adj, 24), Expect(model));
  }
  EXPECT_FALSE(adj.Upsert(24, EdgeRec{300, 999, 9.0f}));  // same time: weight only
  model[300] = {999, 9.0f};
  EXPECT_EQ(Read(adj, 24), Expect(model));
  EXPECT_EQ(adj.edge_count(), model.size());
}

TEST(AdjacencyTest, ListsOfANodeStayIndependent) {
  Adjacency adj;
  EXPECT_TRUE(adj.empty());
  EXPECT_EQ(adj.bytes(), 0u);
  for (uint64_t i = 1; i <= 50; ++i) {
    adj.Upsert(3, EdgeRec{i, static_cast<int64_t>(i), 1});
    adj.Upsert(18, EdgeRec{i * 1000, static_cast<int64_t>(i * 7), static_cast<float>(i)});
    adj.Upsert(7, EdgeRec{i + 5, 100, 1});
  }
  EXPECT_EQ(adj.List(3).size(), 50u);
  EXPECT_EQ(adj.List(18).size(), 50u);
  EXPECT_EQ(adj.List(7).size(), 50u);
  EXPECT_EQ(adj.List(8).size(), 0u);
  // Removing the middle list keeps the others' records.
  for (uint64_t i = 1; i <= 50; ++i) EXPECT_TRUE(adj.Erase(18, i * 1000));
  EXPECT_FALSE(adj.Erase(18, 1000));
  EXPECT_EQ(adj.List(18).size(), 0u);
  ListView first = adj.List(3);
  ASSERT_EQ(first.size(), 50u);
  EXPECT_EQ(first.id(49), 50u);
  EXPECT_EQ(first.time(0), 1);
  ListView last = adj.List(7);
  ASSERT_EQ(last.size(), 50u);
  EXPECT_EQ(last.id(0), 6u);  // equal times order by id
  EXPECT_EQ(last.time(49), 100);
  EXPECT_EQ(adj.Replace(3, {}), 50u);
  EXPECT_EQ(adj.Replace(7, {}), 50u);
  EXPECT_TRUE(adj.empty());
  EXPECT_EQ(adj.bytes(), 0u);
}

TEST(AdjacencyTest, WindowsAndCursorsOnPackedRecords) {
  Adjacency adj;
  for (uint64_t i = 1; i <= 100; ++i) adj.Upsert(0, EdgeRec{i, static_cast<int64_t>(i * 10), 1});
  ListView v = adj.List(0);
  auto [lo, hi] = v.Window(105, 300);  // times 110..300
  EXPECT_EQ(lo, 10u);
  EXPECT_EQ(hi, 30u);
  EXPECT_EQ(v.Window(0, 0), std::make_pair(size_t{0}, size_t{100}));
  EXPECT_EQ(v.LowerBound(500, 50), 49u);
  EXPECT_EQ(v.LowerBound(500, 51), 50u);
  EXPECT_EQ(v.Find(77), 76);
  EXPECT_EQ(v.Find(1000), -1);
}

TEST(AdjacencyTest, RandomOperationsMatchAReferenceModel) {
  // Several lists of one node under random upserts (new, moved, reweighted), erases and
  // whole-list replacements, with values drawn from narrow and wide ranges, checked
  // against a model after every operation.
  std::mt19937_64 rng(11);
  Adjacency adj;
  std::map<uint8_t, Model> models;
  const uint8_t slots[] = {1, 6, 24, 25};
  auto draw_id = [&]() -> uint64_t {
    switch (rng() % 3) {
      case 0:
        return 1 + rng() % 200;
      case 1:
        return 1 + rng() % 100000;
      default:
        return 1 + rng() % 5000 * 0x100000001ULL;
    }
  };
  auto draw_time = [&]() -> int64_t {
    return rng() % 4 == 0 ? static_cast<int64_t>(rng() % 2000000000000) - 1000000000000
                          : 1700000000000 + static_cast<int64_t>(rng() % 1000);
  };
  for (int step = 0; step < 6000; ++step) {
    uint8_t slot = slots[rng() % 4];
    Model& model = models[slot];
    int op = static_cast<int>(rng() % 20);
    if (op < 12) {
      uint64_t id = model.empty() || rng() % 2
                        ? draw_id()
                        : std::next(model.begin(), rng() % model.size())->first;
      int64_t t = draw_time();
      float w = rng() % 3 == 0 ? static_cast<float>(rng() % 7) : 1.0f;
      bool added = model.find(id) == model.end();
      EXPECT_EQ(adj.Upsert(slot, EdgeRec{id, t, w}), added);
      model[id] = {t, w};
    } else if (op < 18) {
      uint64_t id = model.empty() || rng() % 4 == 0
                        ? draw_id()
                        : std::next(model.begin(), rng() % model.size())->first;
      EXPECT_EQ(adj.Erase(slot, id), model.erase(id) > 0);
    } else if (op == 18) {
      std::vector<EdgeRec> recs;
      Model fresh;
      size_t n = rng() % 40;
      for (size_t i = 0; i < n; ++i) {
        uint64_t id = draw_id();
        if (fresh.count(id)) continue;
        EdgeRec r{id, draw_time(), rng() % 2 ? 1.0f : 3.0f};
        fresh[id] = {r.time_ms, r.weight};
        recs.push_back(r);
      }
      EXPECT_EQ(adj.Replace(slot, recs), model.size());
      model = fresh;
    }
    if (step % 50 == 0 || op >= 18) {
      for (uint8_t s : slots) ASSERT_EQ(Read(adj, s), Expect(models[s])) << "step " << step;
    }
  }
  size_t total = 0;
  for (uint8_t s : slots) {
    EXPECT_EQ(Read(adj, s), Expect(models[s]));
    total += models[s].size();
  }
  EXPECT_EQ(adj.edge_count(), total);
}

TEST(AdjacencyTest, NarrowValuesTakeFewBytes) {
  // 1000 edges with ids below 2^16, times within 2^16 ms and one weight: 4 bytes a
  // record, under 7.5 bytes an edge with headers, growth room and the id filter (2 bytes
  // an edge).
  Adjacency adj;
  for (uint64_t i = 1; i <= 1000; ++i) {
    adj.Upsert(24, EdgeRec{i * 37, 1700000000000 + static_cast<int64_t>(i * 50), 1});
  }
  EXPECT_GE(adj.bytes(), 4000u);
  EXPECT_LT(adj.bytes(), 7500u);
  // One weight that differs makes the list carry a float per record.
  adj.Upsert(24, EdgeRec{5, 1700000000000, 2});
  EXPECT_GE(adj.bytes(), 10000u);
}

}  // namespace
}  // namespace kg
