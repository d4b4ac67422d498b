#include "server/partition/status.h"

#include <string>

namespace kg {

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
