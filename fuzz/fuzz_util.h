// What the fuzz targets share: KG_FUZZ_CHECK, an invariant check that stays on in release
// builds (a failure prints the reason and aborts, which libFuzzer reports as a crash and
// saves the input), and the server's validation of an import record.
#ifndef KG_FUZZ_FUZZ_UTIL_H_
#define KG_FUZZ_FUZZ_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kg/v1/types.pb.h"

#define KG_FUZZ_CHECK(condition, message)                                               \
  do {                                                                                  \
    if (!(condition)) ::kg::fuzz::CheckFailed(__FILE__, __LINE__, #condition, message); \
  } while (0)

namespace kg::fuzz {

[[noreturn]] void CheckFailed(const char* file, int line, const char* condition,
                              const std::string& message);

// The server's validation of a record (server/partition/convert.h), as its loader and
// Import apply it. An accepted entity is also checked to survive the graph's encoding
// (server/graph/entity_codec.h): stored and read back, it gives the same fields.
absl::Status ServerValidates(const v1::ImportRecord& record);

// Checks records an importer reader produced: each must pass the importer's own pre-check
// and the server's validation (an importer that emits what the server refuses is a bug).
void CheckImportable(const std::vector<v1::ImportRecord>& records, absl::string_view what);

// The input split at its first NUL byte: {before, after} (after is empty without one).
std::pair<absl::string_view, absl::string_view> SplitAtNul(absl::string_view input);

}  // namespace kg::fuzz

#endif  // KG_FUZZ_FUZZ_UTIL_H_
