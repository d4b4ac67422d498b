#include "server/knowledge/taxonomy.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "server/knowledge/bytes.h"

namespace kg::knowledge {

Taxonomy Taxonomy::Build(std::vector<CategoryRecord> records) {
  Taxonomy t;
  std::sort(records.begin(), records.end(),
            [](const CategoryRecord& a, const CategoryRecord& b) { return a.id < b.id; });
  for (CategoryRecord& r : records) {
    if (r.id == 0 || t.index_.contains(r.id)) continue;
    t.index_[r.id] = t.nodes_.size();
    t.nodes_.push_back(Node{r.id, std::move(r.name), r.parent, 1, {}});
  }
  for (Node& n : t.nodes_) {
    if (n.parent == n.id || !t.index_.contains(n.parent)) n.parent = 0;
  }
  // Cut cycles: walk up from each node; a walk that comes back to a node of its own walk
  // is a cycle, cut at its smallest id. (0 unvisited, 1 on the current walk, 2 done.)
  std::vector<int> state(t.nodes_.size(), 0);
  for (size_t start = 0; start < t.nodes_.size(); ++start) {
    std::vector<size_t> walk;
    size_t i = start;
    bool cycle = false;
    for (;;) {
      if (state[i] == 2) break;
      if (state[i] == 1) {
        cycle = true;
        break;
      }
      state[i] = 1;
      walk.push_back(i);
      if (t.nodes_[i].parent == 0) break;
      i = t.index_.at(t.nodes_[i].parent);
    }
    if (cycle) {
      auto pos = std::find(walk.begin(), walk.end(), i);
      size_t smallest = *pos;
      for (auto it = pos; it != walk.end(); ++it) {
        if (t.nodes_[*it].id < t.nodes_[smallest].id) smallest = *it;
      }
      t.nodes_[smallest].parent = 0;
      ++t.cut_cycles_;
    }
    for (size_t w : walk) state[w] = 2;
  }
  for (Node& n : t.nodes_) {
    if (n.parent == 0) {
      t.roots_.push_back(n.id);
    } else {
      t.nodes_[t.index_.at(n.parent)].children.push_back(n.id);
    }
  }
  // Depths and a parents-first order, breadth first from the roots.
  t.order_ = t.roots_;
  for (size_t k = 0; k < t.order_.size(); ++k) {
    const Node& n = t.nodes_[t.index_.at(t.order_[k])];
    for (uint64_t c : n.children) {
      t.nodes_[t.index_.at(c)].depth = n.depth + 1;
      t.order_.push_back(c);
    }
  }
  return t;
}

std::vector<uint64_t> Taxonomy::PathTo(uint64_t id) const {
  std::vector<uint64_t> path;
  for (uint64_t c = id; c != 0 && Contains(c); c = parent(c)) path.push_back(c);
  std::reverse(path.begin(), path.end());
  return path;
}

bool Taxonomy::IsWithin(uint64_t id, uint64_t ancestor) const {
  for (uint64_t c = id; c != 0 && Contains(c); c = parent(c)) {
    if (c == ancestor) return true;
  }
  return false;
}

std::string Taxonomy::Encode() const {
  ByteWriter w;
  w.Varint(nodes_.size());
  for (const Node& n : nodes_) {
    w.Varint(n.id);
    w.Bytes(n.name);
    w.Varint(n.parent);
  }
  return std::move(w.str());
}

absl::StatusOr<Taxonomy> Taxonomy::Decode(absl::string_view bytes) {
  ByteReader r(bytes);
  uint64_t count = 0;
  if (!r.Varint(&count) || count > bytes.size()) {
    return absl::DataLossError("taxonomy: bad node count");
  }
  std::vector<CategoryRecord> records(count);
  for (CategoryRecord& rec : records) {
    if (!r.Varint(&rec.id) || !r.String(&rec.name) || !r.Varint(&rec.parent)) {
      return absl::DataLossError("taxonomy: truncated");
    }
  }
  if (!r.done()) return absl::DataLossError("taxonomy: trailing bytes");
  return Build(std::move(records));
}

bool SameFirstLevels(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b, size_t n) {
  size_t la = std::min(a.size(), n), lb = std::min(b.size(), n);
  return la == lb && std::equal(a.begin(), a.begin() + la, b.begin());
}

}  // namespace kg::knowledge
