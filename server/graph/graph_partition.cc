#include "server/graph/graph_partition.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "server/graph/entity_codec.h"
#include "server/graph/schema.h"

namespace kg {
namespace {

#pragma pack(push, 4)
// One stored edge copy: 20 bytes, no heap. Lists are sorted ascending by (time_ms, id)
// and read backwards, so the common case (a new, newest event) appends.
struct EdgeRec {
  uint64_t id;
  int64_t time_ms;
  float weight;
};
#pragma pack(pop)
static_assert(sizeof(EdgeRec) == 20, "EdgeRec must stay packed");

// The records of one list. A single record is kept inline (46% of the lists of the sample
// graph hold one edge), longer lists on the heap with exact small capacities (2, 3, 4,
// then 1.5x growth), so small lists carry no allocation slack.
class EdgeVec {
 public:
  EdgeVec() : inline_{} {}
  ~EdgeVec() { Release(); }
  EdgeVec(EdgeVec&& other) noexcept : inline_{} { MoveFrom(&other); }
  EdgeVec& operator=(EdgeVec&& other) noexcept {
    if (this != &other) {
      Release();
      MoveFrom(&other);
    }
    return *this;
  }
  EdgeVec(const EdgeVec&) = delete;
  EdgeVec& operator=(const EdgeVec&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return cap_; }
  // Heap bytes held (0 while inline).
  size_t heap_bytes() const { return cap_ > 1 ? cap_ * sizeof(EdgeRec) : 0; }
  EdgeRec* begin() { return data(); }
  EdgeRec* end() { return data() + size_; }
  const EdgeRec* begin() const { return data(); }
  const EdgeRec* end() const { return data() + size_; }
  EdgeRec& operator[](size_t i) { return data()[i]; }
  const EdgeRec& operator[](size_t i) const { return data()[i]; }

  void reserve(size_t n) {
    if (n > cap_) Reallocate(n);
  }
  void shrink_to_fit() {
    if (size_ < cap_) Reallocate(size_ > 1 ? size_ : 1);
  }
  void clear() { size_ = 0; }
  void push_back(const EdgeRec& rec) {
    if (size_ == cap_) Grow();
    data()[size_++] = rec;
  }
  void insert(EdgeRec* pos, const EdgeRec& rec) {
    size_t i = static_cast<size_t>(pos - data());
    if (size_ == cap_) Grow();
    EdgeRec* d = data();
    std::memmove(d + i + 1, d + i, (size_ - i) * sizeof(EdgeRec));
    d[i] = rec;
    ++size_;
  }
  void erase(EdgeRec* pos) {
    size_t i = static_cast<size_t>(pos - data());
    EdgeRec* d = data();
    std::memmove(d + i, d + i + 1, (size_ - i - 1) * sizeof(EdgeRec));
    --size_;
  }

 private:
  EdgeRec* data() { return cap_ > 1 ? heap_ : &inline_; }
  const EdgeRec* data() const { return cap_ > 1 ? heap_ : &inline_; }
  void Grow() { Reallocate(cap_ < 4 ? cap_ + 1 : cap_ + cap_ / 2); }
  void Reallocate(size_t n) {
    if (n <= 1) {  // back inline
      if (cap_ > 1) {
        EdgeRec keep = size_ > 0 ? heap_[0] : EdgeRec{};
        std::free(heap_);
        inline_ = keep;
        cap_ = 1;
      }
      return;
    }
    auto* fresh = static_cast<EdgeRec*>(std::malloc(n * sizeof(EdgeRec)));
    if (fresh == nullptr) std::abort();
    std::memcpy(fresh, data(), size_ * sizeof(EdgeRec));
    if (cap_ > 1) std::free(heap_);
    heap_ = fresh;
    cap_ = static_cast<uint32_t>(n);
  }
  void Release() {
    if (cap_ > 1) std::free(heap_);
    cap_ = 1;
    size_ = 0;
  }
  void MoveFrom(EdgeVec* other) {
    size_ = other->size_;
    cap_ = other->cap_;
    if (cap_ > 1) {
      heap_ = other->heap_;
    } else {
      inline_ = other->inline_;
    }
    other->cap_ = 1;
    other->size_ = 0;
  }

  union {
    EdgeRec inline_;
    EdgeRec* heap_;
  };
  uint32_t size_ = 0;
  uint32_t cap_ = 1;
};

bool RecLess(const EdgeRec& a, int64_t time_ms, uint64_t id) {
  return a.time_ms != time_ms ? a.time_ms < time_ms : a.id < id;
}

// A Bloom filter over the neighbor ids of a long list, so that inserting a new edge does
// not scan the list to rule out a duplicate. Deleted ids stay set until the next rebuild
// (a false positive only costs a scan).
class IdFilter {
 public:
  explicit IdFilter(size_t elements) {
    size_t bits = 64;
    while (bits < elements * 16) bits <<= 1;
    words_.assign(bits / 64, 0);
    mask_ = bits - 1;
  }
  void Add(uint64_t id) {
    uint64_t h = Mix64(id);
    for (int i = 0; i < 3; ++i) {
      uint64_t bit = (h >> (i * 21)) & mask_;
      words_[bit >> 6] |= 1ULL << (bit & 63);
    }
  }
  bool MayContain(uint64_t id) const {
    uint64_t h = Mix64(id);
    for (int i = 0; i < 3; ++i) {
      uint64_t bit = (h >> (i * 21)) & mask_;
      if ((words_[bit >> 6] & (1ULL << (bit & 63))) == 0) return false;
    }
    return true;
  }
  // True when the filter has fewer than 8 bits per element and should be rebuilt larger.
  bool Full(size_t elements) const { return elements * 8 > mask_ + 1; }
  size_t bytes() const { return words_.size() * 8; }

 private:
  std::vector<uint64_t> words_;
  uint64_t mask_;
};

constexpr size_t kFilterThreshold = 64;

struct AdjList {
  uint8_t slot;  // edge type * 2 + direction
  EdgeVec edges;
  std::unique_ptr<IdFilter> filter;

  // Bytes held, counting the list header itself.
  size_t bytes() const {
    return sizeof(AdjList) + edges.heap_bytes() + (filter ? filter->bytes() + sizeof(IdFilter) : 0);
  }
  // Index of the edge to `id`, or -1.
  ptrdiff_t Find(uint64_t id) const {
    if (filter && !filter->MayContain(id)) return -1;
    for (size_t i = edges.size(); i-- > 0;) {
      if (edges[i].id == id) return static_cast<ptrdiff_t>(i);
    }
    return -1;
  }
  void RebuildFilter() {
    if (edges.size() < kFilterThreshold) {
      filter.reset();
      return;
    }
    filter = std::make_unique<IdFilter>(edges.size());
    for (const EdgeRec& e : edges) filter->Add(e.id);
  }
  // Inserts in (time, id) order.
  void Insert(const EdgeRec& rec) {
    auto it =
        std::upper_bound(edges.begin(), edges.end(), rec, [](const EdgeRec& a, const EdgeRec& b) {
          return a.time_ms != b.time_ms ? a.time_ms < b.time_ms : a.id < b.id;
        });
    edges.insert(it, rec);
    if (filter == nullptr ? edges.size() >= kFilterThreshold : filter->Full(edges.size())) {
      RebuildFilter();
    } else if (filter) {
      filter->Add(rec.id);
    }
  }
  // First index whose time is >= t.
  size_t LowerTime(int64_t t) const {
    return std::lower_bound(edges.begin(), edges.end(), t,
                            [](const EdgeRec& a, int64_t v) { return a.time_ms < v; }) -
           edges.begin();
  }
  // First index whose time is > t.
  size_t UpperTime(int64_t t) const {
    return std::upper_bound(edges.begin(), edges.end(), t,
                            [](int64_t v, const EdgeRec& a) { return v < a.time_ms; }) -
           edges.begin();
  }
  // [lo, hi) of the window; 0 bounds are open.
  std::pair<size_t, size_t> Window(int64_t min_time, int64_t max_time) const {
    size_t lo = min_time > 0 ? LowerTime(min_time) : 0;
    size_t hi = max_time > 0 ? UpperTime(max_time) : edges.size();
    return {lo, std::max(lo, hi)};
  }
};

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

}  // namespace

struct GraphPartition::Node {
  EntityBlock entity;  // null while only edges name the key
  std::vector<AdjList> lists;

  AdjList* List(uint8_t slot) {
    for (AdjList& l : lists) {
      if (l.slot == slot) return &l;
    }
    return nullptr;
  }
  const AdjList* List(uint8_t slot) const { return const_cast<Node*>(this)->List(slot); }
  // The list of `slot`, created empty when absent; *bytes_before gets its size in bytes
  // before any change (0 when new).
  AdjList* ListForWrite(uint8_t slot, int64_t* bytes_before) {
    AdjList* list = List(slot);
    if (list != nullptr) {
      *bytes_before = static_cast<int64_t>(list->bytes());
      return list;
    }
    *bytes_before = 0;
    lists.push_back(AdjList{slot, {}, nullptr});
    return &lists.back();
  }
  bool empty() const { return entity == nullptr && lists.empty(); }
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
    if (merge) {
      EntityData current;
      absl::Status decoded = DecodeEntity(BlockBytes(node.entity), &current);
      if (!decoded.ok()) return decoded;
      if (!data.name.empty()) current.name = std::move(data.name);
      MergeSorted(&current.attributes, std::move(data.attributes));
      MergeSorted(&current.metrics, std::move(data.metrics));
      current.update_time_ms = data.update_time_ms;
      data = std::move(current);
    }
  }
  node.entity = MakeEntityBlock(EncodeEntity(data));
  delta += BlockFootprint(node.entity);
  if (delta != 0) memory_bytes_.fetch_add(delta, std::memory_order_relaxed);
  return absl::OkStatus();
}

bool GraphPartition::ReadEntity(const EntityKey& key,
                                absl::FunctionRef<void(const EntityData&)> fn) const {
  // Decoded into a per-thread buffer whose strings keep their capacity between reads.
  thread_local EntityData buffer;
  Stripe& stripe = StripeOf(key);
  absl::ReaderMutexLock lock(&stripe.mu);
  auto it = stripe.nodes.find(key);
  if (it == stripe.nodes.end() || it->second.entity == nullptr) return false;
  if (!DecodeEntity(BlockBytes(it->second.entity), &buffer).ok()) return false;
  fn(buffer);
  return true;
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
  }
  for (const AdjList& list : node.lists) {
    EdgeType type = static_cast<EdgeType>(list.slot / 2);
    Direction dir = static_cast<Direction>(list.slot % 2);
    for (const EdgeRec& e : list.edges) {
      removed->push_back(RemovedEdge{type, dir, e.id, e.time_ms, e.weight});
    }
    AddEdgeCount(type, dir, -static_cast<int64_t>(list.edges.size()));
    delta -= list.bytes();
  }
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
  int64_t before = 0;
  AdjList* list = stripe.nodes[owner].ListForWrite(SlotOf(type, direction), &before);
  ptrdiff_t at = list->Find(other_id);
  if (at >= 0) {
    EdgeRec& rec = list->edges[at];
    if (rec.time_ms == time_ms) {
      rec.weight = weight;  // same position
      return absl::OkStatus();
    }
    list->edges.erase(list->edges.begin() + at);
  } else {
    AddEdgeCount(type, direction, 1);
  }
  list->Insert(EdgeRec{other_id, time_ms, weight});
  memory_bytes_.fetch_add(static_cast<int64_t>(list->bytes()) - before, std::memory_order_relaxed);
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
  int64_t before = 0;
  AdjList* list = stripe.nodes[owner].ListForWrite(SlotOf(type, direction), &before);
  AddEdgeCount(type, direction, -static_cast<int64_t>(list->edges.size()));
  list->edges.clear();
  list->edges.reserve(edges.size());
  for (const NeighborEdge& e : edges) list->edges.push_back(EdgeRec{e.id, e.time_ms, e.weight});
  list->edges.shrink_to_fit();
  std::sort(list->edges.begin(), list->edges.end(), [](const EdgeRec& a, const EdgeRec& b) {
    return a.time_ms != b.time_ms ? a.time_ms < b.time_ms : a.id < b.id;
  });
  list->RebuildFilter();
  AddEdgeCount(type, direction, static_cast<int64_t>(list->edges.size()));
  memory_bytes_.fetch_add(static_cast<int64_t>(list->bytes()) - before, std::memory_order_relaxed);
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
  uint8_t slot = SlotOf(type, direction);
  AdjList* list = node.List(slot);
  ptrdiff_t at = list == nullptr ? -1 : list->Find(other_id);
  if (at < 0) return absl::NotFoundError("no such edge");
  int64_t before = list->bytes();
  list->edges.erase(list->edges.begin() + at);
  AddEdgeCount(type, direction, -1);
  int64_t after = 0;
  if (list->edges.empty()) {
    node.lists.erase(node.lists.begin() + (list - node.lists.data()));
  } else {
    if (list->edges.size() * 4 < list->edges.capacity()) {
      list->edges.shrink_to_fit();
      list->RebuildFilter();
    }
    after = list->bytes();
  }
  memory_bytes_.fetch_add(after - before, std::memory_order_relaxed);
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
  const AdjList* list = it->second.List(SlotOf(type, direction));
  ptrdiff_t at = list == nullptr ? -1 : list->Find(other_id);
  if (at < 0) return false;
  const EdgeRec& rec = list->edges[at];
  *edge = NeighborEdge{rec.id, rec.time_ms, rec.weight};
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
  const AdjList* list = it->second.List(SlotOf(q.type, q.direction));
  if (list == nullptr) return absl::OkStatus();
  auto [lo, hi] = list->Window(q.min_time_ms, q.max_time_ms);
  page->total_count = hi - lo;
  size_t end = hi;
  if (q.after.has_value()) {
    size_t pos = std::lower_bound(list->edges.begin(), list->edges.end(), *q.after,
                                  [](const EdgeRec& a, const Cursor& c) {
                                    return RecLess(a, c.time_ms, c.id);
                                  }) -
                 list->edges.begin();
    end = std::max(lo, std::min(end, pos));
  }
  size_t take = std::min<size_t>(q.limit, end - lo);
  page->edges.reserve(take);
  for (size_t i = end; i > end - take; --i) {
    const EdgeRec& e = list->edges[i - 1];
    page->edges.push_back(NeighborEdge{e.id, e.time_ms, e.weight});
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
  const AdjList* list = it->second.List(SlotOf(type, direction));
  if (list == nullptr) return absl::OkStatus();
  if (min_time_ms <= 0 && max_time_ms <= 0) {
    *count = list->edges.size();
  } else {
    auto [lo, hi] = list->Window(min_time_ms, max_time_ms);
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
  s.memory_bytes = static_cast<uint64_t>(std::max<int64_t>(0, memory_bytes_.load() + table_bytes));
  return s;
}

}  // namespace kg
