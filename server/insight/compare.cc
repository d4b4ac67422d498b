#include "server/insight/compare.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kg::insight {

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

namespace {

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

std::string AttributeValue(const ProductFacts& f, const std::string& name) {
  for (const auto& [k, v] : f.attributes) {
    if (k == name) return v;
  }
  return "";
}

std::string Evidence(const std::string& driver, const ProductFacts& a, const ProductFacts& b,
                     double median_price) {
  if (driver == "price") {
    std::string s = absl::StrCat("price ", Num(a.price), " vs ", Num(b.price));
    if (a.price && b.price) s += Percent(*a.price, *b.price);
    if (median_price > 0) absl::StrAppend(&s, "; peers' median ", Num(median_price));
    return s;
  }
  if (driver == "rating") return absl::StrCat("rating ", Num(a.rating), " vs ", Num(b.rating));
  if (driver == "review_count") {
    return absl::StrCat("reviews ", Num(a.review_count), " vs ", Num(b.review_count));
  }
  if (driver == "promotion") {
    return absl::StrCat("promotions in the window (PROMOTES + FEATURES) ", Num(a.promotions),
                        " vs ", Num(b.promotions));
  }
  if (driver == "audience_fit") {
    return absl::StrCat("audience fit (viewers like the category's buyers) ", Num(a.audience_fit),
                        " vs ", Num(b.audience_fit));
  }
  const std::string name = driver.substr(driver.find(':') + 1);
  const std::string x = AttributeValue(a, name), y = AttributeValue(b, name);
  return absl::StrCat(name, " ", x.empty() ? "none" : x, " vs ", y.empty() ? "none" : y);
}

std::string FunnelEvidence(const ProductFacts& a, const ProductFacts& b) {
  return absl::StrFormat("views %.4g vs %.4g; purchases %.4g vs %.4g; conversion %.2f%% vs %.2f%%",
                         a.views, b.views, a.purchases, b.purchases,
                         a.views > 0 ? 100 * a.purchases / a.views : 0.0,
                         b.views > 0 ? 100 * b.purchases / b.views : 0.0);
}

// P(X >= x) for X chi-square with `df` degrees of freedom (Wilson-Hilferty).
double ChiSquareTail(double x, double df) {
  if (df <= 0 || x <= 0) return 1.0;
  const double v = 2.0 / (9.0 * df);
  const double z = (std::cbrt(x / df) - (1.0 - v)) / std::sqrt(v);
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

// A driver must be associated with an outcome at this level to take part.
constexpr double kDriverSignificance = 0.01;

// Whether the groups' means of `y` differ (one-way analysis of variance, its F statistic
// read as a chi-square with groups - 1 degrees of freedom).
bool GroupsDiffer(const std::vector<std::string>& group, const std::vector<double>& y) {
  std::map<std::string, std::pair<double, double>> sums;  // value -> (sum, n)
  double total = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    auto& [sum, n] = sums[group[i]];
    sum += y[i];
    ++n;
    total += y[i];
  }
  const double n = static_cast<double>(y.size());
  const double k = static_cast<double>(sums.size());
  if (k < 2 || n <= k) return false;
  const double mean = total / n;
  double between = 0, within = 0;
  for (const auto& [value, sn] : sums) {
    const double m = sn.first / sn.second;
    between += sn.second * (m - mean) * (m - mean);
  }
  for (size_t i = 0; i < y.size(); ++i) {
    const auto& sn = sums[group[i]];
    const double d = y[i] - sn.first / sn.second;
    within += d * d;
  }
  // A constant outcome (or one the groups explain exactly, up to rounding) decides nothing
  // or everything.
  if (between + within <= 1e-12 * n) return false;
  if (within <= 1e-12 * n) return true;
  const double f = (between / (k - 1)) / (within / (n - k));
  return ChiSquareTail(f * (k - 1), k - 1) < kDriverSignificance;
}

// Smoothing of the attribute encodings: pseudo-peers at the mean.
constexpr double kEncodingPrior = 10;

// The order-value part of a gmv gap as a reason of its own.
RankedReason OrderValueReason(const Decomposition& d, const ProductFacts& a,
                              const ProductFacts& b) {
  return {"order_value", d.order_value, absl::StrCat("price ", Num(a.price), " vs ", Num(b.price)),
          "order_value"};
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
  m.audience_fit = MedianOf(peers, &ProductFacts::audience_fit);
  std::vector<double> references;
  for (const ProductFacts& p : peers) {
    if (p.reference_price > 0) references.push_back(p.reference_price);
  }
  m.reference_price = Median(std::move(references));
  return m;
}

float DriverModel::Encode(const ProductFacts& f, size_t k, Part part,
                          std::pair<uint64_t, uint64_t> exclude) const {
  const std::string value = AttributeValue(f, attributes_[k]);
  if (value.empty()) return static_cast<float>(mean_target_[part]);
  double sum = 0, n = 0;
  for (const Peer& p : peers_) {
    if (p.id == exclude.first || p.id == exclude.second || p.values[k] != value) continue;
    sum += p.target[part];
    ++n;
  }
  return static_cast<float>((sum + kEncodingPrior * mean_target_[part]) / (n + kEncodingPrior));
}

std::vector<float> DriverModel::Features(const ProductFacts& f, Part part,
                                         std::pair<uint64_t, uint64_t> exclude) const {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x(kDriverCount + attributes_.size(), nan);
  const double reference = f.reference_price > 0 ? f.reference_price : median_price_;
  if (f.price && *f.price > 0 && reference > 0) {
    x[0] = static_cast<float>(std::log(*f.price / reference));
  }
  if (f.rating) x[1] = static_cast<float>(*f.rating);
  if (f.review_count && *f.review_count >= 0) {
    x[2] = static_cast<float>(std::log1p(*f.review_count));
  }
  x[3] = static_cast<float>(std::log1p(std::max(0.0, f.promotions)));
  if (f.audience_fit) x[4] = static_cast<float>(*f.audience_fit);
  for (size_t k = 0; k < attributes_.size(); ++k) {
    x[kDriverCount + k] = Encode(f, k, part, exclude);
  }
  return x;
}

absl::StatusOr<DriverModel> DriverModel::Learn(const std::vector<ProductFacts>& peers) {
  if (peers.size() < kMinPeers) {
    return absl::InvalidArgumentError(
        absl::StrCat("driver model: ", peers.size(), " peers, needs ", kMinPeers));
  }
  DriverModel model;
  model.median_price_ = MedianOf(peers, &ProductFacts::price).value_or(0);
  // The targets: ln(views + 1) and the conversion log-rate, and each peer's weight in the
  // conversion model.
  std::vector<float> traffic, conversion, views;
  for (const ProductFacts& p : peers) {
    traffic.push_back(static_cast<float>(std::log(p.views + 1)));
    conversion.push_back(static_cast<float>(Conversion(p)));
    views.push_back(static_cast<float>(p.views + 1));
    model.mean_target_[kTraffic] += traffic.back() / static_cast<double>(peers.size());
    model.mean_target_[kConversion] += conversion.back() / static_cast<double>(peers.size());
  }
  const std::vector<double> traffic_y(traffic.begin(), traffic.end());
  const std::vector<double> conversion_y(conversion.begin(), conversion.end());
  // Attribute drivers: names most peers have, with a few distinct values each.
  std::map<std::string, std::map<std::string, int>> values;
  for (const ProductFacts& p : peers) {
    for (const auto& [k, v] : p.attributes) ++values[k][v];
  }
  std::vector<std::pair<int, std::string>> names;
  for (const auto& [name, counts] : values) {
    int present = 0;
    for (const auto& [v, n] : counts) present += n;
    const size_t distinct = counts.size();
    if (2 * static_cast<size_t>(present) < peers.size() || distinct < 2 ||
        distinct > std::max<size_t>(2, peers.size() / 5)) {
      continue;
    }
    // Only an attribute whose values differ in traffic or conversion among the peers.
    std::vector<std::string> group;
    for (const ProductFacts& p : peers) group.push_back(AttributeValue(p, name));
    if (GroupsDiffer(group, traffic_y) || GroupsDiffer(group, conversion_y)) {
      names.push_back({-present, name});
    }
  }
  std::sort(names.begin(), names.end());
  for (size_t i = 0; i < names.size() && i < kMaxAttributeDrivers; ++i) {
    model.attributes_.push_back(names[i].second);
  }
  for (const char* d : kDrivers) model.drivers_.push_back(d);
  for (const std::string& a : model.attributes_) model.drivers_.push_back("attribute:" + a);
  for (size_t i = 0; i < peers.size(); ++i) {
    Peer peer{peers[i].id, {}, {traffic_y[i], conversion_y[i]}};
    for (const std::string& a : model.attributes_) {
      peer.values.push_back(AttributeValue(peers[i], a));
    }
    model.peers_.push_back(std::move(peer));
  }
  std::vector<std::vector<float>> xt, xc;
  for (const ProductFacts& p : peers) {
    xt.push_back(model.Features(p, kTraffic, {p.id, p.id}));
    xc.push_back(model.Features(p, kConversion, {p.id, p.id}));
  }
  knowledge::GradientBoosted::Params params;
  params.regression = true;
  params.rounds = 60;
  params.max_depth = 3;
  params.eta = 0.1;
  params.min_child_weight = 5;
  auto t = knowledge::GradientBoosted::Fit(xt, traffic, params);
  if (!t.ok()) return t.status();
  // Leaves of the weighted model hold at least 50 views.
  params.min_child_weight = 50;
  auto c = knowledge::GradientBoosted::Fit(xc, conversion, params, nullptr, &views);
  if (!c.ok()) return c.status();
  model.traffic_ = std::move(*t);
  model.conversion_ = std::move(*c);
  return model;
}

DriverModel::Attribution DriverModel::Attribute(const ProductFacts& a,
                                                const ProductFacts& b) const {
  Attribution out;
  out.traffic.assign(drivers_.size(), 0);
  out.conversion.assign(drivers_.size(), 0);
  for (Part part : {kTraffic, kConversion}) {
    // Neither product's own outcome encodes an attribute value, so equal values encode
    // equally.
    const std::vector<std::vector<float>> rows = {Features(a, part, {a.id, b.id}),
                                                  Features(b, part, {a.id, b.id})};
    const auto shap = (part == kTraffic ? traffic_ : conversion_)->Contributions(rows);
    if (shap.size() != 2) continue;
    std::vector<double>& into = part == kTraffic ? out.traffic : out.conversion;
    for (size_t f = 0; f < drivers_.size(); ++f) {
      // A driver on which the two do not differ explains none of their gap (its SHAP
      // values may still differ through interactions with the drivers that do).
      const float x = rows[0][f], y = rows[1][f];
      if (x == y || (std::isnan(x) && std::isnan(y))) continue;
      into[f] = shap[0][f] - shap[1][f];
    }
  }
  return out;
}

AudienceFit::AudienceFit(const std::vector<const BuyerSegments*>& viewers,
                         const std::vector<const BuyerSegments*>& buyers) {
  std::map<std::pair<std::string, std::string>, double> v, b;
  std::map<std::string, double> v_total, b_total;
  std::map<std::string, std::set<std::string>> distinct;
  for (const BuyerSegments* s : viewers) {
    for (const auto& kv : *s) ++v[kv], ++v_total[kv.first], distinct[kv.first].insert(kv.second);
  }
  for (const BuyerSegments* s : buyers) {
    for (const auto& kv : *s) ++b[kv], ++b_total[kv.first], distinct[kv.first].insert(kv.second);
  }
  // Only when the buyers' segments differ from the viewers' in some dimension (a
  // chi-square test of independence); else every fit is unknown.
  bool differs = false;
  for (const auto& [dim, values] : distinct) {
    const double nv = v_total[dim], nb = b_total[dim], n = nv + nb;
    if (nv <= 0 || nb <= 0) continue;
    double chi2 = 0;
    for (const std::string& value : values) {
      const auto key = std::make_pair(dim, value);
      const double row = v[key] + b[key];
      const double ev = row * nv / n, eb = row * nb / n;
      if (ev > 0) chi2 += (v[key] - ev) * (v[key] - ev) / ev;
      if (eb > 0) chi2 += (b[key] - eb) * (b[key] - eb) / eb;
    }
    if (ChiSquareTail(chi2, static_cast<double>(values.size()) - 1) < kDriverSignificance) {
      differs = true;
    }
  }
  if (!differs) return;
  for (const auto& [dim, values] : distinct) {
    const double k = static_cast<double>(values.size());
    for (const std::string& value : values) {
      const auto key = std::make_pair(dim, value);
      const double pb = (b[key] + 1) / (b_total[dim] + k);
      const double pv = (v[key] + 1) / (v_total[dim] + k);
      log_ratio_[key] = std::log(pb / pv);
    }
  }
}

double AudienceFit::Score(const BuyerSegments& buyer) const {
  double score = 0;
  for (const auto& kv : buyer) {
    auto it = log_ratio_.find(kv);
    if (it != log_ratio_.end()) score += it->second;
  }
  return score;
}

std::optional<double> AudienceFit::Fit(
    const std::vector<const BuyerSegments*>& product_viewers) const {
  if (log_ratio_.empty() || product_viewers.size() < kMinFitViewers) return std::nullopt;
  double sum = 0;
  for (const BuyerSegments* s : product_viewers) sum += Score(*s);
  return sum / static_cast<double>(product_viewers.size());
}

std::vector<RankedReason> DriverReasons(const DriverModel& model,
                                        const DriverModel::Attribution& attribution,
                                        const Decomposition& d, const ProductFacts& a,
                                        const ProductFacts& b, double* unexplained) {
  std::vector<RankedReason> out;
  double explained = 0;
  // Each part's drivers are held to the part observed: their model contributions are
  // scaled by observed / predicted, clamped to 0..1, so they never claim more of a part
  // than the two products show (nor any of it when the model predicts the other sign).
  auto scale = [](const std::vector<double>& by_driver, double observed) {
    double predicted = 0;
    for (double x : by_driver) predicted += x;
    if (predicted == 0) return 0.0;
    return std::min(1.0, std::max(0.0, observed / predicted));
  };

  const double traffic_scale = scale(attribution.traffic, d.traffic);
  const double conversion_scale = scale(attribution.conversion, d.conversion);
  const double median_price = a.reference_price > 0 ? a.reference_price : model.median_price();
  for (size_t f = 0; f < model.drivers().size(); ++f) {
    const double t = attribution.traffic[f] * traffic_scale;
    const double c = attribution.conversion[f] * conversion_scale;
    RankedReason r;
    r.factor = model.drivers()[f];
    r.contribution = t + c;
    r.part = t == 0 && c == 0 ? "" : std::abs(t) >= std::abs(c) ? "traffic" : "conversion";
    r.evidence = absl::StrCat(Evidence(r.factor, a, b, median_price),
                              absl::StrFormat("; traffic %+.3f, conversion %+.3f", t, c));
    explained += r.contribution;
    out.push_back(std::move(r));
  }
  *unexplained = d.traffic + d.conversion - explained;
  if (d.order_value != 0) out.push_back(OrderValueReason(d, a, b));
  Rank(&out);
  return out;
}

std::vector<RankedReason> PartReasons(const Decomposition& d, const ProductFacts& a,
                                      const ProductFacts& b) {
  std::vector<RankedReason> out;
  const std::string funnel = FunnelEvidence(a, b);
  out.push_back({"traffic", d.traffic, funnel, "traffic"});
  out.push_back({"conversion", d.conversion, funnel, "conversion"});
  if (d.order_value != 0) out.push_back(OrderValueReason(d, a, b));
  Rank(&out);
  return out;
}

}  // namespace kg::insight
