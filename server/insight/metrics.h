// The ranking metrics of top-products queries: a product's stored metric, or one derived
// from its in-edges in a time window (purchases, views, clicks, add_to_cart, conversion,
// growth), and the merge of per-partition ranked lists. Plain C++ over the graph's types.
#ifndef KG_SERVER_INSIGHT_METRICS_H_
#define KG_SERVER_INSIGHT_METRICS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/graph/insight_index.h"
#include "server/graph/key.h"

namespace kg::insight {

enum class EdgeMetric { kStored, kPurchases, kViews, kClicks, kAddToCart, kConversion, kGrowth };

// The edge-derived metric named `name`, or kStored for any other name (a stored metric).
EdgeMetric ParseEdgeMetric(absl::string_view name);

// Default of `min_views` for conversion.
inline constexpr uint32_t kDefaultMinViews = 20;

// INVALID_ARGUMENT naming `prefix`since_ms / until_ms when since > until (both set) or one
// is negative.
absl::Status CheckWindow(int64_t since_ms, int64_t until_ms, absl::string_view prefix = "");
// INVALID_ARGUMENT naming `field` for an empty or over-long (> 128 bytes) metric name, or
// growth without both window ends.
absl::Status CheckMetric(absl::string_view metric, int64_t since_ms, int64_t until_ms,
                         absl::string_view field);

// Counts `product`'s in-edges of a type in [since, until] (0 = unbounded).
using EdgeCounter = absl::FunctionRef<uint64_t(EdgeType type, int64_t since_ms, int64_t until_ms)>;

// The value of an edge-derived metric for one product, or nullopt when it has none
// (conversion below `min_views` views). growth compares [since, until] with the window of
// equal length just before it.
std::optional<double> EdgeMetricValue(EdgeMetric metric, int64_t since_ms, int64_t until_ms,
                                      uint32_t min_views, EdgeCounter count);

// Merges ranked lists (each in rank order, from different partitions) into the first
// `limit` of their union in rank order.
std::vector<RankedProductId> MergeRanked(const std::vector<std::vector<RankedProductId>>& lists,
                                         size_t limit);

}  // namespace kg::insight

#endif  // KG_SERVER_INSIGHT_METRICS_H_
