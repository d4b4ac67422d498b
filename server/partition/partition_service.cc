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

#define KG_PARTITION_READ(Method)                                                                  \
  grpc::ServerUnaryReactor* PartitionServiceImpl::Method(grpc::CallbackServerContext* ctx,         \
                                                         const internal::v1::Method##Request* req, \
                                                         internal::v1::Method##Response* resp) {   \
    return FinishWith(ctx, host_->Method(*req, resp));                                             \
  }
#define KG_PARTITION_WRITE(Method)                                                                 \
  grpc::ServerUnaryReactor* PartitionServiceImpl::Method(grpc::CallbackServerContext* ctx,         \
                                                         const internal::v1::Method##Request* req, \
                                                         internal::v1::Method##Response* resp) {   \
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();                                     \
    host_->Method(*req, resp, [reactor](absl::Status s) { reactor->Finish(ToGrpcStatus(s)); });    \
    return reactor;                                                                                \
  }

KG_PARTITION_READ(GetEntities)
KG_PARTITION_READ(GetNeighbors)
KG_PARTITION_READ(CountNeighbors)
KG_PARTITION_READ(GetPartitionInfo)
KG_PARTITION_READ(ListIntents)
KG_PARTITION_READ(Checkpoint)
KG_PARTITION_WRITE(UpsertEntities)
KG_PARTITION_WRITE(DeleteEntities)
KG_PARTITION_WRITE(UpsertEdgeCopies)
KG_PARTITION_WRITE(DeleteEdgeCopies)
KG_PARTITION_WRITE(ClearIntents)

#undef KG_PARTITION_READ
#undef KG_PARTITION_WRITE

}  // namespace kg
