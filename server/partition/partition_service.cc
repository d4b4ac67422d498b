#include "server/partition/partition_service.h"

#include "server/partition/status.h"

namespace kg {
namespace {

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

#define KG_PARTITION_HANDLER(Method)                                                               \
  grpc::ServerUnaryReactor* PartitionServiceImpl::Method(grpc::CallbackServerContext* ctx,         \
                                                         const internal::v1::Method##Request* req, \
                                                         internal::v1::Method##Response* resp) {   \
    return Done(ctx, host_->Method(*req, resp));                                                   \
  }

KG_PARTITION_HANDLER(GetEntities)
KG_PARTITION_HANDLER(UpsertEntities)
KG_PARTITION_HANDLER(DeleteEntities)
KG_PARTITION_HANDLER(UpsertEdgeCopies)
KG_PARTITION_HANDLER(DeleteEdgeCopies)
KG_PARTITION_HANDLER(GetNeighbors)
KG_PARTITION_HANDLER(CountNeighbors)
KG_PARTITION_HANDLER(GetPartitionInfo)

#undef KG_PARTITION_HANDLER

}  // namespace kg
