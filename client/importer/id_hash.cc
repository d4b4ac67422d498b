#include "client/importer/id_hash.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kg {

uint64_t HashId(absl::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash == 0 ? 1 : hash;
}

std::string CategoryPathText(const std::vector<std::string>& segments, size_t depth) {
  std::string text;
  for (size_t i = 0; i < depth && i < segments.size(); ++i) {
    if (i > 0) text.append(" > ");
    text.append(segments[i]);
  }
  return text;
}

uint64_t CategoryPathId(const std::vector<std::string>& segments, size_t depth) {
  return HashId(CategoryPathText(segments, depth));
}

namespace {

// The length of the white space starting at text[i] (0 if none): ASCII or "\xC2\xA0".
size_t SpaceAt(absl::string_view text, size_t i) {
  const char c = text[i];
  if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') return 1;
  if (c == '\xC2' && i + 1 < text.size() && text[i + 1] == '\xA0') return 2;
  return 0;
}

// The length of the white space ending just before text[end] (0 if none).
size_t SpaceBefore(absl::string_view text, size_t end) {
  const char c = text[end - 1];
  if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') return 1;
  if (c == '\xA0' && end >= 2 && text[end - 2] == '\xC2') return 2;
  return 0;
}

}  // namespace

absl::string_view TrimSpaces(absl::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end) {
    const size_t n = SpaceAt(text, begin);
    if (n == 0) break;
    begin += n;
  }
  while (end > begin) {
    const size_t n = SpaceBefore(text, end);
    if (n == 0) break;
    end -= n;
  }
  return text.substr(begin, end - begin);
}

std::string NormalizeName(absl::string_view text) {
  text = TrimSpaces(text);
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (size_t i = 0; i < text.size();) {
    const size_t n = SpaceAt(text, i);
    if (n > 0) {
      space = true;
      i += n;
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    char c = text[i++];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out.push_back(c);
  }
  return out;
}

absl::StatusOr<uint64_t> ParseId(absl::string_view text) {
  auto quoted = [&]() { return absl::StrCat("\"", text.substr(0, 64), "\""); };
  if (text.empty()) return absl::InvalidArgumentError("empty id");
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return absl::InvalidArgumentError(
          absl::StrCat("id ", quoted(), " is not a decimal number in 1..18446744073709551615"));
    }
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return absl::InvalidArgumentError(
          absl::StrCat("id ", quoted(), " is out of range (more than 18446744073709551615)"));
    }
    value = value * 10 + digit;
  }
  if (value == 0) return absl::InvalidArgumentError("id 0 is not allowed (ids start at 1)");
  return value;
}

}  // namespace kg
