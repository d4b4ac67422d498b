// Rows of a CSV file with a header, for the evaluation tools: column name -> value, per row
// (malformed records are skipped). Reads through the importer's RFC 4180 reader.
#ifndef KG_BENCH_CSV_ROWS_H_
#define KG_BENCH_CSV_ROWS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "client/importer/csv_reader.h"

namespace kg {

inline absl::StatusOr<std::vector<std::map<std::string, std::string>>> ReadCsvRows(
    const std::string& path) {
  CsvReader reader;
  absl::Status s = reader.Open(path);
  if (!s.ok()) return s;
  std::vector<std::string> header, fields;
  std::vector<std::map<std::string, std::string>> rows;
  absl::Status row_status;
  if (!reader.Next(&header, &row_status)) return rows;
  while (reader.Next(&fields, &row_status)) {
    if (!row_status.ok()) continue;
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < fields.size(); ++i) row[header[i]] = fields[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace kg

#endif  // KG_BENCH_CSV_ROWS_H_
