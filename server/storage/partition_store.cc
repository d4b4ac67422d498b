#include "server/storage/partition_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"
#include "rocksdb/write_buffer_manager.h"
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

constexpr char kAckedFile[] = "ACKED";

// The ACKED file's one line. Fixed width, so each in-place rewrite covers the last.
std::string AckedLine(uint64_t sequence) {
  return absl::StrFormat("kg-acked v1 %020u\n", sequence);
}

// Reads the ACKED file: the last acknowledged sequence number, 0 when the file is absent
// (a new store, a restored checkpoint), or empty or zero-filled (a power loss can leave it
// so; `note` then says the check was skipped). DATA_LOSS for anything else unreadable.
absl::StatusOr<uint64_t> ReadAcked(const std::string& file, std::string* note) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return 0;
  std::stringstream text;
  text << in.rdbuf();
  std::string bytes = text.str();
  if (bytes.find_first_not_of('\0') == std::string::npos) {
    *note = absl::StrCat(file,
                         " is empty: the check that no acknowledged write is missing was skipped");
    return 0;
  }
  std::vector<std::string> fields = absl::StrSplit(bytes, ' ');
  uint64_t sequence = 0;
  if (bytes.size() != AckedLine(0).size() || bytes.back() != '\n' || fields.size() != 3 ||
      fields[0] != "kg-acked" || fields[1] != "v1" ||
      !absl::SimpleAtoi(absl::StripSuffix(fields[2], "\n"), &sequence)) {
    return absl::DataLossError(absl::StrCat(
        file, " is damaged (\"", absl::CHexEscape(bytes.substr(0, 64)),
        "\"); it records the last acknowledged write. Delete it to start without that check"));
  }
  return sequence;
}

// Forwards RocksDB's log lines to its usual LOG file and keeps the ones in which log replay
// reports bytes it dropped (file, size and reason).
class ReplayLogger : public rocksdb::Logger {
 public:
  explicit ReplayLogger(std::shared_ptr<rocksdb::Logger> base)
      : rocksdb::Logger(base != nullptr ? base->GetInfoLogLevel()
                                        : rocksdb::InfoLogLevel::WARN_LEVEL),
        base_(std::move(base)) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level >= rocksdb::InfoLogLevel::WARN_LEVEL) {
      char line[1024];
      va_list copy;
      va_copy(copy, ap);
      std::vsnprintf(line, sizeof line, format, copy);
      va_end(copy);
      if (std::strstr(line, ": dropping ") != nullptr) {
        absl::MutexLock lock(&mu_);
        dropped_.emplace_back(line);
      }
    }
    if (base_ != nullptr) base_->Logv(level, format, ap);
  }
  void Flush() override {
    if (base_ != nullptr) base_->Flush();
  }

  // Takes the replay reports so far.
  std::vector<std::string> TakeDropped() {
    absl::MutexLock lock(&mu_);
    return std::move(dropped_);
  }

 private:
  std::shared_ptr<rocksdb::Logger> base_;
  absl::Mutex mu_;
  std::vector<std::string> dropped_ ABSL_GUARDED_BY(mu_);
};

// Whether every report is of a log that ends inside a record: what a process killed while
// writing leaves behind (never a checksum mismatch, which is damage).
bool OnlyTornTail(const std::vector<std::string>& reports) {
  if (reports.empty()) return false;
  for (const std::string& r : reports) {
    if (r.find("truncated header") == std::string::npos &&
        r.find("truncated record body") == std::string::npos &&
        r.find("error reading trailing data") == std::string::npos) {
      return false;
    }
  }
  return true;
}

// The store's log files with their sizes, for error messages.
std::string DescribeLogs(const std::string& path) {
  std::vector<std::string> logs;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(path, ec)) {
    if (f.path().extension() == ".log") {
      logs.push_back(absl::StrCat(f.path().filename().string(), " (",
                                  std::filesystem::file_size(f.path(), ec), " bytes)"));
    }
  }
  std::sort(logs.begin(), logs.end());
  return logs.empty() ? "none" : absl::StrJoin(logs, ", ");
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

absl::StatusOr<WalRecovery> ParseWalRecovery(absl::string_view value, absl::string_view field) {
  if (value == "strict") return WalRecovery::kStrict;
  if (value == "tolerate_torn_tail") return WalRecovery::kTolerateTornTail;
  return absl::InvalidArgumentError(absl::StrCat(field,
                                                 ": must be strict or tolerate_torn_tail, got \"",
                                                 absl::CHexEscape(value.substr(0, 64)), "\""));
}

// The memtables of every store in the process share one budget (kWriteBufferBudgetBytes):
// past it the largest is flushed, so the memory of unflushed writes stays bounded however
// many partitions a server hosts, instead of up to 6 x 16 MiB per store.
namespace {
std::shared_ptr<rocksdb::WriteBufferManager> SharedWriteBuffers() {
  static const auto* manager = new std::shared_ptr<rocksdb::WriteBufferManager>(
      std::make_shared<rocksdb::WriteBufferManager>(kWriteBufferBudgetBytes));
  return *manager;
}
}  // namespace

absl::StatusOr<std::unique_ptr<PartitionStore>> PartitionStore::Open(const std::string& path,
                                                                     uint32_t partition,
                                                                     uint32_t partition_count,
                                                                     bool create,
                                                                     WalRecovery wal_recovery) {
  namespace fs = std::filesystem;
  auto refused = [&](const rocksdb::Status& s, absl::string_view detail) {
    return absl::Status(FromRocks(s, "").code(),
                        absl::StrCat("cannot open the store of partition ", partition, " at ", path,
                                     ": ", s.ToString(), detail));
  };
  std::error_code ec;
  if (!create && !fs::exists(fs::path(path) / "CURRENT", ec)) {
    return absl::DataLossError(absl::StrCat("the store of partition ", partition, " at ", path,
                                            " is missing (no CURRENT file)"));
  }
  rocksdb::Options options;
  options.create_if_missing = create;
  options.error_if_exists = create;
  options.paranoid_checks = true;
  // RocksDB also records its log files in the MANIFEST (with the size of each closed one)
  // and checks them on open; missing or emptied live logs are caught by the ACKED check.
  options.track_and_verify_wals_in_manifest = true;
  options.IncreaseParallelism(2);
  options.OptimizeLevelStyleCompaction(64 << 20);
  options.write_buffer_manager = SharedWriteBuffers();
  if (create) fs::create_directories(path, ec);
  std::shared_ptr<rocksdb::Logger> file_log;
  rocksdb::CreateLoggerFromOptions(path, options, &file_log).PermitUncheckedError();
  auto logger = std::make_shared<ReplayLogger>(std::move(file_log));
  options.info_log = logger;

  // Recovery is first tried read-only, so that a store refused here is left exactly as it
  // was (a read-write open would start a new log and record it in the MANIFEST, and a log
  // put back afterwards would then be ignored). First strictly: a log that ends inside a
  // record is what a process killed in the middle of a write (one never acknowledged:
  // acknowledgement follows the sync) leaves; with kTolerateTornTail that record is then
  // dropped, and the ACKED check makes sure no acknowledged write went with it.
  std::vector<std::string> notes;
  std::vector<std::string> dropped;
  rocksdb::Status s;
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency;
  if (!create) {
    rocksdb::DB* probe = nullptr;
    s = rocksdb::DB::OpenForReadOnly(options, path, &probe);
    dropped = logger->TakeDropped();
    if (!s.ok() && s.IsCorruption() && wal_recovery == WalRecovery::kTolerateTornTail &&
        OnlyTornTail(dropped)) {
      options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
      s = rocksdb::DB::OpenForReadOnly(options, path, &probe);
      logger->TakeDropped();
      if (s.ok()) {
        for (const std::string& d : dropped) {
          notes.push_back(absl::StrCat("partition ", partition,
                                       ": dropped an incomplete last record of the write-ahead "
                                       "log (a write cut short by a crash, never acknowledged): ",
                                       d));
        }
      }
    }
    if (!s.ok()) {
      std::string detail;
      if (!dropped.empty()) detail = absl::StrCat(" (", absl::StrJoin(dropped, "; "), ")");
      if (s.IsCorruption() && OnlyTornTail(dropped)) {
        absl::StrAppend(&detail,
                        "; the log ends inside a record, as a crash during a write leaves it: "
                        "--wal_recovery=tolerate_torn_tail drops that record");
      }
      return refused(s, detail);
    }
    std::unique_ptr<rocksdb::DB> probed(probe);
    // Every acknowledged write must have come back.
    std::string note;
    absl::StatusOr<uint64_t> acked = ReadAcked((fs::path(path) / kAckedFile).string(), &note);
    if (!acked.ok()) return acked.status();
    if (!note.empty()) notes.push_back(note);
    uint64_t recovered = probed->GetLatestSequenceNumber();
    if (*acked > recovered) {
      return absl::DataLossError(absl::StrCat(
          "the store of partition ", partition, " at ", path,
          " is missing acknowledged writes: its write-ahead log ends at sequence ", recovered,
          " but writes up to sequence ", *acked, " were acknowledged (", kAckedFile,
          "); a log file was deleted, emptied or cut short. Logs present: ", DescribeLogs(path),
          dropped.empty() ? "" : absl::StrCat("; replay reported: ", absl::StrJoin(dropped, "; ")),
          ". Restore from a checkpoint, or put the missing log back"));
    }
  }
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) {
    std::vector<std::string> reports = logger->TakeDropped();
    return refused(s, reports.empty() ? "" : absl::StrCat(" (", absl::StrJoin(reports, "; "), ")"));
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

  std::string acked_file = (fs::path(path) / kAckedFile).string();
  int fd = ::open(acked_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", acked_file, ": ", std::strerror(errno)));
  }
  std::unique_ptr<PartitionStore> store(
      new PartitionStore(path, std::move(db), fd, std::move(notes)));
  s = store->RecordAcknowledged();
  if (s.ok() && create && ::fsync(fd) != 0) s = rocksdb::Status::IOError(std::strerror(errno));
  if (!s.ok()) return FromRocks(s, absl::StrCat("writing ", acked_file));
  return store;
}

PartitionStore::PartitionStore(std::string path, std::unique_ptr<rocksdb::DB> db, int acked_fd,
                               std::vector<std::string> notes)
    : path_(std::move(path)),
      db_(std::move(db)),
      acked_fd_(acked_fd),
      recovery_notes_(std::move(notes)) {
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
  ::close(acked_fd_);
}

rocksdb::Status PartitionStore::RecordAcknowledged() {
  std::string line = AckedLine(db_->GetLatestSequenceNumber());
  ssize_t n = ::pwrite(acked_fd_, line.data(), line.size(), 0);
  if (n != static_cast<ssize_t>(line.size())) {
    return rocksdb::Status::IOError(absl::StrCat(path_, "/", kAckedFile),
                                    n < 0 ? std::strerror(errno) : "short write");
  }
  return rocksdb::Status::OK();
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
    // No fsync: what a crash of the process must not lose is in the page cache already.
    if (s.ok()) s = RecordAcknowledged();
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
