// Durability of kg_server with --data_dir: every acknowledged write survives SIGKILL under a
// sustained write load (embedded mode, and a partition server of the split mode), no edge
// is left with only one of its two copies, a damaged data directory refuses to start, and a
// checkpoint restores.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
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
  ASSERT_TRUE(WriteFile(dir.File("cluster.txt"),
                        ClusterFileText(4, {{absl::StrCat("127.0.0.1:", port_a), "0,1"},
                                            {absl::StrCat("127.0.0.1:", port_b), "2,3"}}))
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

// Large writes: entities of ~3 KB, 200 per call, overwriting a bounded set of ids with
// increasing versions. A batch this large reaches RocksDB's log in several write() calls,
// so a SIGKILL can leave a torn last record.
constexpr int kBigBatch = 200;
constexpr int kBigIdsPerWriter = 1000;

struct BigLedger {
  std::mutex mu;
  std::map<uint64_t, uint64_t> acked;      // id -> version acknowledged last
  std::map<uint64_t, uint64_t> attempted;  // id -> version sent last
};

std::string BigName(uint64_t id, uint64_t version) {
  std::string name = absl::StrCat("id ", id, " version ", version, " ");
  name.resize(3000, static_cast<char>('a' + (id + version) % 26));
  return name;
}

void BigWriteLoad(const std::string& addr, int writer, uint64_t first_version,
                  std::atomic<bool>* stop, BigLedger* ledger, int max_batches) {
  auto stub = GraphStub(addr);
  const uint64_t first_id = 1 + static_cast<uint64_t>(writer) * kBigIdsPerWriter;
  for (int batch = 0; batch < max_batches && !stop->load(); ++batch) {
    const uint64_t version = first_version + batch;
    v1::UpsertEntitiesRequest req;
    for (int i = 0; i < kBigBatch; ++i) {
      uint64_t id = first_id + (static_cast<uint64_t>(batch) * kBigBatch + i) % kBigIdsPerWriter;
      v1::Entity* e = req.add_entities();
      *e->mutable_key() = Key(v1::SPU, id);
      e->set_name(BigName(id, version));
      (*e->mutable_attributes())["version"] = absl::StrCat(version);
      e->set_update_time_ms(1);
    }
    {
      std::lock_guard<std::mutex> lock(ledger->mu);
      for (const v1::Entity& e : req.entities()) ledger->attempted[e.key().id()] = version;
    }
    v1::UpsertEntitiesResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx, Millis(5000));
    if (!stub->UpsertEntities(&ctx, req, &resp).ok()) {
      std::this_thread::sleep_for(Millis(20));
      continue;
    }
    std::lock_guard<std::mutex> lock(ledger->mu);
    for (int i = 0; i < resp.results_size(); ++i) {
      if (resp.results(i).code() == 0) ledger->acked[req.entities(i).key().id()] = version;
    }
  }
}

// Every acknowledged version is there, or a later one that was sent; entities are whole.
void ExpectBigWritesDurable(const std::string& addr, const BigLedger& ledger,
                            const std::string& round) {
  auto stub = GraphStub(addr);
  std::vector<uint64_t> ids;
  for (const auto& [id, version] : ledger.attempted) ids.push_back(id);
  size_t bad = 0;
  for (size_t i = 0; i < ids.size(); i += 100) {
    v1::GetEntitiesRequest req;
    for (size_t j = i; j < std::min(ids.size(), i + 100); ++j)
      *req.add_keys() = Key(v1::SPU, ids[j]);
    v1::GetEntitiesResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = stub->GetEntities(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << round << ": " << s.error_message();
    for (const auto& r : resp.results()) {
      const uint64_t id = r.key().id();
      auto acked = ledger.acked.find(id);
      uint64_t stored = 0;
      if (r.found()) {
        auto v = r.entity().attributes().find("version");
        if (v == r.entity().attributes().end() || !absl::SimpleAtoi(v->second, &stored) ||
            r.entity().name() != BigName(id, stored)) {
          if (++bad <= 5) ADD_FAILURE() << round << ": SPU:" << id << " is not whole";
          continue;
        }
      }
      if (acked != ledger.acked.end() &&
          (stored < acked->second || stored > ledger.attempted.at(id))) {
        if (++bad <= 5) {
          ADD_FAILURE() << round << ": SPU:" << id << " acknowledged at version " << acked->second
                        << ", found " << (r.found() ? absl::StrCat(stored) : "nothing");
        }
      }
    }
  }
  EXPECT_EQ(bad, 0u) << round;
}

// Rounds of the large-batch kill test: KG_DURABILITY_ROUNDS, else 30.
int KillRounds() {
  const char* env = std::getenv("KG_DURABILITY_ROUNDS");
  int rounds = 0;
  return env != nullptr && absl::SimpleAtoi(env, &rounds) && rounds > 0 ? rounds : 30;
}

TEST(DurabilityTest, EmbeddedSurvivesSigkillUnderLargeBatches) {
  TempDir dir;
  const int port = PickFreePort();
  const std::vector<std::string> flags = {absl::StrCat("--port=", port), "--metrics_port=-1",
                                          "--partition_count=2", "--data_dir=" + dir.File("data"),
                                          "--intent_resolve_interval_ms=200"};
  const int rounds = KillRounds();
  BigLedger big;
  Ledger edges;
  std::mt19937 rng(20261130);
  int torn_tails = 0;
  for (int round = 0; round <= rounds; ++round) {
    ServerProcess server(absl::StrCat("big", round), dir.path());
    ASSERT_TRUE(server.Start(flags).ok());
    ASSERT_TRUE(server.WaitServing(Millis(60000)).ok())
        << "round " << round << ": " << server.LogTail();
    const std::string log = server.ReadLog();
    const size_t torn = log.find("dropped an incomplete last record");
    if (torn != std::string::npos) {
      ++torn_tails;
      std::printf("round %d: %s\n", round, log.substr(torn, log.find('\n', torn) - torn).c_str());
    }
    if (round > 0) {
      const std::string what = absl::StrCat("after kill ", round);
      ExpectBigWritesDurable(server.grpc_address(), big, what);
      ExpectDurableAndWhole(edges, ReadBack(server.grpc_address(), edges), what);
      if (::testing::Test::HasFailure()) {
        ADD_FAILURE() << server.LogTail();
        return;
      }
    }
    if (round == rounds) {
      EXPECT_EQ(server.Stop(), 0);
      break;
    }
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w) {
      writers.emplace_back(BigWriteLoad, server.grpc_address(), w,
                           static_cast<uint64_t>(round + 1) * 1000000, &stop, &big, 1000);
    }
    writers.emplace_back(WriteLoad, server.grpc_address(), 9, 1 + round * 10000, &stop, &edges,
                         1000);
    std::this_thread::sleep_for(Millis(300 + rng() % 600));
    server.Signal(SIGKILL);
    std::this_thread::sleep_for(Millis(50));
    stop = true;
    for (auto& t : writers) t.join();
    ASSERT_TRUE(server.WaitExit(Millis(5000)).has_value());
  }
  EXPECT_GT(big.acked.size(), 1000u) << "the load acknowledged too little to test anything";
  // Printed for the record (how often a kill tore a record is up to timing).
  std::printf(
      "%d kills under large batches: every acknowledged write recovered; %d restarts "
      "dropped a torn last log record\n",
      rounds, torn_tails);
  RecordProperty("torn_tails", torn_tails);
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
  // An unknown --wal_recovery: refused, naming the flag.
  {
    std::vector<std::string> bad = flags;
    bad.push_back("--wal_recovery=garbage");
    ServerProcess server("bad-flag", dir.path());
    ASSERT_TRUE(server.Start(bad).ok());
    auto code = server.WaitExit(Millis(10000));
    ASSERT_TRUE(code.has_value());
    EXPECT_NE(*code, 0);
    EXPECT_NE(server.ReadLog().find("--wal_recovery"), std::string::npos) << server.LogTail();
  }
  // The write-ahead logs of a partition deleted: refused in either mode, naming the store.
  std::vector<std::filesystem::path> moved_logs;
  for (const auto& f : std::filesystem::directory_iterator(dir.File("data/partition-0000"))) {
    if (f.path().extension() == ".log") moved_logs.push_back(f.path());
  }
  ASSERT_FALSE(moved_logs.empty());
  for (const auto& log : moved_logs) {
    std::filesystem::rename(log, dir.File(log.filename().string()));
  }
  for (const char* mode : {"strict", "tolerate_torn_tail"}) {
    std::vector<std::string> with_mode = flags;
    with_mode.push_back(absl::StrCat("--wal_recovery=", mode));
    ServerProcess server(absl::StrCat("no-log-", mode), dir.path());
    ASSERT_TRUE(server.Start(with_mode).ok());
    auto code = server.WaitExit(Millis(10000));
    ASSERT_TRUE(code.has_value()) << "started with a deleted write-ahead log (" << mode << ")";
    EXPECT_NE(*code, 0);
    EXPECT_NE(server.ReadLog().find("partition-0000 is missing acknowledged writes"),
              std::string::npos)
        << server.LogTail();
  }
  for (const auto& log : moved_logs) {
    std::filesystem::rename(dir.File(log.filename().string()), log);
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
    // Refused: the same directory again, one inside the live data directory, and a
    // directory that holds something else; each names `dir`.
    std::filesystem::create_directories(dir.File("other"));
    ASSERT_TRUE(WriteFile(dir.File("other/notes.txt"), "not a checkpoint").ok());
    for (const auto& [target, code] : std::vector<std::pair<std::string, grpc::StatusCode>>{
             {dir.File("ckpt"), grpc::StatusCode::ALREADY_EXISTS},
             {dir.File("data/inside"), grpc::StatusCode::INVALID_ARGUMENT},
             {dir.File("data"), grpc::StatusCode::INVALID_ARGUMENT},
             {dir.File("other"), grpc::StatusCode::INVALID_ARGUMENT}}) {
      v1::CheckpointRequest again;
      again.set_dir(target);
      v1::CheckpointResponse again_resp;
      grpc::ClientContext again_ctx;
      SetDeadline(&again_ctx);
      grpc::Status refused = admin->Checkpoint(&again_ctx, again, &again_resp);
      EXPECT_EQ(refused.error_code(), code) << target << ": " << refused.error_message();
      EXPECT_EQ(refused.error_message().rfind("dir: ", 0), 0u) << refused.error_message();
    }
    EXPECT_FALSE(std::filesystem::exists(dir.File("data/inside")));
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
