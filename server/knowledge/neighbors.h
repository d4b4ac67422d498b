// NeighborIndex: the nearest labelled products of a title, by TF-IDF cosine over its
// normalised tokens and brand (an inverted index), and the label distribution of the
// nearest ones weighted by similarity. The categorizer mixes it into the text model: a new
// listing that is a variant of known ones (another size, colour or pack) takes their
// category. Immutable after Build/Decode, so Query is thread-safe.
#ifndef KG_SERVER_KNOWLEDGE_NEIGHBORS_H_
#define KG_SERVER_KNOWLEDGE_NEIGHBORS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kg::knowledge {

class NeighborIndex {
 public:
  // Indexes documents (their tokens) with their label index (0..labels-1).
  void Build(const std::vector<std::pair<std::vector<std::string>, int>>& docs, size_t labels);

  // The `k` most similar documents with their cosine similarity (0..1), best first (ties:
  // the lower document first); empty when no document shares a useful token.
  std::vector<std::pair<uint32_t, double>> Nearest(const std::vector<std::string>& tokens,
                                                   size_t k) const;
  // The label distribution of the `k` most similar documents (similarity-weighted, summing
  // to 1); empty when no document shares a useful token.
  std::vector<double> Query(const std::vector<std::string>& tokens, size_t k) const;
  size_t size() const { return labels_.size(); }
  int label(uint32_t document) const { return labels_[document]; }

  bool empty() const { return labels_.empty(); }
  // Bytes held (approximate: containers' capacities, the token strings).
  size_t MemoryBytes() const;
  std::string Encode() const;
  static absl::StatusOr<NeighborIndex> Decode(absl::string_view bytes);

 private:
  void Finish();  // idf and norms from postings

  size_t label_count_ = 0;
  absl::flat_hash_map<std::string, uint32_t> token_id_;
  std::vector<std::vector<uint32_t>> postings_;  // token -> documents
  std::vector<float> idf_;                       // token -> idf
  std::vector<int> labels_;                      // document -> label
  std::vector<float> inverse_norms_;             // document -> 1 / vector length
};

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_NEIGHBORS_H_
