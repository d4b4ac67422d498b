// GetNeighbors page tokens (server/frontend/page_token.h): a query built from the first
// bytes, the rest decoded as a token for it. A token that decodes re-encodes to one that
// decodes to the same cursor; a token made for the query decodes to its cursor, and never
// for a query differing in the key.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "server/frontend/page_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  kg::internal::v1::NeighborQuery query;
  query.mutable_key()->set_type(static_cast<kg::v1::EntityType>(in.ConsumeIntegral<uint8_t>()));
  query.mutable_key()->set_id(in.ConsumeIntegral<uint64_t>());
  query.set_edge_type(static_cast<kg::v1::EdgeType>(in.ConsumeIntegral<uint8_t>()));
  query.set_direction(static_cast<kg::v1::Direction>(in.ConsumeIntegral<uint8_t>() % 3));
  query.set_min_time_ms(in.ConsumeIntegral<int64_t>());
  query.set_max_time_ms(in.ConsumeIntegral<int64_t>());
  kg::internal::v1::Cursor made;
  made.set_time_ms(in.ConsumeIntegral<int64_t>());
  made.set_id(in.ConsumeIntegral<uint64_t>());
  const std::string token = in.ConsumeRemainingBytesAsString();

  kg::internal::v1::Cursor cursor;
  if (kg::DecodePageToken(token, query, &cursor).ok()) {
    kg::internal::v1::Cursor again;
    KG_FUZZ_CHECK(kg::DecodePageToken(kg::EncodePageToken(query, cursor), query, &again).ok(),
                  "a re-encoded token does not decode");
    KG_FUZZ_CHECK(again.time_ms() == cursor.time_ms() && again.id() == cursor.id(),
                  "a re-encoded token decodes to another cursor");
  }

  const std::string fresh = kg::EncodePageToken(query, made);
  KG_FUZZ_CHECK(kg::DecodePageToken(fresh, query, &cursor).ok(), "a fresh token does not decode");
  KG_FUZZ_CHECK(cursor.time_ms() == made.time_ms() && cursor.id() == made.id(),
                "a fresh token decodes to another cursor");
  kg::internal::v1::NeighborQuery other = query;
  other.mutable_key()->set_id(query.key().id() ^ 1);
  KG_FUZZ_CHECK(!kg::DecodePageToken(fresh, other, &cursor).ok(),
                "a token is accepted for another key");
  return 0;
}
