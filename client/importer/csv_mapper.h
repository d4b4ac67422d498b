// Applies a Mapping to CSV rows: binds column names to positions, evaluates value
// expressions, applies skip_if filters and turns one row into its entities and edges (all
// or nothing: a row with any error yields no record). Thread-compatible (keeps the ids
// already emitted, for `once` entities and category chains).
#ifndef KG_CLIENT_IMPORTER_CSV_MAPPER_H_
#define KG_CLIENT_IMPORTER_CSV_MAPPER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/importer/mapping.h"
#include "kg/v1/types.pb.h"

namespace kg {

// Evaluates `value` on a row whose columns are bound (value.column_index). Returns the
// resulting text, or INVALID_ARGUMENT from a step (e.g. parse_time on bad text).
absl::StatusOr<std::string> EvaluateValue(const ValueExpr& value,
                                          const std::vector<std::string>& fields);

class CsvMapper {
 public:
  explicit CsvMapper(Mapping mapping);

  // Binds every column reference. With mapping.header, `first_row` is the header and
  // references are header names (or 1-based positions); without it, `first_row` is the
  // first data row and references must be positions. Returns INVALID_ARGUMENT naming the
  // mapping line of an unknown column.
  absl::Status BindColumns(const std::vector<std::string>& first_row);

  // Maps one data row. On success appends its records (none when a skip_if matched:
  // *skipped is then true). On error appends nothing and returns INVALID_ARGUMENT with the
  // reason (wrong field count, invalid UTF-8, a bad id, number or time, ...).
  absl::Status MapRow(const std::vector<std::string>& fields,
                      std::vector<v1::ImportRecord>* records, bool* skipped);

  const Mapping& mapping() const { return mapping_; }
  // Blocks left out because their ids were empty (optional blocks, empty category paths).
  uint64_t blocks_left_out() const { return blocks_left_out_; }

 private:
  absl::Status Bind(ValueExpr* value, int line);
  absl::Status MapBlock(const MappingBlock& block, int index,
                        const std::vector<std::string>& fields, std::vector<v1::ImportRecord>* out);
  absl::Status MapCategories(const MappingBlock& block, const std::vector<std::string>& fields,
                             std::vector<v1::ImportRecord>* out);

  Mapping mapping_;
  std::vector<std::string> columns_;
  // Ids already emitted by each `once` entity block, and category ids already emitted.
  std::vector<absl::flat_hash_set<uint64_t>> seen_;
  absl::flat_hash_set<uint64_t> categories_;
  // Ids a row would add to seen_ / categories_, committed when the whole row succeeds.
  std::vector<std::pair<int, uint64_t>> pending_;
  uint64_t blocks_left_out_ = 0;
};

}  // namespace kg

#endif  // KG_CLIENT_IMPORTER_CSV_MAPPER_H_
