#include "server/knowledge/text.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace kg::knowledge {
namespace {

// Letters, digits and combining marks stay part of a token; everything else separates.
bool IsTokenChar(utf8proc_int32_t c) {
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

// Scripts written without spaces between words (Han, kana, Thai, Lao, Khmer, Myanmar):
// each of their letters is a token of its own (with the marks that follow it), so a title
// in Chinese or Japanese is not one long token; the text models' word bigrams then see
// character pairs.
bool IsUnspaced(utf8proc_int32_t c) {
  return (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x3134F) ||
         (c >= 0x3040 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) ||
         (c >= 0x0E00 && c <= 0x0EFF) || (c >= 0x1780 && c <= 0x17FF) ||
         (c >= 0x1000 && c <= 0x109F);
}

bool IsTradeMark(utf8proc_int32_t c) { return c == 0x2122 || c == 0x2120; }

bool IsMark(utf8proc_int32_t c) {
  const utf8proc_category_t cat = utf8proc_category(c);
  return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC;
}

}  // namespace

std::string NormalizeText(absl::string_view text) {
  // ASCII alone (most titles): NFKC leaves it as it is and case folding lowers A-Z; its
  // token characters are the letters and digits, and nothing in it is unspaced, a mark or
  // ignorable. The same result as the general path below, without utf8proc.
  if (std::all_of(text.begin(), text.end(),
                  [](char ch) { return static_cast<unsigned char>(ch) < 0x80; })) {
    std::string out;
    out.reserve(text.size());
    bool pending_space = false;
    for (char ch : text) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(ch))) {
        pending_space = true;
        continue;
      }
      if (pending_space && !out.empty()) out.push_back(' ');
      pending_space = false;
      out.push_back(absl::ascii_tolower(static_cast<unsigned char>(ch)));
    }
    return out;
  }
  // utf8proc_map refuses invalid UTF-8 as a whole: keep only the valid sequences first.
  std::string valid;
  valid.reserve(text.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &c);
    if (n <= 0) {  // an invalid byte: a separator
      valid.push_back(' ');
      ++p;
      --left;
      continue;
    }
    if (IsTradeMark(c)) {
      valid.push_back(' ');
      p += n;
      left -= n;
      continue;
    }
    valid.append(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
    p += n;
    left -= n;
  }
  utf8proc_uint8_t* mapped = nullptr;
  utf8proc_ssize_t len = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(valid.data()),
      static_cast<utf8proc_ssize_t>(valid.size()), &mapped,
      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE |
                                     UTF8PROC_CASEFOLD | UTF8PROC_IGNORE));
  std::string out;
  if (len < 0 || mapped == nullptr) return out;
  out.reserve(static_cast<size_t>(len));
  bool pending_space = false, after_unspaced = false;
  for (utf8proc_ssize_t i = 0; i < len;) {
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t n = utf8proc_iterate(mapped + i, len - i, &c);
    if (n <= 0) break;
    if (IsTokenChar(c)) {
      const bool mark = IsMark(c), unspaced = IsUnspaced(c);
      if (!mark && (unspaced || after_unspaced)) pending_space = true;
      if (!mark) after_unspaced = unspaced;
      if (pending_space && !out.empty()) out.push_back(' ');
      pending_space = false;
      out.append(reinterpret_cast<const char*>(mapped + i), static_cast<size_t>(n));
    } else {
      pending_space = true;
      after_unspaced = false;
    }
    i += n;
  }
  std::free(mapped);
  return out;
}

std::vector<std::string> Tokenize(absl::string_view text) {
  return absl::StrSplit(NormalizeText(text), ' ', absl::SkipEmpty());
}

std::vector<TokenSpan> TokenSpans(absl::string_view text) {
  std::vector<TokenSpan> out;
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  const size_t size = text.size();
  size_t start = 0;
  bool in_token = false, after_unspaced = false, ascii = true;
  auto close = [&](size_t end) {
    if (!in_token) return;
    in_token = false;
    TokenSpan t;
    t.start = start;
    t.end = end;
    if (ascii) {
      t.text = std::string(text.substr(start, end - start));
      for (char& ch : t.text)
        ch = static_cast<char>(absl::ascii_tolower(static_cast<unsigned char>(ch)));
    } else {
      t.text = absl::StrReplaceAll(NormalizeText(text.substr(start, end - start)), {{" ", ""}});
    }
    if (!t.text.empty()) out.push_back(std::move(t));
  };
  for (size_t i = 0; i < size;) {
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t n = utf8proc_iterate(bytes + i, static_cast<utf8proc_ssize_t>(size - i), &c);
    if (n <= 0) {  // an invalid byte separates
      close(i);
      ++i;
      continue;
    }
    if (!IsTokenChar(c) || IsTradeMark(c)) {
      close(i);
      after_unspaced = false;
    } else {
      const bool mark = IsMark(c), unspaced = IsUnspaced(c);
      if (!mark && (unspaced || after_unspaced)) close(i);
      if (!mark) after_unspaced = unspaced;
      if (!in_token) {
        in_token = true;
        start = i;
        ascii = true;
      }
      if (c >= 0x80) ascii = false;
    }
    i += static_cast<size_t>(n);
  }
  close(size);
  return out;
}

}  // namespace kg::knowledge
