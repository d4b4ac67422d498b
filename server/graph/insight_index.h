// The partition's indexes for insight queries, kept by GraphPartition on every write:
//
//  - ProductIndex: the partition's products by category (their IN_CATEGORY out-edges) and,
//    per category and stored metric, ranked by value; with each product's brands
//    (HAS_BRAND), merchants (SOLD_BY) and price, so the filters of a top-products query are
//    answered inside the index. A query walks the ranked sets of its categories in order
//    (a k-way merge), so the top k of a stored metric costs O(k log categories), not a
//    scan of the category.
//  - SegmentCounter: how many BUYER entities have each attribute value (the base rates of
//    audience profiles). An attribute with more than kMaxSegmentValues distinct values on
//    the partition (an identifier, free text) is dropped for good, so memory stays bounded.
//
// Thread-safe: each index has its own mutex, always taken last (inside a stripe's lock,
// never around one), and no callback runs under it.
#ifndef KG_SERVER_GRAPH_INSIGHT_INDEX_H_
#define KG_SERVER_GRAPH_INSIGHT_INDEX_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace kg {

// A product's place in a ranking: by value descending, then id ascending.
struct RankedProductId {
  double value = 0;
  uint64_t id = 0;
  friend bool operator<(const RankedProductId& a, const RankedProductId& b) {
    if (a.value != b.value) return a.value > b.value;
    return a.id < b.id;
  }
  friend bool operator==(const RankedProductId& a, const RankedProductId& b) {
    return a.value == b.value && a.id == b.id;
  }
};

// Which products a top-products query considers.
struct ProductFilter {
  std::vector<uint64_t> categories;  // any of them (required)
  std::vector<uint64_t> brands;      // any of them; empty = any
  uint64_t merchant = 0;             // 0 = any
  double min_price = 0;              // 0 = no bound
  double max_price = 0;              // 0 = no bound
};

// The links of a product the index follows.
enum class ProductLink { kCategory, kBrand, kMerchant };

class ProductIndex {
 public:
  // The product's stored metrics (name, value), replacing the previous ones.
  void SetMetrics(uint64_t product, absl::Span<const std::pair<std::string, double>> metrics);
  void AddLink(uint64_t product, ProductLink link, uint64_t other);
  void RemoveLink(uint64_t product, ProductLink link, uint64_t other);
  // Replaces every link of one kind (recovery loads whole edge lists).
  void SetLinks(uint64_t product, ProductLink link, absl::Span<const uint64_t> others);
  // Forgets the product (its entity and edges were deleted).
  void RemoveProduct(uint64_t product);

  // The products passing `filter` that have stored metric `metric`, in rank order after
  // `after` (exclusive), at most `limit`; *candidates gets how many products pass the
  // filter and have the metric.
  std::vector<RankedProductId> Top(const ProductFilter& filter, absl::string_view metric,
                                   const std::optional<RankedProductId>& after, size_t limit,
                                   uint64_t* candidates) const;
  // The products passing `filter`, ids ascending, at most `max` (*truncated says whether
  // more were there).
  std::vector<uint64_t> Members(const ProductFilter& filter, size_t max, bool* truncated) const;

  // Whether a product of the partition has (or had) a stored metric named `metric`.
  bool HasMetric(absl::string_view metric) const;

  // Products known to the index (with a metric or a link).
  size_t size() const;

  // An estimate of the bytes the index holds (its tables, the products' links and metrics,
  // the ranked and member records with the trees' overhead); part of the partition's
  // memory_bytes. Kept as counts while writing, so reading it costs O(1).
  uint64_t MemoryBytes() const;

 private:
  struct Entry {
    std::vector<uint64_t> categories, brands, merchants;
    std::vector<std::pair<uint32_t, double>> metrics;  // by metric id
  };
  using RankedSet = absl::btree_set<RankedProductId>;
  uint32_t MetricIdLocked(absl::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<uint32_t> FindMetricLocked(absl::string_view name) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Adds (add = true) or removes one ranked record.
  void RankLocked(uint64_t category, uint32_t metric, double value, uint64_t product, bool add)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds (add = true) or removes the entry's ranked and member records for one category.
  void IndexCategoryLocked(uint64_t product, const Entry& entry, uint64_t category, bool add)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void IndexMetricsLocked(uint64_t product, const Entry& entry, bool add)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool PassesLocked(const Entry& entry, const ProductFilter& filter) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void EraseIfEmptyLocked(uint64_t product) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Entry> products_ ABSL_GUARDED_BY(mu_);
  // Per category: its products, ids ascending.
  absl::flat_hash_map<uint64_t, absl::btree_set<uint64_t>> members_ ABSL_GUARDED_BY(mu_);
  // Per (category, metric id): the category's products with the metric, ranked.
  absl::flat_hash_map<std::pair<uint64_t, uint32_t>, RankedSet> ranked_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint32_t> metric_ids_ ABSL_GUARDED_BY(mu_);
  // What MemoryBytes() counts: links and metrics held by the products' entries, records in
  // the ranked and member sets, and the metric names' bytes.
  uint64_t link_items_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t metric_items_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t ranked_records_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t member_records_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t metric_name_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

// Distinct values an attribute may have on one partition and still be a segment.
inline constexpr size_t kMaxSegmentValues = 256;
// Attribute values longer than this are not segments (and drop their attribute).
inline constexpr size_t kMaxSegmentValueBytes = 64;

struct SegmentCountsSnapshot {
  // (dimension, value) -> buyers, sorted.
  std::vector<std::pair<std::pair<std::string, std::string>, uint64_t>> counts;
  uint64_t buyers = 0;
  std::vector<std::string> dropped;  // sorted
};

class SegmentCounter {
 public:
  // A buyer's attributes (name, value) are added (+1) or removed (-1); a new buyer adds, a
  // deleted one removes, an update removes the old and adds the new.
  void Add(absl::Span<const std::pair<std::string, std::string>> attributes, int delta);
  SegmentCountsSnapshot Snapshot() const;

 private:
  mutable absl::Mutex mu_;
  int64_t buyers_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, int64_t>> counts_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> dropped_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kg

#endif  // KG_SERVER_GRAPH_INSIGHT_INDEX_H_
