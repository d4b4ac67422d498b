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

// "Nike® Air-Max 90 (Men's)" -> "nike air max 90 men s".
std::string NormalizeText(absl::string_view text);

// The tokens of NormalizeText(text).
std::vector<std::string> Tokenize(absl::string_view text);

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_TEXT_H_
