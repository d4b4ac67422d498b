#include "server/insight/audience.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kg::insight {

std::pair<double, double> Wilson(double p, double n) {
  if (!(n > 0)) return {0.0, 1.0};
  p = std::min(1.0, std::max(0.0, p));
  constexpr double z = 1.959963984540054;
  const double z2 = z * z;
  const double center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n);
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

std::vector<SegmentStat> AudienceSegments(const std::vector<BuyerObservation>& sample,
                                          const BaseRates& base) {
  // Base totals per dimension.
  std::map<std::string, uint64_t> base_total;
  for (const auto& [key, n] : base.counts) base_total[key.first] += n;
  struct Acc {
    double weight = 0;
    uint64_t count = 0;
  };
  struct Dim {
    double weight = 0, weight_sq = 0;
    std::map<std::string, Acc> values;
  };
  std::map<std::string, Dim> dims;
  for (const BuyerObservation& b : sample) {
    if (!(b.weight > 0)) continue;
    for (const auto& [name, value] : b.attributes) {
      if (base_total.find(name) == base_total.end()) continue;
      Dim& d = dims[name];
      d.weight += b.weight;
      d.weight_sq += b.weight * b.weight;
      Acc& a = d.values[value];
      a.weight += b.weight;
      ++a.count;
    }
  }
  std::vector<SegmentStat> out;
  for (const auto& [name, d] : dims) {
    const double n_eff = d.weight_sq > 0 ? d.weight * d.weight / d.weight_sq : 0;
    const size_t first = out.size();
    for (const auto& [value, a] : d.values) {
      SegmentStat s;
      s.dimension = name;
      s.value = value;
      s.share = a.weight / d.weight;
      auto found = base.counts.find({name, value});
      const uint64_t total = base_total[name];
      s.base_share = found != base.counts.end() && total > 0
                         ? static_cast<double>(found->second) / static_cast<double>(total)
                         : 0.0;
      s.lift = s.base_share > 0 ? s.share / s.base_share : 0.0;
      s.count = a.count;
      std::tie(s.ci_low, s.ci_high) = Wilson(s.share, n_eff);
      out.push_back(std::move(s));
    }
    std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
              [](const SegmentStat& a, const SegmentStat& b) {
                if (a.share != b.share) return a.share > b.share;
                return a.value < b.value;
              });
  }
  return out;
}

std::string AudienceSummary(const std::vector<SegmentStat>& segments, uint64_t buyers) {
  std::map<std::string, const SegmentStat*> best;
  for (const SegmentStat& s : segments) {
    if (s.lift < 1.2 || s.share < kMainSegmentMinShare || s.ci_low <= s.base_share) continue;
    const SegmentStat*& b = best[s.dimension];
    if (b == nullptr || s.lift > b->lift) b = &s;
  }
  std::vector<const SegmentStat*> picked;
  for (const auto& [dim, s] : best) picked.push_back(s);
  std::sort(picked.begin(), picked.end(),
            [](const SegmentStat* a, const SegmentStat* b) { return a->lift > b->lift; });
  if (picked.size() > 2) picked.resize(2);
  if (picked.empty()) {
    return absl::StrCat("no segment stands out among ", buyers, " buyers");
  }
  std::string out = "mostly ";
  for (size_t i = 0; i < picked.size(); ++i) {
    const SegmentStat& s = *picked[i];
    absl::StrAppend(&out, i ? "; " : "", s.dimension, " ", s.value,
                    absl::StrFormat(" (%.0f%%, lift %.2f)", 100 * s.share, s.lift));
  }
  absl::StrAppend(&out, " over ", buyers, " buyers");
  return out;
}

}  // namespace kg::insight
