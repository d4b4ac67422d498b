// Why one product outperforms another: the outcome gap (purchases, or gmv = purchases x
// price) decomposed into traffic (views), conversion (purchases per view) and, for gmv,
// order value (price), as natural-log ratios that add up; and the traffic and conversion
// parts attributed to drivers (price against the peers, rating, review count, promotion)
// by two gradient-boosted regressions learned over peer products (XGBoost), whose SHAP
// contributions for the two products are subtracted. Plain C++ over plain data.
#ifndef KG_SERVER_INSIGHT_COMPARE_H_
#define KG_SERVER_INSIGHT_COMPARE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/knowledge/boosted.h"

namespace kg::insight {

// What the comparison knows of one product in the window. A metric the product does not
// have is nullopt.
struct ProductFacts {
  uint64_t id = 0;
  double views = 0;
  double purchases = 0;
  double promotions = 0;  // PROMOTES + FEATURES in-edges
  std::optional<double> price, rating, review_count;
  // The typical price of the product's peers (the median of its own category's), against
  // which its price is a driver; 0: the median of all the model's peers.
  double reference_price = 0;
};

// Peers a driver model needs; the peers are widened (to the parent category) while fewer
// than kWidenPeers.
inline constexpr size_t kMinPeers = 30;
inline constexpr size_t kWidenPeers = 150;

// The drivers, in feature order.
inline constexpr const char* kDrivers[] = {"price", "rating", "review_count", "promotion"};
inline constexpr size_t kDriverCount = 4;

struct Decomposition {
  double outcome = 0;      // ln(outcome a / outcome b), counts smoothed by +0.5
  double traffic = 0;      // ln((views a + 1) / (views b + 1))
  double conversion = 0;   // the rest of the purchases ratio
  double order_value = 0;  // gmv: ln(price a / price b)
};
// traffic + conversion + order_value == outcome.
Decomposition Decompose(const ProductFacts& a, const ProductFacts& b, bool gmv);

// The median of each measure over `peers` (a virtual typical peer); nullopt measures
// where no peer has them.
ProductFacts MedianFacts(const std::vector<ProductFacts>& peers);

// Two regressions over the peers: ln(views + 1), and ln((purchases + 0.5) / (views + 1))
// with each peer weighted by its views + 1 (a conversion over few views is mostly noise),
// from the drivers (price as ln(price / reference price)).
class DriverModel {
 public:
  // INVALID_ARGUMENT with fewer than kMinPeers peers.
  static absl::StatusOr<DriverModel> Learn(const std::vector<ProductFacts>& peers);

  // Per driver, its contribution to the traffic and to the conversion part of a vs b: the
  // difference of its SHAP values, 0 for a driver with the same value on both.
  struct Attribution {
    double traffic[kDriverCount] = {};
    double conversion[kDriverCount] = {};
  };
  Attribution Attribute(const ProductFacts& a, const ProductFacts& b) const;
  double median_price() const { return median_price_; }

 private:
  std::vector<float> Features(const ProductFacts& f) const;
  std::shared_ptr<knowledge::GradientBoosted> traffic_, conversion_;
  double median_price_ = 0;
};

struct RankedReason {
  std::string factor;
  double contribution = 0;
  std::string evidence;
  std::string part;
};

// One reason per driver (the sum of its traffic and conversion parts; `part` the larger),
// ranked by |contribution|; *unexplained gets traffic + conversion minus their sum. Within
// a part, the drivers' model contributions are scaled by (observed part / their sum),
// clamped to 0..1: they never explain more of a part than the products show, nor any of
// it when the model predicts the other direction.
// `median` is the peers' typical product (for the price evidence; may equal b).
std::vector<RankedReason> DriverReasons(const DriverModel::Attribution& attribution,
                                        const Decomposition& d, const ProductFacts& a,
                                        const ProductFacts& b, double median_price,
                                        double* unexplained);

// Without a model: the parts themselves as reasons (traffic, conversion, order_value),
// ranked by |contribution|.
std::vector<RankedReason> PartReasons(const Decomposition& d, const ProductFacts& a,
                                      const ProductFacts& b);

}  // namespace kg::insight

#endif  // KG_SERVER_INSIGHT_COMPARE_H_
