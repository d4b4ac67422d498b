#include "server/partition/partition_service.h"

#include "server/partition/status.h"

namespace kg {
namespace {

grpc::ServerUnaryReactor* FinishWith(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

// Data requests (everything but GetPartitionInfo) are refused while the gate is closed: a
// partition that is loading would answer from incomplete data, and a write accepted then
// could be overwritten by the load.
#define KG_PARTITION_READ(Method)                                                                  \
  grpc::ServerUnaryReactor* PartitionServiceImpl::Method(grpc::CallbackServerContext* ctx,         \
                                                         const internal::v1::Method##Request* req, \
                                                         internal::v1::Method##Response* resp) {   \
    absl::Status ready = gate_->Check();                                                           \
    return FinishWith(ctx, ready.ok() ? host_->Method(*req, resp) : ready);                        \
  }
#define KG_PARTITION_WRITE(Method)                                                                 \
  grpc::ServerUnaryReactor* PartitionServiceImpl::Method(grpc::CallbackServerContext* ctx,         \
                                                         const internal::v1::Method##Request* req, \
                                                         internal::v1::Method##Response* resp) {   \
    absl::Status ready = gate_->Check();                                                           \
    if (!ready.ok()) return FinishWith(ctx, ready);                                                \
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();                                     \
    host_->Method(*req, resp, [reactor](absl::Status s) { reactor->Finish(ToGrpcStatus(s)); });    \
    return reactor;                                                                                \
  }

// Answers while loading too (the counts show the progress), saying whether it serves.
grpc::ServerUnaryReactor* PartitionServiceImpl::GetPartitionInfo(
    grpc::CallbackServerContext* ctx, const internal::v1::GetPartitionInfoRequest* req,
    internal::v1::GetPartitionInfoResponse* resp) {
  absl::Status s = host_->GetPartitionInfo(*req, resp);
  resp->mutable_info()->set_serving(gate_->open());
  return FinishWith(ctx, s);
}

KG_PARTITION_READ(GetEntities)
KG_PARTITION_READ(GetNeighbors)
KG_PARTITION_READ(CountNeighbors)
KG_PARTITION_READ(ListIntents)
KG_PARTITION_READ(Checkpoint)
KG_PARTITION_READ(ScanEntities)
KG_PARTITION_READ(Categorize)
KG_PARTITION_READ(RecognizeBrands)
KG_PARTITION_READ(ExtractAttributes)
KG_PARTITION_READ(MatchSpu)
KG_PARTITION_READ(PairListings)
KG_PARTITION_READ(InstallBundle)
KG_PARTITION_READ(TopProducts)
KG_PARTITION_READ(SegmentCounts)
KG_PARTITION_WRITE(UpsertEntities)
KG_PARTITION_WRITE(DeleteEntities)
KG_PARTITION_WRITE(UpsertEdgeCopies)
KG_PARTITION_WRITE(DeleteEdgeCopies)
KG_PARTITION_WRITE(ClearIntents)

#undef KG_PARTITION_READ
#undef KG_PARTITION_WRITE

}  // namespace kg
