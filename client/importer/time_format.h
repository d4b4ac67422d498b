// Time parsing for imported data: epoch seconds or milliseconds, or a date-time pattern
// (absl::ParseTime's strptime-like directives, in UTC unless the pattern has %z), always
// to milliseconds since the Unix epoch. Pure functions; thread-safe.
#ifndef KG_CLIENT_IMPORTER_TIME_FORMAT_H_
#define KG_CLIENT_IMPORTER_TIME_FORMAT_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kg {

// Checks a format: "epoch_ms", "epoch_s", or a pattern containing at least one
// %-directive (e.g. "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M"). INVALID_ARGUMENT otherwise.
absl::Status ValidateTimeFormat(absl::string_view format);

// Parses `text` in `format` to milliseconds since the epoch. epoch_ms and epoch_s take a
// decimal integer; patterns are read in UTC (absl::ParseTime). Times before 1970 and
// unparsable text give INVALID_ARGUMENT naming the text and the format.
absl::StatusOr<int64_t> ParseTimeMs(absl::string_view text, absl::string_view format);

}  // namespace kg

#endif  // KG_CLIENT_IMPORTER_TIME_FORMAT_H_
