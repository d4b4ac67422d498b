// A one-line progress display for long-running kgctl commands (import, generate): it
// redraws a single stderr line at most 4 times a second, and only when stderr is a
// terminal. Not thread-safe.
#ifndef KG_CLIENT_KGCTL_PROGRESS_H_
#define KG_CLIENT_KGCTL_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kg {

class Progress {
 public:
  // `enabled` false makes every call a no-op (e.g. stderr is not a terminal).
  Progress(std::FILE* out, bool enabled);

  // True when stderr (fd 2) is a terminal.
  static bool StderrIsTerminal();

  // Reports `records` done, and `bytes_done` of `bytes_total` (0 when unknown) for the
  // percentage and ETA; `lines` is shown when >= 0. Redraws at most every 250 ms.
  void Update(int64_t lines, uint64_t records, uint64_t bytes_done, uint64_t bytes_total);

  // Ends the progress line (a newline) if anything was drawn.
  void Finish();

 private:
  std::FILE* out_;
  bool enabled_;
  bool drawn_ = false;
  absl::Time start_;
  absl::Time last_draw_;
};

// "1h02m", "3m05s" or "42s".
std::string FormatDuration(double seconds);

}  // namespace kg

#endif  // KG_CLIENT_KGCTL_PROGRESS_H_
