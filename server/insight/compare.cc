#include "server/insight/compare.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kg::insight {
namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double m = v[mid];
  if (v.size() % 2 == 0) {
    m = (m + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid))) / 2;
  }
  return m;
}

std::optional<double> MedianOf(const std::vector<ProductFacts>& peers,
                               std::optional<double> ProductFacts::*field) {
  std::vector<double> v;
  for (const ProductFacts& p : peers) {
    if (p.*field) v.push_back(*(p.*field));
  }
  if (v.empty()) return std::nullopt;
  return Median(std::move(v));
}

double Conversion(const ProductFacts& f) { return std::log((f.purchases + 0.5) / (f.views + 1)); }

std::string Num(std::optional<double> v) {
  if (!v) return "none";
  return absl::StrFormat("%.4g", *v);
}

std::string Percent(double a, double b) {
  if (b == 0) return "";
  return absl::StrFormat(" (%+.0f%%)", 100 * (a / b - 1));
}

std::string Evidence(size_t driver, const ProductFacts& a, const ProductFacts& b,
                     double median_price) {
  switch (driver) {
    case 0: {
      std::string s = absl::StrCat("price ", Num(a.price), " vs ", Num(b.price));
      if (a.price && b.price) s += Percent(*a.price, *b.price);
      if (median_price > 0) absl::StrAppend(&s, "; peers' median ", Num(median_price));
      return s;
    }
    case 1:
      return absl::StrCat("rating ", Num(a.rating), " vs ", Num(b.rating));
    case 2:
      return absl::StrCat("reviews ", Num(a.review_count), " vs ", Num(b.review_count));
    default:
      return absl::StrCat("promotions in the window (PROMOTES + FEATURES) ", Num(a.promotions),
                          " vs ", Num(b.promotions));
  }
}

std::string FunnelEvidence(const ProductFacts& a, const ProductFacts& b) {
  return absl::StrFormat("views %.4g vs %.4g; purchases %.4g vs %.4g; conversion %.2f%% vs %.2f%%",
                         a.views, b.views, a.purchases, b.purchases,
                         a.views > 0 ? 100 * a.purchases / a.views : 0.0,
                         b.views > 0 ? 100 * b.purchases / b.views : 0.0);
}

void Rank(std::vector<RankedReason>* reasons) {
  std::stable_sort(reasons->begin(), reasons->end(),
                   [](const RankedReason& x, const RankedReason& y) {
                     return std::abs(x.contribution) > std::abs(y.contribution);
                   });
}

}  // namespace

Decomposition Decompose(const ProductFacts& a, const ProductFacts& b, bool gmv) {
  Decomposition d;
  d.traffic = std::log((a.views + 1) / (b.views + 1));
  d.conversion = Conversion(a) - Conversion(b);
  if (gmv && a.price && b.price && *a.price > 0 && *b.price > 0) {
    d.order_value = std::log(*a.price / *b.price);
  }
  d.outcome = d.traffic + d.conversion + d.order_value;
  return d;
}

ProductFacts MedianFacts(const std::vector<ProductFacts>& peers) {
  ProductFacts m;
  std::vector<double> views, purchases, promotions;
  for (const ProductFacts& p : peers) {
    views.push_back(p.views);
    purchases.push_back(p.purchases);
    promotions.push_back(p.promotions);
  }
  m.views = Median(views);
  m.purchases = Median(purchases);
  m.promotions = Median(promotions);
  m.price = MedianOf(peers, &ProductFacts::price);
  m.rating = MedianOf(peers, &ProductFacts::rating);
  m.review_count = MedianOf(peers, &ProductFacts::review_count);
  std::vector<double> references;
  for (const ProductFacts& p : peers) {
    if (p.reference_price > 0) references.push_back(p.reference_price);
  }
  m.reference_price = Median(std::move(references));
  return m;
}

std::vector<float> DriverModel::Features(const ProductFacts& f) const {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x(kDriverCount, nan);
  const double reference = f.reference_price > 0 ? f.reference_price : median_price_;
  if (f.price && *f.price > 0 && reference > 0) {
    x[0] = static_cast<float>(std::log(*f.price / reference));
  }
  if (f.rating) x[1] = static_cast<float>(*f.rating);
  if (f.review_count && *f.review_count >= 0) {
    x[2] = static_cast<float>(std::log1p(*f.review_count));
  }
  x[3] = static_cast<float>(std::log1p(std::max(0.0, f.promotions)));
  return x;
}

absl::StatusOr<DriverModel> DriverModel::Learn(const std::vector<ProductFacts>& peers) {
  if (peers.size() < kMinPeers) {
    return absl::InvalidArgumentError(
        absl::StrCat("driver model: ", peers.size(), " peers, needs ", kMinPeers));
  }
  DriverModel model;
  model.median_price_ = MedianOf(peers, &ProductFacts::price).value_or(0);
  std::vector<std::vector<float>> x;
  std::vector<float> traffic, conversion, views;
  for (const ProductFacts& p : peers) {
    x.push_back(model.Features(p));
    traffic.push_back(static_cast<float>(std::log(p.views + 1)));
    conversion.push_back(static_cast<float>(Conversion(p)));
    views.push_back(static_cast<float>(p.views + 1));
  }
  knowledge::GradientBoosted::Params params;
  params.regression = true;
  params.rounds = 60;
  params.max_depth = 3;
  params.eta = 0.1;
  params.min_child_weight = 5;
  auto t = knowledge::GradientBoosted::Fit(x, traffic, params);
  if (!t.ok()) return t.status();
  // Leaves of the weighted model hold at least 50 views.
  params.min_child_weight = 50;
  auto c = knowledge::GradientBoosted::Fit(x, conversion, params, nullptr, &views);
  if (!c.ok()) return c.status();
  model.traffic_ = std::move(*t);
  model.conversion_ = std::move(*c);
  return model;
}

DriverModel::Attribution DriverModel::Attribute(const ProductFacts& a,
                                                const ProductFacts& b) const {
  Attribution out;
  const std::vector<std::vector<float>> rows = {Features(a), Features(b)};
  const auto t = traffic_->Contributions(rows);
  const auto c = conversion_->Contributions(rows);
  for (size_t f = 0; f < kDriverCount && t.size() == 2 && c.size() == 2; ++f) {
    // A driver on which the two do not differ explains none of their gap (its SHAP values
    // may still differ through interactions with the drivers that do).
    const float x = rows[0][f], y = rows[1][f];
    if (x == y || (std::isnan(x) && std::isnan(y))) continue;
    out.traffic[f] = t[0][f] - t[1][f];
    out.conversion[f] = c[0][f] - c[1][f];
  }
  return out;
}

std::vector<RankedReason> DriverReasons(const DriverModel::Attribution& attribution,
                                        const Decomposition& d, const ProductFacts& a,
                                        const ProductFacts& b, double median_price,
                                        double* unexplained) {
  std::vector<RankedReason> out;
  double explained = 0;
  // Each part's drivers are held to the part observed: their model contributions are
  // scaled by observed / predicted, clamped to 0..1, so they never claim more of a part
  // than the two products show (nor any of it when the model predicts the other sign).
  auto scale = [](const double(&by_driver)[kDriverCount], double observed) {
    double predicted = 0;
    for (double x : by_driver) predicted += x;
    if (predicted == 0) return 0.0;
    return std::min(1.0, std::max(0.0, observed / predicted));
  };
  const double traffic_scale = scale(attribution.traffic, d.traffic);
  const double conversion_scale = scale(attribution.conversion, d.conversion);
  for (size_t f = 0; f < kDriverCount; ++f) {
    const double t = attribution.traffic[f] * traffic_scale;
    const double c = attribution.conversion[f] * conversion_scale;
    RankedReason r;
    r.factor = kDrivers[f];
    r.contribution = t + c;
    r.part = t == 0 && c == 0 ? "" : std::abs(t) >= std::abs(c) ? "traffic" : "conversion";
    r.evidence =
        absl::StrCat(Evidence(f, a, b, a.reference_price > 0 ? a.reference_price : median_price),
                     absl::StrFormat("; traffic %+.3f, conversion %+.3f", t, c));
    explained += r.contribution;
    out.push_back(std::move(r));
  }
  *unexplained = d.traffic + d.conversion - explained;
  Rank(&out);
  return out;
}

std::vector<RankedReason> PartReasons(const Decomposition& d, const ProductFacts& a,
                                      const ProductFacts& b) {
  std::vector<RankedReason> out;
  const std::string funnel = FunnelEvidence(a, b);
  out.push_back({"traffic", d.traffic, funnel, "traffic"});
  out.push_back({"conversion", d.conversion, funnel, "conversion"});
  if (d.order_value != 0) {
    out.push_back({"order_value", d.order_value,
                   absl::StrCat("price ", Num(a.price), " vs ", Num(b.price)), "order_value"});
  }
  Rank(&out);
  return out;
}

}  // namespace kg::insight
