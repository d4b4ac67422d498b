// The JSONL record format: one kg.v1.ImportRecord per line, in protobuf's JSON mapping
// (docs/FORMATS.md). Used by the server's --load_file, kgctl import and the sample
// generator, so every tool reads and writes the same format. Thread-compatible.
#ifndef KG_PROTO_JSONL_H_
#define KG_PROTO_JSONL_H_

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "kg/v1/types.pb.h"

namespace kg {

// Parses one line. Returns INVALID_ARGUMENT with the parser's reason when the line is not
// a JSON ImportRecord (unknown fields and enum names are errors) or sets neither record.
absl::Status ParseRecordLine(absl::string_view line, v1::ImportRecord* record);

// Formats any message as one line of compact JSON (protobuf's JSON mapping), without a
// trailing newline. Deterministic: map entries are printed sorted by key, so equal
// messages always give equal text. With `print_defaults`, fields at their default value
// are printed too.
std::string ToJsonLine(const google::protobuf::Message& message, bool print_defaults = false);

// The message's binary encoding with map entries sorted by key: equal messages always give
// equal bytes (for fingerprints and comparisons).
std::string DeterministicBytes(const google::protobuf::Message& message);

// Formats a record as one line of the JSONL format (ToJsonLine of the record).
std::string FormatRecordLine(const v1::ImportRecord& record);

// An input opened by path ("-" is standard input), with its size when known (0 for a
// pipe). Shared by the readers of every import format.
class InputFile {
 public:
  // NOT_FOUND naming the path when it cannot be opened.
  absl::Status Open(const std::string& path);
  std::istream* stream() const { return in_; }
  uint64_t size() const { return size_; }

 private:
  std::unique_ptr<std::ifstream> file_;
  std::istream* in_ = nullptr;
  uint64_t size_ = 0;
};

// Reads a JSONL file line by line. Blank lines and lines starting with '#' are skipped.
class JsonlReader {
 public:
  // Opens `path` ("-" is standard input). Returns NOT_FOUND if it cannot be opened.
  absl::Status Open(const std::string& path);

  // Reads the next record. Returns false at end of file. On a bad line returns true with
  // *status set to INVALID_ARGUMENT ("<path>:<line>: <reason>"); reading may go on.
  bool Next(v1::ImportRecord* record, absl::Status* status);

  // 1-based number of the line last read.
  int64_t line_number() const { return line_number_; }
  // Bytes consumed so far and the file's size (0 when unknown, e.g. a pipe).
  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t file_size() const { return input_.size(); }

 private:
  std::string path_;
  InputFile input_;
  std::string line_;
  int64_t line_number_ = 0;
  uint64_t bytes_read_ = 0;
};

}  // namespace kg

#endif  // KG_PROTO_JSONL_H_
