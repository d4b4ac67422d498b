// Adjacency: all edge lists of one graph node — one list per (edge type, direction) slot —
// packed into a single heap block, records bit-packed at per-list widths. It is the part of
// GraphPartition that decides how many bytes an edge copy costs (docs/DESIGN.md, Memory).
//
// Not thread-safe: GraphPartition guards each node with its stripe's lock.
//
// Block layout (one malloc'd allocation, 8 bytes of tail padding for unaligned loads):
//   BlockHeader (16 B) | ListHeader (24 B) per list | records of list 0 | of list 1 | ...
// A list's record is [id: id_bytes][time - base_time: time_bytes][float weight: 0 or 4],
// little-endian, with widths chosen per list from its values: on the sample graph an edge
// copy takes 8-12 bytes instead of 20. A list's widths only grow (re-encoding the list) as
// values that need more bytes arrive, except when the list is replaced whole.
// Records are sorted ascending by (time, id); readers walk them backwards (newest first).
#ifndef KG_SERVER_GRAPH_ADJACENCY_H_
#define KG_SERVER_GRAPH_ADJACENCY_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/base/config.h"
#include "absl/functional/function_ref.h"

namespace kg {

static_assert(ABSL_IS_LITTLE_ENDIAN, "the packed record layout assumes little-endian loads");

// One edge copy, decoded (GraphPartition calls it NeighborEdge).
struct EdgeRec {
  uint64_t id;
  int64_t time_ms;
  float weight;
};

// Reads the low `n` bytes (0..8) at `p`. Requires 8 readable bytes at p (tail padding).
inline uint64_t LoadBytes(const uint8_t* p, int n) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return n >= 8 ? v : v & ((uint64_t{1} << (8 * n)) - 1);
}

struct ListHeader {
  uint8_t slot;        // edge type * 2 + direction
  uint8_t id_bytes;    // 1..8
  uint8_t time_bytes;  // 0..8, bytes of (time - base_time)
  uint8_t weighted;    // 1: a float per record; 0: every record weighs `weight`
  uint32_t size;       // records
  uint32_t capacity;   // records the list's region holds
  float weight;        // the common weight when !weighted
  int64_t base_time;   // <= every record's time

  int width() const { return id_bytes + time_bytes + (weighted ? 4 : 0); }
};
static_assert(sizeof(ListHeader) == 24, "ListHeader must stay 24 bytes");

// A read-only view of one list, valid until its Adjacency changes.
class ListView {
 public:
  ListView() = default;
  ListView(const ListHeader* header, const uint8_t* records)
      : h_(header), p_(records), width_(header->width()) {}

  size_t size() const { return h_ == nullptr ? 0 : h_->size; }
  uint64_t id(size_t i) const { return LoadBytes(p_ + i * width_, h_->id_bytes); }
  int64_t time(size_t i) const {
    return static_cast<int64_t>(static_cast<uint64_t>(h_->base_time) +
                                LoadBytes(p_ + i * width_ + h_->id_bytes, h_->time_bytes));
  }
  float weight(size_t i) const {
    if (!h_->weighted) return h_->weight;
    float w;
    std::memcpy(&w, p_ + i * width_ + h_->id_bytes + h_->time_bytes, sizeof w);
    return w;
  }
  EdgeRec Get(size_t i) const { return EdgeRec{id(i), time(i), weight(i)}; }

  // Index of the record with `id`, or -1 (a scan from the newest end).
  ptrdiff_t Find(uint64_t id) const;
  // First index whose time is >= t / > t.
  size_t LowerTime(int64_t t) const;
  size_t UpperTime(int64_t t) const;
  // First index whose (time, id) is >= (time, id).
  size_t LowerBound(int64_t time, uint64_t id) const;
  // [lo, hi) of the records with min_time <= time <= max_time; 0 bounds are open.
  std::pair<size_t, size_t> Window(int64_t min_time, int64_t max_time) const;

 private:
  const ListHeader* h_ = nullptr;
  const uint8_t* p_ = nullptr;
  int width_ = 0;
};

class Adjacency {
 public:
  Adjacency() = default;
  ~Adjacency();
  Adjacency(Adjacency&& other) noexcept : block_(other.block_) { other.block_ = nullptr; }
  Adjacency& operator=(Adjacency&& other) noexcept;
  Adjacency(const Adjacency&) = delete;
  Adjacency& operator=(const Adjacency&) = delete;

  bool empty() const { return block_ == nullptr; }
  // Bytes held: the block (with the allocator's header) and the id filter, if any.
  size_t bytes() const;
  // Records over all lists.
  size_t edge_count() const;

  // The list of `slot`; an empty view when there is none.
  ListView List(uint8_t slot) const;

  // Inserts the record, or updates the record with the same id (its time and weight).
  // Returns true when a record was added (false: updated).
  bool Upsert(uint8_t slot, const EdgeRec& rec);
  // Removes the record with `id`; false when absent. An emptied list is removed.
  bool Erase(uint8_t slot, uint64_t id);
  // Replaces the list of `slot` with `recs` (distinct ids, any order), stored at the
  // narrowest widths and exact capacity. Returns the number of records it held before.
  size_t Replace(uint8_t slot, std::vector<EdgeRec> recs);
  // Calls fn(slot, record) for every record of every list.
  void ForEach(absl::FunctionRef<void(uint8_t, const EdgeRec&)> fn) const;

 private:
  struct BlockHeader;
  BlockHeader* block_header() const;
  ListHeader* headers() const;
  uint8_t* records() const;
  int list_count() const;
  int IndexOf(uint8_t slot) const;
  size_t RegionOffset(int index) const;
  uint8_t* ListRecords(int index) const { return records() + RegionOffset(index); }
  ListView View(int index) const { return ListView(&headers()[index], ListRecords(index)); }

  // Appends an empty list for `slot` whose widths fit `rec`; returns its index.
  int AddList(uint8_t slot, const EdgeRec& rec);
  void RemoveList(int index);
  // Gives list `index` a region of `capacity` records of `width` bytes, keeping the other
  // lists' records and the first bytes of its own (as many as fit).
  void ResizeRegion(int index, uint32_t capacity, int width);
  // Re-encodes list `index` with widths that also fit `rec` (widths never shrink here).
  void Widen(int index, const EdgeRec& rec);
  void Write(int index, size_t i, const EdgeRec& rec);
  void InsertAt(int index, const EdgeRec& rec);
  void EraseAt(int index, size_t i);
  void Reallocate(size_t data_bytes, int lists);
  void UpdateFilter(uint8_t slot, uint64_t id);
  void RebuildFilter();
  bool MayContain(uint8_t slot, uint64_t id) const;

  uint8_t* block_ = nullptr;
};

}  // namespace kg

#endif  // KG_SERVER_GRAPH_ADJACENCY_H_
