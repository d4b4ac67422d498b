#include "server/insight/metrics.h"

#include <algorithm>
#include <queue>

#include "absl/strings/str_cat.h"

namespace kg::insight {

EdgeMetric ParseEdgeMetric(absl::string_view name) {
  if (name == "purchases") return EdgeMetric::kPurchases;
  if (name == "views") return EdgeMetric::kViews;
  if (name == "clicks") return EdgeMetric::kClicks;
  if (name == "add_to_cart") return EdgeMetric::kAddToCart;
  if (name == "conversion") return EdgeMetric::kConversion;
  if (name == "growth") return EdgeMetric::kGrowth;
  return EdgeMetric::kStored;
}

absl::Status CheckWindow(int64_t since_ms, int64_t until_ms, absl::string_view prefix) {
  if (since_ms < 0) return absl::InvalidArgumentError(absl::StrCat(prefix, "since_ms: negative"));
  if (until_ms < 0) return absl::InvalidArgumentError(absl::StrCat(prefix, "until_ms: negative"));
  if (since_ms > 0 && until_ms > 0 && since_ms > until_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, "since_ms: ", since_ms, " is after until_ms ", until_ms));
  }
  return absl::OkStatus();
}

absl::Status CheckMetric(absl::string_view metric, int64_t since_ms, int64_t until_ms,
                         absl::string_view field) {
  if (metric.empty() || metric.size() > 128) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be 1..128 bytes"));
  }
  if (ParseEdgeMetric(metric) == EdgeMetric::kGrowth && (since_ms <= 0 || until_ms <= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": growth needs a window: set since_ms and until_ms"));
  }
  return absl::OkStatus();
}

std::optional<double> EdgeMetricValue(EdgeMetric metric, int64_t since_ms, int64_t until_ms,
                                      uint32_t min_views, EdgeCounter count) {
  switch (metric) {
    case EdgeMetric::kPurchases:
      return static_cast<double>(count(EdgeType::kPurchased, since_ms, until_ms));
    case EdgeMetric::kViews:
      return static_cast<double>(count(EdgeType::kViewed, since_ms, until_ms));
    case EdgeMetric::kClicks:
      return static_cast<double>(count(EdgeType::kClicked, since_ms, until_ms));
    case EdgeMetric::kAddToCart:
      return static_cast<double>(count(EdgeType::kAddedToCart, since_ms, until_ms));
    case EdgeMetric::kConversion: {
      const uint64_t views = count(EdgeType::kViewed, since_ms, until_ms);
      if (views == 0 || views < min_views) return std::nullopt;
      return static_cast<double>(count(EdgeType::kPurchased, since_ms, until_ms)) /
             static_cast<double>(views);
    }
    case EdgeMetric::kGrowth: {
      const int64_t length = until_ms - since_ms + 1;
      const double now = static_cast<double>(count(EdgeType::kPurchased, since_ms, until_ms));
      const int64_t before_until = since_ms - 1;
      const int64_t before_since = std::max<int64_t>(1, since_ms - length);
      const double before =
          before_until >= 1
              ? static_cast<double>(count(EdgeType::kPurchased, before_since, before_until))
              : 0.0;
      return (now - before) / std::max(1.0, before);
    }
    case EdgeMetric::kStored:
      break;
  }
  return std::nullopt;
}

std::vector<RankedProductId> MergeRanked(const std::vector<std::vector<RankedProductId>>& lists,
                                         size_t limit) {
  std::vector<RankedProductId> out;
  std::vector<size_t> at(lists.size(), 0);
  auto later = [&](size_t a, size_t b) { return lists[b][at[b]] < lists[a][at[a]]; };
  std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heap(later);
  for (size_t i = 0; i < lists.size(); ++i) {
    if (!lists[i].empty()) heap.push(i);
  }
  while (!heap.empty() && out.size() < limit) {
    const size_t i = heap.top();
    heap.pop();
    const RankedProductId& r = lists[i][at[i]];
    if (out.empty() || !(out.back() == r)) out.push_back(r);
    if (++at[i] < lists[i].size()) heap.push(i);
  }
  return out;
}

}  // namespace kg::insight
