#include "server/graph/adjacency.h"

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "server/graph/key.h"

namespace kg {
namespace {

// Bytes needed to store `v` (0 for 0).
int BytesFor(uint64_t v) {
  int n = 0;
  while (v != 0) {
    ++n;
    v >>= 8;
  }
  return n;
}

int IdBytes(uint64_t id) { return std::max(1, BytesFor(id)); }

uint32_t FloatBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

bool TimeFits(const ListHeader& h, int64_t t) {
  if (t < h.base_time) return false;
  uint64_t offset = static_cast<uint64_t>(t) - static_cast<uint64_t>(h.base_time);
  return h.time_bytes >= 8 || offset < (uint64_t{1} << (8 * h.time_bytes));
}

bool Fits(const ListHeader& h, const EdgeRec& rec) {
  return IdBytes(rec.id) <= h.id_bytes && TimeFits(h, rec.time_ms) &&
         (h.weighted || FloatBits(rec.weight) == FloatBits(h.weight));
}

// Capacity after `cap` when one more record is needed: exact for small lists, then 1.25x.
uint32_t Grow(uint32_t cap) { return cap < 8 ? cap + 1 : cap + cap / 4; }

// Allocated size of a block, as glibc's malloc rounds it (8-byte header, 16-byte steps).
size_t Footprint(size_t requested) { return (requested + 8 + 15) & ~size_t{15}; }

constexpr size_t kFilterThreshold = 64;
constexpr size_t kTailPadding = 8;

// A Bloom filter over the (slot, id) pairs of a node with many edges, so that inserting a
// new edge does not scan its list to rule out a duplicate. Deleted pairs stay set until
// the next rebuild (a false positive only costs a scan).
class IdFilter {
 public:
  explicit IdFilter(size_t elements) {
    size_t bits = 64;
    while (bits < elements * 16) bits <<= 1;
    words_.assign(bits / 64, 0);
    mask_ = bits - 1;
  }
  void Add(uint64_t key) {
    uint64_t h = Mix64(key);
    for (int i = 0; i < 3; ++i) {
      uint64_t bit = (h >> (i * 21)) & mask_;
      words_[bit >> 6] |= uint64_t{1} << (bit & 63);
    }
  }
  bool MayContain(uint64_t key) const {
    uint64_t h = Mix64(key);
    for (int i = 0; i < 3; ++i) {
      uint64_t bit = (h >> (i * 21)) & mask_;
      if ((words_[bit >> 6] & (uint64_t{1} << (bit & 63))) == 0) return false;
    }
    return true;
  }
  // True when the filter has fewer than 8 bits per element and should be rebuilt larger.
  bool Full(size_t elements) const { return elements * 8 > mask_ + 1; }
  size_t bytes() const { return sizeof(IdFilter) + words_.size() * 8; }

 private:
  std::vector<uint64_t> words_;
  uint64_t mask_;
};

uint64_t FilterKey(uint8_t slot, uint64_t id) {
  return id ^ (static_cast<uint64_t>(slot) * 0x9E3779B97F4A7C15ULL);
}

}  // namespace

struct Adjacency::BlockHeader {
  IdFilter* filter;     // set once the node holds kFilterThreshold records
  uint32_t data_bytes;  // the record regions of all lists
  uint16_t lists;
  uint16_t reserved;
};

// ---- ListView ----

ptrdiff_t ListView::Find(uint64_t id) const {
  for (size_t i = size(); i-- > 0;) {
    if (this->id(i) == id) return static_cast<ptrdiff_t>(i);
  }
  return -1;
}

size_t ListView::LowerTime(int64_t t) const {
  size_t lo = 0, hi = size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (time(mid) < t) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

size_t ListView::UpperTime(int64_t t) const {
  size_t lo = 0, hi = size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (time(mid) <= t) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

size_t ListView::LowerBound(int64_t t, uint64_t id) const {
  size_t lo = 0, hi = size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int64_t mt = time(mid);
    if (mt < t || (mt == t && this->id(mid) < id)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

std::pair<size_t, size_t> ListView::Window(int64_t min_time, int64_t max_time) const {
  size_t lo = min_time > 0 ? LowerTime(min_time) : 0;
  size_t hi = max_time > 0 ? UpperTime(max_time) : size();
  return {lo, std::max(lo, hi)};
}

// ---- Adjacency: layout ----

Adjacency::~Adjacency() {
  if (block_ == nullptr) return;
  delete block_header()->filter;
  std::free(block_);
}

Adjacency& Adjacency::operator=(Adjacency&& other) noexcept {
  if (this != &other) {
    Adjacency gone(std::move(*this));
    block_ = other.block_;
    other.block_ = nullptr;
  }
  return *this;
}

Adjacency::BlockHeader* Adjacency::block_header() const {
  return reinterpret_cast<BlockHeader*>(block_);
}

ListHeader* Adjacency::headers() const {
  return reinterpret_cast<ListHeader*>(block_ + sizeof(BlockHeader));
}

uint8_t* Adjacency::records() const {
  return block_ + sizeof(BlockHeader) + list_count() * sizeof(ListHeader);
}

int Adjacency::list_count() const { return block_ == nullptr ? 0 : block_header()->lists; }

int Adjacency::IndexOf(uint8_t slot) const {
  int n = list_count();
  const ListHeader* h = block_ == nullptr ? nullptr : headers();
  for (int i = 0; i < n; ++i) {
    if (h[i].slot == slot) return i;
  }
  return -1;
}

size_t Adjacency::RegionOffset(int index) const {
  size_t offset = 0;
  const ListHeader* h = headers();
  for (int i = 0; i < index; ++i) offset += static_cast<size_t>(h[i].capacity) * h[i].width();
  return offset;
}

size_t Adjacency::bytes() const {
  if (block_ == nullptr) return 0;
  const BlockHeader* b = block_header();
  size_t size =
      Footprint(sizeof(BlockHeader) + b->lists * sizeof(ListHeader) + b->data_bytes + kTailPadding);
  return size + (b->filter != nullptr ? b->filter->bytes() : 0);
}

size_t Adjacency::edge_count() const {
  size_t n = 0;
  for (int i = 0; i < list_count(); ++i) n += headers()[i].size;
  return n;
}

ListView Adjacency::List(uint8_t slot) const {
  int index = IndexOf(slot);
  return index < 0 ? ListView() : View(index);
}

void Adjacency::Reallocate(size_t data_bytes, int lists) {
  bool fresh = block_ == nullptr;
  size_t size = sizeof(BlockHeader) + lists * sizeof(ListHeader) + data_bytes + kTailPadding;
  auto* grown = static_cast<uint8_t*>(std::realloc(block_, size));
  if (grown == nullptr) std::abort();
  block_ = grown;
  BlockHeader* b = block_header();
  if (fresh) {
    b->filter = nullptr;
    b->reserved = 0;
  }
  b->data_bytes = static_cast<uint32_t>(data_bytes);
  b->lists = static_cast<uint16_t>(lists);
}

int Adjacency::AddList(uint8_t slot, const EdgeRec& rec) {
  int n = list_count();
  size_t data = block_ == nullptr ? 0 : block_header()->data_bytes;
  Reallocate(data, n + 1);
  // The record area moves up by one header.
  uint8_t* old_records = block_ + sizeof(BlockHeader) + n * sizeof(ListHeader);
  std::memmove(old_records + sizeof(ListHeader), old_records, data);
  ListHeader& h = headers()[n];
  h.slot = slot;
  h.id_bytes = static_cast<uint8_t>(IdBytes(rec.id));
  h.time_bytes = 0;
  h.weighted = 0;
  h.size = 0;
  h.capacity = 0;
  h.weight = rec.weight;
  h.base_time = rec.time_ms;
  return n;
}

void Adjacency::RemoveList(int index) {
  ResizeRegion(index, 0, headers()[index].width());
  int n = list_count();
  size_t data = block_header()->data_bytes;
  uint8_t* at = block_ + sizeof(BlockHeader) + index * sizeof(ListHeader);
  std::memmove(at, at + sizeof(ListHeader), (n - index - 1) * sizeof(ListHeader) + data);
  if (n == 1 && data == 0) {
    delete block_header()->filter;
    std::free(block_);
    block_ = nullptr;
    return;
  }
  Reallocate(data, n - 1);
}

void Adjacency::ResizeRegion(int index, uint32_t capacity, int width) {
  const ListHeader& h = headers()[index];
  size_t old_bytes = static_cast<size_t>(h.capacity) * h.width();
  size_t new_bytes = static_cast<size_t>(capacity) * width;
  size_t data = block_header()->data_bytes;
  size_t tail_from = RegionOffset(index) + old_bytes;  // where the next lists' records start
  size_t tail = data - tail_from;
  if (new_bytes > old_bytes) {
    Reallocate(data + (new_bytes - old_bytes), list_count());
    uint8_t* r = records();
    std::memmove(r + tail_from + (new_bytes - old_bytes), r + tail_from, tail);
  } else if (new_bytes < old_bytes) {
    uint8_t* r = records();
    std::memmove(r + tail_from - (old_bytes - new_bytes), r + tail_from, tail);
    Reallocate(data - (old_bytes - new_bytes), list_count());
  }
  headers()[index].capacity = capacity;
}

void Adjacency::Write(int index, size_t i, const EdgeRec& rec) {
  const ListHeader& h = headers()[index];
  uint8_t* p = ListRecords(index) + i * h.width();
  std::memcpy(p, &rec.id, h.id_bytes);
  uint64_t offset = static_cast<uint64_t>(rec.time_ms) - static_cast<uint64_t>(h.base_time);
  std::memcpy(p + h.id_bytes, &offset, h.time_bytes);
  if (h.weighted) std::memcpy(p + h.id_bytes + h.time_bytes, &rec.weight, sizeof rec.weight);
}

void Adjacency::Widen(int index, const EdgeRec& rec) {
  thread_local std::vector<EdgeRec> scratch;
  ListView view = View(index);
  scratch.clear();
  for (size_t i = 0; i < view.size(); ++i) scratch.push_back(view.Get(i));
  ListHeader wide = headers()[index];
  wide.id_bytes = static_cast<uint8_t>(std::max(wide.id_bytes + 0, IdBytes(rec.id)));
  int64_t max_time = scratch.empty() ? rec.time_ms : std::max(scratch.back().time_ms, rec.time_ms);
  int64_t min_time = scratch.empty() ? rec.time_ms : std::min(scratch.front().time_ms, rec.time_ms);
  if (scratch.empty()) {
    wide.base_time = rec.time_ms;
  } else if (rec.time_ms < wide.base_time) {
    // Room below as wide as the list's span, so a run of ever older edges re-encodes the
    // list O(log n) times rather than once per edge.
    __int128 below = static_cast<__int128>(min_time) - (static_cast<__int128>(max_time) - min_time);
    wide.base_time =
        static_cast<int64_t>(std::max<__int128>(below, std::numeric_limits<int64_t>::min()));
  }
  wide.time_bytes = static_cast<uint8_t>(
      std::max(wide.time_bytes + 0,
               BytesFor(static_cast<uint64_t>(max_time) - static_cast<uint64_t>(wide.base_time))));
  if (!wide.weighted && FloatBits(rec.weight) != FloatBits(wide.weight)) wide.weighted = 1;
  ResizeRegion(index, wide.capacity, wide.width());
  ListHeader& h = headers()[index];
  h.id_bytes = wide.id_bytes;
  h.time_bytes = wide.time_bytes;
  h.weighted = wide.weighted;
  h.base_time = wide.base_time;
  for (size_t i = 0; i < scratch.size(); ++i) Write(index, i, scratch[i]);
}

void Adjacency::InsertAt(int index, const EdgeRec& rec) {
  if (!Fits(headers()[index], rec)) Widen(index, rec);
  {
    const ListHeader& h = headers()[index];
    if (h.size == h.capacity) ResizeRegion(index, Grow(h.capacity), h.width());
  }
  const ListHeader& h = headers()[index];
  size_t pos = View(index).LowerBound(rec.time_ms, rec.id);
  int width = h.width();
  uint8_t* p = ListRecords(index);
  std::memmove(p + (pos + 1) * width, p + pos * width, (h.size - pos) * width);
  headers()[index].size++;
  Write(index, pos, rec);
}

void Adjacency::EraseAt(int index, size_t i) {
  ListHeader& h = headers()[index];
  int width = h.width();
  uint8_t* p = ListRecords(index);
  std::memmove(p + i * width, p + (i + 1) * width, (h.size - i - 1) * width);
  h.size--;
}

// ---- Adjacency: operations ----

bool Adjacency::MayContain(uint8_t slot, uint64_t id) const {
  const IdFilter* f = block_header()->filter;
  return f == nullptr || f->MayContain(FilterKey(slot, id));
}

void Adjacency::RebuildFilter() {
  BlockHeader* b = block_header();
  delete b->filter;
  b->filter = nullptr;
  size_t n = edge_count();
  if (n < kFilterThreshold) return;
  auto* f = new IdFilter(n);
  ForEach([f](uint8_t slot, const EdgeRec& rec) { f->Add(FilterKey(slot, rec.id)); });
  block_header()->filter = f;
}

void Adjacency::UpdateFilter(uint8_t slot, uint64_t id) {
  IdFilter* f = block_header()->filter;
  size_t n = edge_count();
  if (f == nullptr ? n >= kFilterThreshold : f->Full(n)) {
    RebuildFilter();
  } else if (f != nullptr) {
    f->Add(FilterKey(slot, id));
  }
}

bool Adjacency::Upsert(uint8_t slot, const EdgeRec& rec) {
  int index = IndexOf(slot);
  if (index < 0) {
    index = AddList(slot, rec);
    InsertAt(index, rec);
    UpdateFilter(slot, rec.id);
    return true;
  }
  ptrdiff_t at = MayContain(slot, rec.id) ? View(index).Find(rec.id) : -1;
  if (at < 0) {
    InsertAt(index, rec);
    UpdateFilter(slot, rec.id);
    return true;
  }
  if (View(index).time(at) == rec.time_ms) {  // same position: only the weight changes
    if (!Fits(headers()[index], rec)) Widen(index, rec);
    Write(index, at, rec);
  } else {
    EraseAt(index, at);
    InsertAt(index, rec);
  }
  return false;
}

bool Adjacency::Erase(uint8_t slot, uint64_t id) {
  int index = IndexOf(slot);
  ptrdiff_t at = index < 0 || !MayContain(slot, id) ? -1 : View(index).Find(id);
  if (at < 0) return false;
  EraseAt(index, at);
  const ListHeader& h = headers()[index];
  if (h.size == 0) {
    RemoveList(index);
  } else if (h.size * 4 < h.capacity) {
    ResizeRegion(index, h.size, h.width());
  }
  return true;
}

size_t Adjacency::Replace(uint8_t slot, std::vector<EdgeRec> recs) {
  int index = IndexOf(slot);
  size_t before = index < 0 ? 0 : headers()[index].size;
  if (recs.empty()) {
    if (index >= 0) RemoveList(index);
    return before;
  }
  std::sort(recs.begin(), recs.end(), [](const EdgeRec& a, const EdgeRec& b) {
    return a.time_ms != b.time_ms ? a.time_ms < b.time_ms : a.id < b.id;
  });
  if (index < 0) index = AddList(slot, recs.front());
  ListHeader narrow = headers()[index];
  narrow.id_bytes = 1;
  narrow.weighted = 0;
  narrow.weight = recs.front().weight;
  narrow.base_time = recs.front().time_ms;
  for (const EdgeRec& r : recs) {
    narrow.id_bytes = static_cast<uint8_t>(std::max(narrow.id_bytes + 0, IdBytes(r.id)));
    if (FloatBits(r.weight) != FloatBits(narrow.weight)) narrow.weighted = 1;
  }
  narrow.time_bytes = static_cast<uint8_t>(BytesFor(static_cast<uint64_t>(recs.back().time_ms) -
                                                    static_cast<uint64_t>(narrow.base_time)));
  ResizeRegion(index, static_cast<uint32_t>(recs.size()), narrow.width());
  narrow.capacity = static_cast<uint32_t>(recs.size());
  narrow.size = static_cast<uint32_t>(recs.size());
  headers()[index] = narrow;
  for (size_t i = 0; i < recs.size(); ++i) Write(index, i, recs[i]);
  RebuildFilter();
  return before;
}

void Adjacency::ForEach(absl::FunctionRef<void(uint8_t, const EdgeRec&)> fn) const {
  for (int index = 0; index < list_count(); ++index) {
    ListView view = View(index);
    uint8_t slot = headers()[index].slot;
    for (size_t i = 0; i < view.size(); ++i) fn(slot, view.Get(i));
  }
}

}  // namespace kg
