// The public gRPC services of the front end: kg.v1.GraphService, AdminService,
// KnowledgeService and InsightService, callback-API wrappers over the *Ops classes (unpack, call,
// pack, Finish). Thread-safe.
#ifndef KG_SERVER_FRONTEND_SERVICES_H_
#define KG_SERVER_FRONTEND_SERVICES_H_

#include <chrono>

#include "kg/v1/admin.grpc.pb.h"
#include "kg/v1/graph.grpc.pb.h"
#include "kg/v1/insight.grpc.pb.h"
#include "kg/v1/knowledge.grpc.pb.h"
#include "server/frontend/graph_ops.h"
#include "server/frontend/insight_ops.h"
#include "server/frontend/knowledge_ops.h"
#include "server/observability/metrics.h"
#include "server/partition/serving_gate.h"
#include "server/security/authorizer.h"

namespace kg {

// What every public call goes through before its handler runs.
struct CallPolicy {
  // Deadline given to a call that has none, and the most any call may use.
  std::chrono::milliseconds default_deadline{10000};
  // Authentication, roles and the bounds on calls in flight (security/authorizer.h). Must
  // be set and outlive the services.
  const Authorizer* authorizer = nullptr;
};

// Every method is served raw: the request bytes are parsed here, so bytes that are not a
// valid request (malformed, or invalid UTF-8 in a string field) get INVALID_ARGUMENT naming
// the message type (gRPC's typed handlers would answer UNIMPLEMENTED with no message, and
// end an Import stream as if the client had closed it). GetEntities and GetNeighbors reply
// from their wire-compatible Encoded* form (graph_ops.h), so stored entities go out as they
// are. Clients see the kg.v1 messages.
using GraphServiceBase = v1::GraphService::WithRawCallbackMethod_GetEntities<
    v1::GraphService::WithRawCallbackMethod_UpsertEntities<
        v1::GraphService::WithRawCallbackMethod_DeleteEntities<
            v1::GraphService::WithRawCallbackMethod_UpsertEdges<
                v1::GraphService::WithRawCallbackMethod_DeleteEdges<
                    v1::GraphService::WithRawCallbackMethod_GetNeighbors<
                        v1::GraphService::WithRawCallbackMethod_CountNeighbors<
                            v1::GraphService::WithRawCallbackMethod_Traverse<
                                v1::GraphService::WithRawCallbackMethod_Import<
                                    v1::GraphService::CallbackService>>>>>>>>>;
using AdminServiceBase = v1::AdminService::WithRawCallbackMethod_GetClusterInfo<
    v1::AdminService::WithRawCallbackMethod_Checkpoint<
        v1::AdminService::WithRawCallbackMethod_TrainModels<
            v1::AdminService::WithRawCallbackMethod_DevelopBrands<
                v1::AdminService::WithRawCallbackMethod_AssignSpus<
                    v1::AdminService::CallbackService>>>>>;
using KnowledgeServiceBase = v1::KnowledgeService::WithRawCallbackMethod_Categorize<
    v1::KnowledgeService::WithRawCallbackMethod_GetTaxonomy<
        v1::KnowledgeService::WithRawCallbackMethod_RecognizeBrands<
            v1::KnowledgeService::WithRawCallbackMethod_ExtractAttributes<
                v1::KnowledgeService::WithRawCallbackMethod_MatchSpu<
                    v1::KnowledgeService::WithRawCallbackMethod_ProfileEntity<
                        v1::KnowledgeService::CallbackService>>>>>>;
using InsightServiceBase = v1::InsightService::WithRawCallbackMethod_TopProducts<
    v1::InsightService::WithRawCallbackMethod_CompareProducts<v1::InsightService::CallbackService>>;

class GraphServiceImpl final : public GraphServiceBase {
 public:
  using Proto = v1::GraphService;
  // Data requests are refused (UNAVAILABLE) while `gate` is closed. Import progress is
  // counted in `metrics`. All must outlive this.
  GraphServiceImpl(const GraphOps* ops, CallPolicy policy, const ServingGate* gate,
                   const Metrics* metrics)
      : ops_(ops), policy_(policy), gate_(gate), metrics_(metrics) {}

#define KG_DECLARE_RAW_UNARY(Method)                                                              \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req, \
                                   grpc::ByteBuffer* resp) override;
  KG_DECLARE_RAW_UNARY(GetEntities)
  KG_DECLARE_RAW_UNARY(UpsertEntities)
  KG_DECLARE_RAW_UNARY(DeleteEntities)
  KG_DECLARE_RAW_UNARY(UpsertEdges)
  KG_DECLARE_RAW_UNARY(DeleteEdges)
  KG_DECLARE_RAW_UNARY(GetNeighbors)
  KG_DECLARE_RAW_UNARY(CountNeighbors)
  KG_DECLARE_RAW_UNARY(Traverse)
  // Each stream message is parsed as a kg.v1.ImportRequest; one that cannot be ends the
  // call with INVALID_ARGUMENT saying which message and what was applied before it.
  grpc::ServerReadReactor<grpc::ByteBuffer>* Import(grpc::CallbackServerContext* ctx,
                                                    grpc::ByteBuffer* resp) override;

 private:
  const GraphOps* ops_;
  CallPolicy policy_;
  const ServingGate* gate_;
  const Metrics* metrics_;
};

// Answers while loading too (GetClusterInfo shows the progress); TrainModels needs the
// server to serve.
class AdminServiceImpl final : public AdminServiceBase {
 public:
  using Proto = v1::AdminService;
  AdminServiceImpl(const GraphOps* ops, KnowledgeOps* knowledge, CallPolicy policy,
                   const ServingGate* gate)
      : ops_(ops), knowledge_(knowledge), policy_(policy), gate_(gate) {}

  KG_DECLARE_RAW_UNARY(GetClusterInfo)
  KG_DECLARE_RAW_UNARY(Checkpoint)
  KG_DECLARE_RAW_UNARY(DevelopBrands)
  KG_DECLARE_RAW_UNARY(AssignSpus)
  // Server streaming: progress messages, the last one with the new model version.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* TrainModels(grpc::CallbackServerContext* ctx,
                                                          const grpc::ByteBuffer* req) override;

 private:
  const GraphOps* ops_;
  KnowledgeOps* knowledge_;
  CallPolicy policy_;
  const ServingGate* gate_;
};

// kg.v1.KnowledgeService over KnowledgeOps; refused (UNAVAILABLE) while `gate` is closed.
class KnowledgeServiceImpl final : public KnowledgeServiceBase {
 public:
  using Proto = v1::KnowledgeService;
  KnowledgeServiceImpl(KnowledgeOps* ops, InsightOps* insight, CallPolicy policy,
                       const ServingGate* gate)
      : ops_(ops), insight_(insight), policy_(policy), gate_(gate) {}

  KG_DECLARE_RAW_UNARY(Categorize)
  KG_DECLARE_RAW_UNARY(GetTaxonomy)
  KG_DECLARE_RAW_UNARY(RecognizeBrands)
  KG_DECLARE_RAW_UNARY(ExtractAttributes)
  KG_DECLARE_RAW_UNARY(MatchSpu)
  KG_DECLARE_RAW_UNARY(ProfileEntity)

 private:
  KnowledgeOps* ops_;
  InsightOps* insight_;
  CallPolicy policy_;
  const ServingGate* gate_;
};

// kg.v1.InsightService over InsightOps; refused (UNAVAILABLE) while `gate` is closed.
class InsightServiceImpl final : public InsightServiceBase {
 public:
  using Proto = v1::InsightService;
  InsightServiceImpl(InsightOps* ops, CallPolicy policy, const ServingGate* gate)
      : ops_(ops), policy_(policy), gate_(gate) {}

  KG_DECLARE_RAW_UNARY(TopProducts)
  KG_DECLARE_RAW_UNARY(CompareProducts)
#undef KG_DECLARE_RAW_UNARY

 private:
  InsightOps* ops_;
  CallPolicy policy_;
  const ServingGate* gate_;
};

// The call options of a server call: its deadline, or the policy's default when it has
// none (or a later one).
CallOptions OptionsFor(const grpc::CallbackServerContext& ctx, const CallPolicy& policy);

}  // namespace kg

#endif  // KG_SERVER_FRONTEND_SERVICES_H_
