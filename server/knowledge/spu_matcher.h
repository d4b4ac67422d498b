// SpuMatcher: a listing (a product, or a text) -> the SPUs (standard product units) it may
// be an instance of, each with a calibrated probability of being the same product and the
// reasons. Learned from the SPUs already in the graph (their names and member products):
//   - candidates: the SPUs nearest by their names' text vectors (the categorizer's fastText
//     rows; hnswlib beyond kExactVectorSearch SPUs, an exact scan below), and the SPUs whose name,
//     members' titles, brand and model numbers (as normalised by the attribute extractor, so
//     "PS-LX350H" meets "PSLX350H") are nearest by TF-IDF cosine over an inverted index
//     (NeighborIndex; rare tokens weigh most, common ones are skipped, the cost per query is
//     bounded);
//   - a scorer: gradient-boosted trees (XGBoost) over the pair features of
//     spu_features.h, trained on held-out members of known SPUs against their own SPU
//     (positives) and against the other candidates retrieved for them (hard negatives) and
//     random SPUs;
//     (half the listings also play a new product: the same candidates without their own
//     SPU, all negatives);
//   - calibration: isotonic regression on the listings of SPUs held out from training.
// Plain C++; immutable after Train/Decode, so Match is thread-safe.
#ifndef KG_SERVER_KNOWLEDGE_SPU_MATCHER_H_
#define KG_SERVER_KNOWLEDGE_SPU_MATCHER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/knowledge/attributes.h"
#include "server/knowledge/boosted.h"
#include "server/knowledge/learn.h"
#include "server/knowledge/neighbors.h"
#include "server/knowledge/spu_features.h"

namespace kg::knowledge {

class Categorizer;

// An SPU as the graph has it: its name (with the SPU's brand, category and price where
// known) and its member products (INSTANCE_OF).
struct SpuRecord {
  uint64_t id = 0;
  MatchSide name;
  std::vector<MatchSide> members;
};

struct SpuCandidate {
  uint64_t spu = 0;
  std::string name;
  double score = 0;  // calibrated probability that the listing is this SPU's product
  std::vector<std::string> reasons;
};

// Two listings (indexes into PairListings' input) and the probability that they are the
// same product.
struct ListingPair {
  uint32_t a = 0;
  uint32_t b = 0;
  double score = 0;
};

struct SpuMatcherFigures {
  uint64_t spus = 0;
  uint64_t training_pairs = 0;
  uint64_t validation_listings = 0;
  // Validation listings: the top candidate with score >= 0.5 is their SPU (precision over
  // listings with such a candidate, recall over all), and how often their SPU was among the
  // retrieved candidates at all.
  double precision = 0;
  double recall = 0;
  double candidate_recall = 0;
  // Validation listings playing new products (their SPU left out), and the share of them
  // whose top candidate still scored >= 0.5.
  uint64_t new_listings = 0;
  double false_match_rate = 0;
  uint64_t memory_bytes = 0;  // MemoryBytes() of the trained matcher
};

class SpuMatcher {
 public:
  static constexpr size_t kCandidates = 20;        // retrieved per listing by TF-IDF
  static constexpr size_t kVectorCandidates = 10;  // and by text vectors
  // Up to this many SPUs the nearest by text vector are found exactly, by scanning them
  // all (cheaper than building the graph); beyond, by hnswlib's graph.
  static constexpr size_t kExactVectorSearch = 1024;
  static constexpr size_t kMaxMembers = 5;  // member titles kept per SPU
  // A model number identifies a product when at most this many SPUs carry it; others
  // ("BRAND5", a series name) are left out of the model-number comparison.
  static constexpr uint32_t kMaxModelSpus = 2;
  // Training listings: each SPU lends its members in turn (round r: member r), up to
  // kHoldoutRounds, at most kMaxTrainingListings in all (a stable sample beyond that).
  static constexpr int kHoldoutRounds = 4;
  static constexpr size_t kMaxTrainingListings = 60000;
  // FAILED_PRECONDITION with fewer than 10 SPUs with a member (saying how many).
  static absl::StatusOr<std::unique_ptr<SpuMatcher>> Train(
      const std::vector<SpuRecord>& spus, std::shared_ptr<const AttributeExtractor> extractor,
      double validation_share, uint64_t seed, SpuMatcherFigures* figures,
      const std::atomic<bool>* cancel = nullptr, const Categorizer* embedder = nullptr);
  ~SpuMatcher();

  // The best `top_k` SPUs with score >= `min_score`, best first.
  std::vector<SpuCandidate> Match(const MatchSide& listing, size_t top_k, double min_score) const;
  // Listings that are the same product as one another, for grouping listings without an
  // SPU into new SPUs: each listing is scored, as the SPU matcher scores a listing against
  // an SPU of one member, against its kCandidates nearest other listings (TF-IDF over the
  // same tokens). The pairs with score >= `min_score`, each once (a < b; of its two
  // directions, the higher score). Cost about that of Match per listing.
  std::vector<ListingPair> PairListings(const std::vector<MatchSide>& listings,
                                        double min_score) const;
  size_t size() const { return spus_.size(); }
  // Bytes held by the SPUs' texts, their reads and the index (for the memory figure).
  size_t MemoryBytes() const;

  std::string Encode() const;
  // DATA_LOSS when the bytes are not an encoded matcher.
  // `embedder` (may be null: no vector candidates) must outlive the matcher; it must be
  // the categorizer the matcher was trained with (the model bundle keeps them together).
  static absl::StatusOr<std::unique_ptr<SpuMatcher>> Decode(
      absl::string_view bytes, std::shared_ptr<const AttributeExtractor> extractor,
      const Categorizer* embedder = nullptr);

 private:
  SpuMatcher() = default;
  // Reads every SPU's sides (name, then kept members) into reads_; with `side_tokens`,
  // also each side's index tokens (in reads_ order).
  void ReadSides(std::vector<std::vector<std::string>>* side_tokens);
  // Nearest neighbours over the SPU names' text vectors (hnswlib); built by BuildVectors.
  struct VectorIndex;
  void BuildVectors();
  std::vector<float> Embed(const std::string& title) const;
  // The cosine of `vector` with SPU `spu`'s name vector (NaN when either has none).
  float VectorCosine(const std::vector<float>& vector, size_t spu) const;
  // A listing's candidates: the kCandidates nearest by TF-IDF in `index` (cosine, rank),
  // then the kVectorCandidates nearest by vector not among them (cosine NaN, rank
  // kCandidates).
  struct Candidate {
    uint32_t spu;
    double cosine;
    int rank;
  };
  std::vector<Candidate> Candidates(const NeighborIndex& index,
                                    const std::vector<std::string>& tokens,
                                    const std::vector<float>& vector) const;
  // Leaves out of `read` the model numbers that do not identify a product (kMaxModelSpus).
  void KeepIdentifyingModels(SideRead* read) const;
  // Indexes every SPU by the tokens of all its sides.
  void BuildIndex(std::vector<std::vector<std::string>> side_tokens);
  // The SPU's sides: its name's read, then its kept members' (without member `without`,
  // if any).
  std::vector<const SideRead*> Sides(size_t spu, int without = -1) const;

  std::shared_ptr<const AttributeExtractor> extractor_;
  std::vector<SpuRecord> spus_;                            // members cut to kMaxMembers
  std::vector<SideRead> reads_;                            // every SPU's sides, SPU by SPU
  absl::flat_hash_map<std::string, uint32_t> model_spus_;  // model number -> SPUs with it
  std::vector<uint32_t>
      first_read_;       // spus_[i]'s sides are reads_[first_read_[i]..first_read_[i+1])
  NeighborIndex index_;  // document i = spus_[i]
  size_t feature_count_ = PairFeatures::kCount;  // the scorer's (older bundles: fewer)
  const Categorizer* embedder_ = nullptr;
  std::unique_ptr<VectorIndex> vectors_;
  std::unique_ptr<GradientBoosted> scorer_;
  Isotonic calibration_;
};

// The tokens a listing or an SPU is retrieved by: its normalised title words and brand.
std::vector<std::string> RetrievalTokens(const MatchSide& side);

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_SPU_MATCHER_H_
