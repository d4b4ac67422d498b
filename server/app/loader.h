// Loads a JSONL file (docs/FORMATS.md) straight into the partitions this process hosts,
// before it serves: entities on their key's partition, each edge copy on its owner's
// partition when hosted here (so every partition server of a split cluster can load the
// same file). Not thread-safe: call once at start-up.
#ifndef KG_SERVER_APP_LOADER_H_
#define KG_SERVER_APP_LOADER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kg/v1/types.pb.h"
#include "server/partition/partition_host.h"

namespace kg {

struct LoadStats {
  uint64_t lines = 0;
  uint64_t entities = 0;     // entities stored here
  uint64_t edge_copies = 0;  // edge copies stored here
  uint64_t skipped = 0;      // records belonging only to partitions hosted elsewhere
};

// Loads records one at a time into the host's partitions, batching per partition.
// Records are validated as they are added, so an error names the record.
class HostLoader {
 public:
  explicit HostLoader(PartitionHost* host);
  ~HostLoader();
  // Validates and queues `record` (storing a batch when one is full). INVALID_ARGUMENT
  // naming the field for a bad record, which is not loaded.
  absl::Status Add(const v1::ImportRecord& record);
  // Stores what is queued. Call before reading the partitions.
  absl::Status Flush();
  const LoadStats& stats() const { return stats_; }

 private:
  class Batcher;
  PartitionHost* host_;
  std::unique_ptr<Batcher> batcher_;
  LoadStats stats_;
};

// Fails on the first bad line (INVALID_ARGUMENT "<file>:<line>: <reason>"), leaving what
// was loaded before it.
absl::StatusOr<LoadStats> LoadJsonlFile(const std::string& path, PartitionHost* host);

}  // namespace kg

#endif  // KG_SERVER_APP_LOADER_H_
