// The embedded mode and the split mode are one service: the same sequence of reads,
// writes and bad requests against an embedded and a split cluster holding the same data
// must give identical responses (protobuf equality, status codes and messages), except
// GetClusterInfo's fields that describe the answering process (role, server addresses,
// resident memory, uptime). Checked for data loaded through the API and via --load_file.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/integration/dataset.h"
#include "tests/integration/harness.h"

namespace kg {
namespace integration {
namespace {

using google::protobuf::Message;
using google::protobuf::util::MessageDifferencer;

// One call of the sequence: what was asked and what came back.
struct Answer {
  std::string what;
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  std::unique_ptr<Message> response;
};

// Runs the fixed sequence of calls against `cluster` and returns every answer, in order.
class Sequence {
 public:
  explicit Sequence(Cluster* cluster) : cluster_(cluster), graph_(cluster->graph()) {}

  std::vector<Answer> Run() {
    const Dataset& data = TestDataset();
    // Entities: every key, some missing, with and without a read mask.
    v1::GetEntitiesRequest entities;
    for (const v1::Entity& e : data.entities) *entities.add_keys() = e.key();
    for (uint64_t id = 900; id < 910; ++id) *entities.add_keys() = Key(v1::PRODUCT, id);
    *entities.add_keys() = Key(v1::BUYER, kGhostBuyerFirst);
    Unary("GetEntities all", &v1::GraphService::Stub::GetEntities, entities,
          v1::GetEntitiesResponse());
    entities.mutable_read_mask()->add_paths("name");
    entities.mutable_read_mask()->add_paths("metrics.price");
    Unary("GetEntities masked", &v1::GraphService::Stub::GetEntities, entities,
          v1::GetEntitiesResponse());

    // Neighbors of every key in both directions, with entities inline.
    v1::GetNeighborsRequest products;
    for (uint64_t p = 1; p <= kProducts; ++p) *products.add_keys() = Key(v1::PRODUCT, p);
    products.set_direction(v1::IN);
    products.set_limit(100);
    products.set_include_entities(true);
    for (v1::EdgeType t : {v1::PURCHASED, v1::VIEWED}) {
      products.set_edge_type(t);
      Unary(absl::StrCat("GetNeighbors products IN ", t), &v1::GraphService::Stub::GetNeighbors,
            products, v1::GetNeighborsResponse());
    }
    for (uint64_t first = 1; first <= kBuyers; first += 100) {
      v1::GetNeighborsRequest buyers;
      for (uint64_t b = first; b < first + 100; ++b) *buyers.add_keys() = Key(v1::BUYER, b);
      buyers.set_edge_type(v1::VIEWED);
      buyers.set_limit(1000);
      buyers.set_min_time_ms(kBaseTimeMs + 300000);
      buyers.set_max_time_ms(kBaseTimeMs + 1500000);
      Unary(absl::StrCat("GetNeighbors buyers from ", first), &v1::GraphService::Stub::GetNeighbors,
            buyers, v1::GetNeighborsResponse());
    }
    // A paged walk, page tokens included.
    v1::GetNeighborsRequest paged;
    *paged.add_keys() = Key(v1::PRODUCT, 3);
    paged.set_edge_type(v1::VIEWED);
    paged.set_direction(v1::IN);
    paged.set_limit(4);
    for (int page = 0; page < 100; ++page) {
      v1::GetNeighborsResponse resp;
      Unary(absl::StrCat("GetNeighbors page ", page), &v1::GraphService::Stub::GetNeighbors, paged,
            v1::GetNeighborsResponse(), &resp);
      if (resp.results_size() != 1 || resp.results(0).next_page_token().empty()) break;
      paged.set_page_token(resp.results(0).next_page_token());
    }

    // Counts of every key, without and with a window.
    v1::CountNeighborsRequest counts;
    for (const v1::Entity& e : data.entities) *counts.add_keys() = e.key();
    Unary("CountNeighbors", &v1::GraphService::Stub::CountNeighbors, counts,
          v1::CountNeighborsResponse());
    counts.set_min_time_ms(kBaseTimeMs + 100000);
    counts.set_max_time_ms(kBaseTimeMs + 900000);
    Unary("CountNeighbors window", &v1::GraphService::Stub::CountNeighbors, counts,
          v1::CountNeighborsResponse());

    // Traversals from every product, both rankings.
    for (uint64_t p = 1; p <= kProducts; ++p) {
      v1::TraverseRequest req = AlsoBoughtRequest(p);
      req.set_ranking(p % 2 == 0 ? v1::TraverseRequest::WEIGHT_SUM
                                 : v1::TraverseRequest::PATH_COUNT);
      req.set_include_entities(p % 5 == 0);
      req.set_max_results(p % 7 == 0 ? 5 : 0);
      Unary(absl::StrCat("Traverse ", p), &v1::GraphService::Stub::Traverse, req,
            v1::TraverseResponse());
    }
    {
      v1::TraverseRequest req;
      *req.add_start() = Key(v1::BUYER, 10);
      *req.add_start() = Key(v1::BUYER, 20);
      for (v1::Direction d : {v1::OUT, v1::IN, v1::OUT}) {
        v1::Hop* h = req.add_hops();
        h->set_edge_type(v1::VIEWED);
        h->set_direction(d);
        h->set_limit(5);
      }
      req.set_max_frontier(30);
      Unary("Traverse 3 hops truncated", &v1::GraphService::Stub::Traverse, req,
            v1::TraverseResponse());
    }

    // Writes with per-item errors, then reads of what they changed.
    v1::UpsertEdgesRequest edges;
    *edges.add_edges() = MakeEdge(Key(v1::BUYER, 7), v1::PURCHASED, Key(v1::PRODUCT, 3), 5, 2);
    *edges.add_edges() = MakeEdge(Key(v1::PRODUCT, 7), v1::PURCHASED, Key(v1::PRODUCT, 3), 5, 2);
    *edges.add_edges() = MakeEdge(Key(v1::BUYER, 7), v1::FOLLOWS, Key(v1::INFLUENCER, 1), 5, 1);
    Unary("UpsertEdges", &v1::GraphService::Stub::UpsertEdges, edges, v1::UpsertEdgesResponse());
    v1::DeleteEdgesRequest delete_edges;
    for (int i = 0; i < 3; ++i) {
      v1::EdgeKey* k = delete_edges.add_edges();
      *k->mutable_src() = edges.edges(i).src();
      k->set_type(edges.edges(i).type());
      *k->mutable_dst() = edges.edges(i).dst();
    }
    *delete_edges.add_edges()->mutable_src() = Key(v1::BUYER, 1);
    Unary("DeleteEdges", &v1::GraphService::Stub::DeleteEdges, delete_edges,
          v1::DeleteEdgesResponse());
    v1::DeleteEntitiesRequest deletes;
    *deletes.add_keys() = Key(v1::PRODUCT, 5);
    *deletes.add_keys() = Key(v1::PRODUCT, 777);
    *deletes.add_keys() = Key(v1::BUYER, kGhostBuyerFirst);
    Unary("DeleteEntities", &v1::GraphService::Stub::DeleteEntities, deletes,
          v1::DeleteEntitiesResponse());
    v1::UpsertEntitiesRequest upserts;
    v1::Entity* e = upserts.add_entities();
    *e->mutable_key() = Key(v1::PRODUCT, 6);
    (*e->mutable_attributes())["color"] = "purple";
    e->set_update_time_ms(99);
    upserts.set_merge(true);
    *upserts.add_entities()->mutable_key() = Key(v1::PRODUCT, 0);
    Unary("UpsertEntities", &v1::GraphService::Stub::UpsertEntities, upserts,
          v1::UpsertEntitiesResponse());
    Unary("GetEntities after writes", &v1::GraphService::Stub::GetEntities, entities,
          v1::GetEntitiesResponse());
    products.set_edge_type(v1::PURCHASED);
    Unary("GetNeighbors after writes", &v1::GraphService::Stub::GetNeighbors, products,
          v1::GetNeighborsResponse());
    Import();

    // Bad requests.
    Unary("GetEntities empty", &v1::GraphService::Stub::GetEntities, v1::GetEntitiesRequest(),
          v1::GetEntitiesResponse());
    v1::GetNeighborsRequest bad = products;
    bad.set_limit(1001);
    Unary("GetNeighbors limit", &v1::GraphService::Stub::GetNeighbors, bad,
          v1::GetNeighborsResponse());
    bad.set_limit(10);
    bad.set_edge_type(static_cast<v1::EdgeType>(99));
    Unary("GetNeighbors edge type", &v1::GraphService::Stub::GetNeighbors, bad,
          v1::GetNeighborsResponse());

    // The cluster's shape and counts, without the answering process's own fields.
    v1::GetClusterInfoResponse info;
    Unary("GetClusterInfo", &v1::AdminService::Stub::GetClusterInfo, v1::GetClusterInfoRequest(),
          v1::GetClusterInfoResponse(), &info);
    auto* last = static_cast<v1::GetClusterInfoResponse*>(answers_.back().response.get());
    last->clear_role();
    last->clear_resident_memory_bytes();
    last->clear_uptime_ms();
    for (v1::PartitionInfo& p : *last->mutable_partitions()) p.clear_server();
    return std::move(answers_);
  }

 private:
  // Calls `method` (of the graph or admin stub) and records the answer; copies the
  // response to *out when given.
  template <typename Stub, typename Request, typename Response>
  void Unary(const std::string& what,
             grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
             const Request& req, Response prototype, Response* out = nullptr) {
    Stub* stub = StubFor(static_cast<Stub*>(nullptr));
    auto resp = std::make_unique<Response>(std::move(prototype));
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = (stub->*method)(&ctx, req, resp.get());
    if (out != nullptr) *out = *resp;
    answers_.push_back({what, s.error_code(), s.error_message(), std::move(resp)});
  }

  void Import() {
    v1::ImportRequest req;
    req.mutable_options()->set_max_errors(10);
    for (uint64_t i = 0; i < 20; ++i) {
      v1::ImportRecord* r = req.add_records();
      if (i % 4 == 3) continue;  // neither entity nor edge: rejected
      if (i % 2 == 0) {
        *r->mutable_entity()->mutable_key() = Key(v1::BRAND, 100 + i);
        r->mutable_entity()->set_name(absl::StrCat("Brand ", i));
        r->mutable_entity()->set_update_time_ms(10);
      } else {
        *r->mutable_edge() =
            MakeEdge(Key(v1::PRODUCT, i), v1::HAS_BRAND, Key(v1::BRAND, 100 + i - 1), 10 + i, 1);
      }
    }
    auto resp = std::make_unique<v1::ImportResponse>();
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto writer = graph_->Import(&ctx, resp.get());
    writer->Write(req);
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    answers_.push_back({"Import", s.error_code(), s.error_message(), std::move(resp)});
  }

  v1::GraphService::Stub* StubFor(v1::GraphService::Stub*) { return graph_; }
  v1::AdminService::Stub* StubFor(v1::AdminService::Stub*) { return cluster_->admin(); }

  Cluster* cluster_;
  v1::GraphService::Stub* graph_;
  std::vector<Answer> answers_;
};

// Expects both sequences to match call by call.
void ExpectSameAnswers(const std::vector<Answer>& embedded, const std::vector<Answer>& split) {
  ASSERT_EQ(embedded.size(), split.size());
  int ok_calls = 0;
  for (size_t i = 0; i < embedded.size(); ++i) {
    const Answer& a = embedded[i];
    const Answer& b = split[i];
    ASSERT_EQ(a.what, b.what);
    EXPECT_EQ(a.code, b.code) << a.what << ": " << a.message << " vs " << b.message;
    EXPECT_EQ(a.message, b.message) << a.what;
    std::string diff;
    MessageDifferencer differ;
    differ.ReportDifferencesToString(&diff);
    EXPECT_TRUE(differ.Compare(*a.response, *b.response)) << a.what << " differs:\n"
                                                          << diff.substr(0, 3000);
    if (a.code == grpc::StatusCode::OK) ++ok_calls;
  }
  EXPECT_GT(ok_calls, 60) << "most calls of the sequence should succeed";
}

class ConsistencyTest : public ::testing::Test {
 protected:
  // Starts both modes with `options`, optionally loads the dataset through the API, runs
  // the sequence on both and compares; finally stops both (every process exits 0).
  void RunBoth(const ClusterOptions& options, bool load_via_rpc) {
    EmbeddedCluster embedded;
    SplitCluster split;
    absl::Status s = embedded.Start(options);
    ASSERT_TRUE(s.ok()) << s;
    s = split.Start(options);
    ASSERT_TRUE(s.ok()) << s;
    if (load_via_rpc) {
      s = LoadViaRpc(embedded.graph(), TestDataset());
      ASSERT_TRUE(s.ok()) << s;
      s = LoadViaRpc(split.graph(), TestDataset());
      ASSERT_TRUE(s.ok()) << s;
    }
    std::vector<Answer> a = Sequence(&embedded).Run();
    std::vector<Answer> b = Sequence(&split).Run();
    ExpectSameAnswers(a, b);
    s = StopClusters({&embedded, &split}, Millis(15000));
    EXPECT_TRUE(s.ok()) << s;
  }
};

TEST_F(ConsistencyTest, LoadedThroughTheApiBothModesAnswerIdentically) {
  RunBoth(ClusterOptions{}, /*load_via_rpc=*/true);
}

TEST_F(ConsistencyTest, LoadedFromTheSameFileBothModesAnswerIdentically) {
  TempDir dir;
  const std::string path = dir.File("dataset.jsonl");
  ASSERT_TRUE(WriteFile(path, DatasetJsonl(TestDataset())).ok());
  ClusterOptions options;
  options.load_file = path;
  RunBoth(options, /*load_via_rpc=*/false);
}

}  // namespace
}  // namespace integration
}  // namespace kg
