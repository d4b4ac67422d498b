// PartitionClient: how the front end reaches one logical partition, whether it lives in
// this process (LocalPartitionClient: a direct call, no serialization) or in a partition
// server (RemotePartitionClient: kg.internal.v1.PartitionService over gRPC). The router
// and every front-end operation see only this interface, so both modes run the same code.
//
// Thread-safe. Each call completes by running `done` exactly once: inline on the caller's
// thread for a local partition, on a gRPC callback thread for a remote one. `req` and
// `resp` must stay alive until `done` runs.
#ifndef KG_SERVER_FRONTEND_PARTITION_CLIENT_H_
#define KG_SERVER_FRONTEND_PARTITION_CLIENT_H_

#include <grpcpp/channel.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "kg/internal/v1/partition.grpc.pb.h"
#include "server/observability/metrics.h"
#include "server/partition/partition_host.h"
#include "server/partition/serving_gate.h"

namespace kg {

struct CallOptions {
  std::chrono::system_clock::time_point deadline;
};

// DEADLINE_EXCEEDED once the call's deadline has passed.
inline absl::Status CheckDeadline(const CallOptions& o) {
  if (std::chrono::system_clock::now() >= o.deadline) {
    return absl::DeadlineExceededError("deadline expired before the request was processed");
  }
  return absl::OkStatus();
}

// X-macros over the internal protocol's methods: reads complete at once on the host,
// writes when durable.
// clang-format off
#define KG_PARTITION_READS(X) \
  X(GetEntities) X(GetNeighbors) X(CountNeighbors) X(GetPartitionInfo) X(ListIntents) \
  X(Checkpoint) X(ScanEntities) X(Categorize) X(InstallBundle) X(RecognizeBrands) \
  X(ExtractAttributes) X(MatchSpu) X(PairListings) X(TopProducts) X(SegmentCounts)
#define KG_PARTITION_WRITES(X) \
  X(UpsertEntities) X(DeleteEntities) X(UpsertEdgeCopies) X(DeleteEdgeCopies) X(ClearIntents)
#define KG_PARTITION_METHODS(X) KG_PARTITION_READS(X) KG_PARTITION_WRITES(X)
// clang-format on

class PartitionClient {
 public:
  virtual ~PartitionClient() = default;
  // "in-process" or the partition server's address.
  virtual std::string address() const = 0;

#define KG_DECLARE_PARTITION_METHOD(M)                                            \
  virtual void M(const CallOptions& options, const internal::v1::M##Request* req, \
                 internal::v1::M##Response* resp, Done done) = 0;
  KG_PARTITION_METHODS(KG_DECLARE_PARTITION_METHOD)
#undef KG_DECLARE_PARTITION_METHOD
};

// Calls a PartitionHost in this process; GetPartitionInfo reports `gate` as serving.
std::unique_ptr<PartitionClient> NewLocalPartitionClient(PartitionHost* host,
                                                         const ServingGate* gate);

// Calls a partition server over `channel` (shared by the partitions that server hosts).
// Errors are prefixed with the partition and address.
std::unique_ptr<PartitionClient> NewRemotePartitionClient(uint32_t partition, std::string address,
                                                          std::shared_ptr<grpc::Channel> channel);

// Wraps `inner`, counting and timing every call as grpc_client_* metrics with a
// `partition` label (the same for local and remote partitions).
std::unique_ptr<PartitionClient> NewInstrumentedPartitionClient(
    uint32_t partition, std::unique_ptr<PartitionClient> inner, Metrics* metrics);

}  // namespace kg

#endif  // KG_SERVER_FRONTEND_PARTITION_CLIENT_H_
