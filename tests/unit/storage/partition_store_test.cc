#include "server/storage/partition_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>

#include "gtest/gtest.h"
#include "server/graph/entity_codec.h"
#include "server/partition/partition_host.h"
#include "server/storage/data_dir.h"

namespace kg {
namespace {

namespace fs = std::filesystem;

class PartitionStoreTest : public ::testing::Test {
 protected:
  PartitionStoreTest() {
    dir_ = fs::temp_directory_path() /
           ("kg_store_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  ~PartitionStoreTest() override { fs::remove_all(dir_); }

  static void CommitAndWait(PartitionStore* store, StoreBatch batch) {
    std::promise<void> done;
    store->Commit(std::move(batch), [&done] { done.set_value(); });
    done.get_future().wait();
  }

  // The store's write-ahead log files, oldest first.
  static std::vector<fs::path> Logs(const std::string& path) {
    std::vector<fs::path> logs;
    for (const auto& f : fs::directory_iterator(path)) {
      if (f.path().extension() == ".log") logs.push_back(f.path());
    }
    std::sort(logs.begin(), logs.end());
    return logs;
  }

  static std::string ReadAll(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // A batch of `n` buyers with ~3 KB names from `first`.
  static StoreBatch Buyers(uint64_t first, int n) {
    StoreBatch b;
    for (int i = 0; i < n; ++i) {
      EntityData d;
      d.name = std::string(3000, static_cast<char>('a' + (first + i) % 26));
      b.PutEntity({EntityType::kBuyer, first + i}, d);
    }
    return b;
  }

  static uint64_t CountEntities(PartitionStore* store) {
    GraphPartition g;
    uint64_t entities = 0, copies = 0;
    EXPECT_TRUE(store->Load(&g, &entities, &copies).ok());
    return entities;
  }

  // Writes 100 buyers (acknowledged), then 200 more whose acknowledgement is undone (ACKED
  // is put back as it was before them), then cuts the log 1000 bytes short: what a crash
  // in the middle of writing the second batch leaves.
  void MakeTornTail(const std::string& path) {
    std::string acked_before;
    {
      auto store = PartitionStore::Open(path, 0, 1, true);
      ASSERT_TRUE(store.ok()) << store.status();
      CommitAndWait(store->get(), Buyers(1, 100));
      acked_before = ReadAll(fs::path(path) / "ACKED");
      CommitAndWait(store->get(), Buyers(1000, 200));
    }
    std::ofstream(fs::path(path) / "ACKED", std::ios::binary | std::ios::trunc) << acked_before;
    std::vector<fs::path> logs = Logs(path);
    ASSERT_FALSE(logs.empty());
    fs::resize_file(logs.back(), fs::file_size(logs.back()) - 1000);
  }

  fs::path dir_;
};

TEST_F(PartitionStoreTest, TornUnacknowledgedTailIsDroppedAndReported) {
  std::string path = (dir_ / "p").string();
  MakeTornTail(path);
  fs::copy(path, (dir_ / "copy").string(), fs::copy_options::recursive);
  // strict refuses it, and says what would accept it.
  auto strict = PartitionStore::Open(path, 0, 1, false, WalRecovery::kStrict);
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.status().code(), absl::StatusCode::kDataLoss) << strict.status();
  EXPECT_NE(strict.status().message().find("tolerate_torn_tail"), absl::string_view::npos)
      << strict.status();
  // The default drops the torn record, reports its size, and keeps everything acknowledged.
  auto store = PartitionStore::Open(path, 0, 1, false);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_EQ((*store)->recovery_notes().size(), 1u);
  const std::string& note = (*store)->recovery_notes()[0];
  EXPECT_NE(note.find("dropping"), std::string::npos) << note;
  EXPECT_NE(note.find("bytes"), std::string::npos) << note;
  EXPECT_NE(note.find(".log"), std::string::npos) << note;
  EXPECT_EQ(CountEntities(store->get()), 100u);
  // Writes go on after it, and a clean restart needs no further recovery.
  CommitAndWait(store->get(), Buyers(5000, 10));
  store->reset();
  auto again = PartitionStore::Open(path, 0, 1, false, WalRecovery::kStrict);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE((*again)->recovery_notes().empty());
  EXPECT_EQ(CountEntities(again->get()), 110u);
}

TEST_F(PartitionStoreTest, LogCutIntoAcknowledgedWritesIsRefused) {
  std::string path = (dir_ / "p").string();
  {
    auto store = PartitionStore::Open(path, 0, 1, true);
    ASSERT_TRUE(store.ok()) << store.status();
    CommitAndWait(store->get(), Buyers(1, 100));
    CommitAndWait(store->get(), Buyers(1000, 200));
  }
  std::vector<fs::path> logs = Logs(path);
  ASSERT_FALSE(logs.empty());
  fs::resize_file(logs.back(), fs::file_size(logs.back()) - 1000);
  auto store = PartitionStore::Open(path, 0, 1, false);
  ASSERT_FALSE(store.ok()) << "a log cut into acknowledged writes was accepted";
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(store.status().message().find("acknowledged"), absl::string_view::npos)
      << store.status();
  EXPECT_NE(store.status().message().find(path), absl::string_view::npos) << store.status();
}

TEST_F(PartitionStoreTest, DeletedOrEmptiedLogIsRefused) {
  for (bool remove : {true, false}) {
    std::string path = (dir_ / (remove ? "deleted" : "emptied")).string();
    {
      auto store = PartitionStore::Open(path, 0, 1, true);
      ASSERT_TRUE(store.ok()) << store.status();
      CommitAndWait(store->get(), Buyers(1, 50));
    }
    std::vector<fs::path> logs = Logs(path);
    ASSERT_FALSE(logs.empty());
    fs::create_directories(dir_ / "saved");
    for (const fs::path& log : logs) {
      fs::copy_file(log, dir_ / "saved" / log.filename(), fs::copy_options::overwrite_existing);
      if (remove) {
        fs::remove(log);
      } else {
        fs::resize_file(log, 0);
      }
    }
    for (WalRecovery mode : {WalRecovery::kStrict, WalRecovery::kTolerateTornTail}) {
      auto store = PartitionStore::Open(path, 0, 1, false, mode);
      ASSERT_FALSE(store.ok()) << (remove ? "deleted" : "emptied") << " log accepted";
      EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
      EXPECT_NE(store.status().message().find(path), absl::string_view::npos) << store.status();
      EXPECT_NE(store.status().message().find("missing acknowledged writes"),
                absl::string_view::npos)
          << store.status();
    }
    // The refusals changed nothing: with the logs put back, everything is there.
    for (const fs::path& log : logs) {
      fs::copy_file(dir_ / "saved" / log.filename(), log, fs::copy_options::overwrite_existing);
    }
    auto restored = PartitionStore::Open(path, 0, 1, false, WalRecovery::kStrict);
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ(CountEntities(restored->get()), 50u);
  }
}

TEST_F(PartitionStoreTest, ChecksumErrorInTheLogIsRefusedInEveryMode) {
  std::string path = (dir_ / "p").string();
  {
    auto store = PartitionStore::Open(path, 0, 1, true);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < 5; ++i) CommitAndWait(store->get(), Buyers(1 + i * 100, 50));
  }
  // Without the record of acknowledged writes, the log's own checksums must refuse it.
  fs::remove(fs::path(path) / "ACKED");
  std::vector<fs::path> logs = Logs(path);
  ASSERT_FALSE(logs.empty());
  {
    std::fstream io(logs.back(), std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(static_cast<std::streamoff>(fs::file_size(logs.back()) / 3));
    io.write("\xde\xad\xbe\xef", 4);
  }
  for (WalRecovery mode : {WalRecovery::kStrict, WalRecovery::kTolerateTornTail}) {
    auto store = PartitionStore::Open(path, 0, 1, false, mode);
    ASSERT_FALSE(store.ok()) << "a log with a checksum error in its middle was accepted";
    EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
  }
}

TEST_F(PartitionStoreTest, DamagedAckedRecordIsRefusedAndWalRecoveryValuesChecked) {
  std::string path = (dir_ / "p").string();
  {
    auto store = PartitionStore::Open(path, 0, 1, true);
    ASSERT_TRUE(store.ok()) << store.status();
    CommitAndWait(store->get(), Buyers(1, 5));
  }
  std::ofstream(fs::path(path) / "ACKED", std::ios::binary | std::ios::trunc) << "kg-acked v1 \xff";
  auto store = PartitionStore::Open(path, 0, 1, false);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("ACKED"), absl::string_view::npos) << store.status();
  EXPECT_NE(store.status().message().find("\\xff"), absl::string_view::npos) << store.status();
  // An empty ACKED (what a power loss can leave) skips the check, saying so.
  std::ofstream(fs::path(path) / "ACKED", std::ios::binary | std::ios::trunc).flush();
  auto skipped = PartitionStore::Open(path, 0, 1, false);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  ASSERT_EQ((*skipped)->recovery_notes().size(), 1u);
  EXPECT_NE((*skipped)->recovery_notes()[0].find("skipped"), std::string::npos);
  EXPECT_EQ(CountEntities(skipped->get()), 5u);
  EXPECT_TRUE(ParseWalRecovery("strict", "f").ok());
  EXPECT_TRUE(ParseWalRecovery("tolerate_torn_tail", "f").ok());
  absl::Status bad = ParseWalRecovery("garbage", "--wal_recovery").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("--wal_recovery"), absl::string_view::npos) << bad;
}

TEST_F(PartitionStoreTest, EntityCodecRoundTrips) {
  EntityData d;
  d.name = "Nimbus Trail Runner";
  d.attributes = {{"color", "blue"}, {"size", std::string(300, 'x')}};
  d.metrics = {{"price", 89.9}, {"rating", -0.0}};
  d.update_time_ms = 1793491200000;
  EntityData back;
  ASSERT_TRUE(DecodeEntity(EncodeEntity(d), &back).ok());
  EXPECT_EQ(back.name, d.name);
  EXPECT_EQ(back.attributes, d.attributes);
  EXPECT_EQ(back.metrics, d.metrics);
  EXPECT_EQ(back.update_time_ms, d.update_time_ms);
  std::string bytes = EncodeEntity(d);
  EXPECT_EQ(DecodeEntity(bytes.substr(0, bytes.size() - 3), &back).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeEntity(std::string("\x12\x05"
                                     "ab",
                                     4),
                         &back)
                .code(),
            absl::StatusCode::kDataLoss);                          // name longer than the bytes
  EXPECT_FALSE(DecodeEntity(std::string("\x13", 1), &back).ok());  // wire type 3
  ASSERT_TRUE(DecodeEntity("", &back).ok());                       // no fields: an empty entity
  EXPECT_EQ(back.name, "");
  EXPECT_TRUE(back.attributes.empty());
  EXPECT_TRUE(back.metrics.empty());
  EXPECT_EQ(back.update_time_ms, 0);
}

TEST_F(PartitionStoreTest, EntityCodecReadsTheFirstFormat) {
  // Data directories written before the wire-compatible encoding hold version-1 records:
  // version 1, name, time (varint), attributes, metrics (big-endian doubles).
  std::string v1(
      "\x01\x03Hat\x2a\x01\x05"
      "color\x03red\x01\x05price",
      24);
  v1 += std::string("\x40\x24\x00\x00\x00\x00\x00\x00", 8);  // 10.0
  EntityData back;
  ASSERT_TRUE(DecodeEntity(v1, &back).ok());
  EXPECT_EQ(back.name, "Hat");
  EXPECT_EQ(back.update_time_ms, 42);
  EXPECT_EQ(back.attributes, (std::vector<std::pair<std::string, std::string>>{{"color", "red"}}));
  EXPECT_EQ(back.metrics, (std::vector<std::pair<std::string, double>>{{"price", 10.0}}));
}

TEST_F(PartitionStoreTest, CommittedWritesAreRecovered) {
  std::string path = (dir_ / "p").string();
  {
    auto store = PartitionStore::Open(path, 3, 8, /*create=*/true);
    ASSERT_TRUE(store.ok()) << store.status();
    StoreBatch b;
    EntityData d;
    d.name = "buyer";
    b.PutEntity({EntityType::kBuyer, 1}, d);
    for (uint64_t p = 1; p <= 100; ++p) {
      b.PutEdge({EntityType::kBuyer, 1}, EdgeType::kPurchased, Direction::kOut, p,
                static_cast<int64_t>(1000 - p), 2.5f);
    }
    b.PutEdge({EntityType::kProduct, 9}, EdgeType::kPurchased, Direction::kIn, 1, 5, 1);
    b.PutIntent(7, "payload");
    CommitAndWait(store->get(), std::move(b));
    StoreBatch del;
    del.DeleteEdge({EntityType::kBuyer, 1}, EdgeType::kPurchased, Direction::kOut, 50);
    del.DeleteIntent(7);
    del.PutIntent(8, "other");
    CommitAndWait(store->get(), std::move(del));
  }
  auto store = PartitionStore::Open(path, 3, 8, /*create=*/false);
  ASSERT_TRUE(store.ok()) << store.status();
  GraphPartition g;
  uint64_t entities = 0, copies = 0;
  auto intents = (*store)->Load(&g, &entities, &copies);
  ASSERT_TRUE(intents.ok()) << intents.status();
  EXPECT_EQ(entities, 1u);
  EXPECT_EQ(copies, 100u);
  ASSERT_EQ(intents->size(), 1u);
  EXPECT_EQ((*intents)[0].id, 8u);
  EXPECT_GT((*store)->NextIntentId(), 8u);
  NeighborQuery q;
  q.key = {EntityType::kBuyer, 1};
  q.type = EdgeType::kPurchased;
  q.limit = 3;
  NeighborPage page;
  ASSERT_TRUE(g.GetNeighbors(q, &page).ok());
  EXPECT_EQ(page.total_count, 99u);
  ASSERT_EQ(page.edges.size(), 3u);
  EXPECT_EQ(page.edges[0].id, 1u);  // newest (time 999) first
  EXPECT_FLOAT_EQ(page.edges[0].weight, 2.5f);
}

TEST_F(PartitionStoreTest, RefusesAnotherPartitionOrMissingStore) {
  std::string path = (dir_ / "p").string();
  ASSERT_TRUE(PartitionStore::Open(path, 1, 4, true).ok());
  auto other = PartitionStore::Open(path, 2, 4, false);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(other.status().message().find("kg-partition v1 1 4"), absl::string_view::npos)
      << other.status();
  EXPECT_FALSE(PartitionStore::Open((dir_ / "absent").string(), 1, 4, false).ok());
}

TEST_F(PartitionStoreTest, DataDirRecordsItsConfiguration) {
  std::string dir = (dir_ / "data").string();
  auto created = PrepareDataDir(dir, 4, {0, 1});
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(*created);
  fs::create_directories(PartitionStorePath(dir, 0));
  fs::create_directories(PartitionStorePath(dir, 1));
  auto again = PrepareDataDir(dir, 4, {0, 1});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again);
  absl::Status other = PrepareDataDir(dir, 8, {0, 1}).status();
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(other.message().find("partition_count 4"), absl::string_view::npos) << other;
  fs::remove_all(PartitionStorePath(dir, 1));
  absl::Status missing = PrepareDataDir(dir, 4, {0, 1}).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(missing.message().find("partition-0001"), absl::string_view::npos) << missing;
  // A damaged format file is quoted escaped, never raw.
  std::ofstream(dir + "/KG_FORMAT", std::ios::binary | std::ios::trunc)
      << std::string("kg-data-dir 1\0\xff\n", 16);
  absl::Status garbled = PrepareDataDir(dir, 4, {0, 1}).status();
  EXPECT_EQ(garbled.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(garbled.message().find('\0'), absl::string_view::npos) << garbled;
  EXPECT_EQ(garbled.message().find('\xff'), absl::string_view::npos) << garbled;
  EXPECT_NE(garbled.message().find("\\xff"), absl::string_view::npos) << garbled;
  std::string foreign = (dir_ / "foreign").string();
  fs::create_directories(foreign);
  std::ofstream(foreign + "/notes.txt") << "hello";
  EXPECT_EQ(PrepareDataDir(foreign, 4, {0}).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(PartitionStoreTest, CorruptedTableRefusesToOpenOrLoad) {
  std::string path = (dir_ / "p").string();
  {
    auto store = PartitionStore::Open(path, 0, 1, true);
    ASSERT_TRUE(store.ok());
    for (int round = 0; round < 3; ++round) {
      StoreBatch b;
      for (uint64_t p = 1; p <= 2000; ++p) {
        b.PutEdge({EntityType::kBuyer, 1 + p % 7}, EdgeType::kViewed, Direction::kOut,
                  p + round * 10000, static_cast<int64_t>(p), 1);
      }
      CommitAndWait(store->get(), std::move(b));
    }
  }
  // Flip bytes in the middle of every table and log file.
  int damaged = 0;
  for (const auto& f : fs::directory_iterator(path)) {
    std::string name = f.path().filename().string();
    if (name.size() > 4 &&
        (name.substr(name.size() - 4) == ".sst" || name.substr(name.size() - 4) == ".log")) {
      std::fstream io(f.path(), std::ios::in | std::ios::out | std::ios::binary);
      io.seekp(static_cast<std::streamoff>(fs::file_size(f.path()) / 2));
      io.write("\xde\xad\xbe\xef\xde\xad\xbe\xef", 8);
      ++damaged;
    }
  }
  ASSERT_GT(damaged, 0);
  auto store = PartitionStore::Open(path, 0, 1, false);
  if (store.ok()) {
    GraphPartition g;
    uint64_t e = 0, c = 0;
    auto loaded = (*store)->Load(&g, &e, &c);
    EXPECT_FALSE(loaded.ok()) << "loaded " << c << " copies from a damaged store";
  } else {
    EXPECT_NE(store.status().message().find(path), absl::string_view::npos) << store.status();
  }
}

TEST_F(PartitionStoreTest, HostRecoversWritesAndIntents) {
  std::string dir = (dir_ / "data").string();
  {
    auto host = PartitionHost::Create(2, {0, 1}, dir);
    ASSERT_TRUE(host.ok()) << host.status();
    ASSERT_TRUE((*host)->Recover().ok());
    uint32_t p = PartitionOf({EntityType::kBuyer, 5}, 2);
    internal::v1::UpsertEdgeCopiesRequest req;
    req.mutable_target()->set_partition(p);
    req.mutable_target()->set_partition_count(2);
    internal::v1::EdgeCopy* c = req.add_copies();
    c->mutable_edge()->mutable_src()->set_type(v1::BUYER);
    c->mutable_edge()->mutable_src()->set_id(5);
    c->mutable_edge()->mutable_dst()->set_type(v1::PRODUCT);
    c->mutable_edge()->mutable_dst()->set_id(6);
    c->mutable_edge()->set_type(v1::PURCHASED);
    c->mutable_edge()->set_time_ms(77);
    c->set_side(v1::OUT);
    c->set_record_intent(true);
    internal::v1::UpsertEdgeCopiesResponse resp;
    ASSERT_TRUE(WaitFor([&](Done d) { (*host)->UpsertEdgeCopies(req, &resp, std::move(d)); }).ok());
    ASSERT_EQ(resp.results(0).code(), 0);
    EXPECT_NE(resp.intent_ids(0), 0u);
  }
  // Restarted before the IN copy was written: the intent is still there, resolved against
  // the OUT copy it guards.
  auto host = PartitionHost::Create(2, {0, 1}, dir);
  ASSERT_TRUE(host.ok()) << host.status();
  auto stats = (*host)->Recover();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->edge_copies, 1u);
  EXPECT_EQ(stats->intents, 1u);
  internal::v1::ListIntentsRequest list;
  list.mutable_target()->set_partition(PartitionOf({EntityType::kBuyer, 5}, 2));
  list.mutable_target()->set_partition_count(2);
  internal::v1::ListIntentsResponse intents;
  ASSERT_TRUE((*host)->ListIntents(list, &intents).ok());
  ASSERT_EQ(intents.intents_size(), 1);
  ASSERT_EQ(intents.intents(0).ops_size(), 1);
  const auto& op = intents.intents(0).ops(0);
  EXPECT_FALSE(op.delete_());
  EXPECT_EQ(op.copy().side(), v1::IN);
  EXPECT_EQ(op.copy().edge().time_ms(), 77);
}

}  // namespace
}  // namespace kg
