#include "server/frontend/graph_ops.h"

#include <future>

#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/frontend/partition_client.h"

namespace kg {
namespace {

v1::EntityKey K(v1::EntityType t, uint64_t id) {
  v1::EntityKey k;
  k.set_type(t);
  k.set_id(id);
  return k;
}

v1::Edge E(v1::EntityKey src, v1::EdgeType type, v1::EntityKey dst, int64_t t, double w = 1) {
  v1::Edge e;
  *e.mutable_src() = src;
  e.set_type(type);
  *e.mutable_dst() = dst;
  e.set_time_ms(t);
  e.set_weight(w);
  return e;
}

// GraphOps over 4 in-process partitions: the embedded mode without gRPC.
class GraphOpsTest : public ::testing::Test {
 protected:
  GraphOpsTest() : metrics_(std::make_shared<prometheus::Registry>()) {
    host_ = *PartitionHost::Create(4, {0, 1, 2, 3});
    gate_.Open();
    std::vector<std::unique_ptr<PartitionClient>> clients;
    for (uint32_t p = 0; p < 4; ++p) {
      clients.push_back(NewInstrumentedPartitionClient(
          p, NewLocalPartitionClient(host_.get(), &gate_), &metrics_));
    }
    router_ = std::make_unique<Router>(std::move(clients));
    ops_ = std::make_unique<GraphOps>(router_.get(), "all", "test");
  }

  CallOptions Options() {
    return CallOptions{std::chrono::system_clock::now() + std::chrono::seconds(5)};
  }

  // Runs an operation and waits for its status.
  template <typename Req, typename Resp, typename Fn>
  absl::Status Call(Fn fn, const Req& req, Resp* resp) {
    std::promise<absl::Status> p;
    (ops_.get()->*fn)(Options(), req, resp, [&p](absl::Status s) { p.set_value(s); });
    return p.get_future().get();
  }

  // GetEntities and GetNeighbors reply with Encoded* messages: read them as the kg.v1
  // messages a client receives (the same bytes on the wire).
  template <typename Encoded, typename Req, typename Resp, typename Fn>
  absl::Status CallEncoded(Fn fn, const Req& req, Resp* resp) {
    Encoded encoded;
    absl::Status s = Call(fn, req, &encoded);
    EXPECT_TRUE(resp->ParseFromString(encoded.SerializeAsString()));
    return s;
  }
  absl::Status Call(decltype(&GraphOps::GetEntities) fn, const v1::GetEntitiesRequest& req,
                    v1::GetEntitiesResponse* resp) {
    return CallEncoded<internal::v1::EncodedGetEntitiesResponse>(fn, req, resp);
  }
  absl::Status Call(decltype(&GraphOps::GetNeighbors) fn, const v1::GetNeighborsRequest& req,
                    v1::GetNeighborsResponse* resp) {
    return CallEncoded<internal::v1::EncodedGetNeighborsResponse>(fn, req, resp);
  }

  void AddEdges(const std::vector<v1::Edge>& edges) {
    v1::UpsertEdgesRequest req;
    for (const auto& e : edges) *req.add_edges() = e;
    v1::UpsertEdgesResponse resp;
    ASSERT_TRUE(Call(&GraphOps::UpsertEdges, req, &resp).ok());
    for (const auto& r : resp.results()) ASSERT_EQ(r.code(), 0) << r.message();
  }

  Metrics metrics_;
  std::unique_ptr<PartitionHost> host_;
  ServingGate gate_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<GraphOps> ops_;
};

TEST_F(GraphOpsTest, UpsertEdgesStoresBothDirections) {
  AddEdges({E(K(v1::BUYER, 1), v1::PURCHASED, K(v1::PRODUCT, 9), 100)});
  v1::GetNeighborsRequest req;
  *req.add_keys() = K(v1::PRODUCT, 9);
  req.set_edge_type(v1::PURCHASED);
  req.set_direction(v1::IN);
  v1::GetNeighborsResponse resp;
  ASSERT_TRUE(Call(&GraphOps::GetNeighbors, req, &resp).ok());
  ASSERT_EQ(resp.results(0).neighbors_size(), 1);
  EXPECT_EQ(resp.results(0).neighbors(0).key().id(), 1u);
  EXPECT_EQ(resp.results(0).neighbors(0).key().type(), v1::BUYER);
}

TEST_F(GraphOpsTest, PerItemErrorsNameTheField) {
  v1::UpsertEdgesRequest req;
  *req.add_edges() = E(K(v1::BUYER, 1), v1::PURCHASED, K(v1::PRODUCT, 2), 1);
  *req.add_edges() = E(K(v1::PRODUCT, 1), v1::PURCHASED, K(v1::PRODUCT, 2), 1);
  *req.add_edges() = E(K(v1::BUYER, 1), static_cast<v1::EdgeType>(99), K(v1::PRODUCT, 2), 1);
  v1::UpsertEdgesResponse resp;
  ASSERT_TRUE(Call(&GraphOps::UpsertEdges, req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_EQ(resp.results(0).code(), 0);
  EXPECT_EQ(resp.results(1).code(), 3);
  EXPECT_NE(resp.results(1).message().find("edges[1].src.type"), std::string::npos);
  EXPECT_NE(resp.results(2).message().find("edges[2].type"), std::string::npos);
}

TEST_F(GraphOpsTest, RequestBounds) {
  v1::GetEntitiesRequest empty;
  v1::GetEntitiesResponse resp;
  absl::Status s = Call(&GraphOps::GetEntities, empty, &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("keys"), absl::string_view::npos);
  v1::GetEntitiesRequest big;
  for (int i = 0; i < 1001; ++i) *big.add_keys() = K(v1::PRODUCT, i + 1);
  EXPECT_EQ(Call(&GraphOps::GetEntities, big, &resp).code(), absl::StatusCode::kInvalidArgument);
  v1::GetNeighborsRequest n;
  *n.add_keys() = K(v1::BUYER, 1);
  n.set_edge_type(v1::PURCHASED);
  n.set_limit(1001);
  v1::GetNeighborsResponse nresp;
  s = Call(&GraphOps::GetNeighbors, n, &nresp);
  EXPECT_NE(s.message().find("limit"), absl::string_view::npos) << s;
  n.set_limit(0);
  n.set_min_time_ms(10);
  n.set_max_time_ms(5);
  s = Call(&GraphOps::GetNeighbors, n, &nresp);
  EXPECT_NE(s.message().find("min_time_ms"), absl::string_view::npos) << s;
}

TEST_F(GraphOpsTest, ExpiredDeadline) {
  v1::GetEntitiesRequest req;
  *req.add_keys() = K(v1::PRODUCT, 1);
  internal::v1::EncodedGetEntitiesResponse resp;
  std::promise<absl::Status> p;
  ops_->GetEntities(CallOptions{std::chrono::system_clock::now() - std::chrono::seconds(1)}, req,
                    &resp, [&p](absl::Status s) { p.set_value(s); });
  EXPECT_EQ(p.get_future().get().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(GraphOpsTest, DeleteEntityRemovesReverseCopies) {
  AddEdges({E(K(v1::BUYER, 1), v1::PURCHASED, K(v1::PRODUCT, 9), 100),
            E(K(v1::BUYER, 2), v1::PURCHASED, K(v1::PRODUCT, 9), 101),
            E(K(v1::BUYER, 1), v1::PURCHASED, K(v1::PRODUCT, 8), 102)});
  v1::DeleteEntitiesRequest del;
  *del.add_keys() = K(v1::PRODUCT, 9);
  *del.add_keys() = K(v1::PRODUCT, 12345);
  v1::DeleteEntitiesResponse dresp;
  ASSERT_TRUE(Call(&GraphOps::DeleteEntities, del, &dresp).ok());
  EXPECT_EQ(dresp.results(0).status().code(), 0) << dresp.results(0).status().message();
  EXPECT_EQ(dresp.results(0).edges_removed(), 2u);
  EXPECT_EQ(dresp.results(1).status().code(), 5);
  v1::CountNeighborsRequest c;
  *c.add_keys() = K(v1::BUYER, 1);
  *c.add_keys() = K(v1::BUYER, 2);
  c.add_edge_types(v1::PURCHASED);
  v1::CountNeighborsResponse cresp;
  ASSERT_TRUE(Call(&GraphOps::CountNeighbors, c, &cresp).ok());
  EXPECT_EQ(cresp.results(0).counts(0).count(), 1u);  // only product 8 left
  EXPECT_EQ(cresp.results(1).counts(0).count(), 0u);
}

TEST_F(GraphOpsTest, AlsoBoughtRanksBySharedBuyers) {
  // Buyers 1..3 bought product 1. Product 2 shares 3 buyers, product 3 shares 2, product 4
  // shares 1; buyer 9 bought 5 without product 1 (unreachable).
  std::vector<v1::Edge> edges;
  int64_t t = 1;
  for (uint64_t b = 1; b <= 3; ++b)
    edges.push_back(E(K(v1::BUYER, b), v1::PURCHASED, K(v1::PRODUCT, 1), t++));
  for (uint64_t b = 1; b <= 3; ++b)
    edges.push_back(E(K(v1::BUYER, b), v1::PURCHASED, K(v1::PRODUCT, 2), t++));
  for (uint64_t b = 1; b <= 2; ++b)
    edges.push_back(E(K(v1::BUYER, b), v1::PURCHASED, K(v1::PRODUCT, 3), t++));
  edges.push_back(E(K(v1::BUYER, 3), v1::PURCHASED, K(v1::PRODUCT, 4), t++));
  edges.push_back(E(K(v1::BUYER, 9), v1::PURCHASED, K(v1::PRODUCT, 5), t++));
  AddEdges(edges);
  v1::TraverseRequest req;
  *req.add_start() = K(v1::PRODUCT, 1);
  v1::Hop* h1 = req.add_hops();
  h1->set_edge_type(v1::PURCHASED);
  h1->set_direction(v1::IN);
  v1::Hop* h2 = req.add_hops();
  h2->set_edge_type(v1::PURCHASED);
  h2->set_direction(v1::OUT);
  v1::TraverseResponse resp;
  ASSERT_TRUE(Call(&GraphOps::Traverse, req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_EQ(resp.results(0).key().id(), 2u);
  EXPECT_EQ(resp.results(0).path_count(), 3u);
  EXPECT_EQ(resp.results(1).key().id(), 3u);
  EXPECT_EQ(resp.results(2).key().id(), 4u);
  EXPECT_EQ(resp.frontier_sizes(0), 3u);
  // The second hop must start where the first ends.
  h2->set_edge_type(v1::FOLLOWS);
  h2->set_direction(v1::IN);
  absl::Status s = Call(&GraphOps::Traverse, req, &resp);
  EXPECT_NE(s.message().find("hops[1]"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace kg
