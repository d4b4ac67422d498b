// The kg_server process lifecycle: health NOT_SERVING while --load_file loads, then
// SERVING; SIGTERM drains in-flight calls and exits 0 within --drain_timeout_ms; bad
// start-up input (a bad JSONL line, a bad cluster file, unreachable partitions) makes the
// process exit non-zero with a message naming the file and line.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kg/internal/v1/partition.grpc.pb.h"
#include "proto/jsonl.h"
#include "tests/integration/dataset.h"
#include "tests/integration/harness.h"

namespace kg {
namespace integration {
namespace {

using Clock = std::chrono::steady_clock;

// Slack allowed for process teardown beyond the drain timeout.
constexpr Millis kExitSlack(1000);

int64_t ElapsedMs(Clock::time_point since) {
  return std::chrono::duration_cast<Millis>(Clock::now() - since).count();
}

// A channel that retries connecting every few milliseconds (the default backoff is 1 s).
std::shared_ptr<grpc::Channel> EagerChannel(const std::string& address) {
  grpc::ChannelArguments args;
  // Retry connecting quickly, but give each attempt 200 ms: gRPC also uses the minimum
  // backoff as the connect timeout, and a server busy loading needs time to handshake.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 5);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// `lines` JSONL lines: entities with a few attributes, then VIEWED edges.
std::string BigJsonl(int lines, int* entities, int* edges) {
  std::string out;
  *entities = lines / 5;
  *edges = lines - *entities;
  for (int i = 1; i <= *entities; ++i) {
    v1::ImportRecord r;
    v1::Entity* e = r.mutable_entity();
    *e->mutable_key() = Key(v1::PRODUCT, i);
    e->set_name(absl::StrCat("A product with a longish title, number ", i));
    (*e->mutable_attributes())["color"] = i % 2 ? "red" : "blue";
    (*e->mutable_metrics())["price"] = i;
    e->set_update_time_ms(1);
    absl::StrAppend(&out, FormatRecordLine(r), "\n");
  }
  for (int i = 0; i < *edges; ++i) {
    v1::ImportRecord r;
    *r.mutable_edge() = MakeEdge(Key(v1::BUYER, 1 + i / 7), v1::VIEWED,
                                 Key(v1::PRODUCT, 1 + (i * 13) % *entities), 1000 + i, 1);
    absl::StrAppend(&out, FormatRecordLine(r), "\n");
  }
  return out;
}

class LifecycleTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(LifecycleTest, NotServingWhileLoadingThenServing) {
  int entities = 0, edges = 0;
  const std::string data = dir_.File("big.jsonl");
  ASSERT_TRUE(WriteFile(data, BigJsonl(60000, &entities, &edges)).ok());
  const int port = PickFreePort();
  ASSERT_NE(port, 0);
  ServerProcess server("loader", dir_.path());
  ASSERT_TRUE(server
                  .Start({absl::StrCat("--port=", port), "--metrics_port=-1", "--partition_count=4",
                          "--load_file=" + data})
                  .ok());
  auto channel = EagerChannel(absl::StrCat("127.0.0.1:", port));
  const auto start = Clock::now();
  bool saw_not_serving = false;
  HealthState state = HealthState::kUnreachable;
  for (int i = 0; i < 5000 && ElapsedMs(start) < 15000; ++i) {
    // The service's state is read first: the server only goes NOT_SERVING -> SERVING, so
    // when the server as a whole is still NOT_SERVING afterwards, so was the service.
    const HealthState service = CheckHealth(channel, "kg.v1.GraphService", Millis(500));
    state = CheckHealth(channel, "", Millis(500));
    if (state == HealthState::kNotServing) {
      saw_not_serving = true;
      EXPECT_NE(service, HealthState::kServing) << "kg.v1.GraphService SERVING while loading";
      // Data requests are refused while loading, never answered from partial data.
      auto stub = v1::GraphService::NewStub(channel);
      v1::GetEntitiesRequest get;
      *get.add_keys() = Key(v1::PRODUCT, 1);
      v1::GetEntitiesResponse got;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + Millis(2000));
      grpc::Status st = stub->GetEntities(&ctx, get, &got);
      if (CheckHealth(channel, "", Millis(500)) == HealthState::kNotServing) {
        EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
      }
    }
    if (state == HealthState::kServing) break;
    ASSERT_FALSE(server.WaitExit(Millis(0)).has_value()) << server.LogTail();
    std::this_thread::sleep_for(Millis(1));
  }
  ASSERT_EQ(state, HealthState::kServing) << server.LogTail();
  EXPECT_TRUE(saw_not_serving) << "health should be NOT_SERVING while the file loads";
  ASSERT_TRUE(server.WaitServing().ok());
  EXPECT_EQ(CheckHealth(channel, "kg.v1.GraphService", Millis(1000)), HealthState::kServing);

  // Everything in the file is there.
  auto admin = v1::AdminService::NewStub(channel);
  v1::GetClusterInfoResponse info;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  ASSERT_TRUE(admin->GetClusterInfo(&ctx, v1::GetClusterInfoRequest(), &info).ok());
  EXPECT_EQ(info.entity_count(), static_cast<uint64_t>(entities));
  EXPECT_EQ(info.edge_count(), static_cast<uint64_t>(edges));

  EXPECT_EQ(server.Stop(), std::optional<int>(0)) << server.LogTail();
}

// SIGTERM with nothing in flight: exit 0 well within the drain timeout.
void ExpectPromptExit(const std::string& dir, const std::string& metrics_port) {
  constexpr int kDrainMs = 200;
  ServerProcess server("drain", dir);
  ASSERT_TRUE(server
                  .Start({"--metrics_port=" + metrics_port, "--partition_count=2",
                          absl::StrCat("--drain_timeout_ms=", kDrainMs)})
                  .ok());
  ASSERT_TRUE(server.WaitServing().ok());
  const auto start = Clock::now();
  server.Signal(SIGTERM);
  std::optional<int> code = server.WaitExit(Millis(10000));
  const int64_t took = ElapsedMs(start);
  ASSERT_TRUE(code.has_value()) << "no exit within 10 s of SIGTERM";
  EXPECT_EQ(*code, 0) << server.LogTail();
  EXPECT_LE(took, kDrainMs + kExitSlack.count())
      << "exit took " << took << " ms after SIGTERM with --drain_timeout_ms=" << kDrainMs;
}

TEST_F(LifecycleTest, SigtermExitsZeroWithinTheDrainTimeout) {
  ExpectPromptExit(dir_.path(), "-1");
}

// Disabled: server bug. With the metrics endpoint enabled, the process exits about
// 1.7-2 s after SIGTERM whatever --drain_timeout_ms is ("stopped" is logged within a few
// ms; the rest is spent after RunServer's drain, apparently in the Prometheus exposer's
// shutdown), so a 200 ms drain timeout is not honoured.
TEST_F(LifecycleTest, SigtermExitsWithinTheDrainTimeoutWithMetricsEnabled) {
  ExpectPromptExit(dir_.path(), "0");
}

TEST_F(LifecycleTest, InFlightCallFinishesDuringTheDrain) {
  ServerProcess server("inflight", dir_.path());
  ASSERT_TRUE(server.Start({"--metrics_port=-1", "--drain_timeout_ms=5000"}).ok());
  ASSERT_TRUE(server.WaitServing().ok());
  auto channel = grpc::CreateChannel(server.grpc_address(), grpc::InsecureChannelCredentials());
  auto graph = v1::GraphService::NewStub(channel);
  v1::ImportRequest req;
  *req.add_records()->mutable_entity()->mutable_key() = Key(v1::BRAND, 1);
  v1::ImportResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  auto writer = graph->Import(&ctx, &resp);
  ASSERT_TRUE(writer->Write(req));
  std::this_thread::sleep_for(Millis(200));  // the call is now in flight on the server
  const auto start = Clock::now();
  server.Signal(SIGTERM);
  std::this_thread::sleep_for(Millis(200));
  EXPECT_FALSE(server.WaitExit(Millis(0)).has_value()) << "exited with a call in flight";
  EXPECT_NE(CheckHealth(channel, "", Millis(500)), HealthState::kServing)
      << "a draining server is not SERVING";
  *req.mutable_records(0)->mutable_entity()->mutable_key() = Key(v1::BRAND, 2);
  EXPECT_TRUE(writer->Write(req));
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(resp.records_received(), 2u);
  EXPECT_EQ(resp.entities_upserted(), 2u);
  std::optional<int> code = server.WaitExit(Millis(5000) + kExitSlack);
  ASSERT_TRUE(code.has_value()) << "no exit within the drain timeout";
  EXPECT_EQ(*code, 0) << server.LogTail();
  EXPECT_LT(ElapsedMs(start), 5000) << "the drain ends when the last call finishes";
}

TEST_F(LifecycleTest, InFlightCallIsCancelledAtTheDrainTimeout) {
  constexpr int kDrainMs = 300;
  ServerProcess server("stuck", dir_.path());
  ASSERT_TRUE(
      server.Start({"--metrics_port=-1", absl::StrCat("--drain_timeout_ms=", kDrainMs)}).ok());
  ASSERT_TRUE(server.WaitServing().ok());
  auto graph = v1::GraphService::NewStub(
      grpc::CreateChannel(server.grpc_address(), grpc::InsecureChannelCredentials()));
  v1::ImportRequest req;
  *req.add_records()->mutable_entity()->mutable_key() = Key(v1::BRAND, 1);
  v1::ImportResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  auto writer = graph->Import(&ctx, &resp);
  ASSERT_TRUE(writer->Write(req));
  std::this_thread::sleep_for(Millis(200));
  const auto start = Clock::now();
  server.Signal(SIGTERM);
  // The client never finishes its stream: the server must cancel it and exit anyway.
  std::optional<int> code = server.WaitExit(Millis(10000));
  const int64_t took = ElapsedMs(start);
  ASSERT_TRUE(code.has_value()) << "still running 10 s after SIGTERM";
  EXPECT_EQ(*code, 0) << server.LogTail();
  EXPECT_LE(took, kDrainMs + kExitSlack.count());
  writer->WritesDone();
  EXPECT_FALSE(writer->Finish().ok()) << "the stuck call cannot have succeeded";
}

TEST_F(LifecycleTest, BadLoadFileLineExitsNonZeroNamingFileAndLine) {
  struct Case {
    std::string name;
    std::string bad_line;
  };
  const std::vector<Case> cases = {
      {"syntax", "{\"entity\": {\"key\": {\"type\": \"PRODUCT\", \"id\": \"3\"}"},
      {"unknown_enum", "{\"entity\": {\"key\": {\"type\": \"GADGET\", \"id\": \"3\"}}}"},
      {"schema",
       "{\"edge\": {\"src\": {\"type\": \"PRODUCT\", \"id\": \"1\"}, \"type\": "
       "\"PURCHASED\", \"dst\": {\"type\": \"PRODUCT\", \"id\": \"2\"}, \"timeMs\": "
       "\"5\"}}"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir_.File(c.name + ".jsonl");
    const std::string good =
        "{\"entity\":{\"key\":{\"type\":\"PRODUCT\",\"id\":\"1\"},\"name\":\"x\"}}\n";
    // Line 4 is bad (line 2 is a comment, line 3 blank).
    ASSERT_TRUE(WriteFile(path, good + "# comment\n\n" + c.bad_line + "\n" + good).ok());
    ServerProcess server("bad_" + c.name, dir_.path());
    ASSERT_TRUE(
        server.Start({"--load_file=" + path, "--partition_count=2", "--metrics_port=-1"}).ok());
    std::optional<int> code = server.WaitExit(Millis(10000));
    ASSERT_TRUE(code.has_value()) << "still running with a bad --load_file";
    EXPECT_NE(*code, 0);
    EXPECT_NE(server.ReadLog().find(path + ":4"), std::string::npos)
        << "the message should name " << path << ":4; log:\n"
        << server.LogTail();
    EXPECT_EQ(ReadFile(dir_.File("bad_" + c.name + ".ports")), "") << "never serving";
  }
}

TEST_F(LifecycleTest, BadClusterFileExitsNonZeroNamingTheLine) {
  struct Case {
    std::string name;
    std::string text;
    std::string expected;  // substring of the error
  };
  const std::vector<Case> cases = {
      {"range", "# cluster\npartitions 4\nserver 127.0.0.1:1 0-1\nserver 127.0.0.1:2 2-x\n",
       "cluster_range.txt:4"},
      {"twice", "partitions 4\nserver 127.0.0.1:1 0-2\nserver 127.0.0.1:2 2-3\n",
       "cluster_twice.txt:3"},
      {"keyword", "partitions 4\nserver 127.0.0.1:1 0-3\nservers 127.0.0.1:2 2-3\n",
       "cluster_keyword.txt:3"},
      {"out_of_range", "partitions 2\nserver 127.0.0.1:1 0-2\n", "cluster_out_of_range.txt:2"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir_.File("cluster_" + c.name + ".txt");
    ASSERT_TRUE(WriteFile(path, c.text).ok());
    ServerProcess server("frontend_" + c.name, dir_.path());
    ASSERT_TRUE(
        server.Start({"--role=frontend", "--cluster_file=" + path, "--metrics_port=-1"}).ok());
    std::optional<int> code = server.WaitExit(Millis(10000));
    ASSERT_TRUE(code.has_value()) << "still running with a bad cluster file";
    EXPECT_NE(*code, 0);
    EXPECT_NE(server.ReadLog().find(c.expected), std::string::npos)
        << "the message should name " << c.expected << "; log:\n"
        << server.LogTail();
  }
}

TEST_F(LifecycleTest, FrontendGivesUpOnUnreachablePartitions) {
  const std::string path = dir_.File("cluster.txt");
  ASSERT_TRUE(
      WriteFile(path, absl::StrCat("partitions 2\nserver 127.0.0.1:", PickFreePort(), " 0-1\n"))
          .ok());
  ServerProcess server("frontend", dir_.path());
  const auto start = Clock::now();
  ASSERT_TRUE(server
                  .Start({"--role=frontend", "--cluster_file=" + path, "--startup_timeout_ms=500",
                          "--metrics_port=-1"})
                  .ok());
  std::optional<int> code = server.WaitExit(Millis(10000));
  ASSERT_TRUE(code.has_value()) << "still running 10 s after a 500 ms start-up timeout";
  EXPECT_NE(*code, 0);
  EXPECT_LT(ElapsedMs(start), 5000);
  EXPECT_NE(server.ReadLog().find("partition 0"), std::string::npos) << server.LogTail();
}

// A memory-only partition server restarted with --load_file answers no data request while
// it loads: its own PartitionService refuses them (UNAVAILABLE) until health says SERVING,
// and through the front end its keys come back UNAVAILABLE per item, never "not found",
// and writes to them are refused rather than accepted into a partition still loading.
TEST_F(LifecycleTest, PartitionServerLoadingAnswersNoDataRequest) {
  int entities = 0, edges = 0;
  const std::string data = dir_.File("big.jsonl");
  ASSERT_TRUE(WriteFile(data, BigJsonl(60000, &entities, &edges)).ok());
  const int port_a = PickFreePort(), port_b = PickFreePort();
  auto partition_flags = [&](int port, const std::string& parts) {
    return std::vector<std::string>{"--role=partition",      "--partition_count=4",
                                    "--partitions=" + parts, absl::StrCat("--port=", port),
                                    "--metrics_port=-1",     "--load_file=" + data};
  };
  auto a = std::make_unique<ServerProcess>("a0", dir_.path());
  ServerProcess b("b", dir_.path());
  ASSERT_TRUE(a->Start(partition_flags(port_a, "0,1")).ok());
  ASSERT_TRUE(b.Start(partition_flags(port_b, "2,3")).ok());
  ASSERT_TRUE(WriteFile(dir_.File("cluster.txt"),
                        ClusterFileText(4, {{absl::StrCat("127.0.0.1:", port_a), "0,1"},
                                            {absl::StrCat("127.0.0.1:", port_b), "2,3"}}))
                  .ok());
  ServerProcess frontend("frontend", dir_.path());
  ASSERT_TRUE(frontend
                  .Start({"--role=frontend", "--cluster_file=" + dir_.File("cluster.txt"),
                          "--metrics_port=-1"})
                  .ok());
  ASSERT_TRUE(a->WaitServing(Millis(30000)).ok()) << a->LogTail();
  ASSERT_TRUE(b.WaitServing(Millis(30000)).ok()) << b.LogTail();
  ASSERT_TRUE(frontend.WaitServing(Millis(30000)).ok()) << frontend.LogTail();
  auto graph = v1::GraphService::NewStub(
      grpc::CreateChannel(frontend.grpc_address(), grpc::InsecureChannelCredentials()));

  int saw_unavailable_items = 0, polls_while_loading = 0, refused_writes = 0;
  for (int round = 0; round < 3; ++round) {
    a->Signal(SIGKILL);
    ASSERT_TRUE(a->WaitExit(Millis(5000)).has_value());
    a = std::make_unique<ServerProcess>(absl::StrCat("a", round + 1), dir_.path());
    ASSERT_TRUE(a->Start(partition_flags(port_a, "0,1")).ok());
    auto channel = EagerChannel(absl::StrCat("127.0.0.1:", port_a));
    auto partition = internal::v1::PartitionService::NewStub(channel);
    const auto start = Clock::now();
    HealthState state = HealthState::kUnreachable;
    std::map<uint64_t, std::string> last_acked;  // product id -> name acknowledged last
    for (int i = 0; i < 3000 && ElapsedMs(start) < 30000; ++i) {
      // Directly: a data request to a loading partition server is refused.
      internal::v1::GetEntitiesRequest direct;
      direct.mutable_target()->set_partition(round % 2);
      direct.mutable_target()->set_partition_count(4);
      for (int k = 1; k <= 20; ++k) *direct.add_keys() = Key(v1::PRODUCT, k);
      internal::v1::GetEntitiesResponse direct_resp;
      grpc::ClientContext direct_ctx;
      direct_ctx.set_deadline(std::chrono::system_clock::now() + Millis(2000));
      grpc::Status ds = partition->GetEntities(&direct_ctx, direct, &direct_resp);
      // The server turns health SERVING before it opens to data requests: NOT_SERVING
      // afterwards means it was closed when the request came.
      state = CheckHealth(channel, "", Millis(500));
      if (state == HealthState::kNotServing) {
        ++polls_while_loading;
        EXPECT_EQ(ds.error_code(), grpc::StatusCode::UNAVAILABLE)
            << "a loading partition server answered " << ds.error_code() << " "
            << ds.error_message();
      }
      // Through the front end: every key exists, so each item is found or UNAVAILABLE.
      v1::GetEntitiesRequest get;
      for (int k = 1; k <= 40; ++k) *get.add_keys() = Key(v1::PRODUCT, k);
      v1::GetEntitiesResponse got;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + Millis(3000));
      grpc::Status s = graph->GetEntities(&ctx, get, &got);
      ASSERT_TRUE(s.ok()) << s.error_message();
      for (const auto& r : got.results()) {
        if (r.status().code() == static_cast<int>(grpc::StatusCode::UNAVAILABLE)) {
          ++saw_unavailable_items;
          continue;
        }
        ASSERT_EQ(r.status().code(), 0) << r.status().message();
        ASSERT_TRUE(r.found()) << "PRODUCT:" << r.key().id()
                               << " reported not found while its partition server loads";
      }
      // A write of existing keys: refused while loading, or kept once acknowledged.
      v1::UpsertEntitiesRequest put;
      for (int k = 1; k <= 8; ++k) {
        v1::Entity* e = put.add_entities();
        *e->mutable_key() = Key(v1::PRODUCT, k);
        e->set_name(absl::StrCat("renamed ", round, " ", i));
        e->set_update_time_ms(2);
      }
      v1::UpsertEntitiesResponse put_resp;
      grpc::ClientContext put_ctx;
      put_ctx.set_deadline(std::chrono::system_clock::now() + Millis(3000));
      ASSERT_TRUE(graph->UpsertEntities(&put_ctx, put, &put_resp).ok());
      for (int k = 0; k < put_resp.results_size(); ++k) {
        if (put_resp.results(k).code() == 0) {
          last_acked[put.entities(k).key().id()] = put.entities(k).name();
        } else {
          EXPECT_EQ(put_resp.results(k).code(), static_cast<int>(grpc::StatusCode::UNAVAILABLE))
              << put_resp.results(k).message();
          ++refused_writes;
        }
      }
      if (state == HealthState::kServing) {
        // Loaded: what was acknowledged (now or during the load) is there, not overwritten
        // by the file.
        ASSERT_TRUE(a->WaitServing().ok()) << a->LogTail();
        v1::GetEntitiesRequest check;
        for (int k = 1; k <= 8; ++k) *check.add_keys() = Key(v1::PRODUCT, k);
        v1::GetEntitiesResponse check_resp;
        grpc::ClientContext check_ctx;
        SetDeadline(&check_ctx);
        ASSERT_TRUE(graph->GetEntities(&check_ctx, check, &check_resp).ok());
        for (const auto& r : check_resp.results()) {
          EXPECT_TRUE(r.found());
          auto it = last_acked.find(r.key().id());
          if (it == last_acked.end()) continue;
          EXPECT_EQ(r.entity().name(), it->second)
              << "an acknowledged rename of PRODUCT:" << r.key().id() << " was lost to the load";
        }
        break;
      }
      ASSERT_FALSE(a->WaitExit(Millis(0)).has_value()) << a->LogTail();
    }
    ASSERT_EQ(state, HealthState::kServing) << a->LogTail();
  }
  EXPECT_GT(polls_while_loading, 0) << "never caught the partition server loading";
  EXPECT_GT(saw_unavailable_items, 0);
  EXPECT_GT(refused_writes, 0);
  EXPECT_EQ(frontend.Stop(), std::optional<int>(0)) << frontend.LogTail();
  EXPECT_EQ(a->Stop(), std::optional<int>(0)) << a->LogTail();
  EXPECT_EQ(b.Stop(), std::optional<int>(0)) << b.LogTail();
}

}  // namespace
}  // namespace integration
}  // namespace kg
