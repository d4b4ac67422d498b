// BrandRecognizer: the brands mentioned in a product title, learned from the graph.
//   - The lexicon: BRAND names and their `aliases`, normalised (NFKC, case folding,
//     punctuation, ®/™ and hyphens as separators) and matched with their spaces squashed,
//     so "Hot Wheels", "HotWheels" and "hot-wheels" are one key; a mention is a run of
//     whole title tokens.
//   - Disambiguation, learned: a logistic model over each lexicon match's evidence (how
//     often titles containing the name are that brand's products, where in the title the
//     match sits, how well the brand's categories fit the title's predicted category, the
//     brand's size, an alias or the name itself), so "Apple" in "Apple Cider Vinegar" or
//     "Dove" in a title about birds is not taken for the brand.
//   - New brands: a second logistic model, trained on where known brands sit in titles
//     (position, how often each token is part of a brand, the tokens around the span, their
//     frequency, capitalisation, digits), proposes the most brand-like span that is not in
//     the lexicon (brand id 0, a new-brand candidate).
//   - Confidences are calibrated by isotonic regression on a validation slice of titles
//     the models did not learn from.
// Plain C++; knows nothing of partitions or RPCs. Immutable after Train/Decode, so
// thread-safe.
#ifndef KG_SERVER_KNOWLEDGE_BRANDS_H_
#define KG_SERVER_KNOWLEDGE_BRANDS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/knowledge/categorizer.h"
#include "server/knowledge/text.h"

namespace kg::knowledge {

struct BrandRecord {
  uint64_t id = 0;
  std::string name;
  std::vector<std::string> aliases;
};

// A labelled title: its product's brand (HAS_BRAND), 0 when it has none.
struct BrandExample {
  std::string title;
  uint64_t brand = 0;
};

struct BrandMention {
  uint64_t brand = 0;  // 0: not in the graph, a new-brand candidate
  std::string name;    // the brand's name; for a candidate, the span as written
  size_t start = 0;    // byte offsets [start, end) in the title
  size_t end = 0;
  double confidence = 0;  // calibrated probability that this is the product's brand
};

struct BrandFigures {
  uint64_t lexicon_keys = 0;
  uint64_t train_titles = 0;
  uint64_t validation_titles = 0;
  // Validation titles with a brand: the top mention (confidence >= kMinConfidence) is the
  // brand (precision over titles with a top mention, recall over titles with a brand).
  double top_precision = 0;
  double top_recall = 0;
};

class BrandRecognizer {
 public:
  // Mentions below this confidence are not reported.
  static constexpr double kMinConfidence = 0.5;

  // `categorizer` (may be null) gives the title's category for disambiguation; the same
  // categorizer must be passed to Recognize. `validation_share` of the titles (by a hash
  // of the title, seeded) calibrates.
  static absl::StatusOr<std::unique_ptr<BrandRecognizer>> Train(
      const std::vector<BrandRecord>& brands, const std::vector<BrandExample>& examples,
      const Categorizer* categorizer, double validation_share, uint64_t seed, BrandFigures* figures,
      const std::atomic<bool>* cancel = nullptr);
  ~BrandRecognizer();

  // Mentions with confidence >= kMinConfidence, best first, at most `max`.
  std::vector<BrandMention> Recognize(absl::string_view title, const Categorizer* categorizer,
                                      size_t max) const;
  // The brand's name by id (empty when unknown).
  const std::string& name(uint64_t brand) const;

  std::string Encode() const;
  // DATA_LOSS when the bytes are not an encoded recognizer.
  static absl::StatusOr<std::unique_ptr<BrandRecognizer>> Decode(absl::string_view bytes);

  struct Model;  // internal; public for the implementation's helpers

 private:
  BrandRecognizer();
  std::unique_ptr<Model> m_;
};

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_BRANDS_H_
