// Why one product outperforms another: the outcome gap (purchases, or gmv = purchases x
// price) decomposed into traffic (views), conversion (purchases per view) and, for gmv,
// order value (price), as natural-log ratios that add up; and the traffic and conversion
// parts attributed to drivers (price against the peers, rating, review count, promotion,
// audience fit, attributes) by two gradient-boosted regressions learned over peer products
// (XGBoost), whose SHAP contributions for the two products are subtracted. Plain C++ over plain
// data.
#ifndef KG_SERVER_INSIGHT_COMPARE_H_
#define KG_SERVER_INSIGHT_COMPARE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
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
  // How much its viewers look like its category's buyers (AudienceFit); nullopt when too
  // few viewers were read.
  std::optional<double> audience_fit;
  // Its attributes (name, value): candidates of the attribute drivers.
  std::vector<std::pair<std::string, std::string>> attributes;
};

// One buyer attribute value per dimension ("gender" -> "F", ...).
using BuyerSegments = std::vector<std::pair<std::string, std::string>>;

// Audience fit of products from samples of their viewers and their category's buyers: a
// buyer scores the sum over its segment values of ln(share among the sampled buyers /
// share among the sampled viewers) (each smoothed by 1 / (values + 1)); a product's fit is
// the mean score of its sampled viewers, or nullopt with fewer than kMinFitViewers.
inline constexpr size_t kMinFitViewers = 5;
class AudienceFit {
 public:
  // `viewers` and `buyers`: the pooled samples of the category's products.
  AudienceFit(const std::vector<const BuyerSegments*>& viewers,
              const std::vector<const BuyerSegments*>& buyers);
  double Score(const BuyerSegments& buyer) const;
  std::optional<double> Fit(const std::vector<const BuyerSegments*>& product_viewers) const;

 private:
  std::map<std::pair<std::string, std::string>, double> log_ratio_;
};

// The median of `v` (the mean of the middle two for an even count); 0 when empty.
double Median(std::vector<double> v);

// Peers a driver model needs; the peers are widened (to the parent category) while fewer
// than kWidenPeers.
inline constexpr size_t kMinPeers = 30;
inline constexpr size_t kWidenPeers = 150;

// The drivers every model has, in feature order; then up to kMaxAttributeDrivers
// attribute drivers ("attribute:color"), chosen per model among the peers' attributes.
inline constexpr const char* kDrivers[] = {"price", "rating", "review_count", "promotion",
                                           "audience_fit"};
inline constexpr size_t kDriverCount = 5;
inline constexpr size_t kMaxAttributeDrivers = 3;

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
// from the drivers: price as ln(price / reference price), rating, ln(1 + reviews),
// ln(1 + promotions), audience fit, and per attribute driver the value's mean target over
// the other peers with that value (smoothed towards the mean; leave-one-out, so a peer's
// own outcome never encodes its value). An attribute is a driver when at least half the
// peers have it with 2 to (peers / 5) distinct values (the most common such names).
class DriverModel {
 public:
  // INVALID_ARGUMENT with fewer than kMinPeers peers.
  static absl::StatusOr<DriverModel> Learn(const std::vector<ProductFacts>& peers);

  // Per driver (drivers() order), its contribution to the traffic and to the conversion
  // part of a vs b: the difference of its SHAP values, 0 for a driver with the same value
  // on both.
  struct Attribution {
    std::vector<double> traffic, conversion;
  };
  Attribution Attribute(const ProductFacts& a, const ProductFacts& b) const;
  const std::vector<std::string>& drivers() const { return drivers_; }
  double median_price() const { return median_price_; }

 private:
  enum Part { kTraffic = 0, kConversion = 1 };
  // The features of `f` for one part's model, the peers `exclude` left out of the
  // attribute encodings.
  std::vector<float> Features(const ProductFacts& f, Part part,
                              std::pair<uint64_t, uint64_t> exclude) const;
  // The encoding of `f`'s value of attribute driver `k` for `part`: the smoothed mean of
  // the part's target over the peers with that value but `exclude`.
  float Encode(const ProductFacts& f, size_t k, Part part,
               std::pair<uint64_t, uint64_t> exclude) const;

  std::shared_ptr<knowledge::GradientBoosted> traffic_, conversion_;
  double median_price_ = 0;
  std::vector<std::string> drivers_;
  std::vector<std::string> attributes_;  // the attribute drivers' names
  struct Peer {
    uint64_t id;
    std::vector<std::string> values;  // per attribute driver ("" when absent)
    double target[2];
  };
  std::vector<Peer> peers_;
  double mean_target_[2] = {0, 0};
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
// it when the model predicts the other direction. A gmv gap's order-value part is a reason
// of its own.
std::vector<RankedReason> DriverReasons(const DriverModel& model,
                                        const DriverModel::Attribution& attribution,
                                        const Decomposition& d, const ProductFacts& a,
                                        const ProductFacts& b, double* unexplained);

// Without a model: the parts themselves as reasons (traffic, conversion, order_value),
// ranked by |contribution|.
std::vector<RankedReason> PartReasons(const Decomposition& d, const ProductFacts& a,
                                      const ProductFacts& b);

}  // namespace kg::insight

#endif  // KG_SERVER_INSIGHT_COMPARE_H_
