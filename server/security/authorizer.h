// One admission decision per public call: who is calling (bearer token -> role), may they
// call this method (access.h), and is there room for one more call (the bounds on calls in
// flight). Thread-safe.
#ifndef KG_SERVER_SECURITY_AUTHORIZER_H_
#define KG_SERVER_SECURITY_AUTHORIZER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/security/tokens.h"

namespace kg {

struct CallLimits {
  // Calls in flight on the public services; one more gets RESOURCE_EXHAUSTED.
  int64_t max_calls = 1000;
  // Of those, heavy calls (access.h: Traverse, Import, TrainModels, the aggregates).
  int64_t max_heavy_calls = 16;
};

// Holds a call's places among the calls in flight until destroyed. Movable.
class CallTicket {
 public:
  CallTicket() = default;
  CallTicket(CallTicket&& other) noexcept { *this = std::move(other); }
  CallTicket& operator=(CallTicket&& other) noexcept;
  ~CallTicket() { Release(); }
  void Release();

 private:
  friend class Authorizer;
  std::atomic<int64_t>* all_ = nullptr;
  std::atomic<int64_t>* heavy_ = nullptr;
};

class Authorizer {
 public:
  // `tokens` null: no authentication (every caller may call every method). Outlives this.
  Authorizer(const TokenStore* tokens, CallLimits limits) : tokens_(tokens), limits_(limits) {}

  // `authorization`: the values of the call's `authorization` metadata; `peer`: gives
  // the client's address (gRPC's ctx.peer()) for the log. UNAUTHENTICATED without one
  // valid `Bearer <token>`, PERMISSION_DENIED when its role is below the method's,
  // RESOURCE_EXHAUSTED when the bounds on calls in flight are reached, NOT_FOUND for a
  // method without a rule. Each refusal is logged once per client and reason, never with
  // the token.
  absl::StatusOr<CallTicket> Admit(absl::string_view full_method,
                                   const std::vector<absl::string_view>& authorization,
                                   absl::FunctionRef<std::string()> peer) const;

  bool authenticates() const { return tokens_ != nullptr; }
  int64_t calls_in_flight() const { return all_.load(std::memory_order_relaxed); }

 private:
  absl::Status Refuse(absl::Status status, absl::FunctionRef<std::string()> peer) const;

  const TokenStore* tokens_;
  const CallLimits limits_;
  mutable std::atomic<int64_t> all_{0};
  mutable std::atomic<int64_t> heavy_{0};
  mutable absl::Mutex log_mu_;
  mutable absl::flat_hash_set<std::string> logged_ ABSL_GUARDED_BY(log_mu_);
};

}  // namespace kg

#endif  // KG_SERVER_SECURITY_AUTHORIZER_H_
