#include "client/importer/record_reader.h"

#include <fstream>
#include <iostream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/importer/csv_mapper.h"
#include "client/importer/csv_reader.h"
#include "client/importer/mapping.h"
#include "client/importer/record_check.h"
#include "client/importer/taxonomy.h"
#include "proto/jsonl.h"

namespace kg {
namespace {

absl::Status AtLine(const std::string& path, int64_t line, const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": ", status.message()));
}

class JsonlRecordReader : public RecordReader {
 public:
  explicit JsonlRecordReader(std::string path) : path_(std::move(path)) {}
  absl::Status Open() { return reader_.Open(path_); }

  bool Next(SourceRow* row) override {
    row->records.clear();
    row->skipped = false;
    v1::ImportRecord record;
    if (!reader_.Next(&record, &row->status)) return false;
    row->line = reader_.line_number();
    if (!row->status.ok()) return true;  // already "path:line: reason"
    absl::Status checked = CheckRecord(record);
    if (!checked.ok()) {
      row->status = AtLine(path_, row->line, checked);
      return true;
    }
    row->records.push_back(std::move(record));
    return true;
  }
  uint64_t bytes_read() const override { return reader_.bytes_read(); }
  uint64_t file_size() const override { return reader_.file_size(); }
  int64_t line_number() const override { return reader_.line_number(); }

 private:
  std::string path_;
  JsonlReader reader_;
};

class TaxonomyRecordReader : public RecordReader {
 public:
  explicit TaxonomyRecordReader(std::string path) : path_(std::move(path)) {}
  absl::Status Open() { return input_.Open(path_); }

  bool Next(SourceRow* row) override {
    row->records.clear();
    row->skipped = false;
    row->status = absl::OkStatus();
    while (input_.stream() != nullptr && std::getline(*input_.stream(), line_)) {
      ++line_number_;
      bytes_read_ += line_.size() + 1;
      row->line = line_number_;
      if (line_number_ == 1 && !absl::StartsWith(line_, "# Google_Product_Taxonomy_Version")) {
        row->status = AtLine(
            path_, 1,
            absl::InvalidArgumentError("not a Google Product Taxonomy file: the first line must be "
                                       "\"# Google_Product_Taxonomy_Version: ...\""));
        return true;
      }
      absl::Status s = parser_.ParseLine(line_, &row->records);
      if (s.ok()) {
        for (const v1::ImportRecord& record : row->records) {
          s = CheckRecord(record);
          if (!s.ok()) break;
        }
      }
      if (!s.ok()) {
        row->records.clear();
        row->status = AtLine(path_, line_number_, s);
        return true;
      }
      if (!row->records.empty()) return true;
    }
    return false;
  }
  uint64_t bytes_read() const override { return bytes_read_; }
  uint64_t file_size() const override { return input_.size(); }
  int64_t line_number() const override { return line_number_; }

 private:
  std::string path_;
  InputFile input_;
  std::string line_;
  TaxonomyParser parser_;
  int64_t line_number_ = 0;
  uint64_t bytes_read_ = 0;
};

class CsvRecordReader : public RecordReader {
 public:
  CsvRecordReader(std::string path, Mapping mapping)
      : path_(std::move(path)), reader_(mapping.delimiter), mapper_(std::move(mapping)) {}

  absl::Status Open() {
    absl::Status s = reader_.Open(path_);
    if (!s.ok()) return s;
    absl::Status row_status;
    if (!reader_.Next(&first_, &row_status)) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": empty file"));
    }
    if (!row_status.ok()) return AtLine(path_, reader_.line_number(), row_status);
    first_line_ = reader_.line_number();
    s = mapper_.BindColumns(first_);
    if (!s.ok()) return AtLine(path_, first_line_, s);
    // Without a header the first row is data: Next returns it first.
    have_first_ = !mapper_.mapping().header;
    return absl::OkStatus();
  }

  bool Next(SourceRow* row) override {
    row->records.clear();
    row->skipped = false;
    row->status = absl::OkStatus();
    std::vector<std::string>* fields = &fields_;
    if (have_first_) {
      have_first_ = false;
      fields = &first_;
      row->line = first_line_;
    } else {
      absl::Status s;
      if (!reader_.Next(&fields_, &s)) return false;
      row->line = reader_.line_number();
      if (!s.ok()) {
        row->status = AtLine(path_, row->line, s);
        return true;
      }
    }
    absl::Status s = mapper_.MapRow(*fields, &row->records, &row->skipped);
    if (!s.ok()) row->status = AtLine(path_, row->line, s);
    return true;
  }
  uint64_t bytes_read() const override { return reader_.bytes_read(); }
  uint64_t file_size() const override { return reader_.file_size(); }
  int64_t line_number() const override { return reader_.line_number(); }

 private:
  std::string path_;
  CsvReader reader_;
  CsvMapper mapper_;
  std::vector<std::string> first_;
  std::vector<std::string> fields_;
  int64_t first_line_ = 0;
  bool have_first_ = false;
};

}  // namespace

absl::StatusOr<ImportFormat> ParseImportFormat(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "jsonl") return ImportFormat::kJsonl;
  if (lower == "csv") return ImportFormat::kCsv;
  if (lower == "taxonomy") return ImportFormat::kTaxonomy;
  return absl::InvalidArgumentError(
      absl::StrCat("--format=", name, ": want jsonl, csv or taxonomy"));
}

absl::StatusOr<ImportFormat> FormatFromPath(absl::string_view path) {
  const std::string lower = absl::AsciiStrToLower(path);
  if (lower == "-" || absl::EndsWith(lower, ".jsonl") || absl::EndsWith(lower, ".ndjson") ||
      absl::EndsWith(lower, ".json")) {
    return ImportFormat::kJsonl;
  }
  if (absl::EndsWith(lower, ".csv") || absl::EndsWith(lower, ".tsv")) return ImportFormat::kCsv;
  if (absl::EndsWith(lower, ".txt")) return ImportFormat::kTaxonomy;
  return absl::InvalidArgumentError(absl::StrCat(
      "cannot tell the format of ", path, " from its extension: pass --format=jsonl|csv|taxonomy"));
}

absl::StatusOr<std::unique_ptr<RecordReader>> OpenRecordReader(const ReaderOptions& options) {
  if (options.format != ImportFormat::kCsv && !options.mapping_path.empty()) {
    return absl::InvalidArgumentError("--mapping applies to the csv format only");
  }
  switch (options.format) {
    case ImportFormat::kJsonl: {
      auto reader = std::make_unique<JsonlRecordReader>(options.path);
      absl::Status s = reader->Open();
      if (!s.ok()) return s;
      return std::unique_ptr<RecordReader>(std::move(reader));
    }
    case ImportFormat::kTaxonomy: {
      auto reader = std::make_unique<TaxonomyRecordReader>(options.path);
      absl::Status s = reader->Open();
      if (!s.ok()) return s;
      return std::unique_ptr<RecordReader>(std::move(reader));
    }
    case ImportFormat::kCsv: {
      if (options.mapping_path.empty()) {
        return absl::InvalidArgumentError("the csv format needs --mapping=FILE (docs/IMPORT.md)");
      }
      absl::StatusOr<Mapping> mapping = LoadMapping(options.mapping_path);
      if (!mapping.ok()) return mapping.status();
      auto reader = std::make_unique<CsvRecordReader>(options.path, std::move(*mapping));
      absl::Status s = reader->Open();
      if (!s.ok()) return s;
      return std::unique_ptr<RecordReader>(std::move(reader));
    }
  }
  return absl::InvalidArgumentError("unknown format");
}

}  // namespace kg
