// GradientBoosted (XGBoost): learns a non-linear rule, its contributions add up to the
// log-odds and name the feature that matters, it is deterministic for a seed, the encoding
// round-trips and damage is refused.
#include "server/knowledge/boosted.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include "server/knowledge/forest.h"

namespace kg::knowledge {
namespace {

// y = (x0 > 0.5) XOR (x1 > 0.5); x2 is noise.
void Data(int n, uint64_t seed, std::vector<std::vector<float>>* x, std::vector<float>* y) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  for (int i = 0; i < n; ++i) {
    std::vector<float> row = {u(rng), u(rng), u(rng)};
    y->push_back(((row[0] > 0.5f) != (row[1] > 0.5f)) ? 1.0f : 0.0f);
    x->push_back(std::move(row));
  }
}

// Training and test rows of Data.
struct Sets {
  std::vector<std::vector<float>> x, test_x;
  std::vector<float> y, test_y;
};
Sets MakeSets(int n, int test_n, uint64_t seed) {
  Sets s;
  Data(n, seed, &s.x, &s.y);
  Data(test_n, seed + 1, &s.test_x, &s.test_y);
  return s;
}

TEST(GradientBoostedTest, LearnsExplainsAndRoundTrips) {
  auto [x, test_x, y, test_y] = MakeSets(2000, 500, 1);
  GradientBoosted::Params params;
  params.rounds = 60;
  params.max_depth = 3;
  params.eta = 0.3;
  auto model = GradientBoosted::Fit(x, y, params);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->features(), 3u);
  std::vector<double> p = (*model)->Predict(test_x);
  ASSERT_EQ(p.size(), test_x.size());
  int right = 0;
  for (size_t i = 0; i < p.size(); ++i) right += (p[i] > 0.5) == (test_y[i] > 0.5f);
  EXPECT_GT(right, 470);  // XOR: a linear model would be near 250

  // Contributions: features + bias per row, summing to the log-odds; the noise feature
  // matters least.
  std::vector<std::vector<double>> c = (*model)->Contributions(test_x);
  ASSERT_EQ(c.size(), test_x.size());
  double mass[3] = {0, 0, 0};
  for (size_t i = 0; i < c.size(); ++i) {
    ASSERT_EQ(c[i].size(), 4u);
    double sum = 0;
    for (double v : c[i]) sum += v;
    EXPECT_NEAR(1 / (1 + std::exp(-sum)), p[i], 1e-4);
    for (int f = 0; f < 3; ++f) mass[f] += std::fabs(c[i][f]);
  }
  EXPECT_LT(mass[2], mass[0] / 3);
  EXPECT_LT(mass[2], mass[1] / 3);

  // Deterministic for a seed; the encoding round-trips; damage is refused.
  auto again = GradientBoosted::Fit(x, y, params);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Predict(test_x), p);
  const std::string bytes = (*model)->Encode();
  auto back = GradientBoosted::Decode(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  std::vector<double> q = (*back)->Predict(test_x);
  ASSERT_EQ(q.size(), p.size());
  for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(q[i], p[i], 1e-6);
  EXPECT_EQ((*back)->Contributions(test_x), (*model)->Contributions(test_x));
  EXPECT_EQ((*back)->Encode(), bytes);
  EXPECT_FALSE(GradientBoosted::Decode(bytes.substr(0, bytes.size() / 2)).ok());
  std::string damaged = bytes;
  damaged[damaged.size() / 2] ^= 0x5a;
  auto refused = GradientBoosted::Decode(damaged);
  if (refused.ok()) {
    // A flipped byte inside a number may still parse; it must not crash prediction.
    (*refused)->Predict(test_x);
  }
  EXPECT_FALSE(GradientBoosted::Decode("").ok());

  // Bad shapes.
  EXPECT_FALSE(GradientBoosted::Fit({}, {}, params).ok());
  EXPECT_FALSE(GradientBoosted::Fit({{1, 2}, {3}}, {0, 1}, params).ok());
  EXPECT_FALSE(GradientBoosted::Fit({{1, 2}}, {0, 1}, params).ok());
}

// A regression forest, as XGBoost writes it and as the bundle keeps it: the same trees.
TEST(ForestTest, ReadsXgboostsModelAndWritesOneItLoadsTheSame) {
  auto [x, test_x, y, test_y] = MakeSets(1000, 200, 3);
  for (auto& row : x) row[2] = std::round(row[2] * 10);  // integral thresholds too
  for (auto& row : test_x) row[2] = std::round(row[2] * 10);
  for (size_t i = 0; i < y.size(); ++i) y[i] = 3 * x[i][0] + x[i][2];
  GradientBoosted::Params params;
  params.rounds = 20;
  params.regression = true;
  auto model = GradientBoosted::Fit(x, y, params);
  ASSERT_TRUE(model.ok()) << model.status();
  auto back = GradientBoosted::Decode((*model)->Encode());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->Predict(test_x), (*model)->Predict(test_x));
  EXPECT_EQ((*back)->Encode(), (*model)->Encode());
}

// Predict walks the trees itself; XGBoost's own prediction (through Contributions, which
// add up to its log-odds) must agree, missing values (NaN, short rows) included, for a
// model trained here and for one decoded from the bundle (whose booster XGBoost loads
// only when Contributions is first asked for).
TEST(ForestTest, PredictionWalksTheTreesAsXgboostDoes) {
  auto [x, test_x, y, test_y] = MakeSets(1500, 300, 5);
  std::mt19937_64 rng(7);
  for (auto* rows : {&x, &test_x}) {
    for (auto& row : *rows) {
      for (float& v : row) {
        if (rng() % 5 == 0) v = std::numeric_limits<float>::quiet_NaN();
      }
    }
  }
  test_x.push_back({0.7f});  // short: the rest missing
  GradientBoosted::Params params;
  params.rounds = 40;
  params.max_depth = 4;
  auto model = GradientBoosted::Fit(x, y, params);
  ASSERT_TRUE(model.ok()) << model.status();
  auto decoded = GradientBoosted::Decode((*model)->Encode());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  for (const GradientBoosted* m : {model->get(), decoded->get()}) {
    const std::vector<double> p = m->Predict(test_x);
    const std::vector<std::vector<double>> c = m->Contributions(test_x);
    ASSERT_EQ(p.size(), test_x.size());
    ASSERT_EQ(c.size(), test_x.size());
    for (size_t i = 0; i < p.size(); ++i) {
      double margin = 0;
      for (double v : c[i]) margin += v;
      EXPECT_NEAR(p[i], 1 / (1 + std::exp(-margin)), 1e-5) << "row " << i;
    }
  }
}

Forest SmallForest() {
  Forest f;
  f.features = 2;
  ForestTree t;
  t.left = {1, -1, -1};
  t.right = {2, -1, -1};
  t.split_index = {1, 0, 0};
  t.split_condition = {0.5f, -1.0f, 1.0f};
  t.base_weight = {0, -1, 1};
  t.loss_change = {3, 0, 0};
  t.sum_hessian = {10, 5, 5};
  t.default_left = {1, 0, 0};
  f.trees = {t};
  return f;
}

TEST(ForestTest, PredictsByTheSplitsDefaultsAndBase) {
  Forest f = SmallForest();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float below[] = {9, 0.2f}, at[] = {9, 0.5f}, missing[] = {9, nan};
  EXPECT_FLOAT_EQ(ForestMargin(f, below), -1);    // base 0.5: margin 0
  EXPECT_FLOAT_EQ(ForestMargin(f, at), 1);        // not below the condition: right
  EXPECT_FLOAT_EQ(ForestMargin(f, missing), -1);  // the default child
  EXPECT_FLOAT_EQ(ForestPredict(f, at), 1 / (1 + std::exp(-1.0f)));
  f.base_score = 0.8f;
  EXPECT_NEAR(ForestMargin(f, at), 1 + std::log(4.0f), 1e-6);
  f.objective = Forest::Objective::kSquaredError;
  EXPECT_FLOAT_EQ(ForestPredict(f, at), 1.8f);
}

TEST(ForestTest, RefusesTreesXgboostWouldMisread) {
  ASSERT_TRUE(CheckForest(SmallForest()).ok()) << CheckForest(SmallForest());
  struct Case {
    const char* what;
    std::function<void(Forest*)> damage;
  };
  const Case cases[] = {
      {"feature out of range", [](Forest* f) { f->trees[0].split_index[0] = 2; }},
      {"child before its parent", [](Forest* f) { f->trees[0].left[0] = 0; }},
      {"child out of range", [](Forest* f) { f->trees[0].right[0] = 3; }},
      {"one child only", [](Forest* f) { f->trees[0].right[0] = -1; }},
      {"same child twice", [](Forest* f) { f->trees[0].right[0] = 1; }},
      {"not finite", [](Forest* f) { f->trees[0].split_condition[2] = std::nanf(""); }},
      {"fields of different lengths", [](Forest* f) { f->trees[0].sum_hessian.pop_back(); }},
      {"no trees", [](Forest* f) { f->trees.clear(); }},
      {"no features", [](Forest* f) { f->features = 0; }},
      {"logistic base score not a probability", [](Forest* f) { f->base_score = 1.5f; }},
      {"a node not reached",
       [](Forest* f) {
         ForestTree& t = f->trees[0];  // node 3, a leaf nobody points to
         t.left.push_back(-1), t.right.push_back(-1), t.split_index.push_back(0);
         t.split_condition.push_back(0), t.base_weight.push_back(0), t.loss_change.push_back(0);
         t.sum_hessian.push_back(0), t.default_left.push_back(0);
       }},
  };
  for (const Case& c : cases) {
    Forest f = SmallForest();
    c.damage(&f);
    EXPECT_FALSE(CheckForest(f).ok()) << c.what;
  }
  // Encoded, decoded, written for XGBoost: the same forest.
  auto back = DecodeForest(EncodeForest(SmallForest()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(EncodeForest(*back), EncodeForest(SmallForest()));
  auto read = FromXgboostJson(ToXgboostJson(SmallForest()));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(EncodeForest(*read), EncodeForest(SmallForest()));
}

// Damaged encodings (found by fuzz_bundle: XGBoost's own loader wrote out of bounds on
// mutated model bytes) are refused or load a valid forest; either way nothing crashes.
TEST(ForestTest, MutatedEncodingsNeverReachXgboostUnchecked) {
  const Sets sets = MakeSets(500, 20, 5);
  const auto& test_x = sets.test_x;
  GradientBoosted::Params params;
  params.rounds = 5;
  params.max_depth = 3;
  auto model = GradientBoosted::Fit(sets.x, sets.y, params);
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string bytes = (*model)->Encode();
  std::mt19937 rng(11);
  int loaded = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string m = bytes;
    for (int e = 1 + static_cast<int>(rng() % 3); e > 0; --e) {
      const size_t pos = rng() % m.size();
      if (rng() % 4 == 0) {
        m.erase(pos, 1 + rng() % 4);
        if (m.empty()) m = "x";
      } else {
        m[pos] = static_cast<char>(rng());
      }
    }
    auto decoded = GradientBoosted::Decode(m);
    if (!decoded.ok()) continue;
    ++loaded;
    EXPECT_EQ((*decoded)->Predict(test_x).size(), test_x.size());
    EXPECT_EQ((*decoded)->Contributions(test_x).size(), test_x.size());
  }
  EXPECT_GT(loaded, 0);  // changed values still make a valid forest
  // A model of an earlier release (XGBoost's own format) is refused, saying what to do.
  auto old = GradientBoosted::Decode(std::string("\x01\x03\x01x", 4));
  EXPECT_EQ(old.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(old.status().message().find("TrainModels"), absl::string_view::npos);
}

}  // namespace
}  // namespace kg::knowledge
