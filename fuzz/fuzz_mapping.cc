// The CSV column mapping (client/importer/mapping.h, ParseMapping) and the mapper that
// applies it (csv_mapper.h). The input is the mapping text, optionally followed by a NUL
// byte and CSV data: when the mapping parses, the data is read with the mapping's
// delimiter, its columns bound and every row mapped; every record a row yields must pass
// the importer's own check and the server's validation.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "client/importer/csv_mapper.h"
#include "client/importer/csv_reader.h"
#include "client/importer/mapping.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [spec, csv] =
      kg::fuzz::SplitAtNul(absl::string_view(reinterpret_cast<const char*>(data), size));
  absl::StatusOr<kg::Mapping> mapping = kg::ParseMapping(spec, "fuzz.mapping");
  if (!mapping.ok()) return 0;
  const char delimiter = mapping->delimiter;
  kg::CsvMapper mapper(std::move(*mapping));

  std::istringstream in{std::string(csv)};
  kg::CsvReader reader(delimiter);
  reader.OpenStream(&in);
  std::vector<std::string> fields;
  absl::Status status;
  bool bound = false;
  std::vector<kg::v1::ImportRecord> records;
  while (reader.Next(&fields, &status)) {
    if (!status.ok()) continue;
    if (!bound) {
      if (!mapper.BindColumns(fields).ok()) return 0;
      bound = true;
      if (mapper.mapping().header) continue;
    }
    records.clear();
    bool skipped = false;
    absl::Status mapped = mapper.MapRow(fields, &records, &skipped);
    if (!mapped.ok() || skipped) {
      KG_FUZZ_CHECK(records.empty(), "a row that failed or was skipped yielded records");
      continue;
    }
    kg::fuzz::CheckImportable(records, "the CSV mapper");
  }
  return 0;
}
