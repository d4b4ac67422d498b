// An RFC 4180 CSV reader: comma (or another one-byte delimiter) separated fields, fields
// quoted with '"' may hold the delimiter, '""' (one quote) and line breaks; records end
// with LF or CRLF; empty lines are skipped. Reports line numbers. Thread-compatible.
#ifndef KG_CLIENT_IMPORTER_CSV_READER_H_
#define KG_CLIENT_IMPORTER_CSV_READER_H_

#include <cstdint>
#include <fstream>
#include <istream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/jsonl.h"  // InputFile

namespace kg {

class CsvReader {
 public:
  explicit CsvReader(char delimiter = ',') : delimiter_(delimiter) {}

  // Opens `path` ("-" is standard input). Returns NOT_FOUND if it cannot be opened.
  absl::Status Open(const std::string& path);
  // Reads from `in`, which must outlive the reader (e.g. a test's istringstream).
  void OpenStream(std::istream* in);

  // Reads the next record into `fields`. Returns false at end of input. On a malformed
  // record (a quote inside an unquoted field, text after a closing quote, a quoted field
  // still open at end of input) returns true with *status INVALID_ARGUMENT (the reason,
  // without file or line); reading goes on with the next record.
  bool Next(std::vector<std::string>* fields, absl::Status* status);

  // 1-based line on which the last record read starts.
  int64_t line_number() const { return record_line_; }
  // Bytes consumed so far, and the file's size (0 when unknown, e.g. a pipe).
  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t file_size() const { return input_.size(); }

 private:
  int Get();  // the next byte, or -1 at end of input

  char delimiter_;
  InputFile input_;
  std::istream* in_ = nullptr;  // input_'s stream, or one given to OpenStream
  int64_t line_ = 1;            // line of the next byte
  int64_t record_line_ = 0;
  uint64_t bytes_read_ = 0;
};

}  // namespace kg

#endif  // KG_CLIENT_IMPORTER_CSV_READER_H_
