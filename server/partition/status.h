// Status conversions at the gRPC boundary: the one function that turns an absl::Status
// into a grpc::Status (and back, for partition-client replies), and per-item statuses.
// Thread-safe (pure functions).
#ifndef KG_SERVER_PARTITION_STATUS_H_
#define KG_SERVER_PARTITION_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "kg/v1/types.pb.h"

namespace kg {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// Writes `status` into a per-item status of a batch reply.
void SetItemStatus(const absl::Status& status, v1::ItemStatus* item);
absl::Status FromItemStatus(const v1::ItemStatus& item);

}  // namespace kg

#endif  // KG_SERVER_PARTITION_STATUS_H_
