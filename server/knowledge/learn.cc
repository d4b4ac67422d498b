#include "server/knowledge/learn.h"

#include <algorithm>
#include <cmath>

namespace kg::knowledge {

void Isotonic::Fit(std::vector<std::pair<double, double>> points) {
  std::sort(points.begin(), points.end());
  struct Block {
    double sum, count, max_x;
  };
  std::vector<Block> blocks;
  for (const auto& [x, y] : points) {
    blocks.push_back({y, 1, x});
    while (blocks.size() > 1 && blocks[blocks.size() - 2].sum / blocks[blocks.size() - 2].count >=
                                    blocks.back().sum / blocks.back().count) {
      Block b = blocks.back();
      blocks.pop_back();
      blocks.back().sum += b.sum;
      blocks.back().count += b.count;
      blocks.back().max_x = b.max_x;
    }
  }
  xs_.clear();
  ys_.clear();
  for (const Block& b : blocks) {
    xs_.push_back(b.max_x);
    ys_.push_back(b.sum / b.count);
  }
}

double Isotonic::operator()(double raw) const {
  if (xs_.empty()) return raw;
  size_t i = std::lower_bound(xs_.begin(), xs_.end(), raw) - xs_.begin();
  return ys_[std::min(i, ys_.size() - 1)];
}

void Isotonic::Encode(ByteWriter* w) const {
  w->Varint(xs_.size());
  for (size_t i = 0; i < xs_.size(); ++i) {
    w->Double(xs_[i]);
    w->Double(ys_[i]);
  }
}

bool Isotonic::Decode(ByteReader* r, size_t max_steps) {
  uint64_t n = 0;
  if (!r->Varint(&n) || n > max_steps) return false;
  xs_.resize(n);
  ys_.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    if (!r->Double(&xs_[i]) || !r->Double(&ys_[i])) return false;
    // As Fit leaves it: finite steps in order, probabilities that never decrease.
    if (!std::isfinite(xs_[i]) || !(ys_[i] >= 0 && ys_[i] <= 1)) return false;
    if (i > 0 && (xs_[i] < xs_[i - 1] || ys_[i] < ys_[i - 1])) return false;
  }
  return true;
}

namespace {

double Sigmoid(double z) {
  if (z >= 0) return 1 / (1 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1 + e);
}

}  // namespace

void Logistic::Fit(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
                   double l2, int iterations) {
  w_.clear();
  if (x.empty()) return;
  const size_t d = x[0].size(), n = x.size();
  // Standardise every feature but the bias.
  std::vector<double> mean(d, 0.0), scale(d, 1.0);
  for (const auto& row : x) {
    for (size_t j = 1; j < d; ++j) mean[j] += row[j] / n;
  }
  for (size_t j = 1; j < d; ++j) {
    double var = 0;
    for (const auto& row : x) var += (row[j] - mean[j]) * (row[j] - mean[j]) / n;
    scale[j] = var > 1e-12 ? 1 / std::sqrt(var) : 0.0;
  }
  std::vector<double> w(d, 0.0), grad(d), z(d);
  // Adam-free plain gradient descent with a fixed step is enough for a few features.
  const double step = 0.5;
  for (int it = 0; it < iterations; ++it) {
    std::fill(grad.begin(), grad.end(), 0.0);
    for (size_t i = 0; i < n; ++i) {
      z[0] = 1;
      for (size_t j = 1; j < d; ++j) z[j] = (x[i][j] - mean[j]) * scale[j];
      double s = 0;
      for (size_t j = 0; j < d; ++j) s += w[j] * z[j];
      const double err = Sigmoid(s) - y[i];
      for (size_t j = 0; j < d; ++j) grad[j] += err * z[j] / n;
    }
    for (size_t j = 0; j < d; ++j) {
      w[j] -= step * (grad[j] + (j > 0 ? l2 * w[j] : 0.0));
    }
  }
  // Fold the standardisation into the weights.
  w_.assign(d, 0.0);
  w_[0] = w[0];
  for (size_t j = 1; j < d; ++j) {
    w_[j] = w[j] * scale[j];
    w_[0] -= w[j] * scale[j] * mean[j];
  }
}

double Logistic::Score(const std::vector<double>& x) const {
  if (w_.empty()) return 0.5;
  double s = 0;
  for (size_t j = 0; j < w_.size() && j < x.size(); ++j) s += w_[j] * x[j];
  return Sigmoid(s);
}

void Logistic::Encode(ByteWriter* w) const {
  w->Varint(w_.size());
  for (double v : w_) w->Double(v);
}

bool Logistic::Decode(ByteReader* r, size_t features) {
  uint64_t n = 0;
  if (!r->Varint(&n) || (n != features && n != 0)) return false;  // 0: never fitted
  w_.resize(n);
  for (double& v : w_) {
    // Finite and bounded, so that a score is never NaN (inf - inf) for finite features.
    if (!r->Double(&v) || !(std::fabs(v) <= kMaxWeight)) return false;
  }
  return true;
}

}  // namespace kg::knowledge
