#include "client/importer/line_index.h"

#include <algorithm>

namespace kg {

void LineIndex::Add(int64_t line, uint64_t records) {
  if (records == 0) return;
  if (!runs_.empty()) {
    Run& last = runs_.back();
    if (last.per_row == records && last.first_line + static_cast<int64_t>(last.rows) == line) {
      ++last.rows;
      size_ += records;
      return;
    }
  }
  runs_.push_back({size_, line, 1, records});
  size_ += records;
}

int64_t LineIndex::LineOf(uint64_t index) const {
  if (index >= size_) return 0;
  auto it = std::upper_bound(runs_.begin(), runs_.end(), index,
                             [](uint64_t i, const Run& run) { return i < run.first_index; });
  const Run& run = *(it - 1);
  return run.first_line + static_cast<int64_t>((index - run.first_index) / run.per_row);
}

}  // namespace kg
