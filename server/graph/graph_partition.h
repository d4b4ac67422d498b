// GraphPartition: one logical partition of the in-memory graph — the entities whose keys
// hash to it and both stored copies of their edges (out-edges of its keys, in-edges of its
// keys), newest first, with O(1) counts and O(log n) time windows.
//
// Thread-safe. The key space is split over independently locked stripes: readers of a
// stripe share its lock, a writer holds it for one item only, so a writer never stalls
// readers of other stripes and stalls its own stripe's readers for microseconds.
//
// Memory layout (see docs/DESIGN.md): all edge lists of a key live in one heap block
// (adjacency.h), an edge copy a record of per-list widths (neighbor id, time offset, float
// weight only when the list's weights differ); the neighbor's entity type is implied by
// the schema. An entity is kept encoded (entity_codec.h) in one allocation and decoded
// when read.
#ifndef KG_SERVER_GRAPH_GRAPH_PARTITION_H_
#define KG_SERVER_GRAPH_GRAPH_PARTITION_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "server/graph/adjacency.h"
#include "server/graph/insight_index.h"
#include "server/graph/key.h"

namespace kg {

// An entity's content. attributes and metrics are kept sorted by name, without duplicates.
struct EntityData {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::vector<std::pair<std::string, double>> metrics;
  int64_t update_time_ms = 0;
};

// A position in a newest-first list: the last edge returned (exclusive resume point).
struct Cursor {
  int64_t time_ms = 0;
  uint64_t id = 0;
};

struct NeighborQuery {
  EntityKey key;
  EdgeType type = EdgeType::kUnspecified;
  Direction direction = Direction::kOut;
  int64_t min_time_ms = 0;  // inclusive; 0 = unbounded
  int64_t max_time_ms = 0;  // inclusive; 0 = unbounded
  uint32_t limit = 20;
  std::optional<Cursor> after;
};

// One edge copy: {id, time_ms, weight}, the neighbor's type being NeighborType(type,
// direction). The same record the adjacency lists decode to.
using NeighborEdge = EdgeRec;

struct NeighborPage {
  std::vector<NeighborEdge> edges;  // newest first
  uint64_t total_count = 0;         // edges in the window, all pages
  std::optional<Cursor> next;       // set when more edges follow
};

// One edge copy removed with an entity, described from the removed entity's side.
struct RemovedEdge {
  EdgeType type;
  Direction direction;  // of the copy that was stored with the removed entity
  uint64_t other_id;    // the other end; its type is NeighborType(type, direction)
  int64_t time_ms;
  float weight;
};

// Counters summed over stripes when read.
struct PartitionStats {
  std::array<uint64_t, kEntityTypeCount> entities_by_type{};
  std::array<std::array<uint64_t, 2>, kEdgeTypeCount> edges_by_type{};  // [type][dir]
  uint64_t entity_count = 0;
  uint64_t out_edge_count = 0;
  uint64_t in_edge_count = 0;
  uint64_t memory_bytes = 0;  // estimate of the bytes held by this partition's structures
};

class GraphPartition {
 public:
  // `stripes` independently locked sub-tables (a power of two is not required).
  explicit GraphPartition(uint32_t stripes = 64);
  ~GraphPartition();
  GraphPartition(const GraphPartition&) = delete;
  GraphPartition& operator=(const GraphPartition&) = delete;

  // Inserts or replaces the entity. With `merge`, an existing entity keeps what `data`
  // does not set: the name when `data.name` is empty, and attributes and metrics not named
  // in `data`. Requires a valid key and attributes/metrics sorted by name (NormalizeEntity).
  absl::Status UpsertEntity(const EntityKey& key, EntityData data, bool merge);

  // Calls `fn` with the entity (decoded into a per-thread buffer, valid during the call)
  // under the stripe's read lock and returns true, or returns false when the entity does
  // not exist. `fn` must not call back into the partition.
  bool ReadEntity(const EntityKey& key, absl::FunctionRef<void(const EntityData&)> fn) const;

  // Like ReadEntity, but calls `fn` with the entity's encoding (entity_codec.h) as stored,
  // without decoding it.
  bool ReadEncodedEntity(const EntityKey& key, absl::FunctionRef<void(absl::string_view)> fn) const;

  // ReadEncodedEntity for each of `keys`: calls fn(i, encoded) for every keys[i] that has
  // an entity, in order. Looks several keys ahead (prefetching their table slots and
  // entities), so a batch waits on memory once per few keys rather than twice per key.
  void ReadEncodedEntities(absl::Span<const EntityKey> keys,
                           absl::FunctionRef<void(size_t, absl::string_view)> fn) const;

  // Removes the entity and every edge copy stored with its key, appending those copies to
  // *removed. Returns NOT_FOUND when neither the entity nor any edge of it existed.
  absl::Status DeleteEntity(const EntityKey& key, std::vector<RemovedEdge>* removed);

  // Inserts or updates the copy of an edge stored with `owner`: direction kOut when owner
  // is the source. Requires the schema to hold (ValidateEdge): returns INVALID_ARGUMENT
  // otherwise. An existing copy gets the new time and weight.
  absl::Status UpsertEdgeCopy(const EntityKey& owner, EdgeType type, Direction direction,
                              uint64_t other_id, int64_t time_ms, float weight);

  // Replaces the whole list of `owner`'s edges of (type, direction) with `edges` (any
  // order; neighbor ids must be distinct). For recovery: one sort instead of one ordered
  // insert per edge. INVALID_ARGUMENT when the owner cannot hold such edges.
  absl::Status LoadEdgeList(const EntityKey& owner, EdgeType type, Direction direction,
                            std::vector<NeighborEdge> edges);

  // Looks up one edge copy; false when absent.
  bool FindEdge(const EntityKey& owner, EdgeType type, Direction direction, uint64_t other_id,
                NeighborEdge* edge) const;

  // Removes one edge copy; NOT_FOUND when absent.
  absl::Status DeleteEdgeCopy(const EntityKey& owner, EdgeType type, Direction direction,
                              uint64_t other_id);

  // The page of `query.key`'s edges, newest first. INVALID_ARGUMENT when the key's type
  // cannot own such edges. An unknown key has no edges (OK, empty).
  absl::Status GetNeighbors(const NeighborQuery& query, NeighborPage* page) const;

  // Number of edges of a type and direction, optionally within [min, max] (0 = unbounded).
  // INVALID_ARGUMENT when the key's type cannot own such edges.
  absl::Status CountNeighbors(const EntityKey& key, EdgeType type, Direction direction,
                              int64_t min_time_ms, int64_t max_time_ms, uint64_t* count) const;

  PartitionStats Stats() const;

  // A scan of the entities of one type in a stable order: stripe by stripe, ids ascending
  // within a stripe. Appends to *ids at most `limit` ids of `type` entities (with an
  // entity, not only edges) of stripe `stripe` greater than `after_id`, and returns
  // whether the stripe has more after them. Each call holds the stripe's read lock once.
  bool ScanEntityIds(EntityType type, uint32_t stripe, uint64_t after_id, size_t limit,
                     std::vector<uint64_t>* ids) const;
  uint32_t stripe_count() const { return static_cast<uint32_t>(stripes_.size()); }

  // The insight indexes (insight_index.h), kept on every write: the partition's products
  // by category and metric, and the attribute values of its buyers.
  const ProductIndex& products() const { return products_; }
  const SegmentCounter& segments() const { return segments_; }

 private:
  struct Node;
  struct Stripe;
  Stripe& StripeOf(const EntityKey& key) const;
  void AddEntityCount(EntityType type, int64_t delta);
  void AddEdgeCount(EdgeType type, Direction dir, int64_t delta);
  // Adds an entity's data to the insight indexes (a product's metrics replace its old
  // ones; a buyer's old attributes are removed by the caller first).
  void IndexEntity(const EntityKey& key, const EntityData& data);

  std::vector<std::unique_ptr<Stripe>> stripes_;
  std::array<std::atomic<int64_t>, kEntityTypeCount> entity_counts_{};
  std::array<std::atomic<int64_t>, kEdgeTypeCount * 2> edge_counts_{};
  std::atomic<int64_t> memory_bytes_{0};
  ProductIndex products_;
  SegmentCounter segments_;
};

// Sorts attributes and metrics by name; with duplicate names the last one wins.
void NormalizeEntity(EntityData* data);

}  // namespace kg

#endif  // KG_SERVER_GRAPH_GRAPH_PARTITION_H_
