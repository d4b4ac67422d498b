// PartitionHost: the logical partitions one process hosts, and the operations of the
// internal protocol (kg.internal.v1.PartitionService) over them. The gRPC service and the
// front end's in-process partition client both call it, so embedded and split modes run
// the same code. Thread-safe: every method may be called concurrently.
#ifndef KG_SERVER_PARTITION_PARTITION_HOST_H_
#define KG_SERVER_PARTITION_PARTITION_HOST_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kg/internal/v1/partition.pb.h"
#include "server/graph/graph_partition.h"

namespace kg {

class PartitionHost {
 public:
  // Hosts `hosted` (each < partition_count, no duplicates) of `partition_count` partitions.
  static absl::StatusOr<std::unique_ptr<PartitionHost>> Create(uint32_t partition_count,
                                                               std::vector<uint32_t> hosted);

  uint32_t partition_count() const { return partition_count_; }
  const std::vector<uint32_t>& hosted() const { return hosted_; }
  // The partition, or nullptr when not hosted here.
  GraphPartition* partition(uint32_t id) const;

  // The internal protocol. Each returns FAILED_PRECONDITION when the request's target is
  // not hosted here or names another partition count; per-item problems go into the
  // reply's item statuses.
  absl::Status GetEntities(const internal::v1::GetEntitiesRequest& req,
                           internal::v1::GetEntitiesResponse* resp) const;
  absl::Status UpsertEntities(const internal::v1::UpsertEntitiesRequest& req,
                              internal::v1::UpsertEntitiesResponse* resp);
  absl::Status DeleteEntities(const internal::v1::DeleteEntitiesRequest& req,
                              internal::v1::DeleteEntitiesResponse* resp);
  absl::Status UpsertEdgeCopies(const internal::v1::UpsertEdgeCopiesRequest& req,
                                internal::v1::UpsertEdgeCopiesResponse* resp);
  absl::Status DeleteEdgeCopies(const internal::v1::DeleteEdgeCopiesRequest& req,
                                internal::v1::DeleteEdgeCopiesResponse* resp);
  absl::Status GetNeighbors(const internal::v1::GetNeighborsRequest& req,
                            internal::v1::GetNeighborsResponse* resp) const;
  absl::Status CountNeighbors(const internal::v1::CountNeighborsRequest& req,
                              internal::v1::CountNeighborsResponse* resp) const;
  absl::Status GetPartitionInfo(const internal::v1::GetPartitionInfoRequest& req,
                                internal::v1::GetPartitionInfoResponse* resp) const;

 private:
  PartitionHost(uint32_t partition_count, std::vector<uint32_t> hosted);
  absl::StatusOr<GraphPartition*> Resolve(const internal::v1::Target& target) const;
  // OK when `key` hashes to `partition`; FAILED_PRECONDITION naming `field` otherwise.
  absl::Status CheckOwner(const EntityKey& key, uint32_t partition, absl::string_view field) const;

  const uint32_t partition_count_;
  const std::vector<uint32_t> hosted_;
  std::vector<std::unique_ptr<GraphPartition>> partitions_;  // indexed by partition id
};

}  // namespace kg

#endif  // KG_SERVER_PARTITION_PARTITION_HOST_H_
