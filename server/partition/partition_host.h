// PartitionHost: the logical partitions one process hosts, and the operations of the
// internal protocol (kg.internal.v1.PartitionService) over them. The gRPC service and the
// front end's in-process partition client both call it, so embedded and split modes run
// the same code. Thread-safe: every method may be called concurrently.
//
// With a data directory every write is durable before it completes: a write request is
// applied to memory and queued to the partition's store under the partition's write lock
// (so disk order is memory order), and `done` runs once the store has synced it (group
// commit). Reads see writes as soon as they are applied.
#ifndef KG_SERVER_PARTITION_PARTITION_HOST_H_
#define KG_SERVER_PARTITION_PARTITION_HOST_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kg/internal/v1/partition.pb.h"
#include "server/graph/graph_partition.h"
#include "server/partition/model_host.h"
#include "server/storage/partition_store.h"

namespace kg {

// Completion of an asynchronous operation; runs exactly once.
using Done = std::function<void(absl::Status)>;

struct RecoveryStats {
  uint64_t entities = 0;
  uint64_t edge_copies = 0;
  uint64_t intents = 0;
};

class PartitionHost {
 public:
  // Hosts `hosted` (each < partition_count, no duplicates) of `partition_count` partitions,
  // in memory only when `data_dir` is empty, else persisted under it (data_dir.h: refuses
  // a directory made for another configuration, or missing a store; `wal_recovery`:
  // see PartitionStore::Open). A durable host loads its model bundle (refusing a damaged
  // one, naming the file).
  static absl::StatusOr<std::unique_ptr<PartitionHost>> Create(
      uint32_t partition_count, std::vector<uint32_t> hosted, const std::string& data_dir = "",
      WalRecovery wal_recovery = WalRecovery::kTolerateTornTail);
  ~PartitionHost();

  // Checkpoint directories must lie under `root` (security/confine.h); empty (the default)
  // confines them to the parent directory of the data directory. Call before serving.
  void set_checkpoint_root(std::string root) { checkpoint_root_ = std::move(root); }

  uint32_t partition_count() const { return partition_count_; }
  const std::vector<uint32_t>& hosted() const { return hosted_; }
  bool durable() const { return durable_; }
  // What opening the stores had to do beyond a clean replay (PartitionStore's notes), for
  // the caller to log.
  std::vector<std::string> RecoveryNotes() const;
  // The partition's graph, or nullptr when not hosted here.
  GraphPartition* partition(uint32_t id) const;

  // Rebuilds every hosted partition from its store (a no-op in memory). Call once, before
  // serving. DATA_LOSS naming the store when a record cannot be read.
  absl::StatusOr<RecoveryStats> Recover();

  // Reads. Each returns FAILED_PRECONDITION when the request's target is not hosted here or
  // names another partition count; per-item problems go into the reply's item statuses.
  absl::Status GetEntities(const internal::v1::GetEntitiesRequest& req,
                           internal::v1::GetEntitiesResponse* resp) const;
  absl::Status GetNeighbors(const internal::v1::GetNeighborsRequest& req,
                            internal::v1::GetNeighborsResponse* resp) const;
  absl::Status CountNeighbors(const internal::v1::CountNeighborsRequest& req,
                              internal::v1::CountNeighborsResponse* resp) const;
  absl::Status GetPartitionInfo(const internal::v1::GetPartitionInfoRequest& req,
                                internal::v1::GetPartitionInfoResponse* resp) const;
  absl::Status ListIntents(const internal::v1::ListIntentsRequest& req,
                           internal::v1::ListIntentsResponse* resp) const;
  absl::Status Checkpoint(const internal::v1::CheckpointRequest& req,
                          internal::v1::CheckpointResponse* resp) const;
  // A page of the partition's entities of one type (ScanEntities in partition.proto).
  absl::Status ScanEntities(const internal::v1::ScanEntitiesRequest& req,
                            internal::v1::ScanEntitiesResponse* resp) const;
  // Texts and the partition's PRODUCT keys -> categories, with the server's model bundle;
  // FAILED_PRECONDITION when there is none yet.
  absl::Status Categorize(const internal::v1::CategorizeRequest& req,
                          internal::v1::CategorizeResponse* resp) const;
  // Texts and the partition's keys with a name (PRODUCT, SPU, CONTENT) -> brand mentions
  // and attributes, with the server's model bundle; FAILED_PRECONDITION when it has none.
  absl::Status RecognizeBrands(const internal::v1::RecognizeBrandsRequest& req,
                               internal::v1::RecognizeBrandsResponse* resp) const;
  absl::Status ExtractAttributes(const internal::v1::ExtractAttributesRequest& req,
                                 internal::v1::ExtractAttributesResponse* resp) const;
  // Texts and the partition's PRODUCT keys -> SPU candidates; FAILED_PRECONDITION without
  // an SPU matcher in the server's bundle.
  absl::Status MatchSpu(const internal::v1::MatchSpuRequest& req,
                        internal::v1::MatchSpuResponse* resp) const;
  // The current bundle when it has an SPU matcher; FAILED_PRECONDITION saying how to get one.
  absl::StatusOr<std::shared_ptr<const knowledge::ModelBundle>> SpuMatcherBundle() const;
  // Listings (2..kMaxPairListings) that are the same product, by the SPU matcher.
  absl::Status PairListings(const internal::v1::PairListingsRequest& req,
                            internal::v1::PairListingsResponse* resp) const;
  // The partition's products of some categories by a metric (TopProducts in
  // partition.proto; insight_host.cc).
  absl::Status TopProducts(const internal::v1::TopProductsRequest& req,
                           internal::v1::TopProductsResponse* resp) const;
  // The partition's buyers per attribute value.
  absl::Status SegmentCounts(const internal::v1::SegmentCountsRequest& req,
                             internal::v1::SegmentCountsResponse* resp) const;
  // The version of the model bundle in service; empty before the first one.
  std::string model_version() const { return models_->version(); }
  // One chunk of a model bundle for this server (ModelHost::InstallChunk).
  absl::Status InstallBundle(const internal::v1::InstallBundleRequest& req,
                             internal::v1::InstallBundleResponse* resp);

  // Writes: `done` runs once the write is durable (at once in memory), possibly on the
  // store's commit thread; it must not block.
  void UpsertEntities(const internal::v1::UpsertEntitiesRequest& req,
                      internal::v1::UpsertEntitiesResponse* resp, Done done);
  void DeleteEntities(const internal::v1::DeleteEntitiesRequest& req,
                      internal::v1::DeleteEntitiesResponse* resp, Done done);
  void UpsertEdgeCopies(const internal::v1::UpsertEdgeCopiesRequest& req,
                        internal::v1::UpsertEdgeCopiesResponse* resp, Done done);
  void DeleteEdgeCopies(const internal::v1::DeleteEdgeCopiesRequest& req,
                        internal::v1::DeleteEdgeCopiesResponse* resp, Done done);
  void ClearIntents(const internal::v1::ClearIntentsRequest& req,
                    internal::v1::ClearIntentsResponse* resp, Done done);

 private:
  struct Part;
  PartitionHost(uint32_t partition_count, std::vector<uint32_t> hosted, bool durable);
  absl::StatusOr<Part*> Resolve(const internal::v1::Target& target) const;
  // OK when `key` hashes to `partition`; FAILED_PRECONDITION naming `field` otherwise.
  absl::Status CheckOwner(const EntityKey& key, uint32_t partition, absl::string_view field) const;
  // The title of item `i`: a text's title, or the stored name of a key of this partition
  // whose type has one (PRODUCT, SPU, CONTENT).
  absl::StatusOr<std::string> ItemTitle(const GraphPartition& graph, uint32_t partition,
                                        const v1::KnowledgeItem& item, int i) const;
  // Reads the entity of key item `i`, which must be of the partition and of one of
  // `types` (`expected` names them in the error): INVALID_ARGUMENT or NOT_FOUND naming
  // `items[i].key`; `read` gets its data.
  absl::StatusOr<EntityKey> ReadItemEntity(const GraphPartition& graph, uint32_t partition,
                                           const v1::KnowledgeItem& item, int i,
                                           std::initializer_list<EntityType> types,
                                           absl::string_view expected,
                                           absl::FunctionRef<void(const EntityData&)> read) const;
  // The frame of every write: resolves the target (else `done` gets the error), runs
  // `body(part, batch)` under the partition's write lock (so disk order is memory order),
  // queues the batch, and completes `done` once it is durable (at once in memory).
  template <typename Body>
  void Write(const internal::v1::Target& target, Done done, Body body);
  // Records an intent in `batch` and in memory; returns its id. Requires write_mu.
  uint64_t AddIntentLocked(Part* part, internal::v1::Intent intent, StoreBatch* batch);

  const uint32_t partition_count_;
  const std::vector<uint32_t> hosted_;
  const bool durable_;
  std::string data_dir_;
  std::string checkpoint_root_;
  std::vector<std::unique_ptr<Part>> parts_;  // indexed by partition id
  std::unique_ptr<ModelHost> models_;
};

// Blocks until an asynchronous host write completes (start-up loading, tests).
absl::Status WaitFor(const std::function<void(Done)>& start);

}  // namespace kg

#endif  // KG_SERVER_PARTITION_PARTITION_HOST_H_
