// The evidence that a listing is an instance of an SPU (standard product unit): features of
// a (listing, SPU) pair for the SPU matcher's learned scorer, and the same evidence in
// words ("model number PSLX350H matches", "storage 64 GB vs 128 GB differs", "price within
// 8%") for MatchSpu's reasons. The SPU side is its name and its member products; the
// similarity features take the side closest to the listing. Plain C++ over the attribute
// extractor (model numbers, measures normalised per dimension); thread-safe.
#ifndef KG_SERVER_KNOWLEDGE_SPU_FEATURES_H_
#define KG_SERVER_KNOWLEDGE_SPU_FEATURES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "server/knowledge/attributes.h"

namespace kg::knowledge {

// A listing, an SPU's name or one of its members.
struct MatchSide {
  std::string title;
  std::string brand;      // empty: unknown
  double price = 0;       // 0: unknown
  uint64_t category = 0;  // 0: unknown
};

struct PairFeatures {
  // The feature values, in this order (NaN: unknown, which the boosted trees handle):
  enum Index {
    kRetrievalCosine,  // TF-IDF cosine from candidate generation (NaN when not retrieved)
    kRetrievalRank,    // 0 for the best candidate
    kTokenJaccard,     // normalised tokens, the closest side
    kTrigramJaccard,   // character trigrams of the squashed titles, the closest side
    kContainment,      // share of the listing's tokens in the closest side
    kModelNumber,      // 1 a model number agrees, 0 one agrees but each side also has one
                       // that agrees with nothing, -1 both have some and none agree
    kBrand,            // 1 same brand, -1 different
    kMeasuresAgree,    // measures of one dimension (storage, volume, ...) that agree
    kMeasuresDiffer,   // ... that differ
    kPriceLogRatio,    // |log(listing price / SPU's median price)|
    kCategory,         // 1 same category, -1 different
    kLengthRatio,      // shorter title's tokens / longer's, the closest side
    // Against the listing's other candidates (filled by the matcher, NaN from ComparePair):
    // the best candidate's value minus this one's.
    kCosineGap,
    kTokenGap,
    kTrigramGap,
    // Cosine between the listing's text vector and the SPU name's (the categorizer's
    // fastText rows; NaN without).
    kVectorCosine,
    kCount
  };
  std::vector<float> values;
  // Agreements and differences worth telling a person, most telling first.
  std::vector<std::string> reasons;
};

// What a side says, read once (tokenised, its model numbers and measures extracted), so
// that comparing it costs no text processing: the SPU matcher reads every SPU's sides when
// it is built, and each listing once per call.
struct SideRead {
  struct Measure {
    std::string name;   // e.g. "storage"
    std::string value;  // normalised, e.g. "64"
    std::string text;   // for reasons, e.g. "64 GB"
  };
  std::vector<uint64_t> tokens;     // hashes of the normalised tokens, sorted, unique
  std::vector<uint32_t> trigrams;   // byte trigrams of the squashed title, sorted, unique
  uint32_t length = 0;              // tokens, with repeats
  std::vector<std::string> models;  // normalised model numbers, sorted, unique
  std::vector<Measure> measures;    // by name, one per name
  std::string brand;                // normalised, spacing squashed ("" unknown)
  std::string brand_text;           // as given
  double price = 0;
  uint64_t category = 0;
  // Bytes held (for the memory figure).
  size_t MemoryBytes() const;
};

// Reads `side`. With `index_tokens`, also appends the tokens a side is retrieved by
// (normalised words, "__brand__<brand>", "__model__<model number>").
SideRead ReadSide(const MatchSide& side, const AttributeExtractor& extractor,
                  std::vector<std::string>* index_tokens = nullptr);

// Sets the gap features of the rows [begin, end) of `rows`: against the largest retrieval
// cosine, token and trigram similarities among the rows [begin, retrieved_end), the
// listing's retrieved candidates.
void SetCandidateGaps(std::vector<std::vector<float>>* rows, size_t begin, size_t retrieved_end,
                      size_t end);

// Compares `listing` with an SPU given as `sides` (its name first, then members; at least
// one). `retrieval_cosine` (NaN if none) and `rank` come from candidate generation.
PairFeatures ComparePair(const SideRead& listing, const SideRead* const* sides, size_t count,
                         double retrieval_cosine, int rank);
// The same, reading the texts first.
PairFeatures ComparePair(const MatchSide& listing, const std::vector<MatchSide>& sides,
                         const AttributeExtractor& extractor, double retrieval_cosine, int rank);

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_SPU_FEATURES_H_
