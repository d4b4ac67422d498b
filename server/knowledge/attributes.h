// AttributeExtractor: product information mined from a title.
//   - A lexicon learned from the graph: every short value of a product attribute (colour,
//     material, size, ...) becomes an entry under its attribute's name; each entry's
//     confidence is how often a title that contains the value belongs to a product that
//     has it (on the training products). Identifier-like attributes (nearly every value
//     distinct) and bare numbers are left out.
//   - Patterns (RE2), the same for every catalog: measures with units, normalised to one
//     unit per dimension (storage GB, volume ml, weight g, length cm, battery mAh, power
//     W, voltage V, frequency Hz: "1TB", "1 TB" and "1000 GB" all normalise to "1000"
//     "GB"); pack counts ("Pack of 3", "3-pack", "2 x 500 ml"); sizes ("XL", "Size 37",
//     "UK 8") and ages ("Age 4-5", "6-12 Months"); the gender and age target ("Women's",
//     "Boys'", "Kids", "Baby"); model numbers (letters and digits, e.g. "KDL-40EX400").
//   Where a lexicon entry and a pattern cover the same words, the lexicon (the graph's own
//   naming) wins. Offsets are bytes of the title as given.
// Plain C++ (RE2, Abseil); immutable after Train/Decode, so thread-safe.
#ifndef KG_SERVER_KNOWLEDGE_ATTRIBUTES_H_
#define KG_SERVER_KNOWLEDGE_ATTRIBUTES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kg::knowledge {

struct AttributeExample {
  std::string title;
  std::vector<std::pair<std::string, std::string>> attributes;  // the product's own
};

struct ExtractedAttribute {
  std::string name;              // "color", "storage", "pack_count", "size", "target", ...
  std::string value;             // as written in the title
  std::string normalized_value;  // comparable across spellings ("1000" for "1 TB")
  std::string unit;              // the dimension's unit for measures ("GB"), else empty
  size_t start = 0;              // byte offsets [start, end) in the title
  size_t end = 0;
  double confidence = 0;
};

class AttributeExtractor {
 public:
  // Lexicon entries below this confidence are not reported.
  static constexpr double kMinConfidence = 0.5;

  static std::unique_ptr<AttributeExtractor> Train(const std::vector<AttributeExample>& examples,
                                                   uint64_t* lexicon_entries);
  ~AttributeExtractor();

  // In title order.
  std::vector<ExtractedAttribute> Extract(absl::string_view title) const;

  std::string Encode() const;
  // DATA_LOSS when the bytes are not an encoded extractor.
  static absl::StatusOr<std::unique_ptr<AttributeExtractor>> Decode(absl::string_view bytes);

  struct Model;

 private:
  AttributeExtractor();
  std::unique_ptr<Model> m_;
};

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_ATTRIBUTES_H_
