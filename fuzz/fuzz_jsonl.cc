// The JSONL record format (proto/jsonl.h) as the server's --load_file, kgctl import and the
// sample generator read it: one line parsed as a kg.v1.ImportRecord. Where it parses:
//   - formatting it and parsing the text again gives the same record;
//   - the importer's pre-check (client/importer/record_check.h) accepting it implies the
//     server's validation accepts it too, and an accepted entity survives the graph's
//     encoding (fuzz_util.h, ServerValidates).
#include <cstddef>
#include <cstdint>
#include <string>

#include "client/importer/record_check.h"
#include "fuzz/fuzz_util.h"
#include "proto/jsonl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view line(reinterpret_cast<const char*>(data), size);
  kg::v1::ImportRecord record;
  if (!kg::ParseRecordLine(line, &record).ok()) return 0;

  const std::string text = kg::FormatRecordLine(record);
  kg::v1::ImportRecord again;
  absl::Status reparsed = kg::ParseRecordLine(text, &again);
  KG_FUZZ_CHECK(reparsed.ok(), "a formatted record does not parse (" +
                                   std::string(reparsed.message()) + "): " + text);
  KG_FUZZ_CHECK(kg::DeterministicBytes(again) == kg::DeterministicBytes(record),
                "format/parse is not a round trip: " + text);

  absl::Status server = kg::fuzz::ServerValidates(record);
  if (kg::CheckRecord(record).ok()) {
    KG_FUZZ_CHECK(server.ok(), "the importer's check accepts a record the server refuses (" +
                                   std::string(server.message()) + "): " + text);
  }
  return 0;
}
