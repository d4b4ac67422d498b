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
    kModelNumber,      // 1 a model number agrees, -1 both have some and none agree
    kBrand,            // 1 same brand, -1 different
    kMeasuresAgree,    // measures of one dimension (storage, volume, ...) that agree
    kMeasuresDiffer,   // ... that differ
    kPriceLogRatio,    // |log(listing price / SPU's median price)|
    kCategory,         // 1 same category, -1 different
    kLengthRatio,      // shorter title's tokens / longer's, the closest side
    kCount
  };
  std::vector<float> values;
  // Agreements and differences worth telling a person, most telling first.
  std::vector<std::string> reasons;
};

// Compares `listing` with an SPU given as `sides` (its name first, then members; at least
// one). `retrieval_cosine` (NaN if none) and `rank` come from candidate generation.
PairFeatures ComparePair(const MatchSide& listing, const std::vector<MatchSide>& sides,
                         const AttributeExtractor& extractor, double retrieval_cosine, int rank);

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_SPU_FEATURES_H_
