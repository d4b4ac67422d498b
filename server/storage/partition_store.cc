#include "server/storage/partition_store.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"
#include "server/graph/entity_codec.h"
#include "server/graph/schema.h"

namespace kg {
namespace {

constexpr char kEntity = 'e';
constexpr char kOut = 'o';
constexpr char kIn = 'i';
constexpr char kIntent = 'n';
constexpr char kMetaKey[] = "mmeta";

void PutU64(std::string* s, uint64_t v) {
  for (int i = 7; i >= 0; --i) s->push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string EntityKeyBytes(const EntityKey& key) {
  std::string k(1, kEntity);
  k.push_back(static_cast<char>(key.type));
  PutU64(&k, key.id);
  return k;
}

std::string EdgeKeyBytes(const EntityKey& owner, EdgeType type, Direction dir, uint64_t other) {
  std::string k(1, dir == Direction::kOut ? kOut : kIn);
  k.push_back(static_cast<char>(owner.type));
  PutU64(&k, owner.id);
  k.push_back(static_cast<char>(type));
  PutU64(&k, other);
  return k;
}

std::string IntentKeyBytes(uint64_t id) {
  std::string k(1, kIntent);
  PutU64(&k, id);
  return k;
}

std::string MetaValue(uint32_t partition, uint32_t count) {
  return absl::StrCat("kg-partition v1 ", partition, " ", count);
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  absl::StatusCode code = s.IsCorruption() ? absl::StatusCode::kDataLoss
                          : s.IsNotFound() ? absl::StatusCode::kNotFound
                          : s.IsIOError()  ? absl::StatusCode::kUnavailable
                                           : absl::StatusCode::kInternal;
  return absl::Status(code, absl::StrCat(what, ": ", s.ToString()));
}

}  // namespace

StoreBatch::StoreBatch() : batch_(std::make_unique<rocksdb::WriteBatch>()) {}
StoreBatch::~StoreBatch() = default;
StoreBatch::StoreBatch(StoreBatch&&) noexcept = default;
StoreBatch& StoreBatch::operator=(StoreBatch&&) noexcept = default;

void StoreBatch::PutEntity(const EntityKey& key, const EntityData& data) {
  batch_->Put(EntityKeyBytes(key), EncodeEntity(data));
}
void StoreBatch::DeleteEntity(const EntityKey& key) { batch_->Delete(EntityKeyBytes(key)); }
void StoreBatch::PutEdge(const EntityKey& owner, EdgeType type, Direction dir, uint64_t other_id,
                         int64_t time_ms, float weight) {
  std::string value;
  PutU64(&value, static_cast<uint64_t>(time_ms));
  uint32_t bits;
  std::memcpy(&bits, &weight, sizeof bits);
  for (int i = 3; i >= 0; --i) value.push_back(static_cast<char>((bits >> (i * 8)) & 0xff));
  batch_->Put(EdgeKeyBytes(owner, type, dir, other_id), value);
}
void StoreBatch::DeleteEdge(const EntityKey& owner, EdgeType type, Direction dir,
                            uint64_t other_id) {
  batch_->Delete(EdgeKeyBytes(owner, type, dir, other_id));
}
void StoreBatch::PutIntent(uint64_t id, const std::string& payload) {
  batch_->Put(IntentKeyBytes(id), payload);
}
void StoreBatch::DeleteIntent(uint64_t id) { batch_->Delete(IntentKeyBytes(id)); }
bool StoreBatch::empty() const { return batch_->Count() == 0; }

absl::StatusOr<std::unique_ptr<PartitionStore>> PartitionStore::Open(const std::string& path,
                                                                     uint32_t partition,
                                                                     uint32_t partition_count,
                                                                     bool create,
                                                                     bool tolerate_torn_tail) {
  rocksdb::Options options;
  options.create_if_missing = create;
  options.error_if_exists = create;
  options.paranoid_checks = true;
  // Strict by default: any damage to the log refuses the open. (A SIGKILL cannot tear a
  // record: each batch reaches the file in one write() before its sync.)
  options.wal_recovery_mode = tolerate_torn_tail
                                  ? rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords
                                  : rocksdb::WALRecoveryMode::kAbsoluteConsistency;
  options.IncreaseParallelism(2);
  options.OptimizeLevelStyleCompaction(64 << 20);
  if (create) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) {
    return absl::Status(FromRocks(s, "").code(),
                        absl::StrCat("cannot open the store of partition ", partition, " at ", path,
                                     ": ", s.ToString()));
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string meta;
  s = db->Get(rocksdb::ReadOptions(), kMetaKey, &meta);
  std::string want = MetaValue(partition, partition_count);
  if (s.IsNotFound() && create) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db->Put(wo, kMetaKey, want);
    if (!s.ok()) return FromRocks(s, absl::StrCat("writing ", path));
  } else if (!s.ok()) {
    return absl::DataLossError(absl::StrCat("the store at ", path,
                                            " has no partition record (not a kg store, or "
                                            "damaged): ",
                                            s.ToString()));
  } else if (meta != want) {
    return absl::FailedPreconditionError(
        absl::StrCat("the store at ", path, " belongs to \"", meta, "\", expected \"", want, "\""));
  }
  return std::unique_ptr<PartitionStore>(new PartitionStore(path, std::move(db)));
}

PartitionStore::PartitionStore(std::string path, std::unique_ptr<rocksdb::DB> db)
    : path_(std::move(path)), db_(std::move(db)) {
  committer_ = std::thread([this] { CommitLoop(); });
}

PartitionStore::~PartitionStore() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  committer_.join();
  db_->Close().PermitUncheckedError();
}

void PartitionStore::Commit(StoreBatch batch, std::function<void()> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.emplace_back(std::move(batch), std::move(done));
  }
  cv_.notify_one();
}

void PartitionStore::CommitLoop() {
  std::deque<std::pair<StoreBatch, std::function<void()>>> group;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      group.swap(queue_);
    }
    // Group commit: everything queued so far is written, then the log is synced once.
    rocksdb::WriteOptions wo;
    wo.sync = false;
    rocksdb::Status s;
    for (auto& [batch, done] : group) {
      if (!batch.empty()) s = db_->Write(wo, batch.batch_.get());
      if (!s.ok()) break;
    }
    if (s.ok()) s = db_->SyncWAL();
    if (!s.ok()) {
      // Memory already holds these writes; serving it would disagree with the disk.
      std::fprintf(stderr, "FATAL: write to %s failed: %s\n", path_.c_str(), s.ToString().c_str());
      std::abort();
    }
    for (auto& [batch, done] : group) {
      if (done) done();
    }
    group.clear();
  }
}

uint64_t PartitionStore::NextIntentId() { return next_intent_.fetch_add(1); }

absl::StatusOr<std::vector<LoadedIntent>> PartitionStore::Load(GraphPartition* graph,
                                                               uint64_t* entities,
                                                               uint64_t* edge_copies) {
  *entities = 0;
  *edge_copies = 0;
  std::vector<LoadedIntent> intents;
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  // Edge copies arrive grouped by (direction, owner, type): each list is bulk-loaded.
  std::string list_prefix;
  EntityKey owner;
  EdgeType type = EdgeType::kUnspecified;
  Direction dir = Direction::kOut;
  std::vector<NeighborEdge> list;
  auto flush = [&]() -> absl::Status {
    if (list.empty()) return absl::OkStatus();
    *edge_copies += list.size();
    absl::Status st = graph->LoadEdgeList(owner, type, dir, std::move(list));
    list.clear();
    return st;
  };
  auto bad = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("store ", path_, ": ", what, " at key ",
                                            absl::BytesToHexString(it->key().ToString())));
  };
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rocksdb::Slice key = it->key();
    char kind = key.size() > 0 ? key[0] : 0;
    if (kind == kEntity) {
      if (key.size() != 10) return bad("malformed entity key");
      EntityKey k{static_cast<EntityType>(key[1]), GetU64(key.data() + 2)};
      EntityData data;
      absl::Status st =
          DecodeEntity(absl::string_view(it->value().data(), it->value().size()), &data);
      if (!st.ok()) return bad(st.message());
      st = graph->UpsertEntity(k, std::move(data), false);
      if (!st.ok()) return bad(st.message());
      ++*entities;
    } else if (kind == kOut || kind == kIn) {
      if (key.size() != 19 || it->value().size() != 12) return bad("malformed edge record");
      std::string prefix = key.ToString().substr(0, 11);
      if (prefix != list_prefix) {
        absl::Status st = flush();
        if (!st.ok()) return bad(st.message());
        list_prefix = prefix;
        dir = kind == kOut ? Direction::kOut : Direction::kIn;
        owner = EntityKey{static_cast<EntityType>(key[1]), GetU64(key.data() + 2)};
        type = static_cast<EdgeType>(key[10]);
      }
      const char* v = it->value().data();
      uint32_t bits = static_cast<uint32_t>(GetU64(v + 4) & 0xffffffffu);
      float weight;
      std::memcpy(&weight, &bits, sizeof weight);
      list.push_back(
          NeighborEdge{GetU64(key.data() + 11), static_cast<int64_t>(GetU64(v)), weight});
    } else if (kind == kIntent) {
      if (key.size() != 9) return bad("malformed intent key");
      uint64_t id = GetU64(key.data() + 1);
      intents.push_back({id, it->value().ToString()});
      if (id >= next_intent_.load()) next_intent_.store(id + 1);
    } else if (key.ToString() != kMetaKey) {
      return bad("unknown record");
    }
  }
  absl::Status st = flush();
  if (!st.ok()) return bad(st.message());
  if (!it->status().ok()) return FromRocks(it->status(), absl::StrCat("reading ", path_));
  return intents;
}

absl::Status PartitionStore::Checkpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  if (!s.ok()) return FromRocks(s, "checkpoint");
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  return FromRocks(checkpoint->CreateCheckpoint(dir), absl::StrCat("checkpoint to ", dir));
}

}  // namespace kg
