#include "server/frontend/services.h"

#include <algorithm>
#include <deque>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "proto/arena.h"
#include "server/partition/status.h"
#include "spdlog/spdlog.h"

namespace kg {

CallOptions OptionsFor(const grpc::CallbackServerContext& ctx, const CallPolicy& policy) {
  CallOptions o;
  o.deadline = std::min(ctx.deadline(), std::chrono::system_clock::now() + policy.default_deadline);
  return o;
}

namespace {

// Admits a call of "/<service>/<method>" (security/authorizer.h): its ticket holds the
// call's place among the calls in flight until destroyed.
absl::StatusOr<CallTicket> Admit(const CallPolicy& policy, const grpc::CallbackServerContext& ctx,
                                 const std::string& full_method) {
  std::vector<absl::string_view> authorization;
  if (policy.authorizer->authenticates()) {
    auto range = ctx.client_metadata().equal_range("authorization");
    for (auto it = range.first; it != range.second; ++it) {
      authorization.emplace_back(it->second.data(), it->second.size());
    }
  }
  return policy.authorizer->Admit(full_method, authorization, [&ctx] { return ctx.peer(); });
}

// Runs `op` and finishes the unary reactor with its status.
template <typename Op>
grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, const CallPolicy& policy, Op op) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  op(OptionsFor(*ctx, policy), [reactor](absl::Status status) {
    if (!status.ok() && status.code() != absl::StatusCode::kInvalidArgument) {
      spdlog::debug("request failed: {}", status.ToString());
    }
    reactor->Finish(ToGrpcStatus(status));
  });
  return reactor;
}

// INVALID_ARGUMENT for bytes that do not parse as an M.
template <typename M>
absl::Status NotAValid(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": not a valid ", M::descriptor()->full_name(),
                   " message (malformed bytes, or a string field that is not valid UTF-8)"));
}

// The messages of one raw call, on an arena whose first block comes with them: building
// and freeing a reply of many items costs one allocation, not one per field.
template <typename Req, typename Resp>
struct ArenaMessages {
  CallTicket ticket;  // released with the messages, when the call is over
  BlockArena<16384> arena;
  Req& req = *arena.Create<Req>();
  Resp& resp = *arena.Create<Resp>();
};

// Runs `op` on a raw call: parses the request as Req, lets `op` fill a Resp, serializes
// it into `response` and finishes. Req and Resp live until the reactor finishes.
template <typename Req, typename Resp, typename Op>
grpc::ServerUnaryReactor* RawUnary(grpc::CallbackServerContext* ctx, const CallPolicy& policy,
                                   const grpc::ByteBuffer* request, grpc::ByteBuffer* response,
                                   const std::string& full_method, Op op) {
  absl::StatusOr<CallTicket> ticket = Admit(policy, *ctx, full_method);
  if (!ticket.ok()) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(ToGrpcStatus(ticket.status()));
    return reactor;
  }
  auto messages = std::make_shared<ArenaMessages<Req, Resp>>();
  messages->ticket = *std::move(ticket);
  grpc::ByteBuffer bytes(*request);  // shares the slices
  grpc::Status parsed =
      grpc::SerializationTraits<google::protobuf::Message>::Deserialize(&bytes, &messages->req);
  if (!parsed.ok()) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(ToGrpcStatus(NotAValid<Req>("request")));
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
// previous message was applied, which bounds memory and keeps records in order. Messages
// arrive as bytes and are parsed here, so a message that does not parse ends the call with
// INVALID_ARGUMENT (a typed reader would report it as the end of the stream).
class ImportReactor : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  // With a non-OK `ready` the call is refused at once.
  ImportReactor(const GraphOps* ops, CallOptions options, grpc::ByteBuffer* response,
                absl::StatusOr<CallTicket> ticket, const absl::Status& ready,
                const Metrics* metrics)
      : ops_(ops), options_(options), response_(response), metrics_(metrics) {
    if (!ticket.ok()) {
      Finish(ToGrpcStatus(ticket.status()));
      return;
    }
    ticket_ = *std::move(ticket);
    if (!ready.ok()) {
      Finish(ToGrpcStatus(ready));
      return;
    }
    StartRead(&bytes_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // Client half-closed (or the call broke): report the totals.
      bool own_buffer = false;
      grpc::Status s = grpc::SerializationTraits<google::protobuf::Message>::Serialize(
          resp_, response_, &own_buffer);
      Finish(s.ok() ? grpc::Status::OK
                    : ToGrpcStatus(absl::InternalError("could not serialize the reply")));
      return;
    }
    ++messages_;
    request_.Clear();
    if (!grpc::SerializationTraits<google::protobuf::Message>::Deserialize(&bytes_, &request_)
             .ok()) {
      Finish(ToGrpcStatus(absl::Status(
          absl::StatusCode::kInvalidArgument,
          absl::StrCat(NotAValid<v1::ImportRequest>(
                           absl::StrCat("message ", messages_, " of the stream (counting from 1)"))
                           .message(),
                       "; nothing of it was applied; ", Applied()))));
      return;
    }
    if (first_) {
      max_errors_ = request_.options().max_errors();
      first_ = false;
    }
    uint64_t first_index = next_index_;
    next_index_ += request_.records_size();
    uint64_t rejected_before = resp_.records_rejected();
    uint64_t received_before = resp_.records_received();
    ops_->ImportBatch(
        options_, request_, first_index, &resp_,
        [this, rejected_before, received_before](absl::Status status) {
          uint64_t rejected = resp_.records_rejected() - rejected_before;
          uint64_t received = resp_.records_received() - received_before;
          metrics_->import_records(true).Increment(static_cast<double>(received - rejected));
          metrics_->import_records(false).Increment(static_cast<double>(rejected));
          if (!status.ok()) {
            Finish(ToGrpcStatus(status));
            return;
          }
          if (resp_.records_rejected() > max_errors_) {
            const auto& first = resp_.first_errors(0);
            Finish(ToGrpcStatus(absl::InvalidArgumentError(
                absl::StrCat("import stopped: ", resp_.records_rejected(),
                             " records rejected (max_errors=", max_errors_, "); first: record ",
                             first.record_index(), ": ", first.message(), "; ", Applied()))));
            return;
          }
          StartRead(&bytes_);
        });
  }

  void OnDone() override { delete this; }

 private:
  // What the stream applied so far, for error messages (the reply is not sent with them).
  std::string Applied() const {
    return absl::StrCat("applied before it: ", resp_.records_received(), " records received (",
                        resp_.entities_upserted(), " entities and ", resp_.edges_upserted(),
                        " edges upserted, ", resp_.records_rejected(), " rejected)");
  }

  const GraphOps* ops_;
  CallOptions options_;
  grpc::ByteBuffer* response_;
  const Metrics* metrics_;
  CallTicket ticket_;
  grpc::ByteBuffer bytes_;
  v1::ImportRequest request_;
  v1::ImportResponse resp_;
  uint64_t messages_ = 0;
  bool first_ = true;
  uint64_t max_errors_ = 0;
  uint64_t next_index_ = 0;
};

}  // namespace

// A raw unary handler of `Service` calling ops_->Method; `Gate` (a ServingGate*, or
// nullptr for methods that answer while loading) refuses it with UNAVAILABLE when closed.
#define KG_RAW_HANDLER(Service, Method, Response, Gate) \
  KG_RAW_HANDLER_ON(Service, ops_, Method, Response, Gate)
#define KG_RAW_HANDLER_ON(Service, Ops, Method, Response, Gate)                                    \
  grpc::ServerUnaryReactor* Service::Method(grpc::CallbackServerContext* ctx,                      \
                                            const grpc::ByteBuffer* req, grpc::ByteBuffer* resp) { \
    static const std::string kFullMethod =                                                         \
        absl::StrCat("/", Service::Proto::service_full_name(), "/", #Method);                      \
    return RawUnary<v1::Method##Request, Response>(                                                \
        ctx, policy_, req, resp, kFullMethod,                                                      \
        [this](const CallOptions& o, const v1::Method##Request& r, Response* out, Done done) {     \
          const ServingGate* gate = Gate;                                                          \
          absl::Status ready = gate != nullptr ? gate->Check() : absl::OkStatus();                 \
          if (!ready.ok()) return done(ready);                                                     \
          Ops->Method(o, r, out, std::move(done));                                                 \
        });                                                                                        \
  }

KG_RAW_HANDLER(GraphServiceImpl, GetEntities, internal::v1::EncodedGetEntitiesResponse, gate_)
KG_RAW_HANDLER(GraphServiceImpl, GetNeighbors, internal::v1::EncodedGetNeighborsResponse, gate_)
KG_RAW_HANDLER(GraphServiceImpl, UpsertEntities, v1::UpsertEntitiesResponse, gate_)
KG_RAW_HANDLER(GraphServiceImpl, DeleteEntities, v1::DeleteEntitiesResponse, gate_)
KG_RAW_HANDLER(GraphServiceImpl, UpsertEdges, v1::UpsertEdgesResponse, gate_)
KG_RAW_HANDLER(GraphServiceImpl, DeleteEdges, v1::DeleteEdgesResponse, gate_)
KG_RAW_HANDLER(GraphServiceImpl, CountNeighbors, v1::CountNeighborsResponse, gate_)
KG_RAW_HANDLER(GraphServiceImpl, Traverse, v1::TraverseResponse, gate_)
KG_RAW_HANDLER(AdminServiceImpl, GetClusterInfo, v1::GetClusterInfoResponse, nullptr)
KG_RAW_HANDLER(AdminServiceImpl, Checkpoint, v1::CheckpointResponse, nullptr)
KG_RAW_HANDLER(KnowledgeServiceImpl, Categorize, v1::CategorizeResponse, gate_)
KG_RAW_HANDLER(KnowledgeServiceImpl, GetTaxonomy, v1::GetTaxonomyResponse, gate_)
KG_RAW_HANDLER(KnowledgeServiceImpl, RecognizeBrands, v1::RecognizeBrandsResponse, gate_)
KG_RAW_HANDLER(KnowledgeServiceImpl, ExtractAttributes, v1::ExtractAttributesResponse, gate_)
KG_RAW_HANDLER(KnowledgeServiceImpl, MatchSpu, v1::MatchSpuResponse, gate_)
KG_RAW_HANDLER_ON(KnowledgeServiceImpl, insight_, ProfileEntity, v1::ProfileEntityResponse, gate_)
KG_RAW_HANDLER(InsightServiceImpl, TopProducts, v1::TopProductsResponse, gate_)
KG_RAW_HANDLER(InsightServiceImpl, CompareProducts, v1::CompareProductsResponse, gate_)
KG_RAW_HANDLER_ON(AdminServiceImpl, knowledge_, DevelopBrands, v1::DevelopBrandsResponse, gate_)
KG_RAW_HANDLER_ON(AdminServiceImpl, knowledge_, AssignSpus, v1::AssignSpusResponse, gate_)

#undef KG_RAW_HANDLER
#undef KG_RAW_HANDLER_ON

grpc::ServerReadReactor<grpc::ByteBuffer>* GraphServiceImpl::Import(
    grpc::CallbackServerContext* ctx, grpc::ByteBuffer* resp) {
  // An import may run long: its deadline is the client's own (none means unbounded).
  CallOptions o;
  o.deadline = ctx->deadline();
  static const std::string kFullMethod = absl::StrCat("/", Proto::service_full_name(), "/Import");
  return new ImportReactor(ops_, o, resp, Admit(policy_, *ctx, kFullMethod), gate_->Check(),
                           metrics_);
}

namespace {

// Streams TrainModels progress. The training thread outlives a call that is cancelled (it
// ends at once), so what both sides touch lives in a shared State, and the reactor detaches
// from it in OnDone. Progress messages are thinned to one per 1% or new stage.
class TrainReactor : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  TrainReactor(KnowledgeOps* ops, const grpc::ByteBuffer* request,
               absl::StatusOr<CallTicket> ticket, absl::Status ready)
      : state_(std::make_shared<State>()) {
    state_->reactor = this;
    if (!ticket.ok()) {
      Finish(ToGrpcStatus(ticket.status()));
      return;
    }
    ticket_ = *std::move(ticket);
    v1::TrainModelsRequest req;
    grpc::ByteBuffer bytes(*request);
    if (ready.ok() &&
        !grpc::SerializationTraits<google::protobuf::Message>::Deserialize(&bytes, &req).ok()) {
      ready = NotAValid<v1::TrainModelsRequest>("request");
    }
    if (!ready.ok()) {
      Finish(ToGrpcStatus(ready));
      return;
    }
    std::shared_ptr<State> state = state_;
    ops->TrainModels(
        req, [state](const v1::TrainModelsProgress& m) { state->Push(m); },
        [state](absl::Status s) { state->End(s); });
  }

  void OnWriteDone(bool ok) override { state_->Written(ok); }
  // The client went away or the server is stopping: the call ends now; the training goes
  // on (and is cancelled only when the server stops).
  void OnCancel() override { state_->Cancelled(); }
  void OnDone() override {
    state_->Detach();
    delete this;
  }

 private:
  struct State {
    std::mutex mu;
    TrainReactor* reactor = nullptr;  // null once the call is over
    std::deque<grpc::ByteBuffer> queue;
    bool writing = false;
    bool ended = false;
    absl::Status status;
    std::string last_stage;
    double last_fraction = -1;

    void Push(const v1::TrainModelsProgress& m) {
      std::lock_guard<std::mutex> lock(mu);
      if (reactor == nullptr) return;
      if (!m.done() && m.stage() == last_stage && m.fraction() < last_fraction + 0.01) return;
      last_stage = m.stage();
      last_fraction = m.fraction();
      grpc::ByteBuffer buffer;
      bool own = false;
      if (!grpc::SerializationTraits<google::protobuf::Message>::Serialize(m, &buffer, &own).ok()) {
        return;
      }
      queue.push_back(std::move(buffer));
      StartNextLocked();
    }
    void End(absl::Status s) {
      std::lock_guard<std::mutex> lock(mu);
      ended = true;
      status = std::move(s);
      StartNextLocked();
    }
    void Written(bool ok) {
      std::lock_guard<std::mutex> lock(mu);
      writing = false;
      if (!queue.empty()) queue.pop_front();
      if (!ok) queue.clear();  // the client is gone: nothing more to send
      StartNextLocked();
    }
    void Cancelled() {
      std::lock_guard<std::mutex> lock(mu);
      if (reactor == nullptr) return;
      TrainReactor* r = reactor;
      reactor = nullptr;
      queue.clear();
      r->Finish(grpc::Status::CANCELLED);
    }
    void Detach() {
      std::lock_guard<std::mutex> lock(mu);
      reactor = nullptr;
      queue.clear();
    }
    // Requires mu.
    void StartNextLocked() {
      if (reactor == nullptr || writing) return;
      if (!queue.empty()) {
        writing = true;
        reactor->StartWrite(&queue.front());
      } else if (ended) {
        TrainReactor* r = reactor;
        reactor = nullptr;
        r->Finish(ToGrpcStatus(status));
      }
    }
  };
  std::shared_ptr<State> state_;
  CallTicket ticket_;
};

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* AdminServiceImpl::TrainModels(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req) {
  static const std::string kFullMethod =
      absl::StrCat("/", Proto::service_full_name(), "/TrainModels");
  return new TrainReactor(knowledge_, req, Admit(policy_, *ctx, kFullMethod), gate_->Check());
}

}  // namespace kg
