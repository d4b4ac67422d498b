#include "server/graph/key.h"

namespace kg {
uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t StableKeyHash(const EntityKey& key) {
  return Mix64(key.id + 0x9e3779b97f4a7c15ULL * (static_cast<uint64_t>(key.type) + 1));
}

uint32_t PartitionOf(const EntityKey& key, uint32_t partition_count) {
  return static_cast<uint32_t>(StableKeyHash(key) % partition_count);
}

}  // namespace kg
