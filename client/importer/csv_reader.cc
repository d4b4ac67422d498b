#include "client/importer/csv_reader.h"

#include <iostream>

#include "absl/strings/str_cat.h"

namespace kg {

absl::Status CsvReader::Open(const std::string& path) {
  absl::Status s = input_.Open(path);
  in_ = input_.stream();
  return s;
}

void CsvReader::OpenStream(std::istream* in) { in_ = in; }

int CsvReader::Get() {
  if (in_ == nullptr) return -1;
  const int c = in_->rdbuf()->sbumpc();
  if (c == std::char_traits<char>::eof()) return -1;
  ++bytes_read_;
  if (c == '\n') ++line_;
  return c;
}

bool CsvReader::Next(std::vector<std::string>* fields, absl::Status* status) {
  *status = absl::OkStatus();
  fields->clear();
  int c = Get();
  // Skip empty lines (LF or CRLF).
  while (c == '\n' || c == '\r') c = Get();
  if (c < 0) return false;
  record_line_ = c == '\n' ? line_ - 1 : line_;
  std::string field;
  std::string error;
  auto fail = [&](std::string why) {
    if (error.empty()) error = std::move(why);
  };
  while (true) {
    // At the start of a field; c is its first byte (or -1).
    field.clear();
    if (c == '"') {
      const int64_t open_line = line_;
      while (true) {
        c = Get();
        if (c < 0) {
          fail(absl::StrCat("quoted field opened on line ", open_line, " is never closed"));
          break;
        }
        if (c == '"') {
          c = Get();
          if (c != '"') break;  // the closing quote; c is the byte after it
        }
        field.push_back(static_cast<char>(c));
      }
      if (c == '\r') {
        const int next = Get();
        if (next != '\n' && next >= 0) fail("text after a closing quote");
        c = next < 0 ? -1 : '\n';
      }
      if (c >= 0 && c != '\n' && c != delimiter_) {
        fail(absl::StrCat("text after the closing quote of field ", fields->size() + 1));
        // Treat the rest as unquoted text of the same field.
        while (c >= 0 && c != '\n' && c != delimiter_) {
          field.push_back(static_cast<char>(c));
          c = Get();
        }
      }
    } else {
      while (c >= 0 && c != '\n' && c != delimiter_) {
        if (c == '"') fail(absl::StrCat("a quote inside unquoted field ", fields->size() + 1));
        field.push_back(static_cast<char>(c));
        c = Get();
      }
      if (!field.empty() && field.back() == '\r' && c != delimiter_) field.pop_back();
    }
    fields->push_back(field);
    if (c == delimiter_) {
      c = Get();
      continue;
    }
    break;  // end of line or of input
  }
  if (!error.empty()) *status = absl::InvalidArgumentError(error);
  return true;
}

}  // namespace kg
