#include "server/graph/insight_index.h"

#include <algorithm>
#include <queue>

namespace kg {
namespace {

bool Contains(const std::vector<uint64_t>& v, uint64_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

uint32_t ProductIndex::MetricIdLocked(absl::string_view name) {
  auto [it, added] =
      metric_ids_.try_emplace(std::string(name), static_cast<uint32_t>(metric_ids_.size()));
  if (added && it->first.size() > 15) metric_name_bytes_ += it->first.capacity() + 1;  // not SSO
  return it->second;
}

std::optional<uint32_t> ProductIndex::FindMetricLocked(absl::string_view name) const {
  auto it = metric_ids_.find(name);
  if (it == metric_ids_.end()) return std::nullopt;
  return it->second;
}

void ProductIndex::RankLocked(uint64_t category, uint32_t metric, double value, uint64_t product,
                              bool add) {
  const auto key = std::make_pair(category, metric);
  if (add) {
    ranked_records_ += ranked_[key].insert(RankedProductId{value, product}).second ? 1 : 0;
    return;
  }
  auto it = ranked_.find(key);
  if (it == ranked_.end()) return;
  ranked_records_ -= it->second.erase(RankedProductId{value, product});
  if (it->second.empty()) ranked_.erase(it);
}

void ProductIndex::IndexCategoryLocked(uint64_t product, const Entry& entry, uint64_t category,
                                       bool add) {
  if (add) {
    member_records_ += members_[category].insert(product).second ? 1 : 0;
  } else {
    auto it = members_.find(category);
    if (it != members_.end()) {
      member_records_ -= it->second.erase(product);
      if (it->second.empty()) members_.erase(it);
    }
  }
  for (const auto& [metric, value] : entry.metrics)
    RankLocked(category, metric, value, product, add);
}

void ProductIndex::IndexMetricsLocked(uint64_t product, const Entry& entry, bool add) {
  for (uint64_t category : entry.categories) {
    for (const auto& [metric, value] : entry.metrics) {
      RankLocked(category, metric, value, product, add);
    }
  }
}

void ProductIndex::EraseIfEmptyLocked(uint64_t product) {
  auto it = products_.find(product);
  if (it == products_.end()) return;
  const Entry& e = it->second;
  if (e.categories.empty() && e.brands.empty() && e.merchants.empty() && e.metrics.empty()) {
    products_.erase(it);
  }
}

void ProductIndex::SetMetrics(uint64_t product,
                              absl::Span<const std::pair<std::string, double>> metrics) {
  absl::MutexLock lock(&mu_);
  Entry& entry = products_[product];
  IndexMetricsLocked(product, entry, /*add=*/false);
  metric_items_ -= entry.metrics.size();
  entry.metrics.clear();
  for (const auto& [name, value] : metrics) {
    if (value != value) continue;  // NaN cannot be ranked
    entry.metrics.emplace_back(MetricIdLocked(name), value);
  }
  metric_items_ += entry.metrics.size();
  IndexMetricsLocked(product, entry, /*add=*/true);
  EraseIfEmptyLocked(product);
}

void ProductIndex::AddLink(uint64_t product, ProductLink link, uint64_t other) {
  absl::MutexLock lock(&mu_);
  Entry& entry = products_[product];
  switch (link) {
    case ProductLink::kCategory:
      if (Contains(entry.categories, other)) return;
      entry.categories.push_back(other);
      ++link_items_;
      IndexCategoryLocked(product, entry, other, /*add=*/true);
      return;
    case ProductLink::kBrand:
      if (Contains(entry.brands, other)) return;
      entry.brands.push_back(other);
      ++link_items_;
      return;
    case ProductLink::kMerchant:
      if (Contains(entry.merchants, other)) return;
      entry.merchants.push_back(other);
      ++link_items_;
      return;
  }
}

void ProductIndex::RemoveLink(uint64_t product, ProductLink link, uint64_t other) {
  absl::MutexLock lock(&mu_);
  auto it = products_.find(product);
  if (it == products_.end()) return;
  Entry& entry = it->second;
  auto erase = [this, other](std::vector<uint64_t>* v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto pos = std::find(v->begin(), v->end(), other);
    if (pos == v->end()) return false;
    v->erase(pos);
    --link_items_;
    return true;
  };
  switch (link) {
    case ProductLink::kCategory:
      if (erase(&entry.categories)) IndexCategoryLocked(product, entry, other, /*add=*/false);
      break;
    case ProductLink::kBrand:
      erase(&entry.brands);
      break;
    case ProductLink::kMerchant:
      erase(&entry.merchants);
      break;
  }
  EraseIfEmptyLocked(product);
}

void ProductIndex::SetLinks(uint64_t product, ProductLink link, absl::Span<const uint64_t> others) {
  std::vector<uint64_t> current;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = products_.find(product);
    if (it != products_.end()) {
      const Entry& e = it->second;
      current = link == ProductLink::kCategory ? e.categories
                : link == ProductLink::kBrand  ? e.brands
                                               : e.merchants;
    }
  }
  // Writes of one product are serialised by its stripe's lock, so `current` stays true.
  for (uint64_t other : current) {
    if (std::find(others.begin(), others.end(), other) == others.end()) {
      RemoveLink(product, link, other);
    }
  }
  for (uint64_t other : others) AddLink(product, link, other);
}

void ProductIndex::RemoveProduct(uint64_t product) {
  absl::MutexLock lock(&mu_);
  auto it = products_.find(product);
  if (it == products_.end()) return;
  const Entry& entry = it->second;
  for (uint64_t category : entry.categories) {
    IndexCategoryLocked(product, entry, category, /*add=*/false);
  }
  link_items_ -= entry.categories.size() + entry.brands.size() + entry.merchants.size();
  metric_items_ -= entry.metrics.size();
  products_.erase(it);
}

bool ProductIndex::PassesLocked(const Entry& entry, const ProductFilter& filter) const {
  if (!filter.brands.empty()) {
    bool any = false;
    for (uint64_t b : entry.brands) any = any || Contains(filter.brands, b);
    if (!any) return false;
  }
  if (filter.merchant != 0 && !Contains(entry.merchants, filter.merchant)) return false;
  if (filter.min_price > 0 || filter.max_price > 0) {
    std::optional<uint32_t> price = FindMetricLocked("price");
    if (!price) return false;
    const double* value = nullptr;
    for (const auto& [metric, v] : entry.metrics) {
      if (metric == *price) value = &v;
    }
    if (value == nullptr) return false;
    if (filter.min_price > 0 && *value < filter.min_price) return false;
    if (filter.max_price > 0 && *value > filter.max_price) return false;
  }
  return true;
}

std::vector<RankedProductId> ProductIndex::Top(const ProductFilter& filter,
                                               absl::string_view metric,
                                               const std::optional<RankedProductId>& after,
                                               size_t limit, uint64_t* candidates) const {
  std::vector<RankedProductId> out;
  *candidates = 0;
  absl::ReaderMutexLock lock(&mu_);
  std::optional<uint32_t> id = FindMetricLocked(metric);
  if (!id) return out;
  const bool filtered = !filter.brands.empty() || filter.merchant != 0 || filter.min_price > 0 ||
                        filter.max_price > 0;
  // One cursor per category's ranked set, merged through a heap (smallest rank first).
  struct Cursor {
    RankedSet::const_iterator it, end;
  };
  std::vector<Cursor> cursors;
  for (uint64_t category : filter.categories) {
    auto found = ranked_.find(std::make_pair(category, *id));
    if (found == ranked_.end()) continue;
    const RankedSet& set = found->second;
    if (!filtered) *candidates += set.size();
    auto begin = after ? set.upper_bound(*after) : set.begin();
    if (begin != set.end()) cursors.push_back({begin, set.end()});
  }
  if (filtered) {
    // Counting the candidates of a filtered query reads every member once.
    absl::flat_hash_set<uint64_t> seen;
    for (uint64_t category : filter.categories) {
      auto found = ranked_.find(std::make_pair(category, *id));
      if (found == ranked_.end()) continue;
      for (const RankedProductId& r : found->second) {
        auto entry = products_.find(r.id);
        if (entry != products_.end() && PassesLocked(entry->second, filter) &&
            seen.insert(r.id).second) {
          ++*candidates;
        }
      }
    }
  }
  auto later = [&cursors](size_t a, size_t b) { return *cursors[b].it < *cursors[a].it; };
  std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heap(later);
  for (size_t i = 0; i < cursors.size(); ++i) heap.push(i);
  absl::flat_hash_set<uint64_t> emitted;  // a product in two of the categories
  while (!heap.empty() && out.size() < limit) {
    size_t i = heap.top();
    heap.pop();
    const RankedProductId r = *cursors[i].it;
    if (++cursors[i].it != cursors[i].end) heap.push(i);
    if (filtered) {
      auto entry = products_.find(r.id);
      if (entry == products_.end() || !PassesLocked(entry->second, filter)) continue;
    }
    if (filter.categories.size() > 1 && !emitted.insert(r.id).second) continue;
    out.push_back(r);
  }
  return out;
}

std::vector<uint64_t> ProductIndex::Members(const ProductFilter& filter, size_t max,
                                            bool* truncated) const {
  std::vector<uint64_t> out;
  *truncated = false;
  absl::ReaderMutexLock lock(&mu_);
  for (uint64_t category : filter.categories) {
    auto found = members_.find(category);
    if (found == members_.end()) continue;
    for (uint64_t product : found->second) {
      auto entry = products_.find(product);
      if (entry == products_.end() || !PassesLocked(entry->second, filter)) continue;
      out.push_back(product);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.size() > max) {
    out.resize(max);
    *truncated = true;
  }
  return out;
}

bool ProductIndex::HasMetric(absl::string_view metric) const {
  absl::ReaderMutexLock lock(&mu_);
  return FindMetricLocked(metric).has_value();
}

size_t ProductIndex::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return products_.size();
}

uint64_t ProductIndex::MemoryBytes() const {
  // A B-tree set's record costs its value and about a third more (nodes are 2/3 full on
  // average); a hash table's slot costs its value and a control byte.
  auto tree = [](uint64_t records, size_t value_bytes) { return records * value_bytes * 4 / 3; };
  absl::ReaderMutexLock lock(&mu_);
  uint64_t bytes =
      products_.capacity() * (sizeof(std::pair<const uint64_t, Entry>) + 1) +
      link_items_ * sizeof(uint64_t) + metric_items_ * sizeof(std::pair<uint32_t, double>) +
      members_.capacity() * (sizeof(std::pair<const uint64_t, absl::btree_set<uint64_t>>) + 1) +
      tree(member_records_, sizeof(uint64_t)) +
      ranked_.capacity() * (sizeof(std::pair<const std::pair<uint64_t, uint32_t>, RankedSet>) + 1) +
      tree(ranked_records_, sizeof(RankedProductId)) +
      metric_ids_.capacity() * (sizeof(std::pair<const std::string, uint32_t>) + 1) +
      metric_name_bytes_;
  return bytes;
}

void SegmentCounter::Add(absl::Span<const std::pair<std::string, std::string>> attributes,
                         int delta) {
  absl::MutexLock lock(&mu_);
  buyers_ += delta;
  for (const auto& [name, value] : attributes) {
    if (dropped_.contains(name)) continue;
    if (value.size() > kMaxSegmentValueBytes) {
      dropped_.insert(name);
      counts_.erase(name);
      continue;
    }
    auto& values = counts_[name];
    int64_t& n = values[value];
    n += delta;
    if (n <= 0) values.erase(value);
    if (values.size() > kMaxSegmentValues) {
      dropped_.insert(name);
      counts_.erase(name);
    } else if (values.empty()) {
      counts_.erase(name);
    }
  }
}

SegmentCountsSnapshot SegmentCounter::Snapshot() const {
  SegmentCountsSnapshot out;
  absl::ReaderMutexLock lock(&mu_);
  out.buyers = buyers_ > 0 ? static_cast<uint64_t>(buyers_) : 0;
  for (const auto& [name, values] : counts_) {
    for (const auto& [value, n] : values) {
      if (n > 0) out.counts.push_back({{name, value}, static_cast<uint64_t>(n)});
    }
  }
  std::sort(out.counts.begin(), out.counts.end());
  out.dropped.assign(dropped_.begin(), dropped_.end());
  std::sort(out.dropped.begin(), out.dropped.end());
  return out;
}

}  // namespace kg
