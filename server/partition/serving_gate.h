// ServingGate: whether a server has finished loading (and is not draining), so that data
// requests are answered only from complete data. Closed, requests get UNAVAILABLE while
// health reports NOT_SERVING. Thread-safe.
#ifndef KG_SERVER_PARTITION_SERVING_GATE_H_
#define KG_SERVER_PARTITION_SERVING_GATE_H_

#include <atomic>

#include "absl/status/status.h"

namespace kg {

class ServingGate {
 public:
  void Open() { open_.store(true, std::memory_order_release); }
  void Close() { open_.store(false, std::memory_order_release); }
  bool open() const { return open_.load(std::memory_order_acquire); }
  // OK when open; UNAVAILABLE (retryable) otherwise.
  absl::Status Check() const {
    return open() ? absl::OkStatus()
                  : absl::UnavailableError(
                        "not serving: the server is loading its data or shutting down "
                        "(health reports NOT_SERVING); retry");
  }

 private:
  std::atomic<bool> open_{false};
};

}  // namespace kg

#endif  // KG_SERVER_PARTITION_SERVING_GATE_H_
