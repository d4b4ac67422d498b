// server/insight: the edge-derived metrics, the merge of partial top-k lists, the audience
// statistics (Wilson intervals, weighted shares, lifts, the summary), the funnel
// decomposition adding up, and the driver models recovering a planted cause.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "server/insight/audience.h"
#include "server/insight/compare.h"
#include "server/insight/metrics.h"

namespace kg::insight {
namespace {

TEST(MetricsTest, ParsesChecksAndComputesEdgeMetrics) {
  EXPECT_EQ(ParseEdgeMetric("purchases"), EdgeMetric::kPurchases);
  EXPECT_EQ(ParseEdgeMetric("add_to_cart"), EdgeMetric::kAddToCart);
  EXPECT_EQ(ParseEdgeMetric("sales_30d"), EdgeMetric::kStored);
  EXPECT_FALSE(CheckWindow(10, 5).ok());
  EXPECT_NE(CheckWindow(10, 5).message().find("since_ms"), absl::string_view::npos);
  EXPECT_TRUE(CheckWindow(5, 0).ok());
  EXPECT_FALSE(CheckMetric("growth", 0, 100, "metric").ok());
  EXPECT_TRUE(CheckMetric("growth", 50, 100, "metric").ok());
  EXPECT_FALSE(CheckMetric("", 0, 0, "metric").ok());

  // Purchases at times 10..19 (10 of them) and 0..9 before; views 40 in the window.
  auto count = [](EdgeType type, int64_t since, int64_t until) -> uint64_t {
    auto in = [&](int64_t lo, int64_t hi) {
      uint64_t n = 0;
      for (int64_t t = lo; t <= hi; ++t)
        n += (since == 0 || t >= since) && (until == 0 || t <= until);
      return n;
    };
    if (type == EdgeType::kPurchased) return in(1, 9) + in(10, 19) + (since == 0 ? 0 : 0);
    if (type == EdgeType::kViewed) return 4 * in(10, 19);
    return 0;
  };
  EXPECT_EQ(*EdgeMetricValue(EdgeMetric::kPurchases, 10, 19, 0, count), 10);
  EXPECT_DOUBLE_EQ(*EdgeMetricValue(EdgeMetric::kConversion, 10, 19, 20, count), 0.25);
  EXPECT_FALSE(EdgeMetricValue(EdgeMetric::kConversion, 10, 19, 41, count).has_value());
  // The window before [10, 19] is [1, 9]... of equal length [0, 9]: 9 purchases.
  EXPECT_NEAR(*EdgeMetricValue(EdgeMetric::kGrowth, 10, 19, 0, count), (10.0 - 9) / 9, 1e-12);
}

TEST(MetricsTest, MergesRankedListsInOrder) {
  std::vector<std::vector<RankedProductId>> lists = {
      {{9, 1}, {5, 7}, {1, 3}}, {{9, 0}, {6, 2}}, {}, {{5, 4}}};
  std::vector<RankedProductId> merged = MergeRanked(lists, 4);
  ASSERT_EQ(merged.size(), 4u);
  EXPECT_EQ(merged[0].id, 0u);
  EXPECT_EQ(merged[1].id, 1u);
  EXPECT_EQ(merged[2].id, 2u);
  EXPECT_EQ(merged[3].id, 4u);  // (5, 4) before (5, 7)
  EXPECT_EQ(MergeRanked(lists, 100).size(), 6u);
}

TEST(AudienceTest, WilsonIntervals) {
  auto [lo, hi] = Wilson(0.5, 100);
  EXPECT_NEAR(lo, 0.4038, 1e-3);
  EXPECT_NEAR(hi, 0.5962, 1e-3);
  std::tie(lo, hi) = Wilson(0.0, 10);
  EXPECT_DOUBLE_EQ(lo, 0.0);
  EXPECT_NEAR(hi, 0.2775, 1e-3);
  std::tie(lo, hi) = Wilson(0.3, 0);
  EXPECT_DOUBLE_EQ(lo, 0.0);
  EXPECT_DOUBLE_EQ(hi, 1.0);
}

TEST(AudienceTest, WeightedSharesLiftsAndSummary) {
  BaseRates base;
  base.counts[{"gender", "F"}] = 500;
  base.counts[{"gender", "M"}] = 500;
  base.counts[{"country", "US"}] = 800;
  base.counts[{"country", "DE"}] = 200;
  base.buyers = 1000;
  std::vector<BuyerObservation> sample;
  // 80 women (purchases, weight 3) and 20 men (views, weight 1); all US.
  for (int i = 0; i < 80; ++i) sample.push_back({{{"gender", "F"}, {"country", "US"}}, 3});
  for (int i = 0; i < 20; ++i) sample.push_back({{{"gender", "M"}, {"country", "US"}}, 1});
  sample.push_back({{{"email", "x@y"}}, 1});  // not a segment of the base
  std::vector<SegmentStat> s = AudienceSegments(sample, base);
  std::map<std::pair<std::string, std::string>, SegmentStat> by;
  for (const auto& x : s) by[{x.dimension, x.value}] = x;
  ASSERT_EQ(by.size(), 3u);
  const SegmentStat& f = by[std::make_pair(std::string("gender"), std::string("F"))];
  EXPECT_NEAR(f.share, 240.0 / 260, 1e-12);
  EXPECT_DOUBLE_EQ(f.base_share, 0.5);
  EXPECT_NEAR(f.lift, 2 * 240.0 / 260, 1e-12);
  EXPECT_EQ(f.count, 80u);
  EXPECT_LT(f.ci_low, f.share);
  EXPECT_GT(f.ci_high, f.share);
  EXPECT_GT(f.ci_low, 0.5);
  EXPECT_NEAR(by[std::make_pair(std::string("country"), std::string("US"))].lift, 1.25, 1e-12);
  // Dimensions by name, values by share.
  EXPECT_EQ(s[0].dimension, "country");
  EXPECT_EQ(s[1].value, "F");
  const std::string summary = AudienceSummary(s, 100);
  EXPECT_NE(summary.find("gender F"), std::string::npos) << summary;
  EXPECT_NE(summary.find("country US"), std::string::npos) << summary;
  EXPECT_EQ(summary.find("gender M"), std::string::npos) << summary;
  // A sample like the base: nothing stands out.
  std::vector<BuyerObservation> plain;
  for (int i = 0; i < 50; ++i) plain.push_back({{{"gender", i % 2 ? "F" : "M"}}, 1});
  EXPECT_NE(AudienceSummary(AudienceSegments(plain, base), 50).find("no segment"),
            std::string::npos);
}

TEST(CompareTest, DecompositionAddsUp) {
  ProductFacts a, b;
  a.views = 400;
  a.purchases = 40;
  a.price = 10;
  b.views = 100;
  b.purchases = 20;
  b.price = 20;
  Decomposition d = Decompose(a, b, false);
  EXPECT_NEAR(d.outcome, std::log(40.5 / 20.5), 1e-12);
  EXPECT_NEAR(d.traffic, std::log(401.0 / 101), 1e-12);
  EXPECT_NEAR(d.traffic + d.conversion, d.outcome, 1e-12);
  EXPECT_EQ(d.order_value, 0);
  d = Decompose(a, b, true);
  EXPECT_NEAR(d.order_value, std::log(0.5), 1e-12);
  EXPECT_NEAR(d.traffic + d.conversion + d.order_value, d.outcome, 1e-12);
  EXPECT_NEAR(d.outcome, std::log(40.5 * 10 / (20.5 * 20)), 1e-12);
}

TEST(CompareTest, MedianFacts) {
  std::vector<ProductFacts> peers(4);
  for (int i = 0; i < 4; ++i) {
    peers[i].views = 10.0 * (i + 1);
    if (i < 3) peers[i].price = 1.0 + i;
  }
  ProductFacts m = MedianFacts(peers);
  EXPECT_DOUBLE_EQ(m.views, 25);
  EXPECT_DOUBLE_EQ(*m.price, 2);
  EXPECT_FALSE(m.rating.has_value());
}

// Peers whose views follow promotions and whose conversion follows price and rating; a
// pair differing in one driver is explained by that driver first.
TEST(CompareTest, DriverModelRanksThePlantedCauseFirst) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0, 0.15);
  auto make = [&](double promotions, double price, double rating, double reviews) {
    ProductFacts f;
    f.promotions = promotions;
    f.price = price;
    f.rating = rating;
    f.review_count = reviews;
    f.views = std::round(30 * std::exp(0.5 * std::log1p(promotions) + noise(rng)));
    const double conversion =
        0.08 * std::pow(20.0 / price, 1.0) * (0.55 + 0.35 * (rating - 3)) * std::exp(noise(rng));
    f.purchases = std::round(f.views * std::min(0.9, conversion));
    return f;
  };
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<ProductFacts> peers;
  for (int i = 0; i < 300; ++i) {
    peers.push_back(
        make(std::floor(u(rng) * 8), 12 + 16 * u(rng), 3 + 1.8 * u(rng), std::floor(200 * u(rng))));
  }
  auto model = DriverModel::Learn(peers);
  ASSERT_TRUE(model.ok()) << model.status();
  struct Case {
    ProductFacts a, b;
    const char* cause;
  };
  const Case cases[] = {
      {make(7, 20, 4, 50), make(0, 20, 4, 50), "promotion"},
      {make(2, 14, 4, 50), make(2, 26, 4, 50), "price"},
      {make(2, 20, 4.7, 50), make(2, 20, 3.3, 50), "rating"},
  };
  for (const Case& c : cases) {
    Decomposition d = Decompose(c.a, c.b, false);
    double unexplained = 0;
    auto reasons = DriverReasons(*model, model->Attribute(c.a, c.b), d, c.a, c.b, &unexplained);
    ASSERT_EQ(reasons.size(), kDriverCount);
    EXPECT_EQ(reasons[0].factor, c.cause) << reasons[0].evidence;
    EXPECT_GT(reasons[0].contribution, 0);
    double sum = unexplained;
    for (const auto& r : reasons) sum += r.contribution;
    EXPECT_NEAR(sum, d.traffic + d.conversion, 1e-9);
  }
  EXPECT_FALSE(DriverModel::Learn(std::vector<ProductFacts>(kMinPeers - 1)).ok());
}

// An attribute whose values drive conversion becomes a driver and explains a pair that
// differs in it; an attribute without effect is no driver.
TEST(CompareTest, AttributeDriversOnlyWhenTheyMatter) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0, 0.1);
  std::vector<ProductFacts> peers;
  for (int i = 0; i < 300; ++i) {
    ProductFacts f;
    f.id = static_cast<uint64_t>(i + 1);
    f.views = 100;
    f.price = 20;
    f.rating = 4;
    const bool red = i % 2 == 0;
    f.attributes = {{"color", red ? "Red" : "Blue"}, {"pattern", i % 3 == 0 ? "Dots" : "Plain"}};
    f.purchases = std::round(100 * (red ? 0.2 : 0.08) * std::exp(noise(rng)));
    peers.push_back(f);
  }
  auto model = DriverModel::Learn(peers);
  ASSERT_TRUE(model.ok()) << model.status();
  const auto& drivers = model->drivers();
  EXPECT_NE(std::find(drivers.begin(), drivers.end(), "attribute:color"), drivers.end());
  EXPECT_EQ(std::find(drivers.begin(), drivers.end(), "attribute:pattern"), drivers.end());
  ProductFacts a = peers[0], b = peers[1];  // Red and Blue
  a.id = 1001;
  b.id = 1002;
  a.purchases = 20;
  b.purchases = 8;
  Decomposition d = Decompose(a, b, false);
  double unexplained = 0;
  auto reasons = DriverReasons(*model, model->Attribute(a, b), d, a, b, &unexplained);
  EXPECT_EQ(reasons[0].factor, "attribute:color") << reasons[0].evidence;
  EXPECT_GT(reasons[0].contribution, 0.3);
  EXPECT_NE(reasons[0].evidence.find("color Red vs Blue"), std::string::npos);
}

// Audience fit: unknown when the category's buyers look like its viewers; when they
// differ, a product whose viewers look like the buyers fits better.
TEST(CompareTest, AudienceFitScoresViewersAgainstTheCategorysBuyers) {
  const BuyerSegments f = {{"gender", "F"}}, m = {{"gender", "M"}};
  std::vector<const BuyerSegments*> viewers, same, women;
  for (int i = 0; i < 200; ++i) viewers.push_back(i % 2 ? &f : &m);
  for (int i = 0; i < 100; ++i) same.push_back(i % 2 ? &f : &m);
  for (int i = 0; i < 100; ++i) women.push_back(i % 10 ? &f : &m);
  std::vector<const BuyerSegments*> product_f(10, &f), product_m(10, &m);
  EXPECT_FALSE(AudienceFit(viewers, same).Fit(product_f).has_value());
  const AudienceFit fit(viewers, women);
  ASSERT_TRUE(fit.Fit(product_f).has_value());
  EXPECT_GT(*fit.Fit(product_f), *fit.Fit(product_m));
  EXPECT_FALSE(fit.Fit(std::vector<const BuyerSegments*>(kMinFitViewers - 1, &f)).has_value());
}

}  // namespace
}  // namespace kg::insight
