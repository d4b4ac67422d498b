// PartitionStore: the durable copy of one logical partition in its own RocksDB instance
// (entities, both kinds of edge copies, and an outbox of cross-partition intents), with
// group commit: every write queued while the previous sync runs goes to disk together, and
// is acknowledged only after the write-ahead log is synced. Thread-safe.
//
// Recovery (docs/DURABILITY.md): RocksDB replays the write-ahead log; the store also keeps
// `ACKED` beside RocksDB's files, the sequence number of the last write it acknowledged
// (rewritten in place after every sync), so a log that was deleted, emptied or cut short
// into acknowledged writes is refused, while a torn record after the last acknowledgement
// (a crash during a write) is dropped.
//
// Record layout (big-endian integers, so keys sort by owner):
//   'e' type(1) id(8)                               -> EncodeEntity (entity_codec.h)
//   'o'|'i' owner_type(1) owner_id(8) edge_type(1) other_id(8) -> time_ms(8) weight(4)
//   'n' intent_id(8)                                -> opaque bytes (the caller's)
//   'm' "meta"                                      -> "kg-partition v1 <partition> <count>"
#ifndef KG_SERVER_STORAGE_PARTITION_STORE_H_
#define KG_SERVER_STORAGE_PARTITION_STORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/graph/graph_partition.h"
#include "server/graph/key.h"

namespace rocksdb {
class DB;
class Status;
class WriteBatch;
}  // namespace rocksdb

namespace kg {

// Mutations of one request, applied atomically (one RocksDB write batch).
class StoreBatch {
 public:
  StoreBatch();
  ~StoreBatch();
  StoreBatch(StoreBatch&&) noexcept;
  StoreBatch& operator=(StoreBatch&&) noexcept;

  void PutEntity(const EntityKey& key, const EntityData& data);
  void DeleteEntity(const EntityKey& key);
  void PutEdge(const EntityKey& owner, EdgeType type, Direction dir, uint64_t other_id,
               int64_t time_ms, float weight);
  void DeleteEdge(const EntityKey& owner, EdgeType type, Direction dir, uint64_t other_id);
  void PutIntent(uint64_t id, const std::string& payload);
  void DeleteIntent(uint64_t id);
  bool empty() const;

 private:
  friend class PartitionStore;
  std::unique_ptr<rocksdb::WriteBatch> batch_;
};

// How Open treats a write-ahead log that ends in an incomplete record.
enum class WalRecovery {
  // Any damage to a log refuses the open, a torn last record included.
  kStrict,
  // An incomplete last record is dropped when every acknowledged write is still there
  // (ACKED); a checksum mismatch anywhere, a missing log or a log cut short into
  // acknowledged writes still refuses the open. The default.
  kTolerateTornTail,
};

// "strict" or "tolerate_torn_tail"; INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<WalRecovery> ParseWalRecovery(absl::string_view value, absl::string_view field);

// What Load reads back.
struct LoadedIntent {
  uint64_t id;
  std::string payload;
};

// Memory of unflushed writes (RocksDB memtables) of all the stores of one process.
inline constexpr size_t kWriteBufferBudgetBytes = 32 << 20;

class PartitionStore {
 public:
  // Opens (or, with `create`, creates) the store of `partition` of `partition_count` in
  // directory `path`. Refuses (FAILED_PRECONDITION / DATA_LOSS, naming the path and the
  // problem) a store of another partition or count, a missing store when !create, any
  // corruption RocksDB detects (checksums, damaged tables, a log missing from those the
  // MANIFEST tracks), and a store whose logs end before its last acknowledged write. An
  // incomplete last log record is dropped or refused as `wal_recovery` says; when it is
  // dropped, recovery_notes() says so with its size.
  static absl::StatusOr<std::unique_ptr<PartitionStore>> Open(
      const std::string& path, uint32_t partition, uint32_t partition_count, bool create,
      WalRecovery wal_recovery = WalRecovery::kTolerateTornTail);
  ~PartitionStore();

  // Rebuilds `graph` from the store (call before serving; not concurrently with writes).
  // Returns the pending intents, oldest first. DATA_LOSS on an undecodable record.
  absl::StatusOr<std::vector<LoadedIntent>> Load(GraphPartition* graph, uint64_t* entities,
                                                 uint64_t* edge_copies);

  // Queues `batch`; `done` runs (on the store's commit thread) once it is durable. Batches
  // are written in the order Commit is called. A failed write is fatal: the process logs
  // and aborts rather than serve memory that disagrees with its disk.
  void Commit(StoreBatch batch, std::function<void()> done);

  // A fresh intent id (unique within this store across restarts).
  uint64_t NextIntentId();

  // Writes a consistent snapshot of the store to `dir` (which must not exist).
  absl::Status Checkpoint(const std::string& dir);

  const std::string& path() const { return path_; }
  // What Open had to do beyond a clean replay (a dropped torn record), for the caller to
  // log; empty after a clean start.
  const std::vector<std::string>& recovery_notes() const { return recovery_notes_; }

 private:
  PartitionStore(std::string path, std::unique_ptr<rocksdb::DB> db, int acked_fd,
                 std::vector<std::string> notes);
  void CommitLoop();
  // Records that every write up to the DB's latest sequence number is acknowledged.
  rocksdb::Status RecordAcknowledged();

  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
  int acked_fd_;  // the ACKED file, rewritten in place by the commit thread
  std::vector<std::string> recovery_notes_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<StoreBatch, std::function<void()>>> queue_;  // guarded by mu_
  bool stopping_ = false;                                           // guarded by mu_
  std::atomic<uint64_t> next_intent_{1};
  std::thread committer_;
};

}  // namespace kg

#endif  // KG_SERVER_STORAGE_PARTITION_STORE_H_
