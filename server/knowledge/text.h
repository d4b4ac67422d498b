// Text normalisation for the knowledge models: Unicode NFKC with case folding (utf8proc),
// punctuation and symbols turned into separators, one space between tokens. Works for any
// script (letters and digits of every language are kept); bytes that are not valid UTF-8
// are dropped.
#ifndef KG_SERVER_KNOWLEDGE_TEXT_H_
#define KG_SERVER_KNOWLEDGE_TEXT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace kg::knowledge {

// "Nike® Air-Max 90 (Men's)" -> "nike air max 90 men s". The trade mark signs ™ and ℠
// separate like punctuation (NFKC would spell them "tm", "sm").
std::string NormalizeText(absl::string_view text);

// The tokens of NormalizeText(text).
std::vector<std::string> Tokenize(absl::string_view text);

// A token with where it is: its normalised text and its byte offsets [start, end) in the
// text as given (always on UTF-8 sequence boundaries).
struct TokenSpan {
  std::string text;
  size_t start = 0;
  size_t end = 0;
};

// The tokens of `text` with their offsets: the same token boundaries as NormalizeText
// (letters, digits and marks form tokens; a letter of a script written without spaces is a
// token of its own), each token normalised by NormalizeText (with any space it gains
// removed).
std::vector<TokenSpan> TokenSpans(absl::string_view text);

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_TEXT_H_
