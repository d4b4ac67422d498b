#include "server/security/authorizer.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/security/access.h"
#include "spdlog/spdlog.h"

namespace kg {
namespace {

// Distinct (client, reason) pairs remembered for the once-only log; beyond it refusals
// are no longer logged one by one (the metrics still count them by code).
constexpr size_t kMaxLoggedReasons = 4096;

// RFC 6750's b64token: the characters a bearer token may hold.
bool IsTokenChar(char c) {
  return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' ||
         c == '/' || c == '=';
}

// The client's host without the port, so reconnects count as the same client.
absl::string_view ClientOf(absl::string_view peer) {
  size_t colon = peer.rfind(':');
  if (colon != absl::string_view::npos && colon > 0 && peer.find(':') != colon) {
    return peer.substr(0, colon);  // "ipv4:1.2.3.4:5678" -> "ipv4:1.2.3.4"; ipv6 likewise
  }
  return peer;
}

bool Take(std::atomic<int64_t>* counter, int64_t max) {
  if (counter->fetch_add(1, std::memory_order_acq_rel) < max) return true;
  counter->fetch_sub(1, std::memory_order_acq_rel);
  return false;
}

}  // namespace

CallTicket& CallTicket::operator=(CallTicket&& other) noexcept {
  if (this != &other) {
    Release();
    all_ = other.all_;
    heavy_ = other.heavy_;
    other.all_ = nullptr;
    other.heavy_ = nullptr;
  }
  return *this;
}

void CallTicket::Release() {
  if (all_ != nullptr) all_->fetch_sub(1, std::memory_order_acq_rel);
  if (heavy_ != nullptr) heavy_->fetch_sub(1, std::memory_order_acq_rel);
  all_ = nullptr;
  heavy_ = nullptr;
}

absl::Status Authorizer::Refuse(absl::Status status, absl::FunctionRef<std::string()> peer) const {
  std::string client(ClientOf(peer()));
  std::string key = absl::StrCat(client, " ", status.message());
  bool log = false;
  bool full = false;
  {
    absl::MutexLock lock(&log_mu_);
    if (logged_.size() < kMaxLoggedReasons) {
      log = logged_.insert(key).second;
      full = log && logged_.size() == kMaxLoggedReasons;
    }
  }
  if (log) {
    spdlog::warn("refused a call from {} ({}): {}", client, absl::StatusCodeToString(status.code()),
                 std::string(status.message()));
  }
  if (full) spdlog::warn("further refusals are counted in the metrics but not logged");
  return status;
}

absl::StatusOr<CallTicket> Authorizer::Admit(absl::string_view full_method,
                                             const std::vector<absl::string_view>& authorization,
                                             absl::FunctionRef<std::string()> peer) const {
  absl::StatusOr<AccessRule> rule = RuleFor(full_method);
  if (!rule.ok()) return rule.status();
  if (tokens_ != nullptr) {
    if (authorization.empty()) {
      return Refuse(absl::UnauthenticatedError(
                        "no `authorization: Bearer <token>` metadata (this server requires "
                        "a token)"),
                    peer);
    }
    if (authorization.size() > 1) {
      return Refuse(absl::UnauthenticatedError("more than one authorization metadata entry"), peer);
    }
    absl::string_view value = authorization[0];
    if (value.size() < 7 || !absl::EqualsIgnoreCase(value.substr(0, 7), "bearer ")) {
      return Refuse(absl::UnauthenticatedError("authorization metadata: expected `Bearer <token>`"),
                    peer);
    }
    absl::string_view token = absl::StripLeadingAsciiWhitespace(value.substr(7));
    if (token.empty() || token.size() > 4096 ||
        !std::all_of(token.begin(), token.end(), IsTokenChar)) {
      return Refuse(absl::UnauthenticatedError(
                        "authorization metadata: the bearer token is empty, too long or holds "
                        "characters a token may not"),
                    peer);
    }
    std::optional<TokenGrant> grant = tokens_->Lookup(token);
    if (!grant.has_value()) {
      return Refuse(absl::UnauthenticatedError("unknown bearer token"), peer);
    }
    if (grant->role < rule->role) {
      return Refuse(absl::PermissionDeniedError(absl::StrCat(
                        full_method, " needs the ", RoleName(rule->role), " role; the token of ",
                        grant->name, " has ", RoleName(grant->role))),
                    peer);
    }
  }
  CallTicket ticket;
  if (!Take(&all_, limits_.max_calls)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("server busy: ", limits_.max_calls,
                     " calls in flight (--max_concurrent_calls); retry with backoff"));
  }
  ticket.all_ = &all_;
  if (rule->heavy) {
    if (!Take(&heavy_, limits_.max_heavy_calls)) {
      return absl::ResourceExhaustedError(
          absl::StrCat("server busy: ", limits_.max_heavy_calls, " heavy calls (", full_method,
                       " among them) in flight (--max_heavy_calls); retry with backoff"));
    }
    ticket.heavy_ = &heavy_;
  }
  return ticket;
}

}  // namespace kg
