// The conversions between absl::Status (used inside every layer) and grpc::Status (on the
// wire), shared by the server and the clients so that there is exactly one. Code and
// message are kept as they are. Thread-safe (pure functions).
#ifndef KG_PROTO_GRPC_STATUS_H_
#define KG_PROTO_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace kg {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// The canonical upper-case name of a status code ("OK", "INVALID_ARGUMENT"), or "UNKNOWN"
// for a number outside 0..16.
const char* StatusCodeName(int code);

}  // namespace kg

#endif  // KG_PROTO_GRPC_STATUS_H_
