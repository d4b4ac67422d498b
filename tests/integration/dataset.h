// A small deterministic e-commerce graph for the integration tests, and an independent
// in-test model of it that computes the answers the server must give. Thread-compatible.
//
// The data: 3 categories, 50 products (each IN_CATEGORY one category), 200 buyers, and
// about 2000 PURCHASED / VIEWED edges with distinct times, plus a few PURCHASED edges from
// buyers that do not exist as entities (ids kGhostBuyerFirst..).
#ifndef KG_TESTS_INTEGRATION_DATASET_H_
#define KG_TESTS_INTEGRATION_DATASET_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "kg/v1/graph.grpc.pb.h"
#include "kg/v1/graph.pb.h"
#include "kg/v1/types.pb.h"

namespace kg {
namespace integration {

inline constexpr int kCategories = 3;
inline constexpr int kProducts = 50;
inline constexpr int kBuyers = 200;
// Buyers with edges but no entity.
inline constexpr uint64_t kGhostBuyerFirst = 1001;
inline constexpr int kGhostBuyers = 3;
// Interaction edge i has time kBaseTimeMs + i * 1000.
inline constexpr int64_t kBaseTimeMs = 1700000000000;

struct Dataset {
  std::vector<v1::Entity> entities;
  std::vector<v1::Edge> edges;
};

// The same data on every call.
const Dataset& TestDataset();

// Helpers to build protos.
v1::EntityKey Key(v1::EntityType type, uint64_t id);

// The "also bought" traversal from a product: hops IN PURCHASED then OUT PURCHASED.
v1::TraverseRequest AlsoBoughtRequest(uint64_t product);
v1::Edge MakeEdge(v1::EntityKey src, v1::EdgeType type, v1::EntityKey dst, int64_t time_ms,
                  double weight);

// The dataset as JSONL (one kg.v1.ImportRecord per line).
std::string DatasetJsonl(const Dataset& data);

// Writes the dataset through UpsertEntities and UpsertEdges in batches; fails unless every
// item status is OK.
absl::Status LoadViaRpc(v1::GraphService::Stub* graph, const Dataset& data);

// An expected neighbor: the other end's id, and the edge's time and weight.
struct ExpectedNeighbor {
  uint64_t id = 0;
  int64_t time_ms = 0;
  double weight = 0;
};

// The graph held in plain maps, answering queries the way graph.proto specifies.
class GraphModel {
 public:
  explicit GraphModel(const Dataset& data);

  // Edges of `type` in `direction` from `key` with time in [min_ms, max_ms] (0 =
  // unbounded), newest first, ties by descending neighbor id.
  std::vector<ExpectedNeighbor> Neighbors(const v1::EntityKey& key, v1::EdgeType type,
                                          v1::Direction direction, int64_t min_ms = 0,
                                          int64_t max_ms = 0) const;

  // "Also bought": products reached by [IN PURCHASED, OUT PURCHASED] from `product`
  // (default hop limit 100 newest edges per node), start excluded, as (id, shared buyer
  // paths) ranked by count descending then id ascending. `reached_all` gets the number
  // of distinct products reached including the start, `buyers` the hop-1 frontier size.
  std::vector<std::pair<uint64_t, uint64_t>> AlsoBought(uint64_t product, size_t* reached_all,
                                                        size_t* buyers) const;

  // The entity with `key`, or nullptr.
  const v1::Entity* FindEntity(const v1::EntityKey& key) const;

  size_t entity_count() const { return entities_.size(); }
  size_t edge_count() const { return edge_count_; }

 private:
  using K = std::pair<int, uint64_t>;
  struct Adj {
    uint64_t other;
    int64_t time_ms;
    double weight;
  };
  // (key, edge type, direction) -> adjacency.
  std::map<std::tuple<int, uint64_t, int, int>, std::vector<Adj>> adjacency_;
  std::map<K, v1::Entity> entities_;
  size_t edge_count_ = 0;
};

}  // namespace integration
}  // namespace kg

#endif  // KG_TESTS_INTEGRATION_DATASET_H_
