// Entity keys, entity and edge types, and the stable partition hash: the vocabulary every
// layer shares. Plain values; thread-safe.
//
//   EntityKey key{EntityType::kProduct, 42};
//   uint32_t p = PartitionOf(key, 8);  // identical in every process and version
#ifndef KG_SERVER_GRAPH_KEY_H_
#define KG_SERVER_GRAPH_KEY_H_

#include <cstdint>
#include <utility>

namespace kg {

// Numeric values equal the kg.v1 proto enums.
enum class EntityType : uint8_t {
  kUnspecified = 0,
  kProduct = 1,
  kSpu = 2,
  kBrand = 3,
  kCategory = 4,
  kMerchant = 5,
  kInfluencer = 6,
  kBuyer = 7,
  kContent = 8,
};
inline constexpr int kEntityTypeCount = 9;

enum class EdgeType : uint8_t {
  kUnspecified = 0,
  kInCategory = 1,
  kSubcategoryOf = 2,
  kHasBrand = 3,
  kInstanceOf = 4,
  kSoldBy = 5,
  kPromotes = 6,
  kFeatures = 7,
  kPosted = 8,
  kViewed = 9,
  kClicked = 10,
  kAddedToCart = 11,
  kPurchased = 12,
  kFollows = 13,
};
inline constexpr int kEdgeTypeCount = 14;

enum class Direction : uint8_t { kOut = 0, kIn = 1 };

inline Direction Opposite(Direction d) {
  return d == Direction::kOut ? Direction::kIn : Direction::kOut;
}

struct EntityKey {
  EntityType type = EntityType::kUnspecified;
  uint64_t id = 0;

  friend bool operator==(const EntityKey& a, const EntityKey& b) {
    return a.type == b.type && a.id == b.id;
  }
  friend bool operator!=(const EntityKey& a, const EntityKey& b) { return !(a == b); }
  friend bool operator<(const EntityKey& a, const EntityKey& b) {
    return a.type != b.type ? a.type < b.type : a.id < b.id;
  }
  // In-process hashing only (absl containers); never for partitioning.
  template <typename H>
  friend H AbslHashValue(H h, const EntityKey& k) {
    return H::combine(std::move(h), static_cast<uint8_t>(k.type), k.id);
  }
};

// A fixed 64-bit bit mixer (SplitMix64's finalizer): the same in every process.
uint64_t Mix64(uint64_t x);

// A 64-bit hash of the key that is the same in every process, build and version (a fixed
// SplitMix64-style mix). Changing it would move every key: golden values are tested.
uint64_t StableKeyHash(const EntityKey& key);

// The logical partition of `key` among `partition_count` (> 0) partitions. The one place
// that decides where a key lives.
uint32_t PartitionOf(const EntityKey& key, uint32_t partition_count);

}  // namespace kg

#endif  // KG_SERVER_GRAPH_KEY_H_
