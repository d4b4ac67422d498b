#include "server/partition/partition_host.h"

#include "gtest/gtest.h"

namespace kg {
namespace {

TEST(PartitionHostTest, RejectsForeignPartitionsAndCounts) {
  auto host = *PartitionHost::Create(4, {1, 3});
  internal::v1::GetEntitiesRequest req;
  internal::v1::GetEntitiesResponse resp;
  req.mutable_target()->set_partition(0);
  req.mutable_target()->set_partition_count(4);
  EXPECT_EQ(host->GetEntities(req, &resp).code(), absl::StatusCode::kFailedPrecondition);
  req.mutable_target()->set_partition(1);
  req.mutable_target()->set_partition_count(8);
  absl::Status s = host->GetEntities(req, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("partition count"), absl::string_view::npos);
  EXPECT_FALSE(PartitionHost::Create(4, {4}).ok());
  EXPECT_FALSE(PartitionHost::Create(4, {1, 1}).ok());
}

TEST(PartitionHostTest, RejectsMisroutedKeys) {
  auto host = *PartitionHost::Create(2, {0, 1});
  internal::v1::UpsertEntitiesRequest req;
  v1::Entity* e = req.add_entities();
  e->mutable_key()->set_type(v1::PRODUCT);
  e->mutable_key()->set_id(1);
  uint32_t right = PartitionOf({EntityType::kProduct, 1}, 2);
  req.mutable_target()->set_partition(1 - right);
  req.mutable_target()->set_partition_count(2);
  internal::v1::UpsertEntitiesResponse resp;
  ASSERT_TRUE(WaitFor([&](Done d) { host->UpsertEntities(req, &resp, std::move(d)); }).ok());
  EXPECT_EQ(resp.results(0).code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  req.mutable_target()->set_partition(right);
  resp.Clear();
  ASSERT_TRUE(WaitFor([&](Done d) { host->UpsertEntities(req, &resp, std::move(d)); }).ok());
  EXPECT_EQ(resp.results(0).code(), 0);
}

}  // namespace
}  // namespace kg
