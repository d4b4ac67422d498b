// The cluster file (docs/CLUSTER.md) and the Router: which partition a key lives on and
// which client reaches it. Router is immutable after construction and thread-safe.
//
// Cluster file:                      # comments and blank lines are ignored
//   partitions 4                     # P, the number of logical partitions (required, first)
//   server 127.0.0.1:7001 0,1        # a partition server and the partitions it hosts
//   server 127.0.0.1:7002 2-3        # ranges are inclusive
// Every partition 0..P-1 must be hosted by exactly one server.
#ifndef KG_SERVER_FRONTEND_CLUSTER_H_
#define KG_SERVER_FRONTEND_CLUSTER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/frontend/partition_client.h"
#include "server/graph/key.h"

namespace kg {

struct ClusterConfig {
  struct Server {
    std::string address;
    std::vector<uint32_t> partitions;
  };
  uint32_t partition_count = 0;
  std::vector<Server> servers;
};

// Parses the cluster file's text; errors name the line ("cluster.txt:3: ...").
absl::StatusOr<ClusterConfig> ParseClusterConfig(absl::string_view text,
                                                 absl::string_view source_name);
absl::StatusOr<ClusterConfig> ReadClusterFile(const std::string& path);

// Parses a partition list such as "0,2,5-7" (each < partition_count).
absl::StatusOr<std::vector<uint32_t>> ParsePartitionList(absl::string_view list,
                                                         uint32_t partition_count);

class Router {
 public:
  // `clients[p]` reaches partition p; all must be set.
  explicit Router(std::vector<std::unique_ptr<PartitionClient>> clients);

  uint32_t partition_count() const { return static_cast<uint32_t>(clients_.size()); }
  uint32_t PartitionOf(const EntityKey& key) const {
    return kg::PartitionOf(key, partition_count());
  }
  PartitionClient& client(uint32_t partition) const { return *clients_[partition]; }

 private:
  std::vector<std::unique_ptr<PartitionClient>> clients_;
};

}  // namespace kg

#endif  // KG_SERVER_FRONTEND_CLUSTER_H_
