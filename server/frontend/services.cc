#include "server/frontend/services.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "proto/arena.h"
#include "server/partition/status.h"
#include "spdlog/spdlog.h"

namespace kg {

CallOptions OptionsFor(const grpc::CallbackServerContext& ctx, const DeadlinePolicy& policy) {
  CallOptions o;
  o.deadline = std::min(ctx.deadline(), std::chrono::system_clock::now() + policy.default_deadline);
  return o;
}

namespace {

// Runs `op` and finishes the unary reactor with its status.
template <typename Op>
grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, const DeadlinePolicy& policy,
                                Op op) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  op(OptionsFor(*ctx, policy), [reactor](absl::Status status) {
    if (!status.ok() && status.code() != absl::StatusCode::kInvalidArgument) {
      spdlog::debug("request failed: {}", status.ToString());
    }
    reactor->Finish(ToGrpcStatus(status));
  });
  return reactor;
}

// The messages of one raw call, on an arena whose first block comes with them: building
// and freeing a reply of many items costs one allocation, not one per field.
template <typename Req, typename Resp>
struct ArenaMessages {
  BlockArena<16384> arena;
  Req& req = *arena.Create<Req>();
  Resp& resp = *arena.Create<Resp>();
};

// Runs `op` on a raw call: parses the request as Req, lets `op` fill a Resp, serializes
// it into `response` and finishes. Req and Resp live until the reactor finishes.
template <typename Req, typename Resp, typename Op>
grpc::ServerUnaryReactor* RawUnary(grpc::CallbackServerContext* ctx, const DeadlinePolicy& policy,
                                   const grpc::ByteBuffer* request, grpc::ByteBuffer* response,
                                   Op op) {
  auto messages = std::make_shared<ArenaMessages<Req, Resp>>();
  grpc::ByteBuffer bytes(*request);  // shares the slices
  grpc::Status parsed =
      grpc::SerializationTraits<google::protobuf::Message>::Deserialize(&bytes, &messages->req);
  if (!parsed.ok()) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     "request: not a valid " + Req::descriptor()->full_name() + " message"));
    return reactor;
  }
  return Unary(ctx, policy, [&](const CallOptions& o, Done done) {
    op(o, messages->req, &messages->resp,
       [messages, response, done = std::move(done)](absl::Status status) {
         if (status.ok()) {
           bool own_buffer = false;
           grpc::Status s = grpc::SerializationTraits<google::protobuf::Message>::Serialize(
               messages->resp, response, &own_buffer);
           if (!s.ok()) status = absl::InternalError("could not serialize the reply");
         }
         done(status);
       });
  });
}

// Reads an Import stream one message at a time: the next read starts only after the
// previous message was applied, which bounds memory and keeps records in order.
class ImportReactor : public grpc::ServerReadReactor<v1::ImportRequest> {
 public:
  // With a non-OK `ready` the call is refused at once.
  ImportReactor(const GraphOps* ops, CallOptions options, v1::ImportResponse* resp,
                const absl::Status& ready, const Metrics* metrics)
      : ops_(ops), options_(options), resp_(resp), metrics_(metrics) {
    if (!ready.ok()) {
      Finish(ToGrpcStatus(ready));
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // Client half-closed (or the call broke): report the totals.
      Finish(grpc::Status::OK);
      return;
    }
    if (first_) {
      max_errors_ = request_.options().max_errors();
      first_ = false;
    }
    uint64_t first_index = next_index_;
    next_index_ += request_.records_size();
    uint64_t rejected_before = resp_->records_rejected();
    uint64_t received_before = resp_->records_received();
    ops_->ImportBatch(
        options_, request_, first_index, resp_,
        [this, rejected_before, received_before](absl::Status status) {
          uint64_t rejected = resp_->records_rejected() - rejected_before;
          uint64_t received = resp_->records_received() - received_before;
          metrics_->import_records(true).Increment(static_cast<double>(received - rejected));
          metrics_->import_records(false).Increment(static_cast<double>(rejected));
          if (!status.ok()) {
            Finish(ToGrpcStatus(status));
            return;
          }
          if (resp_->records_rejected() > max_errors_) {
            const auto& first = resp_->first_errors(0);
            Finish(ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
                "import stopped: ", resp_->records_rejected(),
                " records rejected (max_errors=", max_errors_, "); first: record ",
                first.record_index(), ": ", first.message(), "; records applied before the stop: ",
                resp_->entities_upserted() + resp_->edges_upserted()))));
            return;
          }
          StartRead(&request_);
        });
  }

  void OnDone() override { delete this; }

 private:
  const GraphOps* ops_;
  CallOptions options_;
  v1::ImportResponse* resp_;
  const Metrics* metrics_;
  v1::ImportRequest request_;
  bool first_ = true;
  uint64_t max_errors_ = 0;
  uint64_t next_index_ = 0;
};

}  // namespace

#define KG_GRAPH_HANDLER(Method)                                                       \
  grpc::ServerUnaryReactor* GraphServiceImpl::Method(grpc::CallbackServerContext* ctx, \
                                                     const v1::Method##Request* req,   \
                                                     v1::Method##Response* resp) {     \
    return Unary(ctx, policy_, [&](const CallOptions& o, Done done) {                  \
      absl::Status ready = gate_->Check();                                             \
      if (!ready.ok()) return done(ready);                                             \
      ops_->Method(o, *req, resp, std::move(done));                                    \
    });                                                                                \
  }

KG_GRAPH_HANDLER(UpsertEntities)
KG_GRAPH_HANDLER(DeleteEntities)
KG_GRAPH_HANDLER(UpsertEdges)
KG_GRAPH_HANDLER(DeleteEdges)
KG_GRAPH_HANDLER(CountNeighbors)
KG_GRAPH_HANDLER(Traverse)

#undef KG_GRAPH_HANDLER

#define KG_RAW_GRAPH_HANDLER(Method, Response)                                                 \
  grpc::ServerUnaryReactor* GraphServiceImpl::Method(                                          \
      grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req, grpc::ByteBuffer* resp) { \
    return RawUnary<v1::Method##Request, Response>(                                            \
        ctx, policy_, req, resp,                                                               \
        [this](const CallOptions& o, const v1::Method##Request& r, Response* out, Done done) { \
          absl::Status ready = gate_->Check();                                                 \
          if (!ready.ok()) return done(ready);                                                 \
          ops_->Method(o, r, out, std::move(done));                                            \
        });                                                                                    \
  }

KG_RAW_GRAPH_HANDLER(GetEntities, internal::v1::EncodedGetEntitiesResponse)
KG_RAW_GRAPH_HANDLER(GetNeighbors, internal::v1::EncodedGetNeighborsResponse)

#undef KG_RAW_GRAPH_HANDLER

grpc::ServerReadReactor<v1::ImportRequest>* GraphServiceImpl::Import(
    grpc::CallbackServerContext* ctx, v1::ImportResponse* resp) {
  // An import may run long: its deadline is the client's own (none means unbounded).
  CallOptions o;
  o.deadline = ctx->deadline();
  return new ImportReactor(ops_, o, resp, gate_->Check(), metrics_);
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetClusterInfo(grpc::CallbackServerContext* ctx,
                                                           const v1::GetClusterInfoRequest* req,
                                                           v1::GetClusterInfoResponse* resp) {
  return Unary(ctx, policy_, [&](const CallOptions& o, Done done) {
    ops_->GetClusterInfo(o, *req, resp, std::move(done));
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::Checkpoint(grpc::CallbackServerContext* ctx,
                                                       const v1::CheckpointRequest* req,
                                                       v1::CheckpointResponse* resp) {
  return Unary(ctx, policy_, [&](const CallOptions& o, Done done) {
    ops_->Checkpoint(o, *req, resp, std::move(done));
  });
}

}  // namespace kg
