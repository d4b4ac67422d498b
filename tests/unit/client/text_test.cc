#include "client/cpp/text.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "client/cpp/client.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"
#include "kg/v1/graph.pb.h"

namespace kg {
namespace {

TEST(TextTest, ParsesEntityKeysCaseInsensitively) {
  absl::StatusOr<v1::EntityKey> key = ParseEntityKey("PRODUCT:123");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->type(), v1::PRODUCT);
  EXPECT_EQ(key->id(), 123u);
  key = ParseEntityKey("buyer:18446744073709551615");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->type(), v1::BUYER);
  EXPECT_EQ(key->id(), 18446744073709551615ULL);
  EXPECT_EQ(ParseEntityKey("Content:7")->type(), v1::CONTENT);
}

TEST(TextTest, RejectsBadEntityKeysNamingTheBadPart) {
  struct Case {
    const char* text;
    const char* names;
  } cases[] = {
      {"PRODUCT", "TYPE:ID"},
      {"", "TYPE:ID"},
      {"PRODUCTS:1", "\"PRODUCTS\""},
      {"ENTITY_TYPE_UNSPECIFIED:1", "\"ENTITY_TYPE_UNSPECIFIED\""},
      {":1", "entity type \"\""},
      {"PRODUCT:", "id \"\""},
      {"PRODUCT:abc", "id \"abc\""},
      {"PRODUCT:-1", "id \"-1\""},
      {"PRODUCT:+1", "id \"+1\""},
      {"PRODUCT:0", "id \"0\""},
      {"PRODUCT:1:2", "id \"1:2\""},
      {"PRODUCT: 1", "id \" 1\""},
      {"PRODUCT:18446744073709551616", "id \"18446744073709551616\""},
  };
  for (const Case& c : cases) {
    absl::StatusOr<v1::EntityKey> key = ParseEntityKey(c.text);
    ASSERT_FALSE(key.ok()) << c.text;
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_TRUE(absl::StrContains(key.status().message(), c.names))
        << c.text << " -> " << key.status().message();
  }
}

TEST(TextTest, FormatsKeysAsTheParserReadsThem) {
  v1::EntityKey key;
  key.set_type(v1::MERCHANT);
  key.set_id(42);
  EXPECT_EQ(FormatEntityKey(key), "MERCHANT:42");
  absl::StatusOr<v1::EntityKey> parsed = ParseEntityKey(FormatEntityKey(key));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->type(), key.type());
  EXPECT_EQ(parsed->id(), key.id());
}

TEST(TextTest, ParsesEdgeTypesAndDirections) {
  EXPECT_EQ(*ParseEdgeType("purchased"), v1::PURCHASED);
  EXPECT_EQ(*ParseEdgeType("ADDED_TO_CART"), v1::ADDED_TO_CART);
  EXPECT_EQ(*ParseEdgeType("added-to-cart"), v1::ADDED_TO_CART);
  EXPECT_EQ(*ParseEdgeType("Subcategory_Of"), v1::SUBCATEGORY_OF);
  for (const char* bad : {"", "bought", "EDGE_TYPE_UNSPECIFIED", "PURCHASED "}) {
    absl::StatusOr<v1::EdgeType> type = ParseEdgeType(bad);
    ASSERT_FALSE(type.ok()) << bad;
    EXPECT_EQ(type.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(type.status().message(), "PURCHASED"))
        << "lists the valid names: " << type.status().message();
  }
  EXPECT_EQ(*ParseDirection("out"), v1::OUT);
  EXPECT_EQ(*ParseDirection("IN"), v1::IN);
  EXPECT_FALSE(ParseDirection("both").ok());
}

TEST(TextTest, ToJsonLineIsCompactOneLineAndSortsMaps) {
  v1::Entity entity;
  entity.mutable_key()->set_type(v1::PRODUCT);
  entity.mutable_key()->set_id(5);
  entity.set_name("Nimbus \"Trail\" Runner\n2");
  for (const char* key : {"zeta", "alpha", "mid", "beta", "omega", "gamma"}) {
    (*entity.mutable_attributes())[key] = "v";
  }
  (*entity.mutable_metrics())["price"] = 9.5;
  const std::string json = ToJsonLine(entity);
  EXPECT_EQ(json,
            "{\"key\":{\"type\":\"PRODUCT\",\"id\":\"5\"},\"name\":\"Nimbus \\\"Trail\\\" "
            "Runner\\n2\",\"attributes\":{\"alpha\":\"v\",\"beta\":\"v\",\"gamma\":\"v\","
            "\"mid\":\"v\",\"omega\":\"v\",\"zeta\":\"v\"},\"metrics\":{\"price\":9.5}}");
  v1::ItemStatus status;
  EXPECT_EQ(ToJsonLine(status), "{}");
  EXPECT_EQ(ToJsonLine(status, /*print_defaults=*/true), "{\"code\":0,\"message\":\"\"}");
}

TEST(TextTest, FromGrpcStatusKeepsCodeAndMessage) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  absl::Status status =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "keys[3].id: is 0"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "keys[3].id: is 0");
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")).code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kg
