// The cluster file (server/frontend/cluster.h): ParseClusterConfig on the whole input, and
// ParsePartitionList on it with a partition count from its first two bytes (1..65536; the
// count comes from a flag or the cluster file, whose parser bounds it at 4096). A parsed
// config hosts every partition 0..P-1 exactly once; a parsed list is non-empty and in range.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "server/frontend/cluster.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<kg::ClusterConfig> config = kg::ParseClusterConfig(text, "cluster.txt");
  if (config.ok()) {
    KG_FUZZ_CHECK(config->partition_count >= 1 && config->partition_count <= 4096,
                  "partition count out of bounds");
    std::vector<int> hosts(config->partition_count, 0);
    for (const kg::ClusterConfig::Server& server : config->servers) {
      KG_FUZZ_CHECK(!server.address.empty() && !server.partitions.empty(), "an empty server");
      for (uint32_t p : server.partitions) {
        KG_FUZZ_CHECK(p < config->partition_count, "a partition out of range");
        ++hosts[p];
      }
    }
    for (int n : hosts) KG_FUZZ_CHECK(n == 1, "a partition not hosted exactly once");
  }

  if (size < 2) return 0;
  const uint32_t count = (static_cast<uint32_t>(data[0]) << 8 | data[1]) + 1;
  absl::StatusOr<std::vector<uint32_t>> list = kg::ParsePartitionList(text.substr(2), count);
  if (list.ok()) {
    KG_FUZZ_CHECK(!list->empty(), "an empty partition list");
    for (uint32_t p : *list) KG_FUZZ_CHECK(p < count, "a partition out of range");
  }
  return 0;
}
