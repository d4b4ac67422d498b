// /metrics of every server moves with every RPC: after each public call the front end's
// grpc_server_* counters for that kg.v1 method grew by one, its grpc_client_* counters
// (label `partition`) grew for the kg.internal.v1.PartitionService methods it used, and
// in the split mode each partition server's grpc_server_* counters grew by exactly what
// the front end says it sent to that server's partitions. Also checks the kg_* gauges.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/integration/dataset.h"
#include "tests/integration/harness.h"

namespace kg {
namespace integration {
namespace {

constexpr char kPartitionService[] = "kg.internal.v1.PartitionService";
constexpr uint32_t kPartitionCount = 4;

using Labels = std::map<std::string, std::string>;
using Samples = std::vector<MetricSample>;

// One public call and the partition methods it must reach.
struct Step {
  std::string service;  // "kg.v1.GraphService" or "kg.v1.AdminService"
  std::string method;
  std::string grpc_type;  // "unary" or "client_stream"
  grpc::StatusCode expected_code;
  // PartitionService methods the front end must call for this request.
  std::vector<std::string> partition_methods;
  // Whether every partition gets each of them (the request touches keys of all).
  bool every_partition;
  std::function<grpc::Status()> call;
};

std::string CodeName(grpc::StatusCode code) {
  return code == grpc::StatusCode::OK ? "OK" : "INVALID_ARGUMENT";
}

// One cluster per mode, loaded from the dataset file, shared by the tests of that mode
// and stopped (every process exiting 0) after the last test.
class MetricsTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void TearDownTestSuite() {
    std::vector<Cluster*> running;
    for (auto& [mode, cluster] : clusters()) running.push_back(cluster.get());
    absl::Status s = StopClusters(running, Millis(15000));
    EXPECT_TRUE(s.ok()) << s;
    clusters().clear();
    dir().reset();
  }

  void SetUp() override {
    std::unique_ptr<Cluster>& slot = clusters()[GetParam()];
    if (slot == nullptr) {
      if (dir() == nullptr) {
        dir() = std::make_unique<TempDir>();
        ASSERT_TRUE(WriteFile(dir()->File("data.jsonl"), DatasetJsonl(TestDataset())).ok());
      }
      std::unique_ptr<Cluster> cluster = NewCluster(GetParam());
      ClusterOptions options;
      options.partition_count = kPartitionCount;
      options.load_file = dir()->File("data.jsonl");
      // No periodic completion of interrupted writes (every 2 s by default it lists the
      // intents of every partition): the counters must move only by the calls measured.
      options.frontend_flags = {"--intent_resolve_interval_ms=3600000"};
      absl::Status s = cluster->Start(options);
      ASSERT_TRUE(s.ok()) << s;
      slot = std::move(cluster);
    }
    cluster_ = slot.get();
  }

  // Scrapes every process: index 0.. the partition servers, last the front end.
  std::vector<Samples> ScrapeAll() {
    std::vector<Samples> out;
    for (const auto& p : cluster_->processes()) {
      absl::StatusOr<Samples> samples = ScrapeMetrics(p->metrics_address());
      EXPECT_TRUE(samples.ok()) << p->name() << ": " << samples.status();
      out.push_back(samples.ok() ? *samples : Samples());
    }
    return out;
  }

  // The partitions hosted by partition server `i` (0: lower half, 1: upper half).
  static std::vector<uint32_t> Hosted(size_t i) {
    std::vector<uint32_t> out;
    for (uint32_t p = 0; p < kPartitionCount; ++p) {
      if ((p < kPartitionCount / 2) == (i == 0)) out.push_back(p);
    }
    return out;
  }

  std::vector<Step> Steps();

  static std::map<std::string, std::unique_ptr<Cluster>>& clusters() {
    static auto* m = new std::map<std::string, std::unique_ptr<Cluster>>;
    return *m;
  }
  static std::unique_ptr<TempDir>& dir() {
    static auto* d = new std::unique_ptr<TempDir>;
    return *d;
  }

  Cluster* cluster_ = nullptr;
};

std::vector<Step> MetricsTest::Steps() {
  v1::GraphService::Stub* graph = cluster_->graph();
  v1::AdminService::Stub* admin = cluster_->admin();
  // Many keys, so that every partition holds some of them.
  auto all_products = [] {
    std::vector<v1::EntityKey> keys;
    for (uint64_t p = 1; p <= kProducts; ++p) keys.push_back(Key(v1::PRODUCT, p));
    return keys;
  };
  auto new_edges = [] {
    std::vector<v1::Edge> edges;
    for (uint64_t i = 0; i < 64; ++i) {
      edges.push_back(
          MakeEdge(Key(v1::BUYER, 7000 + i), v1::CLICKED, Key(v1::PRODUCT, 7000 + i), 100 + i, 1));
    }
    return edges;
  };
  std::vector<Step> steps;
  steps.push_back({"kg.v1.GraphService",
                   "GetEntities",
                   "unary",
                   grpc::StatusCode::OK,
                   {"GetEntities"},
                   true,
                   [=] {
                     v1::GetEntitiesRequest req;
                     for (const auto& k : all_products()) *req.add_keys() = k;
                     v1::GetEntitiesResponse resp;
                     grpc::ClientContext ctx;
                     SetDeadline(&ctx);
                     return graph->GetEntities(&ctx, req, &resp);
                   }});
  steps.push_back({"kg.v1.GraphService",
                   "UpsertEntities",
                   "unary",
                   grpc::StatusCode::OK,
                   {"UpsertEntities"},
                   true,
                   [=] {
                     v1::UpsertEntitiesRequest req;
                     for (uint64_t i = 0; i < 64; ++i) {
                       v1::Entity* e = req.add_entities();
                       *e->mutable_key() = Key(v1::PRODUCT, 7000 + i);
                       e->set_update_time_ms(1);
                     }
                     v1::UpsertEntitiesResponse resp;
                     grpc::ClientContext ctx;
                     SetDeadline(&ctx);
                     return graph->UpsertEntities(&ctx, req, &resp);
                   }});
  steps.push_back({"kg.v1.GraphService",
                   "UpsertEdges",
                   "unary",
                   grpc::StatusCode::OK,
                   {"UpsertEdgeCopies"},
                   true,
                   [=] {
                     v1::UpsertEdgesRequest req;
                     for (const auto& e : new_edges()) *req.add_edges() = e;
                     v1::UpsertEdgesResponse resp;
                     grpc::ClientContext ctx;
                     SetDeadline(&ctx);
                     return graph->UpsertEdges(&ctx, req, &resp);
                   }});
  steps.push_back({"kg.v1.GraphService",
                   "GetNeighbors",
                   "unary",
                   grpc::StatusCode::OK,
                   {"GetNeighbors", "GetEntities"},
                   true,
                   [=] {
                     v1::GetNeighborsRequest req;
                     for (const auto& k : all_products()) *req.add_keys() = k;
                     req.set_edge_type(v1::VIEWED);
                     req.set_direction(v1::IN);
                     req.set_include_entities(true);
                     v1::GetNeighborsResponse resp;
                     grpc::ClientContext ctx;
                     SetDeadline(&ctx);
                     return graph->GetNeighbors(&ctx, req, &resp);
                   }});
  steps.push_back({"kg.v1.GraphService",
                   "CountNeighbors",
                   "unary",
                   grpc::StatusCode::OK,
                   {"CountNeighbors"},
                   true,
                   [=] {
                     v1::CountNeighborsRequest req;
                     for (const auto& k : all_products()) *req.add_keys() = k;
                     v1::CountNeighborsResponse resp;
                     grpc::ClientContext ctx;
                     SetDeadline(&ctx);
                     return graph->CountNeighbors(&ctx, req, &resp);
                   }});
  steps.push_back({"kg.v1.GraphService",
                   "Traverse",
                   "unary",
                   grpc::StatusCode::OK,
                   {"GetNeighbors"},
                   false,
                   [=] {
                     v1::TraverseRequest req = AlsoBoughtRequest(10);
                     v1::TraverseResponse resp;
                     grpc::ClientContext ctx;
                     SetDeadline(&ctx);
                     return graph->Traverse(&ctx, req, &resp);
                   }});
  steps.push_back({"kg.v1.GraphService",
                   "DeleteEdges",
                   "unary",
                   grpc::StatusCode::OK,
                   {"DeleteEdgeCopies"},
                   true,
                   [=] {
                     v1::DeleteEdgesRequest req;
                     for (const auto& e : new_edges()) {
                       v1::EdgeKey* k = req.add_edges();
                       *k->mutable_src() = e.src();
                       k->set_type(e.type());
                       *k->mutable_dst() = e.dst();
                     }
                     v1::DeleteEdgesResponse resp;
                     grpc::ClientContext ctx;
                     SetDeadline(&ctx);
                     return graph->DeleteEdges(&ctx, req, &resp);
                   }});
  steps.push_back({"kg.v1.GraphService",
                   "DeleteEntities",
                   "unary",
                   grpc::StatusCode::OK,
                   {"DeleteEntities"},
                   true,
                   [=] {
                     v1::DeleteEntitiesRequest req;
                     for (uint64_t i = 0; i < 64; ++i) *req.add_keys() = Key(v1::PRODUCT, 7000 + i);
                     v1::DeleteEntitiesResponse resp;
                     grpc::ClientContext ctx;
                     SetDeadline(&ctx);
                     return graph->DeleteEntities(&ctx, req, &resp);
                   }});
  steps.push_back({"kg.v1.GraphService",
                   "Import",
                   "client_stream",
                   grpc::StatusCode::OK,
                   {"UpsertEntities", "UpsertEdgeCopies"},
                   false,
                   [=] {
                     v1::ImportRequest req;
                     for (uint64_t i = 0; i < 20; ++i) {
                       v1::ImportRecord* r = req.add_records();
                       if (i % 2 == 0) {
                         *r->mutable_entity()->mutable_key() = Key(v1::MERCHANT, 8000 + i);
                         r->mutable_entity()->set_update_time_ms(1);
                       } else {
                         *r->mutable_edge() = MakeEdge(Key(v1::PRODUCT, i), v1::SOLD_BY,
                                                       Key(v1::MERCHANT, 8000 + i - 1), 1, 1);
                       }
                     }
                     v1::ImportResponse resp;
                     grpc::ClientContext ctx;
                     SetDeadline(&ctx);
                     auto writer = graph->Import(&ctx, &resp);
                     writer->Write(req);
                     writer->Write(req);
                     writer->WritesDone();
                     return writer->Finish();
                   }});
  steps.push_back({"kg.v1.AdminService",
                   "GetClusterInfo",
                   "unary",
                   grpc::StatusCode::OK,
                   {"GetPartitionInfo"},
                   true,
                   [=] {
                     v1::GetClusterInfoResponse resp;
                     grpc::ClientContext ctx;
                     SetDeadline(&ctx);
                     return admin->GetClusterInfo(&ctx, v1::GetClusterInfoRequest(), &resp);
                   }});
  steps.push_back({"kg.v1.GraphService",
                   "GetEntities",
                   "unary",
                   grpc::StatusCode::INVALID_ARGUMENT,
                   {},
                   false,
                   [=] {
                     v1::GetEntitiesResponse resp;
                     grpc::ClientContext ctx;
                     SetDeadline(&ctx);
                     return graph->GetEntities(&ctx, v1::GetEntitiesRequest(), &resp);
                   }});
  return steps;
}

// Runs before the calls below change the data.
TEST_P(MetricsTest, DomainGaugesMatchTheLoadedData) {
  ASSERT_NE(cluster_, nullptr);
  std::vector<Samples> all = ScrapeAll();
  const std::vector<ServerProcess*> servers = cluster_->partition_servers();
  // The processes holding data: the partition servers, or the single embedded process.
  std::vector<size_t> holders;
  for (size_t i = 0; i < servers.size(); ++i) holders.push_back(i);
  if (servers.empty()) holders.push_back(0);
  double entities = 0, out_edges = 0, in_edges = 0, products = 0, purchased_in = 0;
  for (size_t h : holders) {
    const Samples& s = all[h];
    EXPECT_EQ(MetricValue(s, "kg_serving", {}), std::optional<double>(1));
    EXPECT_GT(MetricValue(s, "kg_process_resident_memory_bytes", {}).value_or(0), 0);
    std::vector<uint32_t> hosted;
    if (servers.empty()) {
      for (uint32_t p = 0; p < kPartitionCount; ++p) hosted.push_back(p);
    } else {
      hosted = Hosted(h);
    }
    for (uint32_t p = 0; p < kPartitionCount; ++p) {
      const std::string part = absl::StrCat(p);
      const bool here = std::find(hosted.begin(), hosted.end(), p) != hosted.end();
      std::optional<double> memory =
          MetricValue(s, "kg_partition_memory_bytes", {{"partition", part}});
      EXPECT_EQ(memory.has_value(), here) << "partition " << p << " on process " << h;
      if (here) {
        EXPECT_GT(memory.value_or(0), 0);
      }
      // No model bundle yet: one series with an empty version and 0 per hosted partition.
      EXPECT_EQ(
          MetricValue(s, "kg_model_bundle_info", {{"partition", part}, {"model_version", ""}}),
          here ? std::optional<double>(0) : std::nullopt)
          << "partition " << p << " on process " << h;
    }
    entities += SumMetric(s, "kg_entities", {});
    products += SumMetric(s, "kg_entities", {{"entity_type", "PRODUCT"}});
    out_edges += SumMetric(s, "kg_edges", {{"direction", "OUT"}});
    in_edges += SumMetric(s, "kg_edges", {{"direction", "IN"}});
    purchased_in += SumMetric(s, "kg_edges", {{"direction", "IN"}, {"edge_type", "PURCHASED"}});
  }
  EXPECT_EQ(entities, TestDataset().entities.size());
  EXPECT_EQ(products, kProducts);
  EXPECT_EQ(out_edges, TestDataset().edges.size());
  EXPECT_EQ(in_edges, TestDataset().edges.size());
  double want_purchased = 0;
  for (const v1::Edge& e : TestDataset().edges) want_purchased += e.type() == v1::PURCHASED;
  EXPECT_EQ(purchased_in, want_purchased);
  if (!servers.empty()) {
    // The front end holds no partitions.
    EXPECT_EQ(SumMetric(all.back(), "kg_entities", {}), 0);
    EXPECT_FALSE(MetricValue(all.back(), "kg_partition_memory_bytes", {{"partition", "0"}}));
  }
}

TEST_P(MetricsTest, EveryCallMovesTheCountersOfEveryServerItReaches) {
  ASSERT_NE(cluster_, nullptr);
  const std::vector<ServerProcess*> servers = cluster_->partition_servers();
  for (const Step& step : Steps()) {
    SCOPED_TRACE(absl::StrCat(step.method, " -> ", CodeName(step.expected_code)));
    std::vector<Samples> before = ScrapeAll();
    grpc::Status s = step.call();
    ASSERT_EQ(s.error_code(), step.expected_code) << s.error_message();
    std::vector<Samples> after = ScrapeAll();
    const Samples& fe0 = before.back();
    const Samples& fe1 = after.back();
    auto delta = [](const Samples& a, const Samples& b, const std::string& name,
                    const Labels& labels) {
      return SumMetric(b, name, labels) - SumMetric(a, name, labels);
    };

    // The front end served exactly this call.
    const Labels method = {{"grpc_service", step.service}, {"grpc_method", step.method}};
    Labels handled = method;
    handled["grpc_code"] = CodeName(step.expected_code);
    handled["grpc_type"] = step.grpc_type;
    EXPECT_TRUE(MetricValue(fe1, "grpc_server_handled_total", handled).has_value())
        << "no grpc_server_handled_total line with exactly these labels";
    EXPECT_EQ(delta(fe0, fe1, "grpc_server_handled_total", handled), 1);
    EXPECT_EQ(delta(fe0, fe1, "grpc_server_handled_total", method), 1);
    if (step.method == "Import") {
      // Two messages of 20 valid records: import progress counted on the front end.
      EXPECT_EQ(delta(fe0, fe1, "kg_import_records_total", {{"result", "accepted"}}), 40);
      EXPECT_EQ(delta(fe0, fe1, "kg_import_records_total", {{"result", "rejected"}}), 0);
    }
    EXPECT_EQ(delta(fe0, fe1, "grpc_server_started_total", method), 1);
    EXPECT_EQ(delta(fe0, fe1, "grpc_server_handling_seconds_count", method), 1);
    EXPECT_GE(delta(fe0, fe1, "grpc_server_msg_received_total", method), 1);
    Labels le_inf = method;
    le_inf["le"] = "+Inf";
    EXPECT_EQ(delta(fe0, fe1, "grpc_server_handling_seconds_bucket", le_inf), 1);
    EXPECT_GT(delta(fe0, fe1, "grpc_server_handling_seconds_sum", method), 0);
    if (step.expected_code == grpc::StatusCode::OK) {
      EXPECT_GE(delta(fe0, fe1, "grpc_server_msg_sent_total", method), 1);
    }
    if (step.partition_methods.empty()) {
      // A rejected request never reaches a partition.
      EXPECT_EQ(delta(fe0, fe1, "grpc_client_started_total", {{"grpc_service", kPartitionService}}),
                0);
    }

    for (const std::string& pm : step.partition_methods) {
      SCOPED_TRACE("partition method " + pm);
      const Labels internal = {{"grpc_service", kPartitionService}, {"grpc_method", pm}};
      EXPECT_GE(delta(fe0, fe1, "grpc_client_handled_total", internal), 1);
      EXPECT_GE(delta(fe0, fe1, "grpc_client_handling_seconds_count", internal), 1);
      std::vector<double> per_partition;
      for (uint32_t p = 0; p < kPartitionCount; ++p) {
        Labels lp = internal;
        lp["partition"] = absl::StrCat(p);
        Labels ok = lp;
        ok["grpc_code"] = "OK";
        per_partition.push_back(delta(fe0, fe1, "grpc_client_handled_total", lp));
        EXPECT_EQ(per_partition.back(), delta(fe0, fe1, "grpc_client_handled_total", ok))
            << "partition " << p << ": every partition call succeeded";
        EXPECT_EQ(per_partition.back(), delta(fe0, fe1, "grpc_client_handling_seconds_count", lp))
            << "partition " << p;
        if (step.every_partition) {
          EXPECT_GE(per_partition.back(), 1) << "partition " << p;
        }
      }
      // Each partition server handled exactly the calls the front end made to its
      // partitions.
      for (size_t i = 0; i < servers.size(); ++i) {
        double sent = 0;
        for (uint32_t p : Hosted(i)) sent += per_partition[p];
        const double served = delta(before[i], after[i], "grpc_server_handled_total", internal);
        EXPECT_EQ(served, sent) << servers[i]->name();
        EXPECT_EQ(delta(before[i], after[i], "grpc_server_handling_seconds_count", internal), sent)
            << servers[i]->name();
        EXPECT_EQ(delta(before[i], after[i], "grpc_server_started_total", internal), sent)
            << servers[i]->name();
        if (step.every_partition) {
          EXPECT_GE(served, 1) << servers[i]->name();
        }
      }
    }
    // Partition servers never serve the public services.
    for (size_t i = 0; i < servers.size(); ++i) {
      EXPECT_EQ(SumMetric(after[i], "grpc_server_handled_total", {{"grpc_service", step.service}}),
                0)
          << servers[i]->name();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, MetricsTest, ::testing::Values("embedded", "split"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "split" ? "Split" : "Embedded";
                         });

}  // namespace
}  // namespace integration
}  // namespace kg
