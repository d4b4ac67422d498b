#include "client/importer/time_format.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace kg {

absl::Status ValidateTimeFormat(absl::string_view format) {
  if (format == "epoch_ms" || format == "epoch_s" || absl::StrContains(format, '%')) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("time format \"", format,
                   "\": want epoch_ms, epoch_s or a pattern such as \"%Y-%m-%d %H:%M:%S\""));
}

absl::StatusOr<int64_t> ParseTimeMs(absl::string_view text, absl::string_view format) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("time \"", text.substr(0, 64), "\" does not match \"", format, "\"", why));
  };
  if (format == "epoch_ms" || format == "epoch_s") {
    if (text.empty() || text.find_first_not_of("0123456789") != absl::string_view::npos) {
      return bad(": want a non-negative decimal integer");
    }
    int64_t value = 0;
    if (!absl::SimpleAtoi(text, &value)) return bad(": out of range");
    if (format == "epoch_s") {
      if (value > INT64_MAX / 1000) return bad(": out of range");
      value *= 1000;
    }
    return value;
  }
  absl::Status valid = ValidateTimeFormat(format);
  if (!valid.ok()) return valid;
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(std::string(format), std::string(text), absl::UTCTimeZone(), &time,
                       &error)) {
    return bad(absl::StrCat(" (", error, ")"));
  }
  const int64_t ms = absl::ToUnixMillis(time);
  if (ms < 0) return bad(": before 1970-01-01");
  return ms;
}

}  // namespace kg
