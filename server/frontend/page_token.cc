#include "server/frontend/page_token.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/graph/key.h"

namespace kg {
namespace {

uint64_t QueryFingerprint(const internal::v1::NeighborQuery& q) {
  EntityKey key{static_cast<EntityType>(q.key().type()), q.key().id()};
  uint64_t h = StableKeyHash(key);
  for (int64_t v : {static_cast<int64_t>(q.edge_type()), static_cast<int64_t>(q.direction()),
                    q.min_time_ms(), q.max_time_ms()}) {
    h = StableKeyHash(EntityKey{EntityType::kUnspecified, h ^ static_cast<uint64_t>(v)});
  }
  return h;
}

}  // namespace

std::string EncodePageToken(const internal::v1::NeighborQuery& query,
                            const internal::v1::Cursor& next) {
  return absl::WebSafeBase64Escape(
      absl::StrCat("v1:", next.time_ms(), ":", next.id(), ":", QueryFingerprint(query)));
}

absl::Status DecodePageToken(const std::string& token, const internal::v1::NeighborQuery& query,
                             internal::v1::Cursor* cursor) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  std::vector<std::string> parts = absl::StrSplit(raw, ':');
  int64_t time_ms = 0;
  uint64_t id = 0, fingerprint = 0;
  if (parts.size() != 4 || parts[0] != "v1" || !absl::SimpleAtoi(parts[1], &time_ms) ||
      !absl::SimpleAtoi(parts[2], &id) || !absl::SimpleAtoi(parts[3], &fingerprint)) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  if (fingerprint != QueryFingerprint(query)) {
    return absl::InvalidArgumentError(
        "page_token: belongs to a different query (key, edge_type, direction or time window)");
  }
  cursor->set_time_ms(time_ms);
  cursor->set_id(id);
  return absl::OkStatus();
}

}  // namespace kg
