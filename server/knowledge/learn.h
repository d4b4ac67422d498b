// Small learners shared by the knowledge models: isotonic calibration and logistic
// regression over a handful of dense features. Plain C++, deterministic.
#ifndef KG_SERVER_KNOWLEDGE_LEARN_H_
#define KG_SERVER_KNOWLEDGE_LEARN_H_

#include <utility>
#include <vector>

#include "server/knowledge/bytes.h"

namespace kg::knowledge {

// A non-decreasing step function from a raw score to a calibrated probability, fitted by
// pool-adjacent-violators to (score, outcome 0/1) pairs.
class Isotonic {
 public:
  void Fit(std::vector<std::pair<double, double>> points);
  // The identity when never fitted.
  double operator()(double raw) const;
  void Encode(ByteWriter* w) const;
  // False unless the steps are finite, in order, and their values probabilities that
  // never decrease (what Fit makes).
  bool Decode(ByteReader* r, size_t max_steps);

 private:
  std::vector<double> xs_, ys_;  // the upper score of each step and its value
};

// p(y = 1 | x) = sigmoid(w . x); x[0] is expected to be 1 (the bias). Fitted by gradient
// descent on the mean log loss with an L2 penalty (not on the bias), features standardised
// internally.
class Logistic {
 public:
  void Fit(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
           double l2 = 1e-3, int iterations = 300);
  double Score(const std::vector<double>& x) const;  // the probability
  size_t features() const { return w_.size(); }
  void Encode(ByteWriter* w) const;
  // False unless there are `features` weights (or none), each within kMaxWeight.
  static constexpr double kMaxWeight = 1e12;
  bool Decode(ByteReader* r, size_t features);

 private:
  std::vector<double> w_;  // on the raw features (standardisation folded in)
};

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_LEARN_H_
