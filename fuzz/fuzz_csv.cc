// The RFC 4180 CSV reader (client/importer/csv_reader.h). The first byte picks the
// delimiter (',', ';', tab or '|'), the rest is the file. Every record is read (reading goes
// on after a malformed one, and must end); when every record is well formed, writing them
// back with every field quoted and reading that gives the same records.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "client/importer/csv_reader.h"
#include "fuzz/fuzz_util.h"

namespace {

// Reads every record of `text`; false when any is malformed.
bool ReadAll(const std::string& text, char delimiter, std::vector<std::vector<std::string>>* out) {
  std::istringstream in(text);
  kg::CsvReader reader(delimiter);
  reader.OpenStream(&in);
  bool all_ok = true;
  std::vector<std::string> fields;
  absl::Status status;
  size_t rows = 0;
  while (reader.Next(&fields, &status)) {
    // Each record consumes at least one byte.
    KG_FUZZ_CHECK(++rows <= text.size() + 1, "the reader does not advance");
    if (!status.ok()) {
      all_ok = false;
      continue;
    }
    out->push_back(fields);
  }
  return all_ok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr char kDelimiters[] = {',', ';', '\t', '|'};
  const char delimiter = kDelimiters[data[0] % 4];
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::vector<std::string>> records;
  if (!ReadAll(text, delimiter, &records)) return 0;

  std::string written;
  for (const auto& record : records) {
    for (size_t i = 0; i < record.size(); ++i) {
      if (i > 0) written += delimiter;
      written += '"';
      for (char c : record[i]) {
        if (c == '"') written += '"';
        written += c;
      }
      written += '"';
    }
    written += "\r\n";
  }
  std::vector<std::vector<std::string>> again;
  KG_FUZZ_CHECK(ReadAll(written, delimiter, &again), "quoted output does not read: " + written);
  KG_FUZZ_CHECK(again == records, "write/read is not a round trip: " + written);
  return 0;
}
