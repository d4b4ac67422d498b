// The public gRPC services of the front end: kg.v1.GraphService and kg.v1.AdminService,
// callback-API wrappers over GraphOps (unpack, call, pack, Finish). Thread-safe.
#ifndef KG_SERVER_FRONTEND_SERVICES_H_
#define KG_SERVER_FRONTEND_SERVICES_H_

#include <chrono>

#include "kg/v1/admin.grpc.pb.h"
#include "kg/v1/graph.grpc.pb.h"
#include "server/frontend/graph_ops.h"
#include "server/observability/metrics.h"
#include "server/partition/serving_gate.h"

namespace kg {

// Deadline given to a call that has none, and the most any call may use.
struct DeadlinePolicy {
  std::chrono::milliseconds default_deadline{10000};
};

// GetEntities and GetNeighbors are served as raw methods: the request is parsed here and
// the reply is serialized from its wire-compatible Encoded* form (graph_ops.h), so stored
// entities go out as they are. Clients see the kg.v1 messages.
using GraphServiceBase = v1::GraphService::WithRawCallbackMethod_GetEntities<
    v1::GraphService::WithRawCallbackMethod_GetNeighbors<v1::GraphService::CallbackService>>;

class GraphServiceImpl final : public GraphServiceBase {
 public:
  // Data requests are refused (UNAVAILABLE) while `gate` is closed. Import progress is
  // counted in `metrics`. All must outlive this.
  GraphServiceImpl(const GraphOps* ops, DeadlinePolicy policy, const ServingGate* gate,
                   const Metrics* metrics)
      : ops_(ops), policy_(policy), gate_(gate), metrics_(metrics) {}

  grpc::ServerUnaryReactor* GetEntities(grpc::CallbackServerContext* ctx,
                                        const grpc::ByteBuffer* req,
                                        grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* UpsertEntities(grpc::CallbackServerContext* ctx,
                                           const v1::UpsertEntitiesRequest* req,
                                           v1::UpsertEntitiesResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteEntities(grpc::CallbackServerContext* ctx,
                                           const v1::DeleteEntitiesRequest* req,
                                           v1::DeleteEntitiesResponse* resp) override;
  grpc::ServerUnaryReactor* UpsertEdges(grpc::CallbackServerContext* ctx,
                                        const v1::UpsertEdgesRequest* req,
                                        v1::UpsertEdgesResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteEdges(grpc::CallbackServerContext* ctx,
                                        const v1::DeleteEdgesRequest* req,
                                        v1::DeleteEdgesResponse* resp) override;
  grpc::ServerUnaryReactor* GetNeighbors(grpc::CallbackServerContext* ctx,
                                         const grpc::ByteBuffer* req,
                                         grpc::ByteBuffer* resp) override;
  grpc::ServerUnaryReactor* CountNeighbors(grpc::CallbackServerContext* ctx,
                                           const v1::CountNeighborsRequest* req,
                                           v1::CountNeighborsResponse* resp) override;
  grpc::ServerUnaryReactor* Traverse(grpc::CallbackServerContext* ctx,
                                     const v1::TraverseRequest* req,
                                     v1::TraverseResponse* resp) override;
  grpc::ServerReadReactor<v1::ImportRequest>* Import(grpc::CallbackServerContext* ctx,
                                                     v1::ImportResponse* resp) override;

 private:
  const GraphOps* ops_;
  DeadlinePolicy policy_;
  const ServingGate* gate_;
  const Metrics* metrics_;
};

// Answers while loading too (GetClusterInfo shows the progress).
class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  AdminServiceImpl(const GraphOps* ops, DeadlinePolicy policy) : ops_(ops), policy_(policy) {}

  grpc::ServerUnaryReactor* GetClusterInfo(grpc::CallbackServerContext* ctx,
                                           const v1::GetClusterInfoRequest* req,
                                           v1::GetClusterInfoResponse* resp) override;
  grpc::ServerUnaryReactor* Checkpoint(grpc::CallbackServerContext* ctx,
                                       const v1::CheckpointRequest* req,
                                       v1::CheckpointResponse* resp) override;

 private:
  const GraphOps* ops_;
  DeadlinePolicy policy_;
};

// The call options of a server call: its deadline, or the policy's default when it has
// none (or a later one).
CallOptions OptionsFor(const grpc::CallbackServerContext& ctx, const DeadlinePolicy& policy);

}  // namespace kg

#endif  // KG_SERVER_FRONTEND_SERVICES_H_
