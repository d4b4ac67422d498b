#include "server/knowledge/neighbors.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "server/knowledge/bytes.h"

namespace kg::knowledge {
namespace {

// Tokens in more documents than this share carry no neighbour signal and are skipped
// (their postings would dominate the cost of a query).
constexpr double kMaxDocumentShare = 0.05;
constexpr size_t kMinUsefulDf = 50;
// A query reads at most this many postings (plus those of its rarest token), rarest tokens
// first: the cost of a query stays bounded however large the catalog grows, and the
// common tokens it skips weigh least.
constexpr size_t kMaxPostings = 1024;
// The tokens a query does not read still count towards the cosine of the documents it found
// (each looked up in their sorted postings) while those are at most this many.
constexpr size_t kMaxRescored = 2048;
// Scanning a posting costs about a nanosecond, a binary search for a document found tens
// (unpredictable branches): postings up to this many times the documents found are scanned.
constexpr size_t kScanPerFound = 16;

}  // namespace

void NeighborIndex::Build(const std::vector<std::pair<std::vector<std::string>, int>>& docs,
                          size_t labels) {
  *this = NeighborIndex();
  label_count_ = labels;
  for (const auto& [tokens, label] : docs) {
    const uint32_t doc = static_cast<uint32_t>(labels_.size());
    labels_.push_back(label);
    absl::flat_hash_set<std::string> seen;
    for (const std::string& t : tokens) {
      if (!seen.insert(t).second) continue;
      auto [it, added] = token_id_.emplace(t, static_cast<uint32_t>(postings_.size()));
      if (added) postings_.emplace_back();
      postings_[it->second].push_back(doc);
    }
  }
  Finish();
}

void NeighborIndex::Finish() {
  const double n = static_cast<double>(labels_.size());
  idf_.assign(postings_.size(), 0.0f);
  std::vector<float> norms(labels_.size(), 0.0f);
  for (size_t t = 0; t < postings_.size(); ++t) {
    idf_[t] =
        static_cast<float>(std::log((n + 1) / (static_cast<double>(postings_[t].size()) + 1)) + 1);
    for (uint32_t d : postings_[t]) norms[d] += idf_[t] * idf_[t];
  }
  inverse_norms_.resize(norms.size());
  for (size_t d = 0; d < norms.size(); ++d) {
    inverse_norms_[d] = norms[d] > 0 ? 1.0f / std::sqrt(norms[d]) : 0.0f;
  }
}

std::vector<std::pair<uint32_t, double>> NeighborIndex::Nearest(
    const std::vector<std::string>& tokens, size_t k) const {
  std::vector<std::pair<uint32_t, double>> out;
  if (labels_.empty() || k == 0) return out;
  const size_t max_df =
      std::max(kMinUsefulDf, static_cast<size_t>(kMaxDocumentShare * labels_.size()));
  // Scores in a per-thread dense array (one slot per document), reset after use, and the
  // documents found in a per-thread array grown before each token's postings are read to
  // hold all of them plus one (the scan writes each posting's document at the end and keeps
  // it only when it is new, which costs less than a branch the processor cannot predict).
  thread_local std::vector<float> score;
  thread_local std::vector<uint32_t> found_documents;
  if (score.size() < labels_.size()) score.assign(labels_.size(), 0.0f);
  size_t touched_count = 0;
  std::vector<std::pair<size_t, uint32_t>> found;  // (document frequency, token)
  double query_norm = 0;
  for (const std::string& t : tokens) {
    auto it = token_id_.find(t);
    if (it == token_id_.end()) continue;
    const uint32_t id = it->second;
    if (std::any_of(found.begin(), found.end(), [id](const auto& f) { return f.second == id; })) {
      continue;
    }
    found.emplace_back(postings_[id].size(), id);
    query_norm += static_cast<double>(idf_[id]) * idf_[id];
  }
  std::sort(found.begin(), found.end());
  size_t read = 0, unread = found.size();
  for (size_t f = 0; f < found.size(); ++f) {
    const auto& [df, id] = found[f];
    if (df > max_df || (read > 0 && read + df > kMaxPostings)) {
      unread = f;
      break;
    }
    read += df;
    if (found_documents.size() < touched_count + df + 1) {
      found_documents.resize(touched_count + df + 1);
    }
    uint32_t* const touched = found_documents.data();
    const float ww = idf_[id] * idf_[id];
    for (uint32_t d : postings_[id]) {
      touched[touched_count] = d;
      touched_count += score[d] == 0.0f;
      score[d] += ww;
    }
  }
  // The common tokens left unread still tell the documents found apart (e.g. a brand's
  // products by their model words). A document found has a score above 0 (every idf is at
  // least 1), so a token's postings up to kScanPerFound times the documents found are
  // scanned for them; longer ones (in document order) are searched once per document found.
  if (unread < found.size() && touched_count <= kMaxRescored) {
    for (size_t f = unread; f < found.size(); ++f) {
      const uint32_t id = found[f].second;
      const std::vector<uint32_t>& postings = postings_[id];
      const float ww = idf_[id] * idf_[id];
      if (postings.size() <= kScanPerFound * touched_count) {
        // Adds ww to the documents found and 0 to the others: the same sums as a branch,
        // which the processor could not predict.
        const float add[2] = {0.0f, ww};
        for (uint32_t d : postings) score[d] += add[score[d] != 0.0f];
      } else {
        for (size_t i = 0; i < touched_count; ++i) {
          const uint32_t d = found_documents[i];
          if (std::binary_search(postings.begin(), postings.end(), d)) score[d] += ww;
        }
      }
    }
  }
  // The k best (cosine, then lower document first) in a heap whose front is the worst kept.
  auto before = [](const std::pair<float, uint32_t>& a, const std::pair<float, uint32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  std::vector<std::pair<float, uint32_t>> best;
  best.reserve(k + 1);
  for (size_t i = 0; i < touched_count; ++i) {
    const uint32_t d = found_documents[i];
    const std::pair<float, uint32_t> candidate(score[d] * inverse_norms_[d], d);
    score[d] = 0.0f;
    if (best.size() < k) {
      best.push_back(candidate);
      std::push_heap(best.begin(), best.end(), before);
    } else if (before(candidate, best.front())) {
      std::pop_heap(best.begin(), best.end(), before);
      best.back() = candidate;
      std::push_heap(best.begin(), best.end(), before);
    }
  }
  if (query_norm <= 0) return out;
  std::sort(best.begin(), best.end(), before);
  const double qn = std::sqrt(query_norm);
  for (const auto& [similarity, d] : best) out.emplace_back(d, similarity / qn);
  return out;
}

std::vector<double> NeighborIndex::Query(const std::vector<std::string>& tokens, size_t k) const {
  std::vector<double> dist;
  std::vector<std::pair<uint32_t, double>> nearest = Nearest(tokens, k);
  if (nearest.empty()) return dist;
  dist.assign(label_count_, 0.0);
  double total = 0;
  for (const auto& [d, similarity] : nearest) {
    dist[labels_[d]] += similarity;
    total += similarity;
  }
  if (total <= 0) return {};
  for (double& v : dist) v /= total;
  return dist;
}

size_t NeighborIndex::MemoryBytes() const {
  size_t bytes = token_id_.capacity() * (sizeof(std::string) + sizeof(uint32_t) + 1) +
                 postings_.capacity() * sizeof(std::vector<uint32_t>) +
                 idf_.capacity() * sizeof(float) + labels_.capacity() * sizeof(int) +
                 inverse_norms_.capacity() * sizeof(float);
  for (const auto& [token, id] : token_id_) bytes += token.capacity() > 15 ? token.capacity() : 0;
  for (const std::vector<uint32_t>& p : postings_) bytes += p.capacity() * sizeof(uint32_t);
  return bytes;
}

std::string NeighborIndex::Encode() const {
  ByteWriter w;
  w.Varint(label_count_);
  w.Varint(labels_.size());
  for (int l : labels_) w.Varint(static_cast<uint64_t>(l));
  std::vector<std::pair<const std::string*, uint32_t>> tokens;
  for (const auto& [t, id] : token_id_) tokens.emplace_back(&t, id);
  std::sort(tokens.begin(), tokens.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  w.Varint(tokens.size());
  for (const auto& [t, id] : tokens) {
    w.Bytes(*t);
    w.Varint(postings_[id].size());
    uint32_t previous = 0;
    for (uint32_t d : postings_[id]) {  // ascending: deltas
      w.Varint(d - previous);
      previous = d;
    }
  }
  return std::move(w.str());
}

absl::StatusOr<NeighborIndex> NeighborIndex::Decode(absl::string_view bytes) {
  auto bad = [] { return absl::DataLossError("categorizer: damaged neighbour index"); };
  NeighborIndex index;
  ByteReader r(bytes);
  uint64_t labels = 0, docs = 0, tokens = 0;
  if (!r.Varint(&labels) || !r.Varint(&docs) || docs > bytes.size()) return bad();
  index.label_count_ = labels;
  index.labels_.resize(docs);
  for (int& l : index.labels_) {
    uint64_t v = 0;
    if (!r.Varint(&v) || v >= labels) return bad();
    l = static_cast<int>(v);
  }
  if (!r.Varint(&tokens) || tokens > bytes.size()) return bad();
  index.postings_.resize(tokens);
  for (uint64_t t = 0; t < tokens; ++t) {
    std::string token;
    uint64_t count = 0;
    if (!r.String(&token) || !r.Varint(&count) || count > docs) return bad();
    index.token_id_[token] = static_cast<uint32_t>(t);
    uint64_t d = 0;
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t delta = 0;
      if (!r.Varint(&delta)) return bad();
      d += delta;
      if (d >= docs) return bad();
      index.postings_[t].push_back(static_cast<uint32_t>(d));
    }
  }
  if (!r.done()) return bad();
  index.Finish();
  return index;
}

}  // namespace kg::knowledge
