// Taxonomy: the category tree of the graph (CATEGORY entities linked child -> parent by
// SUBCATEGORY_OF), as plain data. Built from records the caller gathered from the graph;
// knows nothing of partitions or RPCs. Immutable once built, so thread-safe.
#ifndef KG_SERVER_KNOWLEDGE_TAXONOMY_H_
#define KG_SERVER_KNOWLEDGE_TAXONOMY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kg::knowledge {

// One category: its id, name and parent (0 for none).
struct CategoryRecord {
  uint64_t id = 0;
  std::string name;
  uint64_t parent = 0;
};

class Taxonomy {
 public:
  Taxonomy() = default;

  // Builds the tree. A parent that is not among the records makes its child a root; a
  // cycle of parents is cut at its smallest id, which becomes a root (counted in
  // cut_cycles()). Duplicate ids keep the first record. Children are in id order.
  static Taxonomy Build(std::vector<CategoryRecord> records);

  bool Contains(uint64_t id) const { return index_.contains(id); }
  size_t size() const { return nodes_.size(); }
  const std::vector<uint64_t>& roots() const { return roots_; }
  // For a contained id: the parent (0 for a root), the name, the depth (a root is 1), the
  // children, and the ids from the root down to it.
  uint64_t parent(uint64_t id) const { return node(id).parent; }
  const std::string& name(uint64_t id) const { return node(id).name; }
  int depth(uint64_t id) const { return node(id).depth; }
  const std::vector<uint64_t>& children(uint64_t id) const { return node(id).children; }
  std::vector<uint64_t> PathTo(uint64_t id) const;
  // Whether `ancestor` is `id` or one of its ancestors.
  bool IsWithin(uint64_t id, uint64_t ancestor) const;
  size_t cut_cycles() const { return cut_cycles_; }
  // Every id, parents before their children.
  const std::vector<uint64_t>& TopDownOrder() const { return order_; }

  std::string Encode() const;
  // DATA_LOSS when the bytes are not an encoded taxonomy.
  static absl::StatusOr<Taxonomy> Decode(absl::string_view bytes);

 private:
  struct Node {
    uint64_t id = 0;
    std::string name;
    uint64_t parent = 0;
    int depth = 1;
    std::vector<uint64_t> children;
  };
  const Node& node(uint64_t id) const { return nodes_[index_.at(id)]; }

  std::vector<Node> nodes_;
  absl::flat_hash_map<uint64_t, size_t> index_;
  std::vector<uint64_t> roots_;
  std::vector<uint64_t> order_;
  size_t cut_cycles_ = 0;
};

// Whether two root-first paths agree on their first `n` levels (the whole path when it is
// shorter): top-1 "accuracy at depth n".
bool SameFirstLevels(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b, size_t n);

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_TAXONOMY_H_
