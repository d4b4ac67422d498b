// The data directory of a kg_server: a format file recording the format version, the
// number of logical partitions and the partitions stored here, and one RocksDB store per
// partition. A server whose flags disagree with the directory refuses to start, naming the
// difference. Not thread-safe: call once at start-up.
//
//   <data_dir>/KG_FORMAT            "kg-data-dir 1\npartition_count 8\npartitions 0,1,...\n"
//   <data_dir>/partition-0003/      RocksDB store of partition 3
#ifndef KG_SERVER_STORAGE_DATA_DIR_H_
#define KG_SERVER_STORAGE_DATA_DIR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kg {

inline constexpr int kDataDirFormatVersion = 1;

// Checks (or, for a missing or empty directory, initializes) `dir` for `partitions` of
// `partition_count`. Returns true when it was just initialized (the stores are to be
// created), false when it existed and matches. FAILED_PRECONDITION naming the mismatch
// (format version, partition count, hosted partitions, a foreign directory) otherwise;
// messages call the directory `name` (the flag or field it came from).
absl::StatusOr<bool> PrepareDataDir(const std::string& dir, uint32_t partition_count,
                                    const std::vector<uint32_t>& partitions,
                                    absl::string_view name = "--data_dir");

// The store directory of `partition` under `dir`.
std::string PartitionStorePath(const std::string& dir, uint32_t partition);

}  // namespace kg

#endif  // KG_SERVER_STORAGE_DATA_DIR_H_
