#include "server/partition/status.h"

#include <string>

namespace kg {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

void SetItemStatus(const absl::Status& status, v1::ItemStatus* item) {
  item->set_code(static_cast<int32_t>(status.code()));
  if (status.ok()) {
    item->clear_message();
  } else {
    item->set_message(std::string(status.message()));
  }
}

absl::Status FromItemStatus(const v1::ItemStatus& item) {
  return absl::Status(static_cast<absl::StatusCode>(item.code()), item.message());
}

}  // namespace kg
