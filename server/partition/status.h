// Per-item statuses of batch replies (the absl <-> grpc conversion of whole calls is
// proto/grpc_status.h).
// Thread-safe (pure functions).
#ifndef KG_SERVER_PARTITION_STATUS_H_
#define KG_SERVER_PARTITION_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "kg/v1/types.pb.h"
#include "proto/grpc_status.h"  // ToGrpcStatus, FromGrpcStatus

namespace kg {

// Writes `status` into a per-item status of a batch reply.
void SetItemStatus(const absl::Status& status, v1::ItemStatus* item);
absl::Status FromItemStatus(const v1::ItemStatus& item);

}  // namespace kg

#endif  // KG_SERVER_PARTITION_STATUS_H_
