#include "server/frontend/partition_calls.h"

#include <memory>

#include "absl/strings/str_cat.h"

namespace kg {
namespace {

constexpr auto kJobCallTimeout = std::chrono::seconds(120);

template <typename Req, typename Resp>
absl::Status Write(const GraphOps& graph,
                   void (GraphOps::*method)(const CallOptions&, const Req&, Resp*, Done) const,
                   const CallOptions& o, Req* batch, WriteCounts* counts,
                   std::vector<bool>* item_ok) {
  Resp written;
  std::promise<absl::Status> result;
  std::future<absl::Status> future = result.get_future();
  (graph.*method)(o, *batch, &written,
                  [&result](absl::Status st) { result.set_value(std::move(st)); });
  absl::Status st = future.get();
  if (!st.ok()) return st;
  if (item_ok != nullptr) item_ok->clear();
  for (const v1::ItemStatus& r : written.results()) {
    (r.code() == 0 ? counts->written : counts->failed) += 1;
    if (item_ok != nullptr) item_ok->push_back(r.code() == 0);
  }
  batch->Clear();
  return absl::OkStatus();
}

}  // namespace

CallOptions FreshOptions() {
  return CallOptions{std::chrono::system_clock::now() + kJobCallTimeout};
}

void QueueWork(WorkQueue* queue, std::function<absl::Status()> work, Done done,
               absl::string_view what) {
  auto shared = std::make_shared<Done>(std::move(done));
  if (!queue->Submit([work = std::move(work), shared] { (*shared)(work()); })) {
    (*shared)(
        absl::ResourceExhaustedError(absl::StrCat("too many ", what, " requests queued; retry")));
  }
}

v1::EntityKey Key(v1::EntityType type, uint64_t id) {
  v1::EntityKey key;
  key.set_type(type);
  key.set_id(id);
  return key;
}

internal::v1::ScanEdgeSpec Edge(v1::EdgeType type, v1::Direction dir, uint32_t limit) {
  internal::v1::ScanEdgeSpec spec;
  spec.set_edge_type(type);
  spec.set_direction(dir);
  spec.set_limit(limit);
  return spec;
}

absl::Status ScanAll(const Router& router, const std::function<CallOptions()>& options,
                     v1::EntityType type, const std::vector<internal::v1::ScanEdgeSpec>& edges,
                     const std::function<absl::Status(const internal::v1::ScannedEntity&)>& fn,
                     const std::function<void(uint32_t)>& on_partition) {
  for (uint32_t p = 0; p < router.partition_count(); ++p) {
    uint32_t stripe = 0;
    uint64_t after = 0;
    for (;;) {
      internal::v1::ScanEntitiesRequest req;
      req.set_type(type);
      req.set_stripe(stripe);
      req.set_after_id(after);
      req.set_limit(kScanPage);
      for (const internal::v1::ScanEdgeSpec& e : edges) *req.add_edges() = e;
      internal::v1::ScanEntitiesResponse resp;
      absl::Status s =
          CallPartition(router, p, options(), &PartitionClient::ScanEntities, &req, &resp);
      if (!s.ok()) {
        return absl::Status(s.code(), absl::StrCat("scanning partition ", p, ": ", s.message()));
      }
      for (const internal::v1::ScannedEntity& e : resp.entities()) {
        absl::Status st = fn(e);
        if (!st.ok()) return st;
      }
      if (resp.done()) break;
      stripe = resp.next_stripe();
      after = resp.next_after_id();
    }
    if (on_partition) on_partition(p);
  }
  return absl::OkStatus();
}

absl::Status UpsertEdgesNow(const GraphOps& graph, const CallOptions& o,
                            v1::UpsertEdgesRequest* batch, WriteCounts* counts,
                            std::vector<bool>* item_ok) {
  if (item_ok != nullptr) item_ok->clear();
  if (batch->edges_size() == 0) return absl::OkStatus();
  return Write(graph, &GraphOps::UpsertEdges, o, batch, counts, item_ok);
}

absl::Status UpsertEntitiesNow(const GraphOps& graph, const CallOptions& o,
                               v1::UpsertEntitiesRequest* batch, WriteCounts* counts) {
  if (batch->entities_size() == 0) return absl::OkStatus();
  return Write(graph, &GraphOps::UpsertEntities, o, batch, counts, nullptr);
}

}  // namespace kg
