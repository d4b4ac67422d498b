#include "server/frontend/partition_client.h"

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "server/partition/status.h"

namespace kg {
namespace {

class LocalPartitionClient : public PartitionClient {
 public:
  LocalPartitionClient(PartitionHost* host, const ServingGate* gate) : host_(host), gate_(gate) {}
  std::string address() const override { return "in-process"; }

#define KG_LOCAL_READ(M)                                                  \
  void M(const CallOptions& options, const internal::v1::M##Request* req, \
         internal::v1::M##Response* resp, Done done) override {           \
    done(host_->M(*req, resp));                                           \
  }
#define KG_LOCAL_WRITE(M)                                                 \
  void M(const CallOptions& options, const internal::v1::M##Request* req, \
         internal::v1::M##Response* resp, Done done) override {           \
    host_->M(*req, resp, std::move(done));                                \
  }
  KG_LOCAL_READ(GetEntities)
  KG_LOCAL_READ(GetNeighbors)
  KG_LOCAL_READ(CountNeighbors)
  KG_LOCAL_READ(ListIntents)
  KG_LOCAL_READ(Checkpoint)
  KG_LOCAL_READ(ScanEntities)
  KG_LOCAL_READ(Categorize)
  KG_LOCAL_READ(RecognizeBrands)
  KG_LOCAL_READ(ExtractAttributes)
  KG_LOCAL_READ(MatchSpu)
  KG_LOCAL_READ(PairListings)
  KG_LOCAL_READ(InstallBundle)
  KG_LOCAL_READ(TopProducts)
  KG_LOCAL_READ(SegmentCounts)
  KG_PARTITION_WRITES(KG_LOCAL_WRITE)
  void GetPartitionInfo(const CallOptions& options,
                        const internal::v1::GetPartitionInfoRequest* req,
                        internal::v1::GetPartitionInfoResponse* resp, Done done) override;
#undef KG_LOCAL_READ
#undef KG_LOCAL_WRITE

 private:
  PartitionHost* host_;
  const ServingGate* gate_;
};

// The in-process partitions serve when their server does (data requests are gated by the
// front end's services).
void LocalPartitionClient::GetPartitionInfo(const CallOptions& options,
                                            const internal::v1::GetPartitionInfoRequest* req,
                                            internal::v1::GetPartitionInfoResponse* resp,
                                            Done done) {
  absl::Status s = host_->GetPartitionInfo(*req, resp);
  resp->mutable_info()->set_serving(gate_->open());
  done(s);
}

class RemotePartitionClient : public PartitionClient {
 public:
  RemotePartitionClient(uint32_t partition, std::string address,
                        std::shared_ptr<grpc::Channel> channel)
      : partition_(partition),
        address_(std::move(address)),
        stub_(internal::v1::PartitionService::NewStub(std::move(channel))) {}
  std::string address() const override { return address_; }

#define KG_REMOTE_METHOD(M)                                                                      \
  void M(const CallOptions& options, const internal::v1::M##Request* req,                        \
         internal::v1::M##Response* resp, Done done) override {                                  \
    auto* ctx = new grpc::ClientContext();                                                       \
    ctx->set_deadline(options.deadline);                                                         \
    stub_->async()->M(ctx, req, resp, [this, ctx, done = std::move(done)](grpc::Status status) { \
      delete ctx;                                                                                \
      done(Annotate(status));                                                                    \
    });                                                                                          \
  }
  KG_PARTITION_METHODS(KG_REMOTE_METHOD)
#undef KG_REMOTE_METHOD

 private:
  absl::Status Annotate(const grpc::Status& status) const {
    if (status.ok()) return absl::OkStatus();
    absl::Status s = FromGrpcStatus(status);
    return absl::Status(s.code(),
                        absl::StrCat("partition ", partition_, " (", address_, "): ", s.message()));
  }

  uint32_t partition_;
  std::string address_;
  std::unique_ptr<internal::v1::PartitionService::Stub> stub_;
};

class InstrumentedPartitionClient : public PartitionClient {
 public:
  InstrumentedPartitionClient(uint32_t partition, std::unique_ptr<PartitionClient> inner,
                              Metrics* metrics)
      : inner_(std::move(inner)) {
    int i = 0;
#define KG_INIT_METRICS(M) \
  calls_[i++] =            \
      metrics->PartitionCall(internal::v1::PartitionService::service_full_name(), #M, partition);
    KG_PARTITION_METHODS(KG_INIT_METRICS)
#undef KG_INIT_METRICS
  }
  std::string address() const override { return inner_->address(); }

#define KG_INSTRUMENTED_METHOD(M)                                                             \
  void M(const CallOptions& options, const internal::v1::M##Request* req,                     \
         internal::v1::M##Response* resp, Done done) override {                               \
    Run(                                                                                      \
        k##M, [&](Done d) { inner_->M(options, req, resp, std::move(d)); }, std::move(done)); \
  }
  KG_PARTITION_METHODS(KG_INSTRUMENTED_METHOD)
#undef KG_INSTRUMENTED_METHOD

 private:
  enum Index {
#define KG_INDEX(M) k##M,
    KG_PARTITION_METHODS(KG_INDEX)
#undef KG_INDEX
        kCount
  };

  template <typename Start>
  void Run(Index index, Start start, Done done) {
    CallMetrics* m = calls_[index];
    m->Started();
    m->MessageSent();
    auto begin = std::chrono::steady_clock::now();
    start([m, begin, done = std::move(done)](absl::Status status) {
      if (status.ok()) m->MessageReceived();
      std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - begin;
      m->Handled(static_cast<int>(status.code()), elapsed.count());
      done(std::move(status));
    });
  }

  std::unique_ptr<PartitionClient> inner_;
  CallMetrics* calls_[kCount];
};

}  // namespace

std::unique_ptr<PartitionClient> NewLocalPartitionClient(PartitionHost* host,
                                                         const ServingGate* gate) {
  return std::make_unique<LocalPartitionClient>(host, gate);
}

std::unique_ptr<PartitionClient> NewRemotePartitionClient(uint32_t partition, std::string address,
                                                          std::shared_ptr<grpc::Channel> channel) {
  return std::make_unique<RemotePartitionClient>(partition, std::move(address), std::move(channel));
}

std::unique_ptr<PartitionClient> NewInstrumentedPartitionClient(
    uint32_t partition, std::unique_ptr<PartitionClient> inner, Metrics* metrics) {
  return std::make_unique<InstrumentedPartitionClient>(partition, std::move(inner), metrics);
}

}  // namespace kg
