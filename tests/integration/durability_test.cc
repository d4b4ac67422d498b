// Durability of kg_server with --data_dir: every acknowledged write survives SIGKILL under a
// sustained write load (embedded mode, and a partition server of the split mode), no edge
// is left with only one of its two copies, a damaged data directory refuses to start, and a
// checkpoint restores.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kg/v1/admin.grpc.pb.h"
#include "kg/v1/graph.grpc.pb.h"
#include "tests/integration/dataset.h"
#include "tests/integration/harness.h"

namespace kg::integration {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kProducts = 20;

struct EdgeValue {
  int64_t time_ms;
  float weight;
};

// What the writers sent and what the server acknowledged.
struct Ledger {
  std::mutex mu;
  std::map<std::pair<uint64_t, uint64_t>, EdgeValue> acked;  // (buyer, product)
  std::set<uint64_t> acked_buyers;                           // entities
  std::set<uint64_t> attempted_buyers;
};

std::unique_ptr<v1::GraphService::Stub> GraphStub(const std::string& addr) {
  return v1::GraphService::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
}

// Writes buyers (an entity and 5 PURCHASED edges each) until `stop`, recording what was
// acknowledged. Bounded by `max_batches`.
void WriteLoad(const std::string& addr, int writer, uint64_t first_buyer, std::atomic<bool>* stop,
               Ledger* ledger, int max_batches) {
  auto stub = GraphStub(addr);
  std::mt19937_64 rng(writer * 7919 + first_buyer);
  for (int batch = 0; batch < max_batches && !stop->load(); ++batch) {
    uint64_t buyer = first_buyer + batch;
    {
      std::lock_guard<std::mutex> lock(ledger->mu);
      ledger->attempted_buyers.insert(buyer);
    }
    v1::UpsertEntitiesRequest ereq;
    v1::Entity* e = ereq.add_entities();
    *e->mutable_key() = Key(v1::BUYER, buyer);
    e->set_name(absl::StrCat("buyer ", buyer));
    v1::UpsertEntitiesResponse eresp;
    grpc::ClientContext ectx;
    SetDeadline(&ectx, Millis(3000));
    if (stub->UpsertEntities(&ectx, ereq, &eresp).ok() && eresp.results(0).code() == 0) {
      std::lock_guard<std::mutex> lock(ledger->mu);
      ledger->acked_buyers.insert(buyer);
    }
    v1::UpsertEdgesRequest req;
    std::vector<std::pair<uint64_t, EdgeValue>> sent;
    for (int i = 0; i < 5; ++i) {
      uint64_t product = 1 + (rng() % kProducts);
      bool dup = false;
      for (auto& [p, v] : sent) dup |= p == product;
      if (dup) continue;
      EdgeValue v{static_cast<int64_t>(1700000000000 + buyer * 10 + i),
                  static_cast<float>(1 + rng() % 5)};
      sent.emplace_back(product, v);
      v1::Edge* edge = req.add_edges();
      *edge->mutable_src() = Key(v1::BUYER, buyer);
      edge->set_type(v1::PURCHASED);
      *edge->mutable_dst() = Key(v1::PRODUCT, product);
      edge->set_time_ms(v.time_ms);
      edge->set_weight(v.weight);
    }
    v1::UpsertEdgesResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx, Millis(3000));
    if (!stub->UpsertEdges(&ctx, req, &resp).ok()) {
      std::this_thread::sleep_for(Millis(20));
      continue;
    }
    std::lock_guard<std::mutex> lock(ledger->mu);
    for (size_t i = 0; i < sent.size(); ++i) {
      if (resp.results(static_cast<int>(i)).code() == 0) {
        ledger->acked[{buyer, sent[i].first}] = sent[i].second;
      }
    }
  }
}

// Every edge between the ledger's buyers and the products, read from both sides.
struct Observed {
  std::map<std::pair<uint64_t, uint64_t>, EdgeValue> out, in;
  std::set<uint64_t> buyers_found;
};

Observed ReadBack(const std::string& addr, const Ledger& ledger) {
  Observed seen;
  auto stub = GraphStub(addr);
  std::vector<uint64_t> buyers(ledger.attempted_buyers.begin(), ledger.attempted_buyers.end());
  for (size_t i = 0; i < buyers.size(); i += 100) {
    v1::GetNeighborsRequest req;
    v1::GetEntitiesRequest ereq;
    for (size_t j = i; j < std::min(buyers.size(), i + 100); ++j) {
      *req.add_keys() = Key(v1::BUYER, buyers[j]);
      *ereq.add_keys() = Key(v1::BUYER, buyers[j]);
    }
    req.set_edge_type(v1::PURCHASED);
    req.set_limit(100);
    v1::GetNeighborsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    EXPECT_TRUE(stub->GetNeighbors(&ctx, req, &resp).ok());
    for (const auto& list : resp.results()) {
      for (const auto& n : list.neighbors()) {
        seen.out[{list.key().id(), n.key().id()}] = {n.time_ms(), static_cast<float>(n.weight())};
      }
    }
    v1::GetEntitiesResponse eresp;
    grpc::ClientContext ectx;
    SetDeadline(&ectx);
    EXPECT_TRUE(stub->GetEntities(&ectx, ereq, &eresp).ok());
    for (const auto& r : eresp.results()) {
      if (r.found()) seen.buyers_found.insert(r.key().id());
    }
  }
  for (uint64_t p = 1; p <= kProducts; ++p) {
    std::string token;
    for (int page = 0; page < 1000; ++page) {
      v1::GetNeighborsRequest req;
      *req.add_keys() = Key(v1::PRODUCT, p);
      req.set_edge_type(v1::PURCHASED);
      req.set_direction(v1::IN);
      req.set_limit(1000);
      req.set_page_token(token);
      v1::GetNeighborsResponse resp;
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      EXPECT_TRUE(stub->GetNeighbors(&ctx, req, &resp).ok());
      for (const auto& n : resp.results(0).neighbors()) {
        if (ledger.attempted_buyers.count(n.key().id())) {
          seen.in[{n.key().id(), p}] = {n.time_ms(), static_cast<float>(n.weight())};
        }
      }
      token = resp.results(0).next_page_token();
      if (token.empty()) break;
    }
  }
  return seen;
}

void ExpectDurableAndWhole(const Ledger& ledger, const Observed& seen, const std::string& round) {
  size_t missing = 0;
  for (const auto& [edge, v] : ledger.acked) {
    auto out = seen.out.find(edge);
    auto in = seen.in.find(edge);
    if (out == seen.out.end() || in == seen.in.end() || out->second.time_ms != v.time_ms ||
        in->second.weight != v.weight) {
      if (++missing <= 5) {
        ADD_FAILURE() << round << ": acknowledged edge buyer " << edge.first << " -> product "
                      << edge.second << " lost or changed (out " << (out != seen.out.end())
                      << ", in " << (in != seen.in.end()) << ")";
      }
    }
  }
  EXPECT_EQ(missing, 0u) << round;
  // Nothing half-applied: both copies or neither, with the same time and weight.
  size_t half = 0;
  for (const auto& [edge, v] : seen.out) {
    auto in = seen.in.find(edge);
    if (in == seen.in.end() || in->second.time_ms != v.time_ms || in->second.weight != v.weight) {
      ++half;
    }
  }
  for (const auto& [edge, v] : seen.in) half += seen.out.count(edge) == 0;
  EXPECT_EQ(half, 0u) << round << ": edges with only one copy";
  for (uint64_t b : ledger.acked_buyers) {
    EXPECT_TRUE(seen.buyers_found.count(b)) << round << ": acknowledged buyer " << b << " lost";
  }
}

// Waits until no partition reports pending intents (bounded).
void AwaitNoPendingIntents(const std::string& addr) {
  auto admin =
      v1::AdminService::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  uint64_t pending = 0;
  for (int i = 0; i < 100; ++i) {
    v1::GetClusterInfoResponse info;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ASSERT_TRUE(admin->GetClusterInfo(&ctx, v1::GetClusterInfoRequest(), &info).ok());
    pending = 0;
    for (const auto& p : info.partitions()) pending += p.pending_intents();
    if (pending == 0) return;
    std::this_thread::sleep_for(Millis(100));
  }
  FAIL() << pending << " intents still pending after 10 s";
}

// Runs `writers` write loads against `addr` for `millis`, then calls `crash`.
void LoadThenCrash(const std::string& addr, Ledger* ledger, uint64_t first_buyer, int millis,
                   const std::function<void()>& crash) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back(WriteLoad, addr, w, first_buyer + w * 100000, &stop, ledger, 5000);
  }
  std::this_thread::sleep_for(Millis(millis));
  crash();
  std::this_thread::sleep_for(Millis(100));
  stop = true;
  for (auto& t : writers) t.join();
}

TEST(DurabilityTest, EmbeddedSurvivesSigkillUnderWriteLoad) {
  TempDir dir;
  const int port = PickFreePort();
  const std::vector<std::string> flags = {absl::StrCat("--port=", port), "--metrics_port=-1",
                                          "--partition_count=4", "--data_dir=" + dir.File("data"),
                                          "--intent_resolve_interval_ms=200"};
  Ledger ledger;
  for (int round = 0; round < 3; ++round) {
    ServerProcess server(absl::StrCat("all", round), dir.path());
    ASSERT_TRUE(server.Start(flags).ok());
    ASSERT_TRUE(server.WaitServing().ok()) << server.LogTail();
    if (round > 0) {
      ExpectDurableAndWhole(ledger, ReadBack(server.grpc_address(), ledger),
                            absl::StrCat("after restart ", round));
    }
    LoadThenCrash(server.grpc_address(), &ledger, 1 + round * 1000000, 400 + 200 * round,
                  [&] { server.Signal(SIGKILL); });
    ASSERT_TRUE(server.WaitExit(Millis(5000)).has_value());
  }
  ServerProcess last("all-final", dir.path());
  ASSERT_TRUE(last.Start(flags).ok());
  ASSERT_TRUE(last.WaitServing().ok()) << last.LogTail();
  EXPECT_GT(ledger.acked.size(), 100u) << "the load acknowledged too little to test anything";
  ExpectDurableAndWhole(ledger, ReadBack(last.grpc_address(), ledger), "final");
  EXPECT_EQ(last.Stop(), 0);
}

TEST(DurabilityTest, SplitPartitionServerSurvivesSigkill) {
  TempDir dir;
  const int port_a = PickFreePort(), port_b = PickFreePort();
  auto partition_flags = [&](const std::string& name, int port, const std::string& parts) {
    return std::vector<std::string>{"--role=partition",      "--partition_count=4",
                                    "--partitions=" + parts, absl::StrCat("--port=", port),
                                    "--metrics_port=-1",     "--data_dir=" + dir.File(name)};
  };
  auto a = std::make_unique<ServerProcess>("a0", dir.path());
  ServerProcess b("b", dir.path());
  ASSERT_TRUE(a->Start(partition_flags("a", port_a, "0,1")).ok());
  ASSERT_TRUE(b.Start(partition_flags("b", port_b, "2,3")).ok());
  ASSERT_TRUE(a->WaitServing().ok()) << a->LogTail();
  ASSERT_TRUE(b.WaitServing().ok()) << b.LogTail();
  ASSERT_TRUE(
      WriteFile(dir.File("cluster.txt"), absl::StrCat("partitions 4\nserver 127.0.0.1:", port_a,
                                                      " 0,1\nserver 127.0.0.1:", port_b, " 2,3\n"))
          .ok());
  ServerProcess frontend("frontend", dir.path());
  ASSERT_TRUE(frontend
                  .Start({"--role=frontend", "--cluster_file=" + dir.File("cluster.txt"),
                          "--metrics_port=-1", "--intent_resolve_interval_ms=200"})
                  .ok());
  ASSERT_TRUE(frontend.WaitServing().ok()) << frontend.LogTail();
  Ledger ledger;
  for (int round = 0; round < 3; ++round) {
    LoadThenCrash(frontend.grpc_address(), &ledger, 1 + round * 1000000, 400 + 200 * round,
                  [&] { a->Signal(SIGKILL); });
    ASSERT_TRUE(a->WaitExit(Millis(5000)).has_value());
    a = std::make_unique<ServerProcess>(absl::StrCat("a", round + 1), dir.path());
    ASSERT_TRUE(a->Start(partition_flags("a", port_a, "0,1")).ok());
    ASSERT_TRUE(a->WaitServing().ok()) << a->LogTail();
    AwaitNoPendingIntents(frontend.grpc_address());
    ExpectDurableAndWhole(ledger, ReadBack(frontend.grpc_address(), ledger),
                          absl::StrCat("split round ", round));
  }
  EXPECT_GT(ledger.acked.size(), 100u);
  EXPECT_EQ(frontend.Stop(), 0);
  EXPECT_EQ(a->Stop(), 0);
  EXPECT_EQ(b.Stop(), 0);
}

TEST(DurabilityTest, DamagedDataDirRefusesToStart) {
  TempDir dir;
  const std::vector<std::string> flags = {"--metrics_port=-1", "--partition_count=2",
                                          "--data_dir=" + dir.File("data")};
  {
    ServerProcess server("first", dir.path());
    ASSERT_TRUE(server.Start(flags).ok());
    ASSERT_TRUE(server.WaitServing().ok()) << server.LogTail();
    Ledger ledger;
    std::atomic<bool> stop{false};
    WriteLoad(server.grpc_address(), 0, 1, &stop, &ledger, 50);
    EXPECT_EQ(server.Stop(), 0);
  }
  // Another partition count: refused, naming the format file.
  {
    std::vector<std::string> other = flags;
    other[1] = "--partition_count=4";
    ServerProcess server("other-count", dir.path());
    ASSERT_TRUE(server.Start(other).ok());
    auto code = server.WaitExit(Millis(10000));
    ASSERT_TRUE(code.has_value());
    EXPECT_NE(*code, 0);
    EXPECT_NE(server.ReadLog().find("KG_FORMAT"), std::string::npos) << server.LogTail();
  }
  // A partition store removed: refused, naming it.
  std::filesystem::rename(dir.File("data/partition-0001"), dir.File("moved-away"));
  {
    ServerProcess server("missing", dir.path());
    ASSERT_TRUE(server.Start(flags).ok());
    auto code = server.WaitExit(Millis(10000));
    ASSERT_TRUE(code.has_value());
    EXPECT_NE(*code, 0);
    EXPECT_NE(server.ReadLog().find("partition-0001"), std::string::npos) << server.LogTail();
  }
  // A table file truncated: refused.
  std::filesystem::rename(dir.File("moved-away"), dir.File("data/partition-0001"));
  int truncated = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir.File("data"))) {
    std::string name = f.path().filename().string();
    if (name.find(".log") != std::string::npos || name.find(".sst") != std::string::npos) {
      if (std::filesystem::file_size(f.path()) > 64) {
        std::filesystem::resize_file(f.path(), std::filesystem::file_size(f.path()) / 2);
        ++truncated;
      }
    }
  }
  ASSERT_GT(truncated, 0);
  ServerProcess server("truncated", dir.path());
  ASSERT_TRUE(server.Start(flags).ok());
  auto code = server.WaitExit(Millis(10000));
  ASSERT_TRUE(code.has_value()) << "started on a truncated data directory";
  EXPECT_NE(*code, 0);
  EXPECT_NE(server.ReadLog().find("partition"), std::string::npos) << server.LogTail();
}

TEST(DurabilityTest, CheckpointRestores) {
  TempDir dir;
  Ledger ledger, later;
  {
    ServerProcess server("source", dir.path());
    ASSERT_TRUE(
        server.Start({"--metrics_port=-1", "--partition_count=4", "--data_dir=" + dir.File("data")})
            .ok());
    ASSERT_TRUE(server.WaitServing().ok()) << server.LogTail();
    std::atomic<bool> stop{false};
    WriteLoad(server.grpc_address(), 0, 1, &stop, &ledger, 100);
    auto admin = v1::AdminService::NewStub(
        grpc::CreateChannel(server.grpc_address(), grpc::InsecureChannelCredentials()));
    v1::CheckpointRequest req;
    req.set_dir(dir.File("ckpt"));
    v1::CheckpointResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = admin->Checkpoint(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.partitions_size(), 4);
    // Written after the checkpoint: must not be in the restored copy.
    WriteLoad(server.grpc_address(), 1, 900000, &stop, &later, 20);
    EXPECT_EQ(server.Stop(), 0);
  }
  ServerProcess restored("restored", dir.path());
  ASSERT_TRUE(
      restored
          .Start({"--metrics_port=-1", "--partition_count=4", "--data_dir=" + dir.File("restored"),
                  "--restore_from=" + dir.File("ckpt")})
          .ok());
  ASSERT_TRUE(restored.WaitServing().ok()) << restored.LogTail();
  EXPECT_GT(ledger.acked.size(), 100u);
  ExpectDurableAndWhole(ledger, ReadBack(restored.grpc_address(), ledger), "restored");
  ASSERT_FALSE(later.acked.empty());
  Observed after = ReadBack(restored.grpc_address(), later);
  EXPECT_TRUE(after.out.empty() && after.in.empty() && after.buyers_found.empty())
      << "writes made after the checkpoint appear in the restored copy";
  EXPECT_EQ(restored.Stop(), 0);
}

}  // namespace
}  // namespace kg::integration
