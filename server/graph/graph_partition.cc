#include "server/graph/graph_partition.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "server/graph/entity_codec.h"
#include "server/graph/schema.h"

namespace kg {
namespace {

uint8_t SlotOf(EdgeType type, Direction dir) {
  return static_cast<uint8_t>(static_cast<int>(type) * 2 + static_cast<int>(dir));
}

// An entity is kept as its encoding (entity_codec.h) in one exact-size allocation:
// [uint32 length][bytes].
using EntityBlock = std::unique_ptr<char[]>;

EntityBlock MakeEntityBlock(const std::string& encoded) {
  uint32_t n = static_cast<uint32_t>(encoded.size());
  EntityBlock block(new char[sizeof n + n]);
  std::memcpy(block.get(), &n, sizeof n);
  std::memcpy(block.get() + sizeof n, encoded.data(), n);
  return block;
}

absl::string_view BlockBytes(const EntityBlock& block) {
  uint32_t n;
  std::memcpy(&n, block.get(), sizeof n);
  return absl::string_view(block.get() + sizeof n, n);
}

// Bytes held by a block, with the allocator's header.
int64_t BlockFootprint(const EntityBlock& block) {
  return static_cast<int64_t>(sizeof(uint32_t) + BlockBytes(block).size() + 16);
}

template <typename V>
void MergeSorted(std::vector<std::pair<std::string, V>>* into,
                 std::vector<std::pair<std::string, V>>&& from) {
  std::vector<std::pair<std::string, V>> out;
  out.reserve(into->size() + from.size());
  auto a = into->begin();
  auto b = from.begin();
  while (a != into->end() || b != from.end()) {
    if (b == from.end() || (a != into->end() && a->first < b->first)) {
      out.push_back(std::move(*a++));
    } else {
      if (a != into->end() && a->first == b->first) ++a;
      out.push_back(std::move(*b++));
    }
  }
  *into = std::move(out);
}

template <typename V>
void SortUnique(std::vector<std::pair<std::string, V>>* v) {
  std::stable_sort(v->begin(), v->end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  // Keep the last of equal names.
  std::vector<std::pair<std::string, V>> out;
  out.reserve(v->size());
  for (auto& kv : *v) {
    if (!out.empty() && out.back().first == kv.first) {
      out.back() = std::move(kv);
    } else {
      out.push_back(std::move(kv));
    }
  }
  *v = std::move(out);
}

// The link of the product index an edge copy is, if any: a PRODUCT's out-edges to its
// category, brand and merchant.
std::optional<ProductLink> IndexedLink(const EntityKey& owner, EdgeType type, Direction dir) {
  if (owner.type != EntityType::kProduct || dir != Direction::kOut) return std::nullopt;
  switch (type) {
    case EdgeType::kInCategory:
      return ProductLink::kCategory;
    case EdgeType::kHasBrand:
      return ProductLink::kBrand;
    case EdgeType::kSoldBy:
      return ProductLink::kMerchant;
    default:
      return std::nullopt;
  }
}

}  // namespace

void GraphPartition::IndexEntity(const EntityKey& key, const EntityData& data) {
  if (key.type == EntityType::kProduct) products_.SetMetrics(key.id, data.metrics);
  if (key.type == EntityType::kBuyer) segments_.Add(data.attributes, +1);
}

struct GraphPartition::Node {
  EntityBlock entity;  // null while only edges name the key
  Adjacency adjacency;

  bool empty() const { return entity == nullptr && adjacency.empty(); }
};

struct GraphPartition::Stripe {
  mutable absl::Mutex mu;
  absl::flat_hash_map<EntityKey, Node> nodes ABSL_GUARDED_BY(mu);
};

void NormalizeEntity(EntityData* data) {
  SortUnique(&data->attributes);
  SortUnique(&data->metrics);
}

GraphPartition::GraphPartition(uint32_t stripes) {
  stripes_.reserve(std::max<uint32_t>(stripes, 1));
  for (uint32_t i = 0; i < std::max<uint32_t>(stripes, 1); ++i) {
    stripes_.push_back(std::make_unique<Stripe>());
  }
}

GraphPartition::~GraphPartition() = default;

GraphPartition::Stripe& GraphPartition::StripeOf(const EntityKey& key) const {
  // The high half of the stable hash: independent of the partition choice (the low bits
  // modulo the partition count).
  return *stripes_[(StableKeyHash(key) >> 32) % stripes_.size()];
}

void GraphPartition::AddEntityCount(EntityType type, int64_t delta) {
  entity_counts_[static_cast<int>(type)].fetch_add(delta, std::memory_order_relaxed);
}

void GraphPartition::AddEdgeCount(EdgeType type, Direction dir, int64_t delta) {
  edge_counts_[SlotOf(type, dir)].fetch_add(delta, std::memory_order_relaxed);
}

absl::Status GraphPartition::UpsertEntity(const EntityKey& key, EntityData data, bool merge) {
  absl::Status valid = ValidateKey(key, "key");
  if (!valid.ok()) return valid;
  Stripe& stripe = StripeOf(key);
  absl::MutexLock lock(&stripe.mu);
  Node& node = stripe.nodes[key];
  int64_t delta = 0;
  if (node.entity == nullptr) {
    AddEntityCount(key.type, 1);
  } else {
    delta -= BlockFootprint(node.entity);
    if (merge || key.type == EntityType::kBuyer) {
      EntityData current;
      absl::Status decoded = DecodeEntity(BlockBytes(node.entity), &current);
      if (!decoded.ok()) return decoded;
      if (key.type == EntityType::kBuyer) segments_.Add(current.attributes, -1);
      if (merge) {
        if (!data.name.empty()) current.name = std::move(data.name);
        MergeSorted(&current.attributes, std::move(data.attributes));
        MergeSorted(&current.metrics, std::move(data.metrics));
        current.update_time_ms = data.update_time_ms;
        data = std::move(current);
      }
    }
  }
  node.entity = MakeEntityBlock(EncodeEntity(data));
  delta += BlockFootprint(node.entity);
  IndexEntity(key, data);
  if (delta != 0) memory_bytes_.fetch_add(delta, std::memory_order_relaxed);
  return absl::OkStatus();
}

bool GraphPartition::ReadEntity(const EntityKey& key,
                                absl::FunctionRef<void(const EntityData&)> fn) const {
  // Decoded into a per-thread buffer whose strings keep their capacity between reads.
  thread_local EntityData buffer;
  bool decoded = false;
  ReadEncodedEntity(key, [&](absl::string_view encoded) {
    decoded = DecodeEntity(encoded, &buffer).ok();
    if (decoded) fn(buffer);
  });
  return decoded;
}

bool GraphPartition::ScanEntityIds(EntityType type, uint32_t stripe, uint64_t after_id,
                                   size_t limit, std::vector<uint64_t>* ids) const {
  if (stripe >= stripes_.size()) return false;
  std::vector<uint64_t> found;
  {
    const Stripe& s = *stripes_[stripe];
    absl::ReaderMutexLock lock(&s.mu);
    for (const auto& [key, node] : s.nodes) {
      if (key.type == type && key.id > after_id && node.entity != nullptr) found.push_back(key.id);
    }
  }
  bool more = found.size() > limit;
  if (more) {
    std::nth_element(found.begin(), found.begin() + limit, found.end());
    found.resize(limit);
  }
  std::sort(found.begin(), found.end());
  ids->insert(ids->end(), found.begin(), found.end());
  return more;
}

bool GraphPartition::ReadEncodedEntity(const EntityKey& key,
                                       absl::FunctionRef<void(absl::string_view)> fn) const {
  Stripe& stripe = StripeOf(key);
  absl::ReaderMutexLock lock(&stripe.mu);
  auto it = stripe.nodes.find(key);
  if (it == stripe.nodes.end() || it->second.entity == nullptr) return false;
  fn(BlockBytes(it->second.entity));
  return true;
}

void GraphPartition::ReadEncodedEntities(
    absl::Span<const EntityKey> keys, absl::FunctionRef<void(size_t, absl::string_view)> fn) const {
  // Three stages over a sliding window: the table slot of key i + 2d is prefetched, the
  // entity of key i + d (its slot now cached) is prefetched, and key i is read. Each stage
  // takes the stripe's read lock: a prefetched address may be stale by the time it is read,
  // which costs a miss, never a wrong answer.
  constexpr size_t kDistance = 4;
  auto prefetch_slot = [&](size_t i) {
    Stripe& stripe = StripeOf(keys[i]);
    absl::ReaderMutexLock lock(&stripe.mu);
    stripe.nodes.prefetch(keys[i]);
  };
  auto prefetch_entity = [&](size_t i) {
    Stripe& stripe = StripeOf(keys[i]);
    absl::ReaderMutexLock lock(&stripe.mu);
    auto it = stripe.nodes.find(keys[i]);
    if (it != stripe.nodes.end() && it->second.entity != nullptr) {
      __builtin_prefetch(it->second.entity.get());
    }
  };
  size_t n = keys.size();
  for (size_t i = 0; i < std::min(n, 2 * kDistance); ++i) prefetch_slot(i);
  for (size_t i = 0; i < std::min(n, kDistance); ++i) prefetch_entity(i);
  for (size_t i = 0; i < n; ++i) {
    if (i + 2 * kDistance < n) prefetch_slot(i + 2 * kDistance);
    if (i + kDistance < n) prefetch_entity(i + kDistance);
    ReadEncodedEntity(keys[i], [&](absl::string_view encoded) { fn(i, encoded); });
  }
}

absl::Status GraphPartition::DeleteEntity(const EntityKey& key, std::vector<RemovedEdge>* removed) {
  Stripe& stripe = StripeOf(key);
  absl::MutexLock lock(&stripe.mu);
  auto it = stripe.nodes.find(key);
  if (it == stripe.nodes.end()) return absl::NotFoundError("no such entity");
  Node& node = it->second;
  int64_t delta = 0;
  if (node.entity != nullptr) {
    delta -= BlockFootprint(node.entity);
    AddEntityCount(key.type, -1);
    if (key.type == EntityType::kBuyer) {
      EntityData current;
      if (DecodeEntity(BlockBytes(node.entity), &current).ok()) {
        segments_.Add(current.attributes, -1);
      }
    }
  }
  if (key.type == EntityType::kProduct) products_.RemoveProduct(key.id);
  node.adjacency.ForEach([&](uint8_t slot, const EdgeRec& e) {
    EdgeType type = static_cast<EdgeType>(slot / 2);
    Direction dir = static_cast<Direction>(slot % 2);
    removed->push_back(RemovedEdge{type, dir, e.id, e.time_ms, e.weight});
    AddEdgeCount(type, dir, -1);
  });
  delta -= static_cast<int64_t>(node.adjacency.bytes());
  memory_bytes_.fetch_add(delta, std::memory_order_relaxed);
  stripe.nodes.erase(it);
  return absl::OkStatus();
}

absl::Status GraphPartition::UpsertEdgeCopy(const EntityKey& owner, EdgeType type,
                                            Direction direction, uint64_t other_id, int64_t time_ms,
                                            float weight) {
  EntityKey other{NeighborType(type, direction), other_id};
  const EntityKey& src = direction == Direction::kOut ? owner : other;
  const EntityKey& dst = direction == Direction::kOut ? other : owner;
  absl::Status valid = IsValidEdgeType(static_cast<int>(type))
                           ? ValidateEdge(src, type, dst, time_ms, "edge")
                           : absl::InvalidArgumentError("edge.type: unknown edge type");
  if (!valid.ok()) return valid;
  Stripe& stripe = StripeOf(owner);
  absl::MutexLock lock(&stripe.mu);
  Adjacency& adjacency = stripe.nodes[owner].adjacency;
  int64_t before = static_cast<int64_t>(adjacency.bytes());
  if (adjacency.Upsert(SlotOf(type, direction), EdgeRec{other_id, time_ms, weight})) {
    AddEdgeCount(type, direction, 1);
    std::optional<ProductLink> link = IndexedLink(owner, type, direction);
    if (link) products_.AddLink(owner.id, *link, other_id);
  }
  memory_bytes_.fetch_add(static_cast<int64_t>(adjacency.bytes()) - before,
                          std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status GraphPartition::LoadEdgeList(const EntityKey& owner, EdgeType type,
                                          Direction direction, std::vector<NeighborEdge> edges) {
  if (!IsValidEdgeType(static_cast<int>(type))) {
    return absl::InvalidArgumentError("edge.type: unknown edge type");
  }
  absl::Status valid = ValidateKey(owner, "owner");
  if (valid.ok()) valid = ValidateOwner(owner, type, direction, "owner");
  if (!valid.ok()) return valid;
  Stripe& stripe = StripeOf(owner);
  absl::MutexLock lock(&stripe.mu);
  auto it = stripe.nodes.find(owner);
  if (edges.empty() && it == stripe.nodes.end()) return absl::OkStatus();
  if (it == stripe.nodes.end()) it = stripe.nodes.try_emplace(owner).first;
  Adjacency& adjacency = it->second.adjacency;
  int64_t before = static_cast<int64_t>(adjacency.bytes());
  int64_t count = static_cast<int64_t>(edges.size());
  if (std::optional<ProductLink> link = IndexedLink(owner, type, direction)) {
    std::vector<uint64_t> others;
    others.reserve(edges.size());
    for (const NeighborEdge& e : edges) others.push_back(e.id);
    products_.SetLinks(owner.id, *link, others);
  }
  size_t replaced = adjacency.Replace(SlotOf(type, direction), std::move(edges));
  AddEdgeCount(type, direction, count - static_cast<int64_t>(replaced));
  memory_bytes_.fetch_add(static_cast<int64_t>(adjacency.bytes()) - before,
                          std::memory_order_relaxed);
  if (it->second.empty()) stripe.nodes.erase(it);
  return absl::OkStatus();
}

absl::Status GraphPartition::DeleteEdgeCopy(const EntityKey& owner, EdgeType type,
                                            Direction direction, uint64_t other_id) {
  if (!IsValidEdgeType(static_cast<int>(type))) {
    return absl::InvalidArgumentError("edge.type: unknown edge type");
  }
  Stripe& stripe = StripeOf(owner);
  absl::MutexLock lock(&stripe.mu);
  auto it = stripe.nodes.find(owner);
  if (it == stripe.nodes.end()) return absl::NotFoundError("no such edge");
  Node& node = it->second;
  int64_t before = static_cast<int64_t>(node.adjacency.bytes());
  if (!node.adjacency.Erase(SlotOf(type, direction), other_id)) {
    return absl::NotFoundError("no such edge");
  }
  AddEdgeCount(type, direction, -1);
  if (std::optional<ProductLink> link = IndexedLink(owner, type, direction)) {
    products_.RemoveLink(owner.id, *link, other_id);
  }
  memory_bytes_.fetch_add(static_cast<int64_t>(node.adjacency.bytes()) - before,
                          std::memory_order_relaxed);
  if (node.empty()) stripe.nodes.erase(it);
  return absl::OkStatus();
}

bool GraphPartition::FindEdge(const EntityKey& owner, EdgeType type, Direction direction,
                              uint64_t other_id, NeighborEdge* edge) const {
  if (!IsValidEdgeType(static_cast<int>(type))) return false;
  Stripe& stripe = StripeOf(owner);
  absl::ReaderMutexLock lock(&stripe.mu);
  auto it = stripe.nodes.find(owner);
  if (it == stripe.nodes.end()) return false;
  ListView list = it->second.adjacency.List(SlotOf(type, direction));
  ptrdiff_t at = list.Find(other_id);
  if (at < 0) return false;
  *edge = list.Get(at);
  return true;
}

absl::Status GraphPartition::GetNeighbors(const NeighborQuery& q, NeighborPage* page) const {
  page->edges.clear();
  page->total_count = 0;
  page->next.reset();
  absl::Status valid = ValidateOwner(q.key, q.type, q.direction, "key");
  if (!valid.ok()) return valid;
  Stripe& stripe = StripeOf(q.key);
  absl::ReaderMutexLock lock(&stripe.mu);
  auto it = stripe.nodes.find(q.key);
  if (it == stripe.nodes.end()) return absl::OkStatus();
  ListView list = it->second.adjacency.List(SlotOf(q.type, q.direction));
  auto [lo, hi] = list.Window(q.min_time_ms, q.max_time_ms);
  page->total_count = hi - lo;
  size_t end = hi;
  if (q.after.has_value()) {
    size_t pos = list.LowerBound(q.after->time_ms, q.after->id);
    end = std::max(lo, std::min(end, pos));
  }
  size_t take = std::min<size_t>(q.limit, end - lo);
  page->edges.reserve(take);
  for (size_t i = end; i > end - take; --i) {
    page->edges.push_back(list.Get(i - 1));
  }
  if (end - take > lo && take > 0) {
    page->next = Cursor{page->edges.back().time_ms, page->edges.back().id};
  }
  return absl::OkStatus();
}

absl::Status GraphPartition::CountNeighbors(const EntityKey& key, EdgeType type,
                                            Direction direction, int64_t min_time_ms,
                                            int64_t max_time_ms, uint64_t* count) const {
  *count = 0;
  absl::Status valid = ValidateOwner(key, type, direction, "key");
  if (!valid.ok()) return valid;
  Stripe& stripe = StripeOf(key);
  absl::ReaderMutexLock lock(&stripe.mu);
  auto it = stripe.nodes.find(key);
  if (it == stripe.nodes.end()) return absl::OkStatus();
  ListView list = it->second.adjacency.List(SlotOf(type, direction));
  if (min_time_ms <= 0 && max_time_ms <= 0) {
    *count = list.size();
  } else {
    auto [lo, hi] = list.Window(min_time_ms, max_time_ms);
    *count = hi - lo;
  }
  return absl::OkStatus();
}

PartitionStats GraphPartition::Stats() const {
  PartitionStats s;
  for (int t = 0; t < kEntityTypeCount; ++t) {
    s.entities_by_type[t] = static_cast<uint64_t>(entity_counts_[t].load());
    s.entity_count += s.entities_by_type[t];
  }
  for (int t = 0; t < kEdgeTypeCount; ++t) {
    for (int d = 0; d < 2; ++d) {
      s.edges_by_type[t][d] = static_cast<uint64_t>(edge_counts_[t * 2 + d].load());
    }
    s.out_edge_count += s.edges_by_type[t][0];
    s.in_edge_count += s.edges_by_type[t][1];
  }
  int64_t table_bytes = 0;
  for (const auto& stripe : stripes_) {
    absl::ReaderMutexLock lock(&stripe->mu);
    table_bytes += stripe->nodes.capacity() * (sizeof(std::pair<EntityKey, Node>) + 1);
  }
  s.memory_bytes = static_cast<uint64_t>(std::max<int64_t>(0, memory_bytes_.load() + table_bytes)) +
                   products_.MemoryBytes();
  return s;
}

}  // namespace kg
