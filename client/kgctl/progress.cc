#include "client/kgctl/progress.h"

#include <unistd.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kg {

Progress::Progress(std::FILE* out, bool enabled)
    : out_(out), enabled_(enabled), start_(absl::Now()), last_draw_(absl::InfinitePast()) {}

bool Progress::StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

void Progress::Update(int64_t lines, uint64_t records, uint64_t bytes_done, uint64_t bytes_total) {
  if (!enabled_) return;
  absl::Time now = absl::Now();
  if (now - last_draw_ < absl::Milliseconds(250)) return;
  last_draw_ = now;
  double elapsed = absl::ToDoubleSeconds(now - start_);
  double rate = elapsed > 0 ? records / elapsed : 0;
  std::string line;
  if (lines >= 0) absl::StrAppend(&line, lines, " lines, ");
  absl::StrAppend(&line, records, " records, ", absl::StrFormat("%.0f", rate), " records/s");
  if (bytes_total > 0 && bytes_done > 0) {
    double fraction = std::min(1.0, static_cast<double>(bytes_done) / bytes_total);
    absl::StrAppend(&line, absl::StrFormat(", %.1f%%", 100 * fraction));
    if (fraction > 0 && elapsed > 0.5) {
      absl::StrAppend(&line, ", ETA ", FormatDuration(elapsed / fraction - elapsed));
    }
  }
  absl::StrAppend(&line, ", ", FormatDuration(elapsed), " elapsed");
  std::fprintf(out_, "\r%s\x1b[K", line.c_str());
  std::fflush(out_);
  drawn_ = true;
}

void Progress::Finish() {
  if (!drawn_) return;
  std::fprintf(out_, "\n");
  std::fflush(out_);
  drawn_ = false;
}

std::string FormatDuration(double seconds) {
  int64_t s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, s % 3600 / 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrCat(s, "s");
}

}  // namespace kg
