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
  norms_.assign(labels_.size(), 0.0f);
  for (size_t t = 0; t < postings_.size(); ++t) {
    idf_[t] =
        static_cast<float>(std::log((n + 1) / (static_cast<double>(postings_[t].size()) + 1)) + 1);
    for (uint32_t d : postings_[t]) norms_[d] += idf_[t] * idf_[t];
  }
  for (float& norm : norms_) norm = std::sqrt(norm);
}

std::vector<double> NeighborIndex::Query(const std::vector<std::string>& tokens, size_t k) const {
  std::vector<double> dist;
  if (labels_.empty()) return dist;
  const size_t max_df =
      std::max(kMinUsefulDf, static_cast<size_t>(kMaxDocumentShare * labels_.size()));
  absl::flat_hash_map<uint32_t, float> score;
  absl::flat_hash_set<std::string> seen;
  double query_norm = 0;
  for (const std::string& t : tokens) {
    if (!seen.insert(t).second) continue;
    auto it = token_id_.find(t);
    if (it == token_id_.end()) continue;
    const float w = idf_[it->second];
    query_norm += static_cast<double>(w) * w;
    if (postings_[it->second].size() > max_df) continue;
    for (uint32_t d : postings_[it->second]) score[d] += w * w;
  }
  if (score.empty() || query_norm <= 0) return dist;
  std::vector<std::pair<double, uint32_t>> ranked;
  ranked.reserve(score.size());
  const double qn = std::sqrt(query_norm);
  for (const auto& [d, s] : score) ranked.emplace_back(s / (qn * norms_[d]), d);
  size_t top = std::min(k, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + top, ranked.end(),
                    [](const auto& a, const auto& b) {
                      return a.first > b.first || (a.first == b.first && a.second < b.second);
                    });
  dist.assign(label_count_, 0.0);
  double total = 0;
  for (size_t i = 0; i < top; ++i) {
    dist[labels_[ranked[i].second]] += ranked[i].first;
    total += ranked[i].first;
  }
  if (total <= 0) return {};
  for (double& v : dist) v /= total;
  return dist;
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
