// kg_membench: loads the generated sample graph straight into the partitions of one
// embedded process (no gRPC) and reports resident memory per stored edge and per entity,
// measured as resident memory after the load over resident memory before it.
//   kg_membench --scale=10        # ~10M logical edges (20M stored edge copies)
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "client/datagen/datagen.h"
#include "server/app/loader.h"
#include "server/observability/metrics.h"
#include "server/partition/partition_host.h"

ABSL_FLAG(double, scale, 10, "sample graph scale (1 = ~1M logical edges)");
ABSL_FLAG(uint32_t, partitions, 8, "logical partitions in the process");
ABSL_FLAG(uint64_t, seed, 42, "generator seed");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Resident memory per stored edge of an embedded partition set.\n  kg_membench --scale=10");
  absl::ParseCommandLine(argc, argv);
  kg::datagen::Options options;
  options.scale = absl::GetFlag(FLAGS_scale);
  options.seed = absl::GetFlag(FLAGS_seed);
  absl::Status valid = kg::datagen::ValidateOptions(options);
  if (!valid.ok()) {
    std::cerr << valid.message() << "\n";
    return 2;
  }
  uint32_t count = absl::GetFlag(FLAGS_partitions);
  std::vector<uint32_t> all;
  for (uint32_t p = 0; p < count; ++p) all.push_back(p);
  auto host = kg::PartitionHost::Create(count, all);
  if (!host.ok()) {
    std::cerr << host.status().message() << "\n";
    return 2;
  }
  kg::HostLoader loader(host->get());
  malloc_trim(0);
  uint64_t before = kg::ResidentMemoryBytes();
  auto t0 = std::chrono::steady_clock::now();
  auto gen =
      kg::datagen::Generate(options, [&](const kg::v1::ImportRecord& r) { return loader.Add(r); });
  absl::Status flushed = loader.Flush();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!gen.ok() || !flushed.ok()) {
    std::cerr << (gen.ok() ? flushed : gen.status()).message() << "\n";
    return 1;
  }
  malloc_trim(0);
  uint64_t after = kg::ResidentMemoryBytes();
  uint64_t estimated = 0, entities = 0, copies = 0;
  for (uint32_t p = 0; p < count; ++p) {
    kg::PartitionStats s = (*host)->partition(p)->Stats();
    estimated += s.memory_bytes;
    entities += s.entity_count;
    copies += s.out_edge_count + s.in_edge_count;
  }
  uint64_t edges = copies / 2;
  double delta = static_cast<double>(after - before);
  std::printf(
      "{\"scale\":%g,\"partitions\":%u,\"entities\":%lu,\"logical_edges\":%lu,"
      "\"edge_copies\":%lu,\"rss_before\":%lu,\"rss_after\":%lu,"
      "\"bytes_per_logical_edge\":%.1f,\"bytes_per_edge_copy\":%.1f,"
      "\"bytes_per_entity_if_edges_free\":%.1f,\"estimated_structure_bytes\":%lu,"
      "\"load_seconds\":%.1f,\"edges_per_second\":%.0f}\n",
      options.scale, count, static_cast<unsigned long>(entities), static_cast<unsigned long>(edges),
      static_cast<unsigned long>(copies), static_cast<unsigned long>(before),
      static_cast<unsigned long>(after), delta / edges, delta / copies, delta / entities,
      static_cast<unsigned long>(estimated), secs, edges / secs);
  return 0;
}
