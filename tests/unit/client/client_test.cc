#include "client/cpp/client.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/client/fake_server.h"

namespace kg {
namespace {

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto client = Client::Connect(server_.address(), ClientOptions());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
  }

  FakeServer server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientTest, ConnectRejectsAnEmptyAddress) {
  EXPECT_EQ(Client::Connect("", ClientOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, UnaryCallsReturnTheResponse) {
  v1::GetEntitiesRequest request;
  request.add_keys()->set_type(v1::PRODUCT);
  request.mutable_keys(0)->set_id(1);
  request.add_keys()->set_type(v1::PRODUCT);
  request.mutable_keys(1)->set_id(2);
  auto response = client_->GetEntities(request);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->results_size(), 2);
  EXPECT_TRUE(response->results(0).found());
  EXPECT_EQ(response->results(0).entity().name(), "entity 1");
  EXPECT_FALSE(response->results(1).found());

  auto info = client_->GetClusterInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->role(), "all");
}

TEST_F(ClientTest, ServerErrorsKeepTheirCodeAndMessage) {
  v1::GetNeighborsRequest request;  // no edge type
  auto response = client_->GetNeighbors(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(response.status().message(), "edge_type: required");
}

TEST_F(ClientTest, UnreachableServerIsUnavailable) {
  ClientOptions options;
  options.deadline_ms = 2000;
  auto client = Client::Connect("127.0.0.1:1", options);
  ASSERT_TRUE(client.ok());
  auto response = (*client)->GetClusterInfo();
  ASSERT_FALSE(response.ok());
  EXPECT_TRUE(response.status().code() == absl::StatusCode::kUnavailable ||
              response.status().code() == absl::StatusCode::kDeadlineExceeded)
      << response.status();
}

TEST_F(ClientTest, HealthCheckReportsServing) {
  auto status = client_->CheckHealth();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, ServingStatus::kServing);
  server_.server()->GetHealthCheckService()->SetServingStatus("kg.v1.GraphService", false);
  status = client_->CheckHealth("kg.v1.GraphService");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, ServingStatus::kNotServing);
  EXPECT_STREQ(ServingStatusName(*status), "NOT_SERVING");
  status = client_->CheckHealth("no.such.Service");
  EXPECT_EQ(status.status().code(), absl::StatusCode::kNotFound);
}

std::vector<v1::ImportRecord> Records(int count, double weight) {
  std::vector<v1::ImportRecord> records(count);
  for (int i = 0; i < count; ++i) {
    v1::Edge* edge = records[i].mutable_edge();
    edge->mutable_src()->set_type(v1::BUYER);
    edge->mutable_src()->set_id(i + 1);
    edge->set_type(v1::VIEWED);
    edge->mutable_dst()->set_type(v1::PRODUCT);
    edge->mutable_dst()->set_id(1);
    edge->set_weight(weight);
  }
  return records;
}

TEST_F(ClientTest, ImportStreamsBatchesWithOptionsFirst) {
  v1::ImportOptions options;
  options.set_max_errors(7);
  std::unique_ptr<ImportWriter> writer = client_->StartImport(options, 10000);
  ASSERT_TRUE(writer->Write(Records(3, 1)).ok());
  ASSERT_TRUE(writer->Write(Records(2, -1)).ok());
  auto response = writer->Finish();
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->records_received(), 5u);
  EXPECT_EQ(response->edges_upserted(), 3u);
  EXPECT_EQ(response->records_rejected(), 2u);
  EXPECT_EQ(server_.graph().import_messages(), 2);
  EXPECT_EQ(server_.graph().import_max_errors(), 7u);
}

TEST_F(ClientTest, ImportReportsTheServersError) {
  std::unique_ptr<ImportWriter> writer = client_->StartImport(v1::ImportOptions(), 10000);
  absl::Status written = absl::OkStatus();
  // The server stops at the first rejected record; later writes or Finish see its status.
  for (int i = 0; i < 50 && written.ok(); ++i) written = writer->Write(Records(100, -1));
  auto response = writer->Finish();
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(response.status().message(), "too many rejected records");
  if (!written.ok()) {
    EXPECT_EQ(written.code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace kg
