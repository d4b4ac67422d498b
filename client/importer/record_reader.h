// One reader for every import format: JSONL (docs/FORMATS.md), CSV through a mapping, and
// Google Product Taxonomy files. Each input row (a line, or a CSV record that may span
// lines) yields its checked records, or an error "FILE:LINE: reason", or a skip by a
// mapping filter; nothing of a bad row is returned. Thread-compatible.
#ifndef KG_CLIENT_IMPORTER_RECORD_READER_H_
#define KG_CLIENT_IMPORTER_RECORD_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kg/v1/types.pb.h"

namespace kg {

enum class ImportFormat { kJsonl, kCsv, kTaxonomy };

// "jsonl", "csv" or "taxonomy"; INVALID_ARGUMENT otherwise.
absl::StatusOr<ImportFormat> ParseImportFormat(absl::string_view name);
// From the file name: .jsonl/.ndjson/.json and "-" -> jsonl, .csv/.tsv -> csv,
// .txt -> taxonomy; INVALID_ARGUMENT for anything else (pass --format).
absl::StatusOr<ImportFormat> FormatFromPath(absl::string_view path);

struct ReaderOptions {
  std::string path;  // "-" is standard input
  ImportFormat format = ImportFormat::kJsonl;
  std::string mapping_path;  // required for csv, not allowed otherwise
};

struct SourceRow {
  int64_t line = 0;                       // 1-based line where the row starts
  std::vector<v1::ImportRecord> records;  // empty when bad or skipped
  absl::Status status;                    // INVALID_ARGUMENT "FILE:LINE: reason" for a bad row
  bool skipped = false;                   // a skip_if filter of the mapping matched
};

class RecordReader {
 public:
  virtual ~RecordReader() = default;
  // Reads the next row. Returns false at the end of the input.
  virtual bool Next(SourceRow* row) = 0;
  // Bytes consumed so far and the input's size (0 when unknown, e.g. a pipe).
  virtual uint64_t bytes_read() const = 0;
  virtual uint64_t file_size() const = 0;
  // The last line read.
  virtual int64_t line_number() const = 0;
};

// Opens the input (and parses the mapping, binding it to the CSV header). Returns
// NOT_FOUND for a missing file, INVALID_ARGUMENT for a bad mapping or header.
absl::StatusOr<std::unique_ptr<RecordReader>> OpenRecordReader(const ReaderOptions& options);

}  // namespace kg

#endif  // KG_CLIENT_IMPORTER_RECORD_READER_H_
