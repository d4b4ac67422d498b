#include "server/frontend/page_token.h"

#include "gtest/gtest.h"

namespace kg {
namespace {

internal::v1::NeighborQuery Query(uint64_t id, int64_t min_time) {
  internal::v1::NeighborQuery q;
  q.mutable_key()->set_type(v1::BUYER);
  q.mutable_key()->set_id(id);
  q.set_edge_type(v1::PURCHASED);
  q.set_min_time_ms(min_time);
  return q;
}

TEST(PageTokenTest, RoundTrips) {
  internal::v1::Cursor c;
  c.set_time_ms(1700000000123);
  c.set_id(987654321);
  std::string token = EncodePageToken(Query(1, 0), c);
  internal::v1::Cursor back;
  ASSERT_TRUE(DecodePageToken(token, Query(1, 0), &back).ok());
  EXPECT_EQ(back.time_ms(), c.time_ms());
  EXPECT_EQ(back.id(), c.id());
}

TEST(PageTokenTest, RejectsOtherQueriesAndGarbage) {
  internal::v1::Cursor c;
  c.set_time_ms(5);
  c.set_id(6);
  std::string token = EncodePageToken(Query(1, 0), c);
  internal::v1::Cursor back;
  absl::Status s = DecodePageToken(token, Query(2, 0), &back);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("page_token"), absl::string_view::npos);
  EXPECT_FALSE(DecodePageToken(token, Query(1, 7), &back).ok());
  EXPECT_FALSE(DecodePageToken("not a token!", Query(1, 0), &back).ok());
  EXPECT_FALSE(DecodePageToken("djE6eDp5Onk", Query(1, 0), &back).ok());
}

}  // namespace
}  // namespace kg
