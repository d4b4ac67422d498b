// Page tokens of GetNeighbors: an opaque, URL-safe encoding of the cursor (the last edge
// returned) bound to the query it came from, so a token cannot be replayed on another
// key, edge type, direction or time window. Thread-safe (pure functions).
#ifndef KG_SERVER_FRONTEND_PAGE_TOKEN_H_
#define KG_SERVER_FRONTEND_PAGE_TOKEN_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "kg/internal/v1/partition.pb.h"

namespace kg {

// `query` identifies the page sequence (key, type, direction, window); `next` the cursor.
std::string EncodePageToken(const internal::v1::NeighborQuery& query,
                            const internal::v1::Cursor& next);

// INVALID_ARGUMENT naming "page_token" when the token is malformed or belongs to another
// query; else sets *cursor.
absl::Status DecodePageToken(const std::string& token, const internal::v1::NeighborQuery& query,
                             internal::v1::Cursor* cursor);

}  // namespace kg

#endif  // KG_SERVER_FRONTEND_PAGE_TOKEN_H_
