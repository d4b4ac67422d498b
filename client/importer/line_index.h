// Maps the 0-based index of a record in an Import stream back to the input line it came
// from, so server rejections (ImportError.record_index) are reported as FILE:LINE. Stores
// runs of rows with equal record counts on consecutive lines: a JSONL or CSV file without
// gaps takes a few bytes, not one entry per record. Thread-compatible.
#ifndef KG_CLIENT_IMPORTER_LINE_INDEX_H_
#define KG_CLIENT_IMPORTER_LINE_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kg {

class LineIndex {
 public:
  // The next `records` records of the stream (> 0) come from the row starting on `line`.
  void Add(int64_t line, uint64_t records);

  // The line of record `index`, or 0 if no such record was added.
  int64_t LineOf(uint64_t index) const;

  // Records added so far.
  uint64_t size() const { return size_; }
  // Runs stored (for tests).
  size_t runs() const { return runs_.size(); }

 private:
  struct Run {
    uint64_t first_index;  // of the run's first record
    int64_t first_line;    // of the run's first row
    uint64_t rows;         // rows on lines first_line, first_line + 1, ...
    uint64_t per_row;      // records of each row
  };
  std::vector<Run> runs_;
  uint64_t size_ = 0;
};

}  // namespace kg

#endif  // KG_CLIENT_IMPORTER_LINE_INDEX_H_
