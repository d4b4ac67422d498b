// Blocking helpers of the front end's knowledge and admin operations: one partition call
// waited for, a scatter waited for, a scan of every entity of a type over every
// partition, and writes through the graph's durable path waited for. Only on threads that
// may block (the work queue, the training thread), never on a gRPC callback thread.
#ifndef KG_SERVER_FRONTEND_PARTITION_CALLS_H_
#define KG_SERVER_FRONTEND_PARTITION_CALLS_H_

#include <chrono>
#include <functional>
#include <future>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "kg/internal/v1/partition.pb.h"
#include "kg/v1/graph.pb.h"
#include "server/frontend/cluster.h"
#include "server/frontend/fanout.h"
#include "server/frontend/graph_ops.h"
#include "server/frontend/partition_client.h"
#include "server/frontend/work_queue.h"

namespace kg {

// Runs `work` on `queue` and passes its status to `done`; RESOURCE_EXHAUSTED ("too many
// `what` requests queued") at once when the queue is full.
void QueueWork(WorkQueue* queue, std::function<absl::Status()> work, Done done,
               absl::string_view what);

// Entities per scan page.
inline constexpr uint32_t kScanPage = 2000;

// Options of the calls of a long job (training, SPU assignment): each call its own
// deadline, 120 s from now.
CallOptions FreshOptions();

// One partition call, waited for.
template <typename Req, typename Resp>
absl::Status CallPartition(const Router& router, uint32_t p, const CallOptions& o,
                           void (PartitionClient::*method)(const CallOptions&, const Req*, Resp*,
                                                           Done),
                           Req* req, Resp* resp) {
  req->mutable_target()->set_partition(p);
  req->mutable_target()->set_partition_count(router.partition_count());
  std::promise<absl::Status> result;
  std::future<absl::Status> future = result.get_future();
  (router.client(p).*method)(o, req, resp,
                             [&result](absl::Status s) { result.set_value(std::move(s)); });
  return future.get();
}

// Runs a Scatter and waits for every reply.
template <typename Req, typename Resp>
void RunAndWait(Scatter<Req, Resp>* scatter, const Router& router, const CallOptions& o,
                void (PartitionClient::*method)(const CallOptions&, const Req*, Resp*, Done)) {
  std::promise<void> all;
  std::future<void> future = all.get_future();
  scatter->Run(router, o, method, [&all] { all.set_value(); });
  future.wait();
}

v1::EntityKey Key(v1::EntityType type, uint64_t id);

// Checks a request setting against its range; 0 keeps the default. A NaN is out of range
// (found by fuzz_requests: a NaN validation_share reached training).
template <typename T>
absl::Status Setting(T value, T lo, T hi, absl::string_view field, T* out) {
  if (value == 0) return absl::OkStatus();
  if (!(value >= lo && value <= hi)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be ", lo, "..", hi, " (or 0 for the default), got ", value));
  }
  *out = value;
  return absl::OkStatus();
}

internal::v1::ScanEdgeSpec Edge(v1::EdgeType type, v1::Direction dir, uint32_t limit);

// Calls `fn` for every entity of `type` on every partition, a page at a time, each page's
// call with `options()`; `on_partition` after each partition (for progress).
absl::Status ScanAll(const Router& router, const std::function<CallOptions()>& options,
                     v1::EntityType type, const std::vector<internal::v1::ScanEdgeSpec>& edges,
                     const std::function<absl::Status(const internal::v1::ScannedEntity&)>& fn,
                     const std::function<void(uint32_t)>& on_partition = nullptr);

// Items written and refused by one batch write.
struct WriteCounts {
  uint64_t written = 0;
  uint64_t failed = 0;
};

// Writes `batch` through the graph's durable write path and waits; adds each item's
// outcome to `counts` (and, with `item_ok`, sets it per item). The batch is cleared.
absl::Status UpsertEdgesNow(const GraphOps& graph, const CallOptions& o,
                            v1::UpsertEdgesRequest* batch, WriteCounts* counts,
                            std::vector<bool>* item_ok = nullptr);
absl::Status UpsertEntitiesNow(const GraphOps& graph, const CallOptions& o,
                               v1::UpsertEntitiesRequest* batch, WriteCounts* counts);

}  // namespace kg

#endif  // KG_SERVER_FRONTEND_PARTITION_CALLS_H_
