// Loads a JSONL file (docs/FORMATS.md) straight into the partitions this process hosts,
// before it serves: entities on their key's partition, each edge copy on its owner's
// partition when hosted here (so every partition server of a split cluster can load the
// same file). Not thread-safe: call once at start-up.
#ifndef KG_SERVER_APP_LOADER_H_
#define KG_SERVER_APP_LOADER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "server/partition/partition_host.h"

namespace kg {

struct LoadStats {
  uint64_t lines = 0;
  uint64_t entities = 0;     // entities stored here
  uint64_t edge_copies = 0;  // edge copies stored here
  uint64_t skipped = 0;      // records belonging only to partitions hosted elsewhere
};

// Fails on the first bad line (INVALID_ARGUMENT "<file>:<line>: <reason>"), leaving what
// was loaded before it.
absl::StatusOr<LoadStats> LoadJsonlFile(const std::string& path, PartitionHost* host);

}  // namespace kg

#endif  // KG_SERVER_APP_LOADER_H_
