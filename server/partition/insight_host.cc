// PartitionHost's insight operations: the local part of TopProducts (from the
// partition's product index) and the buyer segment counts (base rates of profiles).
#include "absl/strings/str_cat.h"
#include "server/graph/status_macros.h"
#include "server/insight/metrics.h"
#include "server/partition/partition_host.h"

namespace kg {
namespace {

// partition.proto: the products an edge-derived metric scans per call, at most.
constexpr size_t kMaxScannedProducts = 100000;
constexpr uint32_t kMaxLocalTop = 10000;

}  // namespace

absl::Status PartitionHost::TopProducts(const internal::v1::TopProductsRequest& req,
                                        internal::v1::TopProductsResponse* resp) const {
  KG_RETURN_IF_ERROR(Resolve(req.target()).status());
  const GraphPartition& graph = *partition(req.target().partition());
  if (req.limit() == 0 || req.limit() > kMaxLocalTop) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: must be 1..", kMaxLocalTop, ", got ", req.limit()));
  }
  KG_RETURN_IF_ERROR(insight::CheckWindow(req.since_ms(), req.until_ms()));
  KG_RETURN_IF_ERROR(insight::CheckMetric(req.metric(), req.since_ms(), req.until_ms(), "metric"));
  ProductFilter filter;
  filter.categories.assign(req.categories().begin(), req.categories().end());
  filter.brands.assign(req.brands().begin(), req.brands().end());
  filter.merchant = req.merchant();
  filter.min_price = req.min_price();
  filter.max_price = req.max_price();
  std::optional<RankedProductId> after;
  if (req.has_after()) after = RankedProductId{req.after_value(), req.after_id()};

  const insight::EdgeMetric metric = insight::ParseEdgeMetric(req.metric());
  if (metric == insight::EdgeMetric::kStored) {
    uint64_t candidates = 0;
    for (const RankedProductId& r :
         graph.products().Top(filter, req.metric(), after, req.limit(), &candidates)) {
      internal::v1::RankedId* out = resp->add_products();
      out->set_id(r.id);
      out->set_value(r.value);
    }
    resp->set_candidates(candidates);
    resp->set_metric_known(graph.products().HasMetric(req.metric()));
    return absl::OkStatus();
  }
  // Edge-derived: every member counted in the window (outside the index's lock).
  bool truncated = false;
  const std::vector<uint64_t> members =
      graph.products().Members(filter, kMaxScannedProducts, &truncated);
  resp->set_truncated(truncated);
  resp->set_candidates(members.size());
  const uint32_t min_views = req.min_views() > 0 ? req.min_views() : insight::kDefaultMinViews;
  std::vector<RankedProductId> ranked;
  for (uint64_t id : members) {
    const EntityKey key{EntityType::kProduct, id};
    std::optional<double> value = insight::EdgeMetricValue(
        metric, req.since_ms(), req.until_ms(), min_views,
        [&](EdgeType type, int64_t since, int64_t until) {
          uint64_t n = 0;
          graph.CountNeighbors(key, type, Direction::kIn, since, until, &n).IgnoreError();
          return n;
        });
    if (!value) continue;
    RankedProductId r{*value, id};
    if (after && !(*after < r)) continue;
    ranked.push_back(r);
  }
  const size_t keep = std::min<size_t>(req.limit(), ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep),
                    ranked.end());
  for (size_t i = 0; i < keep; ++i) {
    internal::v1::RankedId* out = resp->add_products();
    out->set_id(ranked[i].id);
    out->set_value(ranked[i].value);
  }
  return absl::OkStatus();
}

absl::Status PartitionHost::SegmentCounts(const internal::v1::SegmentCountsRequest& req,
                                          internal::v1::SegmentCountsResponse* resp) const {
  KG_RETURN_IF_ERROR(Resolve(req.target()).status());
  const SegmentCountsSnapshot snapshot = partition(req.target().partition())->segments().Snapshot();
  for (const auto& [key, n] : snapshot.counts) {
    internal::v1::SegmentCount* c = resp->add_counts();
    c->set_dimension(key.first);
    c->set_value(key.second);
    c->set_count(n);
  }
  resp->set_buyers(snapshot.buyers);
  for (const std::string& d : snapshot.dropped) resp->add_dropped(d);
  return absl::OkStatus();
}

}  // namespace kg
