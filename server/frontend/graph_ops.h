// GraphOps: the front end's implementation of the public API — validation, routing of
// every key to its partition, scatter-gather, per-item and per-partition errors, second
// lookups (inline entities), multi-hop traversal. Independent of gRPC's server side: the
// services in services.h are thin wrappers. Thread-safe.
//
// GetEntities and GetNeighbors reply with the wire-compatible Encoded* messages
// (proto/kg/internal/v1/encoded.proto): entities are copied as stored, not rebuilt.
//
// Every operation validates the request, fills `resp` and runs `done` exactly once, with
// a request-level status (INVALID_ARGUMENT naming the field, DEADLINE_EXCEEDED, ...);
// item-level problems go into the reply. `req` and `resp` must outlive `done`.
#ifndef KG_SERVER_FRONTEND_GRAPH_OPS_H_
#define KG_SERVER_FRONTEND_GRAPH_OPS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kg/internal/v1/encoded.pb.h"
#include "kg/v1/admin.pb.h"
#include "kg/v1/graph.pb.h"
#include "server/frontend/cluster.h"
#include "server/frontend/partition_client.h"

namespace kg {

// Request bounds (documented in proto/kg/v1/graph.proto).
inline constexpr int kMaxBatch = 1000;
inline constexpr int kMaxNeighborKeys = 100;
inline constexpr int kDefaultNeighborLimit = 20;
inline constexpr int kMaxNeighborLimit = 1000;
inline constexpr int kMaxInlineEntities = 10000;
inline constexpr int kMaxTraverseStart = 100;
inline constexpr int kMaxHops = 4;
inline constexpr int kDefaultHopLimit = 100;
inline constexpr int kDefaultMaxFrontier = 10000;
inline constexpr int kMaxFrontier = 100000;
inline constexpr int kDefaultMaxResults = 20;
inline constexpr int kMaxResults = 1000;
// Traverse's per-call memory budget: edges read by one hop (frontier x fan-out); a larger
// product lowers the fan-out of that hop and marks the reply truncated.
inline constexpr int64_t kTraverseEdgesPerHop = 1000000;
inline constexpr int kMaxImportRecordsPerMessage = 10000;
inline constexpr int kMaxImportErrorsReported = 100;

class GraphOps {
 public:
  // `router` must outlive this object. `role` is reported by GetClusterInfo.
  GraphOps(const Router* router, std::string role, std::string version);

  void GetEntities(const CallOptions& o, const v1::GetEntitiesRequest& req,
                   internal::v1::EncodedGetEntitiesResponse* resp, Done done) const;
  void UpsertEntities(const CallOptions& o, const v1::UpsertEntitiesRequest& req,
                      v1::UpsertEntitiesResponse* resp, Done done) const;
  void DeleteEntities(const CallOptions& o, const v1::DeleteEntitiesRequest& req,
                      v1::DeleteEntitiesResponse* resp, Done done) const;
  void UpsertEdges(const CallOptions& o, const v1::UpsertEdgesRequest& req,
                   v1::UpsertEdgesResponse* resp, Done done) const;
  void DeleteEdges(const CallOptions& o, const v1::DeleteEdgesRequest& req,
                   v1::DeleteEdgesResponse* resp, Done done) const;
  void GetNeighbors(const CallOptions& o, const v1::GetNeighborsRequest& req,
                    internal::v1::EncodedGetNeighborsResponse* resp, Done done) const;
  void CountNeighbors(const CallOptions& o, const v1::CountNeighborsRequest& req,
                      v1::CountNeighborsResponse* resp, Done done) const;
  void Traverse(const CallOptions& o, const v1::TraverseRequest& req, v1::TraverseResponse* resp,
                Done done) const;
  void GetClusterInfo(const CallOptions& o, const v1::GetClusterInfoRequest& req,
                      v1::GetClusterInfoResponse* resp, Done done) const;
  void Checkpoint(const CallOptions& o, const v1::CheckpointRequest& req,
                  v1::CheckpointResponse* resp, Done done) const;

  // Completes writes that span partitions and were interrupted (a crash between their
  // steps): lists the intents older than `min_age_ms` on every partition, applies their
  // remaining copy operations and clears them. `done` gets the number resolved. Safe to
  // run at any time (replaying an intent is idempotent).
  void ResolveIntents(const CallOptions& o, int64_t min_age_ms,
                      std::function<void(absl::Status, uint64_t)> done) const;

  // Applies one message of an Import stream: the records are numbered from `first_index`;
  // accepted ones are applied, rejected ones counted in `totals` (the first 100 listed).
  // INVALID_ARGUMENT for a message over the record limit.
  void ImportBatch(const CallOptions& o, const v1::ImportRequest& batch, uint64_t first_index,
                   v1::ImportResponse* totals, Done done) const;

 private:
  // An edge to write (or delete), with its index in the caller's status vector and the
  // stored copies to touch (both by default).
  struct EdgeItem {
    int index;
    v1::Edge edge;
    bool out_copy = true;  // the copy kept with the source
    bool in_copy = true;   // the copy kept with the destination
  };

  // Writes validated items, each paired with its index in `statuses`, which receives the
  // item's outcome. `then` runs once all partitions answered.
  void ApplyEntities(const CallOptions& o, std::vector<std::pair<int, const v1::Entity*>> items,
                     bool merge, std::vector<absl::Status>* statuses,
                     std::function<void()> then) const;
  // Upserts (or deletes) the selected copies of each edge. For a delete, a copy already
  // missing is not an error unless every selected copy is missing (NOT_FOUND).
  void ApplyEdges(const CallOptions& o, bool upsert, std::vector<EdgeItem> items,
                  std::vector<absl::Status>* statuses, std::function<void()> then) const;

  const Router* router_;
  std::string role_;
  std::string version_;
  int64_t start_ms_;
};

}  // namespace kg

#endif  // KG_SERVER_FRONTEND_GRAPH_OPS_H_
