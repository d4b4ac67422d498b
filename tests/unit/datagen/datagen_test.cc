#include "client/datagen/datagen.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "kg/v1/types.pb.h"

namespace kg {
namespace datagen {
namespace {

// FNV-1a over the deterministic serialization of every record.
uint64_t HashOf(const Options& options) {
  uint64_t hash = 1469598103934665603ULL;
  std::string bytes;
  auto stats = Generate(options, [&](const v1::ImportRecord& record) {
    bytes.clear();
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    record.SerializeToCodedStream(&coded);
    coded.Trim();
    for (char c : bytes) hash = (hash ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
    return absl::OkStatus();
  });
  EXPECT_TRUE(stats.ok()) << stats.status();
  return hash;
}

struct EdgeId {
  v1::EntityType src_type;
  uint64_t src;
  v1::EdgeType type;
  v1::EntityType dst_type;
  uint64_t dst;
  template <typename H>
  friend H AbslHashValue(H h, const EdgeId& e) {
    return H::combine(std::move(h), e.src_type, e.src, e.type, e.dst_type, e.dst);
  }
  friend bool operator==(const EdgeId& a, const EdgeId& b) {
    return std::tie(a.src_type, a.src, a.type, a.dst_type, a.dst) ==
           std::tie(b.src_type, b.src, b.type, b.dst_type, b.dst);
  }
};

class DatagenTest : public ::testing::Test {
 protected:
  static constexpr double kScale = 0.05;

  static void SetUpTestSuite() {
    options_ = new Options();
    options_->scale = kScale;
    records_ = new std::vector<v1::ImportRecord>();
    auto stats = Generate(*options_, [](const v1::ImportRecord& record) {
      records_->push_back(record);
      return absl::OkStatus();
    });
    ASSERT_TRUE(stats.ok()) << stats.status();
    stats_ = new Stats(*stats);
  }

  static void TearDownTestSuite() {
    delete records_;
    delete stats_;
    delete options_;
  }

  static Options* options_;
  static std::vector<v1::ImportRecord>* records_;
  static Stats* stats_;
};

Options* DatagenTest::options_ = nullptr;
std::vector<v1::ImportRecord>* DatagenTest::records_ = nullptr;
Stats* DatagenTest::stats_ = nullptr;

TEST_F(DatagenTest, SameSeedGivesSameRecordsAndOtherSeedDiffers) {
  Options options;
  options.scale = 0.02;
  const uint64_t first = HashOf(options);
  EXPECT_EQ(first, HashOf(options));
  options.seed = 43;
  EXPECT_NE(first, HashOf(options));
}

TEST_F(DatagenTest, EveryEdgeFollowsTheSchema) {
  const std::map<v1::EdgeType, std::pair<v1::EntityType, v1::EntityType>> schema = {
      {v1::IN_CATEGORY, {v1::PRODUCT, v1::CATEGORY}},
      {v1::SUBCATEGORY_OF, {v1::CATEGORY, v1::CATEGORY}},
      {v1::HAS_BRAND, {v1::PRODUCT, v1::BRAND}},
      {v1::INSTANCE_OF, {v1::PRODUCT, v1::SPU}},
      {v1::SOLD_BY, {v1::PRODUCT, v1::MERCHANT}},
      {v1::PROMOTES, {v1::INFLUENCER, v1::PRODUCT}},
      {v1::FEATURES, {v1::CONTENT, v1::PRODUCT}},
      {v1::POSTED, {v1::INFLUENCER, v1::CONTENT}},
      {v1::VIEWED, {v1::BUYER, v1::PRODUCT}},
      {v1::CLICKED, {v1::BUYER, v1::PRODUCT}},
      {v1::ADDED_TO_CART, {v1::BUYER, v1::PRODUCT}},
      {v1::PURCHASED, {v1::BUYER, v1::PRODUCT}},
      {v1::FOLLOWS, {v1::BUYER, v1::INFLUENCER}},
  };
  std::map<v1::EdgeType, uint64_t> seen_types;
  for (const v1::ImportRecord& record : *records_) {
    if (!record.has_edge()) continue;
    const v1::Edge& edge = record.edge();
    auto it = schema.find(edge.type());
    ASSERT_NE(it, schema.end()) << edge.DebugString();
    EXPECT_EQ(edge.src().type(), it->second.first) << edge.DebugString();
    EXPECT_EQ(edge.dst().type(), it->second.second) << edge.DebugString();
    ++seen_types[edge.type()];
  }
  EXPECT_EQ(seen_types.size(), schema.size()) << "every edge type is generated";
}

TEST_F(DatagenTest, NoDuplicateEdges) {
  absl::flat_hash_set<EdgeId> edges;
  for (const v1::ImportRecord& record : *records_) {
    if (!record.has_edge()) continue;
    const v1::Edge& e = record.edge();
    EXPECT_TRUE(
        edges.insert({e.src().type(), e.src().id(), e.type(), e.dst().type(), e.dst().id()}).second)
        << "duplicate " << e.DebugString();
  }
}

TEST_F(DatagenTest, IdsStayWithinThePlanAndCountsMatchIt) {
  const Plan plan = PlanFor(*options_);
  auto check = [&](const v1::EntityKey& key) {
    EXPECT_GE(key.id(), 1u) << key.DebugString();
    EXPECT_LE(key.id(), plan.Count(key.type())) << key.DebugString();
  };
  std::map<v1::EntityType, absl::flat_hash_set<uint64_t>> entities;
  for (const v1::ImportRecord& record : *records_) {
    if (record.has_entity()) {
      check(record.entity().key());
      EXPECT_TRUE(entities[record.entity().key().type()].insert(record.entity().key().id()).second)
          << "entity emitted twice: " << record.entity().key().DebugString();
    } else {
      check(record.edge().src());
      check(record.edge().dst());
    }
  }
  for (int t = 1; t <= v1::CONTENT; ++t) {
    EXPECT_EQ(plan.entities[t], stats_->entities[t]) << v1::EntityType_Name(t);
    EXPECT_EQ(entities[static_cast<v1::EntityType>(t)].size(), plan.entities[t])
        << v1::EntityType_Name(t) << ": every id 1..N is emitted";
  }
  EXPECT_GE(plan.leaf_categories, 150u);
  EXPECT_EQ(plan.first_leaf_category + plan.leaf_categories - 1, plan.Count(v1::CATEGORY));
}

TEST_F(DatagenTest, LeafCategoriesHaveThreeLevelPaths) {
  const Plan plan = PlanFor(*options_);
  int leaves = 0;
  for (const v1::ImportRecord& record : *records_) {
    if (!record.has_entity() || record.entity().key().type() != v1::CATEGORY) continue;
    const v1::Entity& e = record.entity();
    if (e.key().id() < plan.first_leaf_category) continue;
    ++leaves;
    EXPECT_EQ(e.attributes().at("level"), "3");
    const std::string& path = e.attributes().at("path");
    EXPECT_EQ(std::count(path.begin(), path.end(), '>'), 2) << path;
  }
  EXPECT_EQ(leaves, static_cast<int>(plan.leaf_categories));
}

TEST_F(DatagenTest, FunnelEventsPrecedeEachPurchase) {
  // (buyer, product) -> time of each funnel stage.
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, int64_t> stage[4];
  const v1::EdgeType kStages[] = {v1::VIEWED, v1::CLICKED, v1::ADDED_TO_CART, v1::PURCHASED};
  for (const v1::ImportRecord& record : *records_) {
    if (!record.has_edge()) continue;
    const v1::Edge& e = record.edge();
    for (int s = 0; s < 4; ++s) {
      if (e.type() == kStages[s]) stage[s][{e.src().id(), e.dst().id()}] = e.time_ms();
    }
  }
  ASSERT_GT(stage[3].size(), 100u);
  for (int s = 1; s < 4; ++s) {
    for (const auto& [pair, time_ms] : stage[s]) {
      auto earlier = stage[s - 1].find(pair);
      ASSERT_NE(earlier, stage[s - 1].end())
          << v1::EdgeType_Name(kStages[s]) << " without " << v1::EdgeType_Name(kStages[s - 1]);
      EXPECT_LE(earlier->second, time_ms);
    }
  }
  // A funnel narrows.
  EXPECT_GT(stage[0].size(), stage[1].size());
  EXPECT_GT(stage[1].size(), stage[2].size());
  EXPECT_GT(stage[2].size(), stage[3].size());
}

TEST_F(DatagenTest, EventTimesFallInTheWindowAndWeightsAreQuantities) {
  const int64_t end = options_->end_time_ms;
  for (const v1::ImportRecord& record : *records_) {
    if (!record.has_edge()) continue;
    const v1::Edge& e = record.edge();
    EXPECT_GT(e.time_ms(), 0);
    EXPECT_LE(e.time_ms(), end);
    if (e.type() == v1::VIEWED || e.type() == v1::PURCHASED || e.type() == v1::FOLLOWS) {
      EXPECT_GT(e.time_ms(), end - kEventWindowMs);
    }
    if (e.type() == v1::PURCHASED) {
      EXPECT_TRUE(e.weight() == 1 || e.weight() == 2 || e.weight() == 3) << e.weight();
    } else {
      EXPECT_EQ(e.weight(), 1.0);
    }
  }
}

TEST_F(DatagenTest, SalesMetricsMatchRecentPurchases) {
  const int64_t since = options_->end_time_ms - kSalesWindowMs;
  absl::flat_hash_map<uint64_t, double> units;
  for (const v1::ImportRecord& record : *records_) {
    if (record.has_edge() && record.edge().type() == v1::PURCHASED &&
        record.edge().time_ms() >= since) {
      units[record.edge().dst().id()] += record.edge().weight();
    }
  }
  int products = 0;
  int with_sales = 0;
  for (const v1::ImportRecord& record : *records_) {
    if (!record.has_entity() || record.entity().key().type() != v1::PRODUCT) continue;
    const v1::Entity& p = record.entity();
    ++products;
    const double sales = p.metrics().at("sales_30d");
    EXPECT_EQ(sales, units[p.key().id()]) << p.name();
    EXPECT_NEAR(p.metrics().at("gmv_30d"), sales * p.metrics().at("price"), 0.011) << p.name();
    EXPECT_GT(p.metrics().at("price"), 0);
    EXPECT_GE(p.metrics().at("rating"), 1);
    EXPECT_LE(p.metrics().at("rating"), 5);
    EXPECT_TRUE(p.attributes().contains("gender_target"));
    if (sales > 0) ++with_sales;
  }
  EXPECT_EQ(products, static_cast<int>(PlanFor(*options_).Count(v1::PRODUCT)));
  EXPECT_GT(with_sales, 10);
}

TEST_F(DatagenTest, EdgeCountIsNearScaleTimesAMillion) {
  const double expected = kScale * 1e6;
  EXPECT_GT(stats_->total_edges(), 0.8 * expected);
  EXPECT_LT(stats_->total_edges(), 1.2 * expected);
}

TEST_F(DatagenTest, PurchasesConcentrateOnFewProducts) {
  Options options;
  options.scale = 0.2;
  absl::flat_hash_map<uint64_t, uint64_t> purchases;
  uint64_t total = 0;
  auto stats = Generate(options, [&](const v1::ImportRecord& record) {
    if (record.has_edge() && record.edge().type() == v1::PURCHASED) {
      ++purchases[record.edge().dst().id()];
      ++total;
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(stats.ok());
  std::vector<uint64_t> counts;
  for (const auto& [id, n] : purchases) counts.push_back(n);
  std::sort(counts.rbegin(), counts.rend());
  const size_t top = PlanFor(options).Count(v1::PRODUCT) / 100;
  uint64_t top_purchases = 0;
  for (size_t i = 0; i < top && i < counts.size(); ++i) top_purchases += counts[i];
  // Uniform popularity would give the top 1% of products about 1% of purchases; the
  // generator gives them about 20% at this scale (and more at larger scales).
  EXPECT_GT(static_cast<double>(top_purchases) / total, 0.15);
}

TEST_F(DatagenTest, BuyersOfWomensProductsAreMostlyWomen) {
  absl::flat_hash_map<uint64_t, std::string> buyer_gender;
  absl::flat_hash_set<uint64_t> womens_products;
  for (const v1::ImportRecord& record : *records_) {
    if (!record.has_entity()) continue;
    const v1::Entity& e = record.entity();
    if (e.key().type() == v1::BUYER) buyer_gender[e.key().id()] = e.attributes().at("gender");
    if (e.key().type() == v1::PRODUCT && e.attributes().at("gender_target") == "women") {
      womens_products.insert(e.key().id());
    }
  }
  int female = 0;
  int total = 0;
  for (const v1::ImportRecord& record : *records_) {
    if (!record.has_edge() || record.edge().type() != v1::PURCHASED) continue;
    if (!womens_products.contains(record.edge().dst().id())) continue;
    ++total;
    if (buyer_gender[record.edge().src().id()] == "F") ++female;
  }
  ASSERT_GT(total, 50);
  EXPECT_GT(static_cast<double>(female) / total, 0.8);
}

TEST_F(DatagenTest, ProductTitlesNameBrandAndCategoryWords) {
  absl::flat_hash_map<uint64_t, std::string> brand_names;
  for (const v1::ImportRecord& record : *records_) {
    if (record.has_entity() && record.entity().key().type() == v1::BRAND) {
      brand_names[record.entity().key().id()] = record.entity().name();
    }
  }
  absl::flat_hash_map<uint64_t, std::string> titles;
  for (const v1::ImportRecord& record : *records_) {
    if (record.has_entity() && record.entity().key().type() == v1::PRODUCT) {
      titles[record.entity().key().id()] = record.entity().name();
    }
  }
  int checked = 0;
  for (const v1::ImportRecord& record : *records_) {
    if (!record.has_edge() || record.edge().type() != v1::HAS_BRAND) continue;
    const std::string& title = titles[record.edge().src().id()];
    const std::string& brand = brand_names[record.edge().dst().id()];
    ASSERT_FALSE(brand.empty());
    EXPECT_EQ(title.rfind(brand + " ", 0), 0u) << title << " / " << brand;
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(titles.size()));
}

TEST_F(DatagenTest, SinkErrorStopsTheGeneration) {
  Options options;
  options.scale = 0.01;
  int calls = 0;
  auto stats = Generate(options, [&](const v1::ImportRecord&) {
    return ++calls == 100 ? absl::ResourceExhaustedError("disk full") : absl::OkStatus();
  });
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(calls, 100);
}

TEST_F(DatagenTest, RejectsBadOptions) {
  Options options;
  options.scale = 0;
  EXPECT_EQ(ValidateOptions(options).code(), absl::StatusCode::kInvalidArgument);
  options.scale = 5000;
  EXPECT_EQ(ValidateOptions(options).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Generate(options, [](const v1::ImportRecord&) { return absl::OkStatus(); }).ok());
  options.scale = 0.001;
  EXPECT_TRUE(ValidateOptions(options).ok());
}

}  // namespace
}  // namespace datagen
}  // namespace kg
