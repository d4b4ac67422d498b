// Every RPC of kg.v1.GraphService and kg.v1.AdminService against a real server, in both
// modes (one --role=all process; two partition servers behind a front end), checked
// against answers computed in the test from the same deterministic dataset.
//
// The base dataset (dataset.h) is loaded once per mode and never modified; tests that
// write use their own id ranges (>= 5000) and delete what they wrote, so the tests are
// independent of order.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kg/v1/knowledge.pb.h"
#include "tests/integration/dataset.h"
#include "tests/integration/harness.h"

namespace kg {
namespace integration {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr int kOk = 0;
constexpr int kInvalidArgument = 3;
constexpr int kNotFound = 5;

// Clusters shared by every test of a mode: started and loaded (via RPC) on first use,
// stopped at the end of the program, where every process must exit 0.
class SharedClusters : public ::testing::Environment {
 public:
  // The running cluster of `mode`, or nullptr with *error set when it could not start.
  static Cluster* Get(const std::string& mode, std::string* error) {
    Slot& slot = slots()[mode];
    if (slot.cluster == nullptr && slot.error.empty()) {
      std::unique_ptr<Cluster> cluster = NewCluster(mode);
      absl::Status s = cluster->Start(ClusterOptions{});
      if (s.ok()) s = LoadViaRpc(cluster->graph(), TestDataset());
      if (s.ok()) {
        slot.cluster = std::move(cluster);
      } else {
        slot.error = s.ToString();
        StopClusters({cluster.get()}, Millis(10000)).IgnoreError();
      }
    }
    *error = slot.error;
    return slot.cluster.get();
  }

  void TearDown() override {
    std::vector<Cluster*> running;
    for (auto& [mode, slot] : slots()) {
      if (slot.cluster != nullptr) running.push_back(slot.cluster.get());
    }
    absl::Status s = StopClusters(running, Millis(15000));
    EXPECT_TRUE(s.ok()) << s;
    slots().clear();
  }

 private:
  struct Slot {
    std::unique_ptr<Cluster> cluster;
    std::string error;
  };
  static std::map<std::string, Slot>& slots() {
    static auto* m = new std::map<std::string, Slot>;
    return *m;
  }
};

const GraphModel& Model() {
  static const GraphModel* model = new GraphModel(TestDataset());
  return *model;
}

// The schema as graph.proto / types.proto state it: edge type -> (source, destination).
struct SchemaRow {
  v1::EdgeType type;
  v1::EntityType src;
  v1::EntityType dst;
};
const std::vector<SchemaRow>& Schema() {
  static const auto* rows =
      new std::vector<SchemaRow>{{v1::IN_CATEGORY, v1::PRODUCT, v1::CATEGORY},
                                 {v1::SUBCATEGORY_OF, v1::CATEGORY, v1::CATEGORY},
                                 {v1::HAS_BRAND, v1::PRODUCT, v1::BRAND},
                                 {v1::INSTANCE_OF, v1::PRODUCT, v1::SPU},
                                 {v1::SOLD_BY, v1::PRODUCT, v1::MERCHANT},
                                 {v1::PROMOTES, v1::INFLUENCER, v1::PRODUCT},
                                 {v1::FEATURES, v1::CONTENT, v1::PRODUCT},
                                 {v1::POSTED, v1::INFLUENCER, v1::CONTENT},
                                 {v1::VIEWED, v1::BUYER, v1::PRODUCT},
                                 {v1::CLICKED, v1::BUYER, v1::PRODUCT},
                                 {v1::ADDED_TO_CART, v1::BUYER, v1::PRODUCT},
                                 {v1::PURCHASED, v1::BUYER, v1::PRODUCT},
                                 {v1::FOLLOWS, v1::BUYER, v1::INFLUENCER}};
  return *rows;
}

std::string KeyString(const v1::EntityKey& k) {
  return absl::StrCat(v1::EntityType_Name(k.type()), ":", k.id());
}

// Expects `s` to be INVALID_ARGUMENT with a message naming `field`.
void ExpectInvalid(const grpc::Status& s, const std::string& field, const std::string& what) {
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << what << ": got " << s.error_code() << " " << s.error_message();
  EXPECT_NE(s.error_message().find(field), std::string::npos)
      << what << ": message \"" << s.error_message() << "\" does not name " << field;
}

// Expects every item status of a batch write response to be OK.
template <typename Response>
void ExpectAllOk(const Response& resp) {
  for (int i = 0; i < resp.results_size(); ++i) {
    EXPECT_EQ(resp.results(i).code(), kOk) << "item " << i << ": " << resp.results(i).message();
  }
}

// Deletes the registered keys (entities and all their edges) when destroyed.
class Cleanup {
 public:
  explicit Cleanup(v1::GraphService::Stub* graph) : graph_(graph) {}
  ~Cleanup() {
    if (keys_.empty()) return;
    v1::DeleteEntitiesRequest req;
    for (const v1::EntityKey& k : keys_) *req.add_keys() = k;
    v1::DeleteEntitiesResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = graph_->DeleteEntities(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << "cleanup: " << s.error_message();
  }
  void Add(const v1::EntityKey& key) { keys_.push_back(key); }

 private:
  v1::GraphService::Stub* graph_;
  std::vector<v1::EntityKey> keys_;
};

class GraphApiTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string error;
    cluster_ = SharedClusters::Get(GetParam(), &error);
    ASSERT_NE(cluster_, nullptr) << "cluster did not start: " << error;
    graph_ = cluster_->graph();
  }

  v1::GetEntitiesResponse GetEntities(const std::vector<v1::EntityKey>& keys,
                                      const std::vector<std::string>& mask = {}) {
    v1::GetEntitiesRequest req;
    for (const auto& k : keys) *req.add_keys() = k;
    for (const auto& p : mask) req.mutable_read_mask()->add_paths(p);
    v1::GetEntitiesResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = graph_->GetEntities(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  v1::NeighborList Neighbors(const v1::EntityKey& key, v1::EdgeType type, v1::Direction dir,
                             int limit = 1000, int64_t min_ms = 0, int64_t max_ms = 0) {
    v1::GetNeighborsRequest req;
    *req.add_keys() = key;
    req.set_edge_type(type);
    req.set_direction(dir);
    req.set_limit(limit);
    req.set_min_time_ms(min_ms);
    req.set_max_time_ms(max_ms);
    v1::GetNeighborsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = graph_->GetNeighbors(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (resp.results_size() != 1) {
      ADD_FAILURE() << "GetNeighbors: " << resp.results_size() << " results for one key";
      return v1::NeighborList();
    }
    return resp.results(0);
  }

  uint64_t Count(const v1::EntityKey& key, v1::EdgeType type, v1::Direction dir) {
    v1::CountNeighborsRequest req;
    *req.add_keys() = key;
    req.add_edge_types(type);
    req.add_directions(dir);
    v1::CountNeighborsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = graph_->CountNeighbors(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (resp.results_size() != 1 || resp.results(0).counts_size() != 1) {
      ADD_FAILURE() << "CountNeighbors: unexpected shape " << resp.ShortDebugString();
      return 0;
    }
    return resp.results(0).counts(0).count();
  }

  v1::UpsertEdgesResponse UpsertEdges(const std::vector<v1::Edge>& edges) {
    v1::UpsertEdgesRequest req;
    for (const auto& e : edges) *req.add_edges() = e;
    v1::UpsertEdgesResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = graph_->UpsertEdges(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.results_size(), req.edges_size());
    return resp;
  }

  v1::UpsertEntitiesResponse UpsertEntities(const std::vector<v1::Entity>& entities,
                                            bool merge = false) {
    v1::UpsertEntitiesRequest req;
    for (const auto& e : entities) *req.add_entities() = e;
    req.set_merge(merge);
    v1::UpsertEntitiesResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = graph_->UpsertEntities(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.results_size(), req.entities_size());
    return resp;
  }

  v1::GetClusterInfoResponse ClusterInfo() {
    v1::GetClusterInfoResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = cluster_->admin()->GetClusterInfo(&ctx, v1::GetClusterInfoRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // Expects the list to hold exactly `want` (same ids, times, weights, in order).
  static void ExpectNeighbors(const v1::NeighborList& got,
                              const std::vector<ExpectedNeighbor>& want, v1::EntityType other_type,
                              const std::string& what) {
    ASSERT_EQ(got.neighbors_size(), static_cast<int>(want.size())) << what;
    for (size_t i = 0; i < want.size(); ++i) {
      const v1::Neighbor& n = got.neighbors(static_cast<int>(i));
      EXPECT_EQ(n.key().type(), other_type) << what << " #" << i;
      EXPECT_EQ(n.key().id(), want[i].id) << what << " #" << i;
      EXPECT_EQ(n.time_ms(), want[i].time_ms) << what << " #" << i;
      EXPECT_EQ(n.weight(), want[i].weight) << what << " #" << i;
    }
  }

  Cluster* cluster_ = nullptr;
  v1::GraphService::Stub* graph_ = nullptr;
};

TEST_P(GraphApiTest, GetEntitiesAnswersEachKeyInOrder) {
  const std::vector<v1::EntityKey> keys = {Key(v1::PRODUCT, 1),  Key(v1::PRODUCT, 999),
                                           Key(v1::BUYER, 5),    Key(v1::PRODUCT, 1),
                                           Key(v1::CATEGORY, 2), Key(v1::BUYER, kGhostBuyerFirst)};
  v1::GetEntitiesResponse resp = GetEntities(keys);
  ASSERT_EQ(resp.results_size(), static_cast<int>(keys.size()));
  for (size_t i = 0; i < keys.size(); ++i) {
    const v1::EntityResult& r = resp.results(static_cast<int>(i));
    const v1::Entity* want = Model().FindEntity(keys[i]);
    EXPECT_TRUE(MessageDifferencer::Equals(r.key(), keys[i])) << i;
    EXPECT_EQ(r.status().code(), kOk) << i << " " << r.status().message();
    EXPECT_EQ(r.found(), want != nullptr) << KeyString(keys[i]);
    if (want != nullptr) {
      EXPECT_TRUE(MessageDifferencer::Equals(r.entity(), *want))
          << "got " << r.entity().ShortDebugString() << "\nwant " << want->ShortDebugString();
    }
  }
}

TEST_P(GraphApiTest, GetEntitiesAppliesReadMask) {
  const v1::Entity& want = *Model().FindEntity(Key(v1::PRODUCT, 7));
  struct Case {
    std::vector<std::string> paths;
    v1::Entity expected;
  };
  std::vector<Case> cases;
  {
    Case c{{"name"}, {}};
    *c.expected.mutable_key() = want.key();
    c.expected.set_name(want.name());
    cases.push_back(c);
  }
  {
    Case c{{"attributes", "update_time_ms"}, {}};
    *c.expected.mutable_key() = want.key();
    *c.expected.mutable_attributes() = want.attributes();
    c.expected.set_update_time_ms(want.update_time_ms());
    cases.push_back(c);
  }
  {
    Case c{{"metrics"}, {}};
    *c.expected.mutable_key() = want.key();
    *c.expected.mutable_metrics() = want.metrics();
    cases.push_back(c);
  }
  {
    Case c{{"attributes.color", "metrics.price", "metrics.no_such_metric"}, {}};
    *c.expected.mutable_key() = want.key();
    (*c.expected.mutable_attributes())["color"] = want.attributes().at("color");
    (*c.expected.mutable_metrics())["price"] = want.metrics().at("price");
    cases.push_back(c);
  }
  for (const Case& c : cases) {
    v1::GetEntitiesResponse resp = GetEntities({want.key()}, c.paths);
    ASSERT_EQ(resp.results_size(), 1);
    EXPECT_TRUE(resp.results(0).found());
    EXPECT_TRUE(MessageDifferencer::Equals(resp.results(0).entity(), c.expected))
        << "mask " << c.paths[0] << "...: got " << resp.results(0).entity().ShortDebugString()
        << "\nwant " << c.expected.ShortDebugString();
  }
}

TEST_P(GraphApiTest, UpsertEntitiesReportsItemsAndReplacesOrMerges) {
  Cleanup cleanup(graph_);
  const v1::EntityKey a = Key(v1::PRODUCT, 5001);
  cleanup.Add(a);
  v1::Entity good;
  *good.mutable_key() = a;
  good.set_name("first");
  (*good.mutable_attributes())["x"] = "1";
  (*good.mutable_attributes())["y"] = "2";
  (*good.mutable_metrics())["price"] = 3;
  good.set_update_time_ms(1000);
  v1::Entity zero_id = good;
  zero_id.mutable_key()->set_id(0);
  v1::Entity bad_metric = good;
  bad_metric.mutable_key()->set_id(5002);
  (*bad_metric.mutable_metrics())["rating"] = std::numeric_limits<double>::infinity();
  v1::Entity negative_time = good;
  negative_time.mutable_key()->set_id(5003);
  negative_time.set_update_time_ms(-5);
  v1::Entity no_type = good;
  no_type.mutable_key()->set_type(v1::ENTITY_TYPE_UNSPECIFIED);
  cleanup.Add(Key(v1::PRODUCT, 5002));
  cleanup.Add(Key(v1::PRODUCT, 5003));

  v1::UpsertEntitiesResponse resp =
      UpsertEntities({good, zero_id, bad_metric, negative_time, no_type});
  ASSERT_EQ(resp.results_size(), 5);
  EXPECT_EQ(resp.results(0).code(), kOk) << resp.results(0).message();
  const std::vector<std::string> fields = {"", "entities[1].key.id", "entities[2].metrics",
                                           "entities[3].update_time_ms", "entities[4].key.type"};
  for (int i = 1; i < 5; ++i) {
    EXPECT_EQ(resp.results(i).code(), kInvalidArgument) << i << ": " << resp.results(i).message();
    EXPECT_NE(resp.results(i).message().find(fields[i]), std::string::npos)
        << "item " << i << " message \"" << resp.results(i).message() << "\" should name "
        << fields[i];
  }
  v1::GetEntitiesResponse got = GetEntities({a, Key(v1::PRODUCT, 5002), Key(v1::PRODUCT, 5003)});
  ASSERT_EQ(got.results_size(), 3);
  EXPECT_TRUE(got.results(0).found());
  EXPECT_TRUE(MessageDifferencer::Equals(got.results(0).entity(), good));
  EXPECT_FALSE(got.results(1).found()) << "a rejected item must not be stored";
  EXPECT_FALSE(got.results(2).found()) << "a rejected item must not be stored";

  // merge=false replaces the whole entity.
  v1::Entity replacement;
  *replacement.mutable_key() = a;
  replacement.set_name("second");
  (*replacement.mutable_attributes())["z"] = "3";
  replacement.set_update_time_ms(2000);
  EXPECT_EQ(UpsertEntities({replacement}).results(0).code(), kOk);
  got = GetEntities({a});
  EXPECT_TRUE(MessageDifferencer::Equals(got.results(0).entity(), replacement))
      << got.results(0).entity().ShortDebugString();

  // merge=true: empty name kept, attributes and metrics merged key by key.
  v1::Entity patch;
  *patch.mutable_key() = a;
  (*patch.mutable_attributes())["z"] = "30";
  (*patch.mutable_attributes())["w"] = "4";
  (*patch.mutable_metrics())["sales_30d"] = 12;
  patch.set_update_time_ms(3000);
  EXPECT_EQ(UpsertEntities({patch}, /*merge=*/true).results(0).code(), kOk);
  v1::Entity merged = replacement;
  (*merged.mutable_attributes())["z"] = "30";
  (*merged.mutable_attributes())["w"] = "4";
  (*merged.mutable_metrics())["sales_30d"] = 12;
  merged.set_update_time_ms(3000);
  got = GetEntities({a});
  EXPECT_TRUE(MessageDifferencer::Equals(got.results(0).entity(), merged))
      << "got " << got.results(0).entity().ShortDebugString() << "\nwant "
      << merged.ShortDebugString();

  // update_time_ms 0 means the server's clock.
  const int64_t before = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  v1::Entity now = replacement;
  now.set_update_time_ms(0);
  EXPECT_EQ(UpsertEntities({now}).results(0).code(), kOk);
  const int64_t after = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  got = GetEntities({a}, {"update_time_ms"});
  EXPECT_GE(got.results(0).entity().update_time_ms(), before - 1000);
  EXPECT_LE(got.results(0).entity().update_time_ms(), after + 1000);
}

TEST_P(GraphApiTest, DeleteEntitiesRemovesEdgesInBothDirections) {
  Cleanup cleanup(graph_);
  const v1::EntityKey product = Key(v1::PRODUCT, 5101);
  const v1::EntityKey category = Key(v1::CATEGORY, 1);
  const std::vector<v1::EntityKey> buyers = {Key(v1::BUYER, 5101), Key(v1::BUYER, 5102),
                                             Key(v1::BUYER, 5103)};
  // An endpoint with edges but no entity record.
  const v1::EntityKey ghost = Key(v1::BUYER, 5104);
  cleanup.Add(product);
  for (const auto& b : buyers) cleanup.Add(b);
  cleanup.Add(ghost);

  v1::Entity pe;
  *pe.mutable_key() = product;
  pe.set_name("to delete");
  pe.set_update_time_ms(1);
  std::vector<v1::Entity> entities = {pe};
  for (const auto& b : buyers) {
    v1::Entity be;
    *be.mutable_key() = b;
    be.set_update_time_ms(1);
    entities.push_back(be);
  }
  ExpectAllOk(UpsertEntities(entities));
  const uint64_t category_in_before = Count(category, v1::IN_CATEGORY, v1::IN);
  std::vector<v1::Edge> edges = {MakeEdge(product, v1::IN_CATEGORY, category, 10, 1)};
  for (size_t i = 0; i < buyers.size(); ++i) {
    edges.push_back(MakeEdge(buyers[i], v1::PURCHASED, product, 100 + i, 1));
  }
  edges.push_back(MakeEdge(buyers[0], v1::PURCHASED, Key(v1::PRODUCT, 1), 5, 1));
  edges.push_back(MakeEdge(ghost, v1::VIEWED, Key(v1::PRODUCT, 2), 6, 1));
  edges.push_back(MakeEdge(ghost, v1::VIEWED, Key(v1::PRODUCT, 3), 7, 1));
  ExpectAllOk(UpsertEdges(edges));
  ASSERT_EQ(Count(category, v1::IN_CATEGORY, v1::IN), category_in_before + 1);
  ASSERT_EQ(Count(buyers[0], v1::PURCHASED, v1::OUT), 2u);

  v1::DeleteEntitiesRequest req;
  *req.add_keys() = product;
  *req.add_keys() = Key(v1::PRODUCT, 5199);  // never existed
  *req.add_keys() = ghost;
  v1::DeleteEntitiesResponse resp;
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ASSERT_TRUE(graph_->DeleteEntities(&ctx, req, &resp).ok());
  }
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_EQ(resp.results(0).status().code(), kOk) << resp.results(0).status().message();
  EXPECT_EQ(resp.results(0).edges_removed(), 4u);
  EXPECT_EQ(resp.results(1).status().code(), kNotFound);
  EXPECT_EQ(resp.results(1).edges_removed(), 0u);
  EXPECT_EQ(resp.results(2).status().code(), kOk)
      << "a key with edges but no entity is not NOT_FOUND: " << resp.results(2).status().message();
  EXPECT_EQ(resp.results(2).edges_removed(), 2u);

  // The other sides no longer see the edges.
  EXPECT_EQ(Count(category, v1::IN_CATEGORY, v1::IN), category_in_before);
  v1::NeighborList cat = Neighbors(category, v1::IN_CATEGORY, v1::IN);
  for (const auto& n : cat.neighbors()) EXPECT_NE(n.key().id(), product.id());
  for (const auto& b : buyers) {
    v1::NeighborList out = Neighbors(b, v1::PURCHASED, v1::OUT);
    for (const auto& n : out.neighbors()) EXPECT_NE(n.key().id(), product.id()) << KeyString(b);
  }
  EXPECT_EQ(Count(buyers[0], v1::PURCHASED, v1::OUT), 1u);
  EXPECT_EQ(Count(buyers[1], v1::PURCHASED, v1::OUT), 0u);
  EXPECT_EQ(Count(product, v1::PURCHASED, v1::IN), 0u);
  v1::NeighborList p2 = Neighbors(Key(v1::PRODUCT, 2), v1::VIEWED, v1::IN);
  for (const auto& n : p2.neighbors()) EXPECT_NE(n.key().id(), ghost.id());
  EXPECT_EQ(p2.total_count(), Model().Neighbors(Key(v1::PRODUCT, 2), v1::VIEWED, v1::IN).size());
  EXPECT_FALSE(GetEntities({product}).results(0).found());

  // A second delete finds nothing.
  v1::DeleteEntitiesRequest again;
  *again.add_keys() = product;
  v1::DeleteEntitiesResponse again_resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  ASSERT_TRUE(graph_->DeleteEntities(&ctx, again, &again_resp).ok());
  ASSERT_EQ(again_resp.results_size(), 1);
  EXPECT_EQ(again_resp.results(0).status().code(), kNotFound);
}

TEST_P(GraphApiTest, UpsertEdgesValidatesEachItemAgainstTheSchema) {
  Cleanup cleanup(graph_);
  const v1::EntityKey buyer = Key(v1::BUYER, 5201);
  const v1::EntityKey product = Key(v1::PRODUCT, 5201);
  cleanup.Add(buyer);
  cleanup.Add(product);
  std::vector<v1::Edge> edges = {
      MakeEdge(buyer, v1::PURCHASED, product, 100, 1),                  // ok
      MakeEdge(product, v1::PURCHASED, product, 100, 1),                // src type
      MakeEdge(buyer, v1::PURCHASED, buyer, 100, 1),                    // dst type
      MakeEdge(buyer, v1::EDGE_TYPE_UNSPECIFIED, product, 100, 1),      // type
      MakeEdge(Key(v1::BUYER, 0), v1::PURCHASED, product, 100, 1),      // src id
      MakeEdge(buyer, v1::VIEWED, product, -1, 1),                      // time
      MakeEdge(buyer, v1::CLICKED, product, 100, std::nan("")),         // weight
      MakeEdge(buyer, static_cast<v1::EdgeType>(99), product, 100, 1),  // type
      MakeEdge(buyer, v1::VIEWED, product, 200, 2),                     // ok
  };
  const std::vector<std::string> fields = {"",
                                           "edges[1].src.type",
                                           "edges[2].dst.type",
                                           "edges[3].type",
                                           "edges[4].src.id",
                                           "edges[5].time_ms",
                                           "edges[6].weight",
                                           "edges[7].type",
                                           ""};
  v1::UpsertEdgesResponse resp = UpsertEdges(edges);
  ASSERT_EQ(resp.results_size(), static_cast<int>(edges.size()));
  for (size_t i = 0; i < edges.size(); ++i) {
    const v1::ItemStatus& s = resp.results(static_cast<int>(i));
    if (fields[i].empty()) {
      EXPECT_EQ(s.code(), kOk) << i << ": " << s.message();
    } else {
      EXPECT_EQ(s.code(), kInvalidArgument) << i << ": " << s.message();
      EXPECT_NE(s.message().find(fields[i]), std::string::npos)
          << "item " << i << " message \"" << s.message() << "\" should name " << fields[i];
    }
  }
  // Only the valid edges were stored, both copies.
  v1::NeighborList out = Neighbors(buyer, v1::PURCHASED, v1::OUT);
  ExpectNeighbors(out, {{product.id(), 100, 1}}, v1::PRODUCT, "buyer OUT PURCHASED");
  ExpectNeighbors(Neighbors(product, v1::PURCHASED, v1::IN), {{buyer.id(), 100, 1}}, v1::BUYER,
                  "product IN PURCHASED");
  ExpectNeighbors(Neighbors(product, v1::VIEWED, v1::IN), {{buyer.id(), 200, 2}}, v1::BUYER,
                  "product IN VIEWED");
  EXPECT_EQ(Count(buyer, v1::CLICKED, v1::OUT), 0u);
}

TEST_P(GraphApiTest, UpsertOfAnExistingEdgeReplacesTimeAndWeight) {
  Cleanup cleanup(graph_);
  const v1::EntityKey buyer = Key(v1::BUYER, 5301);
  const v1::EntityKey product = Key(v1::PRODUCT, 5301);
  cleanup.Add(buyer);
  cleanup.Add(product);
  const v1::GetClusterInfoResponse before = ClusterInfo();
  EXPECT_EQ(UpsertEdges({MakeEdge(buyer, v1::PURCHASED, product, 100, 1)}).results(0).code(), kOk);
  EXPECT_EQ(UpsertEdges({MakeEdge(buyer, v1::PURCHASED, product, 250, 3.5)}).results(0).code(),
            kOk);
  ExpectNeighbors(Neighbors(buyer, v1::PURCHASED, v1::OUT), {{product.id(), 250, 3.5}}, v1::PRODUCT,
                  "OUT after replace");
  ExpectNeighbors(Neighbors(product, v1::PURCHASED, v1::IN), {{buyer.id(), 250, 3.5}}, v1::BUYER,
                  "IN after replace");
  EXPECT_EQ(Count(buyer, v1::PURCHASED, v1::OUT), 1u);
  EXPECT_EQ(Count(product, v1::PURCHASED, v1::IN), 1u);
  // The old time is gone from windows.
  EXPECT_EQ(Neighbors(buyer, v1::PURCHASED, v1::OUT, 10, 1, 200).total_count(), 0u);
  EXPECT_EQ(ClusterInfo().edge_count(), before.edge_count() + 1);
}

TEST_P(GraphApiTest, DeleteEdgesRemovesBothCopies) {
  Cleanup cleanup(graph_);
  const v1::EntityKey buyer = Key(v1::BUYER, 5401);
  const v1::EntityKey p1 = Key(v1::PRODUCT, 5401);
  const v1::EntityKey p2 = Key(v1::PRODUCT, 5402);
  for (const auto& k : {buyer, p1, p2}) cleanup.Add(k);
  ExpectAllOk(UpsertEdges(
      {MakeEdge(buyer, v1::PURCHASED, p1, 100, 1), MakeEdge(buyer, v1::PURCHASED, p2, 200, 1)}));
  v1::DeleteEdgesRequest req;
  auto add = [&req](v1::EntityKey src, v1::EdgeType type, v1::EntityKey dst) {
    v1::EdgeKey* k = req.add_edges();
    *k->mutable_src() = src;
    k->set_type(type);
    *k->mutable_dst() = dst;
  };
  add(buyer, v1::PURCHASED, p1);
  add(buyer, v1::VIEWED, p1);                    // never stored
  add(buyer, v1::PURCHASED, Key(v1::BUYER, 3));  // schema violation
  v1::DeleteEdgesResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  ASSERT_TRUE(graph_->DeleteEdges(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_EQ(resp.results(0).code(), kOk) << resp.results(0).message();
  EXPECT_EQ(resp.results(1).code(), kNotFound) << resp.results(1).message();
  EXPECT_EQ(resp.results(2).code(), kInvalidArgument) << resp.results(2).message();
  EXPECT_NE(resp.results(2).message().find("edges[2].dst.type"), std::string::npos)
      << resp.results(2).message();
  ExpectNeighbors(Neighbors(buyer, v1::PURCHASED, v1::OUT), {{p2.id(), 200, 1}}, v1::PRODUCT,
                  "OUT after delete");
  EXPECT_EQ(Count(p1, v1::PURCHASED, v1::IN), 0u);
  EXPECT_EQ(Neighbors(p1, v1::PURCHASED, v1::IN).neighbors_size(), 0);
}

TEST_P(GraphApiTest, GetNeighborsMatchesTheModelForManyKeys) {
  v1::GetNeighborsRequest req;
  std::vector<v1::EntityKey> keys;
  for (uint64_t p = 1; p <= kProducts; ++p) keys.push_back(Key(v1::PRODUCT, p));
  keys.push_back(Key(v1::PRODUCT, 4242));  // no edges
  for (const auto& k : keys) *req.add_keys() = k;
  req.set_edge_type(v1::PURCHASED);
  req.set_direction(v1::IN);
  req.set_limit(1000);
  v1::GetNeighborsResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  ASSERT_TRUE(graph_->GetNeighbors(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.results_size(), static_cast<int>(keys.size()));
  for (size_t i = 0; i < keys.size(); ++i) {
    const v1::NeighborList& list = resp.results(static_cast<int>(i));
    std::vector<ExpectedNeighbor> want = Model().Neighbors(keys[i], v1::PURCHASED, v1::IN);
    EXPECT_TRUE(MessageDifferencer::Equals(list.key(), keys[i]));
    EXPECT_EQ(list.status().code(), kOk);
    EXPECT_EQ(list.total_count(), want.size()) << KeyString(keys[i]);
    EXPECT_TRUE(list.next_page_token().empty());
    ExpectNeighbors(list, want, v1::BUYER, KeyString(keys[i]));
  }
  // Out-edges of buyers, including ones that have no entity.
  for (uint64_t b : {uint64_t{1}, uint64_t{77}, uint64_t{200}, kGhostBuyerFirst}) {
    const v1::EntityKey k = Key(v1::BUYER, b);
    for (v1::EdgeType t : {v1::VIEWED, v1::PURCHASED}) {
      v1::NeighborList list = Neighbors(k, t, v1::OUT);
      std::vector<ExpectedNeighbor> want = Model().Neighbors(k, t, v1::OUT);
      EXPECT_EQ(list.total_count(), want.size());
      ExpectNeighbors(list, want, v1::PRODUCT, KeyString(k));
    }
  }
}

TEST_P(GraphApiTest, GetNeighborsHonoursLimitAndInclusiveWindow) {
  const v1::EntityKey key = Key(v1::PRODUCT, 3);
  const std::vector<ExpectedNeighbor> all = Model().Neighbors(key, v1::VIEWED, v1::IN);
  ASSERT_GE(all.size(), 10u);
  // Default limit is 20.
  v1::NeighborList first = Neighbors(key, v1::VIEWED, v1::IN, 0);
  EXPECT_EQ(first.neighbors_size(), std::min<int>(20, all.size()));
  EXPECT_EQ(first.total_count(), all.size());
  v1::NeighborList three = Neighbors(key, v1::VIEWED, v1::IN, 3);
  ExpectNeighbors(three, {all.begin(), all.begin() + 3}, v1::BUYER, "limit 3");
  EXPECT_EQ(three.total_count(), all.size());
  EXPECT_FALSE(three.next_page_token().empty());
  // [time of #7, time of #2] holds exactly #2..#7: both ends inclusive.
  const int64_t lo = all[7].time_ms;
  const int64_t hi = all[2].time_ms;
  v1::NeighborList window = Neighbors(key, v1::VIEWED, v1::IN, 100, lo, hi);
  EXPECT_EQ(window.total_count(), 6u);
  ExpectNeighbors(window, {all.begin() + 2, all.begin() + 8}, v1::BUYER, "window");
  // One side unbounded.
  v1::NeighborList newer = Neighbors(key, v1::VIEWED, v1::IN, 100, hi, 0);
  ExpectNeighbors(newer, {all.begin(), all.begin() + 3}, v1::BUYER, "min only");
  v1::NeighborList older = Neighbors(key, v1::VIEWED, v1::IN, 1000, 0, lo);
  EXPECT_EQ(older.total_count(), all.size() - 7);
  ExpectNeighbors(older, {all.begin() + 7, all.end()}, v1::BUYER, "max only");
  // A window and a limit together: total counts the window, the page is the limit.
  v1::NeighborList both = Neighbors(key, v1::VIEWED, v1::IN, 2, lo, hi);
  EXPECT_EQ(both.total_count(), 6u);
  ExpectNeighbors(both, {all.begin() + 2, all.begin() + 4}, v1::BUYER, "window+limit");
}

TEST_P(GraphApiTest, GetNeighborsTiesAreBrokenByDescendingId) {
  Cleanup cleanup(graph_);
  const v1::EntityKey product = Key(v1::PRODUCT, 5501);
  cleanup.Add(product);
  std::vector<v1::Edge> edges;
  for (uint64_t b : {5502, 5505, 5503, 5504}) {
    cleanup.Add(Key(v1::BUYER, b));
    edges.push_back(MakeEdge(Key(v1::BUYER, b), v1::PURCHASED, product, 777, 1));
  }
  edges.push_back(MakeEdge(Key(v1::BUYER, 5501), v1::PURCHASED, product, 778, 1));
  cleanup.Add(Key(v1::BUYER, 5501));
  ExpectAllOk(UpsertEdges(edges));
  ExpectNeighbors(Neighbors(product, v1::PURCHASED, v1::IN),
                  {{5501, 778, 1}, {5505, 777, 1}, {5504, 777, 1}, {5503, 777, 1}, {5502, 777, 1}},
                  v1::BUYER, "ties");
  // Paging through ties one at a time keeps the order.
  v1::GetNeighborsRequest req;
  *req.add_keys() = product;
  req.set_edge_type(v1::PURCHASED);
  req.set_direction(v1::IN);
  req.set_limit(1);
  std::vector<uint64_t> ids;
  for (int page = 0; page < 10; ++page) {
    v1::GetNeighborsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ASSERT_TRUE(graph_->GetNeighbors(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.results_size(), 1);
    for (const auto& n : resp.results(0).neighbors()) ids.push_back(n.key().id());
    if (resp.results(0).next_page_token().empty()) break;
    req.set_page_token(resp.results(0).next_page_token());
  }
  EXPECT_EQ(ids, (std::vector<uint64_t>{5501, 5505, 5504, 5503, 5502}));
}

TEST_P(GraphApiTest, GetNeighborsPagesAreExactWithoutDuplicatesOrGaps) {
  // The product with the most VIEWED in-edges.
  v1::EntityKey key;
  size_t most = 0;
  for (uint64_t p = 1; p <= kProducts; ++p) {
    size_t n = Model().Neighbors(Key(v1::PRODUCT, p), v1::VIEWED, v1::IN).size();
    if (n > most) {
      most = n;
      key = Key(v1::PRODUCT, p);
    }
  }
  ASSERT_GE(most, 15u);
  const std::vector<ExpectedNeighbor> all = Model().Neighbors(key, v1::VIEWED, v1::IN);
  struct Window {
    int64_t lo, hi;
  };
  for (Window w : {Window{0, 0}, Window{all[all.size() - 3].time_ms, all[1].time_ms}}) {
    const std::vector<ExpectedNeighbor> want =
        Model().Neighbors(key, v1::VIEWED, v1::IN, w.lo, w.hi);
    for (int limit : {1, 4, 7}) {
      v1::GetNeighborsRequest req;
      *req.add_keys() = key;
      req.set_edge_type(v1::VIEWED);
      req.set_direction(v1::IN);
      req.set_limit(limit);
      req.set_min_time_ms(w.lo);
      req.set_max_time_ms(w.hi);
      v1::NeighborList collected;
      int pages = 0;
      for (; pages < 1000; ++pages) {
        v1::GetNeighborsResponse resp;
        grpc::ClientContext ctx;
        SetDeadline(&ctx);
        grpc::Status s = graph_->GetNeighbors(&ctx, req, &resp);
        ASSERT_TRUE(s.ok()) << s.error_message();
        ASSERT_EQ(resp.results_size(), 1);
        const v1::NeighborList& list = resp.results(0);
        EXPECT_EQ(list.total_count(), want.size());
        EXPECT_LE(list.neighbors_size(), limit);
        for (const auto& n : list.neighbors()) *collected.add_neighbors() = n;
        if (list.next_page_token().empty()) break;
        EXPECT_EQ(list.neighbors_size(), limit) << "only the last page may be short";
        req.set_page_token(list.next_page_token());
      }
      EXPECT_EQ(pages + 1, static_cast<int>((want.size() + limit - 1) / limit))
          << "limit " << limit;
      ExpectNeighbors(collected, want, v1::BUYER,
                      absl::StrCat("pages of ", limit, " in [", w.lo, ",", w.hi, "]"));
    }
  }

  // A token belongs to its query.
  v1::GetNeighborsRequest req;
  *req.add_keys() = key;
  req.set_edge_type(v1::VIEWED);
  req.set_direction(v1::IN);
  req.set_limit(3);
  v1::GetNeighborsResponse resp;
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ASSERT_TRUE(graph_->GetNeighbors(&ctx, req, &resp).ok());
  }
  const std::string token = resp.results(0).next_page_token();
  ASSERT_FALSE(token.empty());
  auto expect_rejected = [this](v1::GetNeighborsRequest r, const std::string& field,
                                const std::string& what) {
    v1::GetNeighborsResponse out;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ExpectInvalid(graph_->GetNeighbors(&ctx, r, &out), field, what);
  };
  v1::GetNeighborsRequest other_key = req;
  other_key.set_page_token(token);
  other_key.mutable_keys(0)->set_id(key.id() == 1 ? 2 : 1);
  expect_rejected(other_key, "page_token", "token with another key");
  v1::GetNeighborsRequest other_window = req;
  other_window.set_page_token(token);
  other_window.set_min_time_ms(1);
  expect_rejected(other_window, "page_token", "token with another window");
  v1::GetNeighborsRequest other_type = req;
  other_type.set_page_token(token);
  other_type.set_edge_type(v1::PURCHASED);
  expect_rejected(other_type, "page_token", "token with another edge type");
  v1::GetNeighborsRequest two_keys = req;
  two_keys.set_page_token(token);
  *two_keys.add_keys() = Key(v1::PRODUCT, 1);
  expect_rejected(two_keys, "page_token", "token with two keys");
  v1::GetNeighborsRequest garbage = req;
  garbage.set_page_token("not-a-token");
  expect_rejected(garbage, "page_token", "garbage token");
}

TEST_P(GraphApiTest, GetNeighborsIncludesEntitiesInline) {
  const v1::EntityKey key = Key(v1::PRODUCT, 1);  // also bought by ghost buyers
  const std::vector<ExpectedNeighbor> want = Model().Neighbors(key, v1::PURCHASED, v1::IN);
  v1::GetNeighborsRequest req;
  *req.add_keys() = key;
  req.set_edge_type(v1::PURCHASED);
  req.set_direction(v1::IN);
  req.set_limit(1000);
  req.set_include_entities(true);
  v1::GetNeighborsResponse resp;
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ASSERT_TRUE(graph_->GetNeighbors(&ctx, req, &resp).ok());
  }
  ASSERT_EQ(resp.results_size(), 1);
  ExpectNeighbors(resp.results(0), want, v1::BUYER, "include_entities");
  int ghosts = 0;
  for (const v1::Neighbor& n : resp.results(0).neighbors()) {
    const v1::Entity* e = Model().FindEntity(n.key());
    EXPECT_EQ(n.entity_found(), e != nullptr) << KeyString(n.key());
    if (e != nullptr) {
      EXPECT_TRUE(MessageDifferencer::Equals(n.entity(), *e)) << n.entity().ShortDebugString();
    } else {
      ++ghosts;
    }
  }
  EXPECT_EQ(ghosts, kGhostBuyers);

  // With a read mask, only the selected fields (and the key).
  req.mutable_entity_read_mask()->add_paths("name");
  req.set_limit(5);
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ASSERT_TRUE(graph_->GetNeighbors(&ctx, req, &resp).ok());
  }
  ASSERT_EQ(resp.results_size(), 1);
  for (const v1::Neighbor& n : resp.results(0).neighbors()) {
    if (!n.entity_found()) continue;
    v1::Entity expected;
    *expected.mutable_key() = n.key();
    expected.set_name(Model().FindEntity(n.key())->name());
    EXPECT_TRUE(MessageDifferencer::Equals(n.entity(), expected)) << n.entity().ShortDebugString();
  }
}

TEST_P(GraphApiTest, GetNeighborsRejectsKeysOfTheWrongTypePerKey) {
  v1::GetNeighborsRequest req;
  *req.add_keys() = Key(v1::PRODUCT, 4);
  *req.add_keys() = Key(v1::BUYER, 4);     // not a PURCHASED destination
  *req.add_keys() = Key(v1::CATEGORY, 1);  // neither
  *req.add_keys() = Key(v1::PRODUCT, 5);
  req.set_edge_type(v1::PURCHASED);
  req.set_direction(v1::IN);
  req.set_limit(1000);
  v1::GetNeighborsResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  ASSERT_TRUE(graph_->GetNeighbors(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 4);
  for (int i : {0, 3}) {
    EXPECT_EQ(resp.results(i).status().code(), kOk);
    ExpectNeighbors(resp.results(i), Model().Neighbors(req.keys(i), v1::PURCHASED, v1::IN),
                    v1::BUYER, KeyString(req.keys(i)));
  }
  for (int i : {1, 2}) {
    EXPECT_EQ(resp.results(i).status().code(), kInvalidArgument);
    EXPECT_NE(resp.results(i).status().message().find(absl::StrCat("keys[", i, "]")),
              std::string::npos)
        << resp.results(i).status().message();
    EXPECT_EQ(resp.results(i).neighbors_size(), 0);
  }
}

TEST_P(GraphApiTest, CountNeighborsCountsEveryApplicablePair) {
  std::vector<v1::EntityKey> keys;
  for (uint64_t p : {1, 2, 17, 50}) keys.push_back(Key(v1::PRODUCT, p));
  for (uint64_t b : {1, 99, 200}) keys.push_back(Key(v1::BUYER, b));
  keys.push_back(Key(v1::BUYER, kGhostBuyerFirst));
  keys.push_back(Key(v1::CATEGORY, 2));
  keys.push_back(Key(v1::PRODUCT, 4343));  // nothing at all
  v1::CountNeighborsRequest req;
  for (const auto& k : keys) *req.add_keys() = k;
  v1::CountNeighborsResponse resp;
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ASSERT_TRUE(graph_->CountNeighbors(&ctx, req, &resp).ok());
  }
  ASSERT_EQ(resp.results_size(), static_cast<int>(keys.size()));
  for (size_t i = 0; i < keys.size(); ++i) {
    const v1::KeyCounts& kc = resp.results(static_cast<int>(i));
    EXPECT_TRUE(MessageDifferencer::Equals(kc.key(), keys[i]));
    EXPECT_EQ(kc.status().code(), kOk);
    std::vector<std::tuple<int, int, uint64_t>> want, got;
    for (const SchemaRow& row : Schema()) {
      for (v1::Direction d : {v1::OUT, v1::IN}) {
        if ((d == v1::OUT ? row.src : row.dst) != keys[i].type()) continue;
        want.emplace_back(row.type, d, Model().Neighbors(keys[i], row.type, d).size());
      }
    }
    for (const auto& c : kc.counts()) got.emplace_back(c.edge_type(), c.direction(), c.count());
    EXPECT_EQ(got, want) << KeyString(keys[i]) << ": " << kc.ShortDebugString();
  }

  // Explicit types, directions and a window; pairs that cannot apply are omitted.
  const v1::EntityKey p = Key(v1::PRODUCT, 9);
  const std::vector<ExpectedNeighbor> viewed = Model().Neighbors(p, v1::VIEWED, v1::IN);
  ASSERT_GE(viewed.size(), 5u);
  v1::CountNeighborsRequest windowed;
  *windowed.add_keys() = p;
  *windowed.add_keys() = Key(v1::BUYER, 3);
  windowed.add_edge_types(v1::VIEWED);
  windowed.add_edge_types(v1::IN_CATEGORY);
  windowed.add_directions(v1::IN);
  windowed.set_min_time_ms(viewed[4].time_ms);
  windowed.set_max_time_ms(viewed[1].time_ms);
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ASSERT_TRUE(graph_->CountNeighbors(&ctx, windowed, &resp).ok());
  }
  ASSERT_EQ(resp.results_size(), 2);
  ASSERT_EQ(resp.results(0).counts_size(), 1) << resp.results(0).ShortDebugString();
  EXPECT_EQ(resp.results(0).counts(0).edge_type(), v1::VIEWED);
  EXPECT_EQ(resp.results(0).counts(0).direction(), v1::IN);
  EXPECT_EQ(resp.results(0).counts(0).count(), 4u);
  EXPECT_EQ(resp.results(1).counts_size(), 0) << "VIEWED IN and IN_CATEGORY IN never apply to "
                                                 "a BUYER: "
                                              << resp.results(1).ShortDebugString();
}

TEST_P(GraphApiTest, TraverseAlsoBoughtRanksBySharedBuyers) {
  int checked_nontrivial = 0;
  for (uint64_t start : {1, 2, 10, 25, 50}) {
    size_t reached = 0, buyers = 0;
    const auto want = Model().AlsoBought(start, &reached, &buyers);
    v1::TraverseRequest req = AlsoBoughtRequest(start);
    v1::TraverseResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = graph_->Traverse(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    const size_t n = std::min<size_t>(20, want.size());
    ASSERT_EQ(resp.results_size(), static_cast<int>(n)) << "start " << start;
    for (size_t i = 0; i < n; ++i) {
      const v1::TraverseResult& r = resp.results(static_cast<int>(i));
      EXPECT_EQ(r.key().type(), v1::PRODUCT);
      EXPECT_EQ(r.key().id(), want[i].first) << "start " << start << " rank " << i;
      EXPECT_EQ(r.path_count(), want[i].second) << "start " << start << " rank " << i;
      EXPECT_EQ(r.score(), static_cast<double>(want[i].second));
      EXPECT_NE(r.key().id(), start) << "the start is excluded";
    }
    ASSERT_EQ(resp.frontier_sizes_size(), 2);
    EXPECT_EQ(resp.frontier_sizes(0), buyers);
    EXPECT_EQ(resp.frontier_sizes(1), reached);
    EXPECT_FALSE(resp.truncated());
    if (n > 1 && want[0].second > 1) ++checked_nontrivial;
  }
  EXPECT_GT(checked_nontrivial, 0) << "the dataset should have shared buyers";

  // max_results and include_entities.
  size_t reached = 0, buyers = 0;
  const auto want = Model().AlsoBought(10, &reached, &buyers);
  ASSERT_GE(want.size(), 3u);
  v1::TraverseRequest req = AlsoBoughtRequest(10);
  req.set_max_results(3);
  req.set_include_entities(true);
  v1::TraverseResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  ASSERT_TRUE(graph_->Traverse(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(resp.results(i).key().id(), want[i].first);
    EXPECT_TRUE(resp.results(i).entity_found());
    EXPECT_TRUE(MessageDifferencer::Equals(resp.results(i).entity(),
                                           *Model().FindEntity(resp.results(i).key())));
  }
}

TEST_P(GraphApiTest, ImportAppliesValidRecordsAndReportsRejected) {
  Cleanup cleanup(graph_);
  const v1::EntityKey product = Key(v1::PRODUCT, 5601);
  const v1::EntityKey buyer = Key(v1::BUYER, 5601);
  cleanup.Add(product);
  cleanup.Add(buyer);
  auto entity_record = [](v1::EntityKey key, const std::string& name) {
    v1::ImportRecord r;
    *r.mutable_entity()->mutable_key() = key;
    r.mutable_entity()->set_name(name);
    r.mutable_entity()->set_update_time_ms(5);
    return r;
  };
  auto edge_record = [](v1::Edge e) {
    v1::ImportRecord r;
    *r.mutable_edge() = e;
    return r;
  };
  v1::ImportRequest first;
  first.mutable_options()->set_max_errors(3);
  *first.add_records() = entity_record(product, "imported");                          // 0 ok
  *first.add_records() = edge_record(MakeEdge(buyer, v1::PURCHASED, product, 9, 1));  // 1 ok
  *first.add_records() = edge_record(MakeEdge(product, v1::PURCHASED, buyer, 9, 1));  // 2 bad
  *first.add_records() = entity_record(Key(v1::PRODUCT, 0), "zero");                  // 3 bad
  v1::ImportRequest second;
  second.add_records();                                                             // 4 bad: empty
  *second.add_records() = edge_record(MakeEdge(buyer, v1::VIEWED, product, 8, 1));  // 5 ok
  *second.add_records() = entity_record(buyer, "imported buyer");                   // 6 ok

  v1::ImportResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  std::unique_ptr<grpc::ClientWriter<v1::ImportRequest>> writer = graph_->Import(&ctx, &resp);
  ASSERT_TRUE(writer->Write(first));
  ASSERT_TRUE(writer->Write(second));
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.records_received(), 7u);
  EXPECT_EQ(resp.entities_upserted(), 2u);
  EXPECT_EQ(resp.edges_upserted(), 2u);
  EXPECT_EQ(resp.records_rejected(), 3u);
  ASSERT_EQ(resp.first_errors_size(), 3) << resp.ShortDebugString();
  EXPECT_EQ(resp.first_errors(0).record_index(), 2u);
  EXPECT_EQ(resp.first_errors(1).record_index(), 3u);
  EXPECT_EQ(resp.first_errors(2).record_index(), 4u);
  EXPECT_NE(resp.first_errors(0).message().find("src.type"), std::string::npos)
      << resp.first_errors(0).message();
  EXPECT_NE(resp.first_errors(1).message().find("id"), std::string::npos)
      << resp.first_errors(1).message();
  v1::GetEntitiesResponse got = GetEntities({product, buyer});
  EXPECT_TRUE(got.results(0).found());
  EXPECT_EQ(got.results(0).entity().name(), "imported");
  EXPECT_TRUE(got.results(1).found());
  ExpectNeighbors(Neighbors(product, v1::PURCHASED, v1::IN), {{buyer.id(), 9, 1}}, v1::BUYER,
                  "imported PURCHASED");
  ExpectNeighbors(Neighbors(product, v1::VIEWED, v1::IN), {{buyer.id(), 8, 1}}, v1::BUYER,
                  "imported VIEWED");
}

TEST_P(GraphApiTest, ImportStopsOnceMoreThanMaxErrorsAreRejected) {
  Cleanup cleanup(graph_);
  const v1::EntityKey product = Key(v1::PRODUCT, 5701);
  cleanup.Add(product);
  v1::ImportRequest req;
  req.mutable_options()->set_max_errors(1);
  v1::ImportRecord ok;
  *ok.mutable_entity()->mutable_key() = product;
  ok.mutable_entity()->set_update_time_ms(1);
  *req.add_records() = ok;
  req.add_records();  // rejected: neither entity nor edge
  req.add_records();  // rejected: the second one, more than max_errors
  v1::ImportResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  std::unique_ptr<grpc::ClientWriter<v1::ImportRequest>> writer = graph_->Import(&ctx, &resp);
  writer->Write(req);
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_TRUE(GetEntities({product}).results(0).found())
      << "records applied before the stop stay applied";

  // max_errors 0 (the default) stops at the first rejected record.
  v1::ImportRequest strict;
  strict.add_records();
  v1::ImportResponse strict_resp;
  grpc::ClientContext strict_ctx;
  SetDeadline(&strict_ctx);
  auto strict_writer = graph_->Import(&strict_ctx, &strict_resp);
  strict_writer->Write(strict);
  strict_writer->WritesDone();
  EXPECT_EQ(strict_writer->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(GraphApiTest, GetClusterInfoListsEveryPartitionAndSumsCounts) {
  v1::GetClusterInfoResponse info = ClusterInfo();
  EXPECT_EQ(info.role(), GetParam() == "split" ? "frontend" : "all");
  EXPECT_EQ(info.partition_count(), 4u);
  ASSERT_EQ(info.partitions_size(), 4);
  std::vector<ServerProcess*> servers = cluster_->partition_servers();
  uint64_t entities = 0, out_edges = 0, in_edges = 0;
  std::map<int, uint64_t> by_entity_type;
  std::map<std::pair<int, int>, uint64_t> by_edge_type;
  for (int p = 0; p < 4; ++p) {
    const v1::PartitionInfo& part = info.partitions(p);
    EXPECT_EQ(part.partition(), static_cast<uint32_t>(p));
    EXPECT_EQ(part.status().code(), kOk) << part.status().message();
    if (servers.empty()) {
      EXPECT_EQ(part.server(), "in-process");
    } else {
      EXPECT_EQ(part.server(), servers[p / 2]->grpc_address()) << "partition " << p;
    }
    entities += part.entity_count();
    out_edges += part.out_edge_count();
    in_edges += part.in_edge_count();
    uint64_t typed = 0;
    for (const auto& t : part.entities_by_type()) {
      EXPECT_GT(t.count(), 0u) << "non-zero counts only";
      by_entity_type[t.type()] += t.count();
      typed += t.count();
    }
    EXPECT_EQ(typed, part.entity_count());
    uint64_t typed_out = 0, typed_in = 0;
    for (const auto& t : part.edges_by_type()) {
      by_edge_type[{t.type(), t.direction()}] += t.count();
      (t.direction() == v1::OUT ? typed_out : typed_in) += t.count();
    }
    EXPECT_EQ(typed_out, part.out_edge_count());
    EXPECT_EQ(typed_in, part.in_edge_count());
    EXPECT_GT(part.memory_bytes(), 0u);
  }
  EXPECT_EQ(entities, info.entity_count());
  EXPECT_EQ(out_edges, info.edge_count());
  EXPECT_EQ(in_edges, info.edge_count());
  // What was written (tests that write clean up after themselves).
  EXPECT_EQ(info.entity_count(), Model().entity_count());
  EXPECT_EQ(info.edge_count(), Model().edge_count());
  EXPECT_EQ(by_entity_type[v1::CATEGORY], static_cast<uint64_t>(kCategories));
  EXPECT_EQ(by_entity_type[v1::PRODUCT], static_cast<uint64_t>(kProducts));
  EXPECT_EQ(by_entity_type[v1::BUYER], static_cast<uint64_t>(kBuyers));
  std::map<std::pair<int, int>, uint64_t> want_edges;
  for (const v1::Edge& e : TestDataset().edges) {
    ++want_edges[{e.type(), v1::OUT}];
    ++want_edges[{e.type(), v1::IN}];
  }
  EXPECT_EQ(by_edge_type, want_edges);
  EXPECT_FALSE(info.version().empty());
  EXPECT_GE(info.uptime_ms(), 0);

  // Writes move the sums by exactly what was written.
  Cleanup cleanup(graph_);
  std::vector<v1::Entity> added;
  std::vector<v1::Edge> edges;
  for (uint64_t id = 5801; id <= 5808; ++id) {
    v1::Entity e;
    *e.mutable_key() = Key(v1::PRODUCT, id);
    e.set_update_time_ms(1);
    added.push_back(e);
    cleanup.Add(e.key());
    edges.push_back(MakeEdge(e.key(), v1::IN_CATEGORY, Key(v1::CATEGORY, 1), 1, 1));
  }
  edges.push_back(MakeEdge(Key(v1::BUYER, 5801), v1::FOLLOWS, Key(v1::INFLUENCER, 5801), 1, 1));
  cleanup.Add(Key(v1::BUYER, 5801));
  cleanup.Add(Key(v1::INFLUENCER, 5801));
  ExpectAllOk(UpsertEntities(added));
  ExpectAllOk(UpsertEdges(edges));
  v1::GetClusterInfoResponse after = ClusterInfo();
  EXPECT_EQ(after.entity_count(), info.entity_count() + added.size());
  EXPECT_EQ(after.edge_count(), info.edge_count() + edges.size());
}

// Disabled: server bug. GetClusterInfoResponse.resident_memory_bytes ("Resident memory of
// the answering process, in bytes") is always 0 in both modes, while the same process
// exports kg_process_resident_memory_bytes > 0 on /metrics.
TEST_P(GraphApiTest, GetClusterInfoReportsResidentMemory) {
  v1::GetClusterInfoResponse info = ClusterInfo();
  EXPECT_GT(info.resident_memory_bytes(), 0u);
  absl::StatusOr<std::vector<MetricSample>> metrics =
      ScrapeMetrics(cluster_->frontend().metrics_address());
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  std::optional<double> rss = MetricValue(*metrics, "kg_process_resident_memory_bytes", {});
  ASSERT_TRUE(rss.has_value());
  // Same process, moments apart: within a factor of two.
  EXPECT_GT(static_cast<double>(info.resident_memory_bytes()), *rss / 2);
  EXPECT_LT(static_cast<double>(info.resident_memory_bytes()), *rss * 2);
}

// Bytes holding a string field set to invalid UTF-8, somewhere in a `type` message (at
// most three levels down); "" when the message has no string field that close.
std::string InvalidUtf8Request(const google::protobuf::Descriptor* type, int depth = 0) {
  using google::protobuf::FieldDescriptor;
  auto length_delimited = [](int number, const std::string& body) {
    std::string out;
    uint32_t tag = static_cast<uint32_t>(number) << 3 | 2;
    for (uint64_t v : {static_cast<uint64_t>(tag), static_cast<uint64_t>(body.size())}) {
      while (v >= 0x80) {
        out.push_back(static_cast<char>(v | 0x80));
        v >>= 7;
      }
      out.push_back(static_cast<char>(v));
    }
    return out + body;
  };
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (f->type() == FieldDescriptor::TYPE_STRING) return length_delimited(f->number(), "\xff\xfe");
  }
  if (depth >= 2) return "";
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (f->type() != FieldDescriptor::TYPE_MESSAGE) continue;
    std::string inner = InvalidUtf8Request(f->message_type(), depth + 1);
    if (!inner.empty()) return length_delimited(f->number(), inner);
  }
  return "";
}

TEST_P(GraphApiTest, UndecodableRequestBytesGetInvalidArgumentOnEveryMethod) {
  // Every method parses its request itself (raw methods): bytes that are no valid request
  // (malformed, or a string field that is not UTF-8) are refused naming the message type,
  // and serving goes on.
  grpc::GenericStub stub(cluster_->channel());
  int tried = 0, utf8_tried = 0;
  (void)v1::CategorizeRequest::descriptor();  // links knowledge.proto's descriptors
  for (const char* name : {"kg.v1.GraphService", "kg.v1.AdminService", "kg.v1.KnowledgeService"}) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int m = 0; m < service->method_count(); ++m) {
      const google::protobuf::MethodDescriptor* method = service->method(m);
      if (method->client_streaming() || method->server_streaming()) continue;  // Import: below
      const std::string path = absl::StrCat("/", service->full_name(), "/", method->name());
      std::vector<std::string> bodies = {"\x0a\xff\xff\xff\xff\x0f"};  // longer than the message
      std::string utf8 = InvalidUtf8Request(method->input_type());
      if (!utf8.empty()) {
        bodies.push_back(utf8);
        ++utf8_tried;
      }
      for (const std::string& body : bodies) {
        grpc::Slice slice(body.data(), body.size());
        grpc::ByteBuffer request(&slice, 1);
        grpc::ByteBuffer reply;
        grpc::ClientContext ctx;
        SetDeadline(&ctx);
        std::promise<grpc::Status> done;
        stub.UnaryCall(&ctx, path, grpc::StubOptions(), &request, &reply,
                       [&done](grpc::Status s) { done.set_value(s); });
        grpc::Status s = done.get_future().get();
        EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
            << path << ": " << s.error_message();
        EXPECT_NE(s.error_message().find("request: not a valid " +
                                         method->input_type()->full_name() + " message"),
                  std::string::npos)
            << path << ": " << s.error_message();
        ++tried;
      }
    }
  }
  EXPECT_GE(tried, 10);
  EXPECT_GE(utf8_tried, 5);  // the methods whose requests have a string field
  v1::GetEntitiesResponse resp = GetEntities({Key(v1::PRODUCT, 1)});
  ASSERT_EQ(resp.results_size(), 1);
  EXPECT_TRUE(resp.results(0).found());
}

TEST_P(GraphApiTest, ImportWithAnUndecodableMiddleMessageFailsSayingWhichAndWhatWasApplied) {
  Cleanup cleanup(graph_);
  const v1::EntityKey first = Key(v1::PRODUCT, 5801), third = Key(v1::PRODUCT, 5803);
  cleanup.Add(first);
  cleanup.Add(third);
  auto one_record = [](const v1::EntityKey& key, const std::string& name) {
    v1::ImportRequest req;
    v1::Entity* e = req.add_records()->mutable_entity();
    *e->mutable_key() = key;
    e->set_name(name);
    e->set_update_time_ms(1);
    return req;
  };
  v1::ImportResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  std::unique_ptr<grpc::ClientWriter<v1::ImportRequest>> writer = graph_->Import(&ctx, &resp);
  writer->Write(one_record(first, "valid"));
  // Sent as it is (the client library only logs the invalid UTF-8); the server cannot
  // parse it.
  writer->Write(one_record(Key(v1::PRODUCT, 5802), "\xff\xfe not UTF-8"));
  writer->Write(one_record(third, "valid too"));
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("message 2 of the stream"), std::string::npos)
      << s.error_message();
  EXPECT_NE(s.error_message().find("kg.v1.ImportRequest"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("applied before it: 1 records received (1 entities"),
            std::string::npos)
      << s.error_message();
  v1::GetEntitiesResponse got = GetEntities({first, third});
  ASSERT_EQ(got.results_size(), 2);
  EXPECT_TRUE(got.results(0).found()) << "the record before the bad message stays applied";
  EXPECT_FALSE(got.results(1).found()) << "a record after the bad message was applied";
}

TEST_P(GraphApiTest, WeightsBeyondTheFloatRangeAreRefused) {
  Cleanup cleanup(graph_);
  const v1::EntityKey buyer = Key(v1::BUYER, 5901), product = Key(v1::PRODUCT, 5902);
  cleanup.Add(buyer);
  cleanup.Add(product);
  v1::UpsertEdgesRequest req;
  for (double w : {1e300, -1e39, 3.0e38}) {
    *req.add_edges() = MakeEdge(buyer, v1::PURCHASED, product, 1000, 1);
    req.mutable_edges(req.edges_size() - 1)->set_weight(w);
  }
  v1::UpsertEdgesResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  ASSERT_TRUE(graph_->UpsertEdges(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 3);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(resp.results(i).code(), kInvalidArgument) << i;
    EXPECT_NE(resp.results(i).message().find(absl::StrCat("edges[", i, "].weight")),
              std::string::npos)
        << resp.results(i).message();
  }
  EXPECT_EQ(resp.results(2).code(), kOk) << resp.results(2).message();  // within range
  v1::NeighborList n = Neighbors(buyer, v1::PURCHASED, v1::OUT);
  ASSERT_EQ(n.neighbors_size(), 1);
  EXPECT_TRUE(std::isfinite(n.neighbors(0).weight()));
  EXPECT_FLOAT_EQ(static_cast<float>(n.neighbors(0).weight()), 3.0e38f);
  v1::DeleteEdgesRequest del;
  v1::EdgeKey* edge_key = del.add_edges();
  *edge_key->mutable_src() = buyer;
  edge_key->set_type(v1::PURCHASED);
  *edge_key->mutable_dst() = product;
  v1::DeleteEdgesResponse del_resp;
  grpc::ClientContext del_ctx;
  SetDeadline(&del_ctx);
  EXPECT_TRUE(graph_->DeleteEdges(&del_ctx, del, &del_resp).ok());
}

TEST_P(GraphApiTest, ErrorsNameTheValueAndFieldAsSent) {
  // A key type of -1 is reported as -1 (not as the byte it would wrap to).
  v1::GetEntitiesRequest get;
  v1::EntityKey* bad = get.add_keys();
  bad->set_type(static_cast<v1::EntityType>(-1));
  bad->set_id(1);
  v1::GetEntitiesResponse got;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::Status s = graph_->GetEntities(&ctx, get, &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("keys[0].type: must be a known entity type, got -1"),
            std::string::npos)
      << s.error_message();
  // A first hop that cannot start from the start keys names the hop.
  v1::TraverseRequest trav;
  *trav.add_start() = Key(v1::PRODUCT, 1);
  v1::Hop* hop = trav.add_hops();
  hop->set_edge_type(v1::PURCHASED);
  hop->set_direction(v1::OUT);
  v1::TraverseResponse trav_resp;
  grpc::ClientContext trav_ctx;
  SetDeadline(&trav_ctx);
  s = graph_->Traverse(&trav_ctx, trav, &trav_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("hops[0]: PURCHASED OUT starts from BUYER keys, but start[0] "
                                    "is a PRODUCT",
                                    0),
            0u)
      << s.error_message();
}

TEST_P(GraphApiTest, BadRequestsGetInvalidArgumentNamingTheFieldAndServingGoesOn) {
  auto still_serving = [this](const std::string& after) {
    v1::GetEntitiesResponse resp = GetEntities({Key(v1::PRODUCT, 1)});
    ASSERT_EQ(resp.results_size(), 1) << "after " << after;
    EXPECT_TRUE(resp.results(0).found()) << "after " << after;
  };
  auto get_entities = [this](const v1::GetEntitiesRequest& req) {
    v1::GetEntitiesResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    return graph_->GetEntities(&ctx, req, &resp);
  };
  auto get_neighbors = [this](const v1::GetNeighborsRequest& req) {
    v1::GetNeighborsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    return graph_->GetNeighbors(&ctx, req, &resp);
  };
  auto traverse = [this](const v1::TraverseRequest& req) {
    v1::TraverseResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    return graph_->Traverse(&ctx, req, &resp);
  };

  {
    v1::GetEntitiesRequest req;
    ExpectInvalid(get_entities(req), "keys: must not be empty", "GetEntities no keys");
    still_serving("empty GetEntities");
    for (int i = 0; i < 1001; ++i) *req.add_keys() = Key(v1::PRODUCT, i + 1);
    ExpectInvalid(get_entities(req), "keys", "GetEntities 1001 keys");
    still_serving("GetEntities 1001 keys");
    req.mutable_keys()->DeleteSubrange(2, 999);
    req.mutable_keys(1)->set_id(0);
    ExpectInvalid(get_entities(req), "keys[1].id", "GetEntities id 0");
    req.mutable_keys(1)->set_id(1);
    req.mutable_keys(1)->set_type(static_cast<v1::EntityType>(99));
    ExpectInvalid(get_entities(req), "keys[1].type", "GetEntities entity type 99");
    req.mutable_keys(1)->set_type(v1::PRODUCT);
    req.mutable_read_mask()->add_paths("no_such_field");
    ExpectInvalid(get_entities(req), "read_mask", "GetEntities bad read mask");
    still_serving("bad GetEntities");
  }
  {
    v1::UpsertEntitiesRequest req;
    v1::UpsertEntitiesResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ExpectInvalid(graph_->UpsertEntities(&ctx, req, &resp), "entities", "UpsertEntities empty");
  }
  {
    v1::UpsertEdgesRequest req;
    for (int i = 0; i < 1001; ++i) {
      *req.add_edges() =
          MakeEdge(Key(v1::BUYER, 9000 + i), v1::VIEWED, Key(v1::PRODUCT, 9000), 1, 1);
    }
    v1::UpsertEdgesResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ExpectInvalid(graph_->UpsertEdges(&ctx, req, &resp), "edges", "UpsertEdges 1001 edges");
    EXPECT_EQ(Count(Key(v1::PRODUCT, 9000), v1::VIEWED, v1::IN), 0u)
        << "a rejected batch stores nothing";
  }
  {
    v1::DeleteEntitiesRequest req;
    v1::DeleteEntitiesResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ExpectInvalid(graph_->DeleteEntities(&ctx, req, &resp), "keys", "DeleteEntities empty");
  }
  {
    v1::DeleteEdgesRequest req;
    v1::DeleteEdgesResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ExpectInvalid(graph_->DeleteEdges(&ctx, req, &resp), "edges", "DeleteEdges empty");
  }
  still_serving("bad writes");
  {
    v1::GetNeighborsRequest base;
    *base.add_keys() = Key(v1::PRODUCT, 1);
    base.set_edge_type(v1::PURCHASED);
    base.set_direction(v1::IN);
    v1::GetNeighborsRequest req = base;
    req.set_edge_type(static_cast<v1::EdgeType>(99));
    ExpectInvalid(get_neighbors(req), "edge_type", "GetNeighbors edge_type 99");
    req.set_edge_type(v1::EDGE_TYPE_UNSPECIFIED);
    ExpectInvalid(get_neighbors(req), "edge_type", "GetNeighbors edge_type unspecified");
    req = base;
    req.set_direction(static_cast<v1::Direction>(7));
    ExpectInvalid(get_neighbors(req), "direction", "GetNeighbors direction 7");
    req = base;
    req.set_limit(1001);
    ExpectInvalid(get_neighbors(req), "limit", "GetNeighbors limit 1001");
    req.set_limit(-1);
    ExpectInvalid(get_neighbors(req), "limit", "GetNeighbors limit -1");
    req = base;
    req.set_min_time_ms(10);
    req.set_max_time_ms(5);
    ExpectInvalid(get_neighbors(req), "min_time_ms", "GetNeighbors min > max");
    req = base;
    req.set_min_time_ms(-1);
    ExpectInvalid(get_neighbors(req), "min_time_ms", "GetNeighbors negative min");
    req = base;
    req.clear_keys();
    ExpectInvalid(get_neighbors(req), "keys", "GetNeighbors no keys");
    for (int i = 0; i < 101; ++i) *req.add_keys() = Key(v1::PRODUCT, i + 1);
    ExpectInvalid(get_neighbors(req), "keys", "GetNeighbors 101 keys");
    req.mutable_keys()->DeleteSubrange(20, 81);
    req.set_include_entities(true);
    req.set_limit(1000);
    ExpectInvalid(get_neighbors(req), "limit", "GetNeighbors 20 keys x 1000 with entities");
    still_serving("bad GetNeighbors");
  }
  {
    v1::CountNeighborsRequest req;
    v1::CountNeighborsResponse resp;
    {
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      ExpectInvalid(graph_->CountNeighbors(&ctx, req, &resp), "keys", "CountNeighbors no keys");
    }
    *req.add_keys() = Key(v1::PRODUCT, 1);
    req.add_edge_types(static_cast<v1::EdgeType>(99));
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ExpectInvalid(graph_->CountNeighbors(&ctx, req, &resp), "edge_types[0]",
                  "CountNeighbors edge type 99");
  }
  {
    v1::TraverseRequest base;
    *base.add_start() = Key(v1::PRODUCT, 1);
    v1::Hop* h = base.add_hops();
    h->set_edge_type(v1::PURCHASED);
    h->set_direction(v1::IN);
    v1::TraverseRequest req = base;
    req.clear_hops();
    ExpectInvalid(traverse(req), "hops", "Traverse no hops");
    req = base;
    for (int i = 0; i < 4; ++i) *req.add_hops() = base.hops(0);
    ExpectInvalid(traverse(req), "hops", "Traverse 5 hops");
    req = base;
    *req.add_hops() = base.hops(0);  // IN PURCHASED from a BUYER: does not fit
    ExpectInvalid(traverse(req), "hops[1]", "Traverse mismatched hop");
    req = base;
    req.set_max_results(1001);
    ExpectInvalid(traverse(req), "max_results", "Traverse max_results 1001");
    req = base;
    req.clear_start();
    ExpectInvalid(traverse(req), "start", "Traverse no start");
    req = base;
    req.mutable_hops(0)->set_limit(1001);
    ExpectInvalid(traverse(req), "hops[0].limit", "Traverse hop limit 1001");
    still_serving("bad Traverse");
  }
  {
    v1::ImportRequest req;
    for (int i = 0; i < 10001; ++i) {
      v1::ImportRecord* r = req.add_records();
      *r->mutable_entity()->mutable_key() = Key(v1::SPU, 9000 + i);
    }
    v1::ImportResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto writer = graph_->Import(&ctx, &resp);
    writer->Write(req);
    writer->WritesDone();
    ExpectInvalid(writer->Finish(), "records", "Import 10001 records in one message");
    v1::GetEntitiesResponse spu = GetEntities({Key(v1::SPU, 9000)});
    EXPECT_FALSE(spu.results(0).found()) << "an oversized message applies nothing";
    still_serving("oversized Import");
  }
  {
    v1::GetEntitiesRequest req;
    *req.add_keys() = Key(v1::PRODUCT, 1);
    v1::GetEntitiesResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() - std::chrono::seconds(1));
    EXPECT_EQ(graph_->GetEntities(&ctx, req, &resp).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
    still_serving("expired deadline");
  }
  {
    v1::GetClusterInfoResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() - std::chrono::seconds(1));
    EXPECT_EQ(
        cluster_->admin()->GetClusterInfo(&ctx, v1::GetClusterInfoRequest(), &resp).error_code(),
        grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  EXPECT_EQ(CheckHealth(cluster_->channel(), "", Millis(2000)), HealthState::kServing);
  EXPECT_EQ(CheckHealth(cluster_->channel(), "kg.v1.GraphService", Millis(2000)),
            HealthState::kServing);
}

INSTANTIATE_TEST_SUITE_P(Modes, GraphApiTest, ::testing::Values("embedded", "split"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "split" ? "Split" : "Embedded";
                         });

const ::testing::Environment* const kSharedClusters =
    ::testing::AddGlobalTestEnvironment(new SharedClusters);

}  // namespace
}  // namespace integration
}  // namespace kg
