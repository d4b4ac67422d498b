// GradientBoosted (XGBoost): learns a non-linear rule, its contributions add up to the
// log-odds and name the feature that matters, it is deterministic for a seed, the encoding
// round-trips and damage is refused.
#include "server/knowledge/boosted.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

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

TEST(GradientBoostedTest, LearnsExplainsAndRoundTrips) {
  std::vector<std::vector<float>> x, test_x;
  std::vector<float> y, test_y;
  Data(2000, 1, &x, &y);
  Data(500, 2, &test_x, &test_y);
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

}  // namespace
}  // namespace kg::knowledge
