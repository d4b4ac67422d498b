#include "server/knowledge/spu_matcher.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "hnswlib/hnswlib.h"
#include "server/knowledge/bytes.h"
#include "server/knowledge/categorizer.h"
#include "server/knowledge/text.h"

namespace kg::knowledge {
namespace {

// 2: the scorer's feature count (1: PairFeatures::kLengthRatio + 1).
constexpr uint64_t kEncodingVersion = 2;
constexpr uint64_t kFeaturesV1 = PairFeatures::kLengthRatio + 1;
constexpr size_t kMinSpus = 10;
constexpr int kRandomNegatives = 2;

void AddTokens(const MatchSide& side, std::vector<std::string>* out) {
  for (std::string& t : Tokenize(side.title)) out->push_back(std::move(t));
  std::string brand = NormalizeText(side.brand);
  if (!brand.empty()) out->push_back("__brand__" + brand);
}

// The cosine of two unit vectors.
float Dot(const float* a, const float* b, size_t n) {
  double dot = 0;
  for (size_t k = 0; k < n; ++k) dot += static_cast<double>(a[k]) * b[k];
  return static_cast<float>(dot);
}

void EncodeSide(const MatchSide& s, ByteWriter* w) {
  w->Bytes(s.title);
  w->Bytes(s.brand);
  w->Double(s.price);
  w->Varint(s.category);
}

bool DecodeSide(ByteReader* r, MatchSide* s) {
  constexpr double kMax = std::numeric_limits<double>::max();  // a finite price
  return r->String(&s->title) && r->String(&s->brand) && r->DoubleIn(&s->price, -kMax, kMax) &&
         r->Varint(&s->category);
}

}  // namespace

std::vector<std::string> RetrievalTokens(const MatchSide& side) {
  std::vector<std::string> out;
  AddTokens(side, &out);
  return out;
}

struct SpuMatcher::VectorIndex {
  size_t dim = 0;
  std::vector<float> vectors;  // SPU i's at i * dim (all zero: none)
  std::vector<bool> has;
  std::unique_ptr<hnswlib::InnerProductSpace> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
};

SpuMatcher::~SpuMatcher() = default;

std::vector<float> SpuMatcher::Embed(const std::string& title) const {
  return embedder_ != nullptr ? embedder_->Embed(title) : std::vector<float>();
}

void SpuMatcher::BuildVectors() {
  vectors_.reset();
  if (embedder_ == nullptr || spus_.empty()) return;
  auto v = std::make_unique<VectorIndex>();
  v->dim = embedder_->embedding_dim();
  if (v->dim == 0) return;
  v->vectors.assign(spus_.size() * v->dim, 0.0f);
  v->has.assign(spus_.size(), false);
  if (spus_.size() > kExactVectorSearch) {
    v->space = std::make_unique<hnswlib::InnerProductSpace>(v->dim);
    // M 16, ef_construction 100, a fixed seed: the same SPUs give the same graph.
    v->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(v->space.get(), spus_.size(), 16,
                                                                 100, 42);
  }
  for (size_t i = 0; i < spus_.size(); ++i) {
    const std::vector<float> e = Embed(spus_[i].name.title);
    if (e.size() != v->dim) continue;
    std::copy(e.begin(), e.end(), v->vectors.begin() + i * v->dim);
    v->has[i] = true;
    if (v->graph != nullptr) v->graph->addPoint(&v->vectors[i * v->dim], i);
  }
  if (v->graph != nullptr) v->graph->setEf(64);
  vectors_ = std::move(v);
}

float SpuMatcher::VectorCosine(const std::vector<float>& vector, size_t spu) const {
  if (vectors_ == nullptr || vector.size() != vectors_->dim || !vectors_->has[spu]) {
    return std::numeric_limits<float>::quiet_NaN();
  }
  return Dot(vector.data(), &vectors_->vectors[spu * vectors_->dim], vector.size());
}

std::vector<SpuMatcher::Candidate> SpuMatcher::Candidates(const NeighborIndex& index,
                                                          const std::vector<std::string>& tokens,
                                                          const std::vector<float>& vector) const {
  std::vector<Candidate> out;
  int rank = 0;
  for (const auto& [doc, cosine] : index.Nearest(tokens, kCandidates)) {
    out.push_back({doc, cosine, rank++});
  }
  if (vectors_ == nullptr || vector.size() != vectors_->dim) return out;
  std::vector<uint32_t> found;  // nearest first
  if (vectors_->graph != nullptr) {
    auto near = vectors_->graph->searchKnn(vector.data(), kVectorCandidates);
    while (!near.empty()) {
      found.push_back(static_cast<uint32_t>(near.top().second));
      near.pop();
    }
    std::reverse(found.begin(), found.end());
  } else {
    // Few SPUs: every one's inner product, exactly (ties: the lower index).
    std::vector<std::pair<float, uint32_t>> scored;
    for (size_t i = 0; i < spus_.size(); ++i) {
      if (!vectors_->has[i]) continue;
      scored.emplace_back(-Dot(vector.data(), &vectors_->vectors[i * vectors_->dim], vector.size()),
                          static_cast<uint32_t>(i));
    }
    const size_t k = std::min(kVectorCandidates, scored.size());
    std::partial_sort(scored.begin(), scored.begin() + k, scored.end());
    for (size_t i = 0; i < k; ++i) found.push_back(scored[i].second);
  }
  const size_t retrieved = out.size();
  for (uint32_t spu : found) {
    bool seen = false;
    for (size_t k = 0; k < retrieved; ++k) seen |= out[k].spu == spu;
    if (!seen) {
      out.push_back({spu, std::numeric_limits<double>::quiet_NaN(), static_cast<int>(kCandidates)});
    }
  }
  return out;
}

void SpuMatcher::ReadSides(std::vector<std::vector<std::string>>* side_tokens) {
  reads_.clear();
  first_read_.clear();
  for (const SpuRecord& s : spus_) {
    first_read_.push_back(static_cast<uint32_t>(reads_.size()));
    auto read = [&](const MatchSide& side) {
      std::vector<std::string> tokens;
      reads_.push_back(ReadSide(side, *extractor_, &tokens));
      if (side_tokens != nullptr) side_tokens->push_back(std::move(tokens));
    };
    read(s.name);
    for (const MatchSide& m : s.members) read(m);
  }
  first_read_.push_back(static_cast<uint32_t>(reads_.size()));
  reads_.shrink_to_fit();
  model_spus_.clear();
  for (size_t i = 0; i < spus_.size(); ++i) {
    std::vector<std::string> models;
    for (uint32_t k = first_read_[i]; k < first_read_[i + 1]; ++k) {
      models.insert(models.end(), reads_[k].models.begin(), reads_[k].models.end());
    }
    std::sort(models.begin(), models.end());
    models.erase(std::unique(models.begin(), models.end()), models.end());
    for (const std::string& m : models) ++model_spus_[m];
  }
  for (SideRead& r : reads_) KeepIdentifyingModels(&r);
}

void SpuMatcher::KeepIdentifyingModels(SideRead* read) const {
  read->models.erase(std::remove_if(read->models.begin(), read->models.end(),
                                    [this](const std::string& m) {
                                      auto it = model_spus_.find(m);
                                      return it != model_spus_.end() && it->second > kMaxModelSpus;
                                    }),
                     read->models.end());
}

void SpuMatcher::BuildIndex(std::vector<std::vector<std::string>> side_tokens) {
  std::vector<std::pair<std::vector<std::string>, int>> docs(spus_.size());
  for (size_t i = 0; i < spus_.size(); ++i) {
    for (uint32_t k = first_read_[i]; k < first_read_[i + 1]; ++k) {
      for (std::string& t : side_tokens[k]) docs[i].first.push_back(std::move(t));
    }
  }
  index_.Build(docs, 1);
}

std::vector<const SideRead*> SpuMatcher::Sides(size_t spu, int without) const {
  std::vector<const SideRead*> out = {&reads_[first_read_[spu]]};
  for (uint32_t k = first_read_[spu] + 1; k < first_read_[spu + 1]; ++k) {
    if (static_cast<int>(k - first_read_[spu] - 1) != without) out.push_back(&reads_[k]);
  }
  return out;
}

size_t SpuMatcher::MemoryBytes() const {
  size_t bytes = index_.MemoryBytes() + spus_.capacity() * sizeof(SpuRecord) +
                 reads_.capacity() * sizeof(SideRead) + first_read_.capacity() * sizeof(uint32_t);
  auto side = [](const MatchSide& s) { return s.title.capacity() + s.brand.capacity(); };
  for (const SpuRecord& s : spus_) {
    bytes += side(s.name) + s.members.capacity() * sizeof(MatchSide);
    for (const MatchSide& m : s.members) bytes += side(m);
  }
  for (const SideRead& r : reads_) bytes += r.MemoryBytes() - sizeof(SideRead);
  if (vectors_ != nullptr) {
    // Our copy of the vectors, and hnswlib's: each point's vector, links and label.
    bytes += vectors_->vectors.capacity() * sizeof(float);
    if (vectors_->graph != nullptr) {
      bytes += spus_.size() * (vectors_->dim * sizeof(float) + 2 * 16 * sizeof(uint32_t) + 16);
    }
  }
  return bytes;
}

absl::StatusOr<std::unique_ptr<SpuMatcher>> SpuMatcher::Train(
    const std::vector<SpuRecord>& spus, std::shared_ptr<const AttributeExtractor> extractor,
    double validation_share, uint64_t seed, SpuMatcherFigures* figures,
    const std::atomic<bool>* cancel, const Categorizer* embedder) {
  *figures = SpuMatcherFigures();
  std::unique_ptr<SpuMatcher> m(new SpuMatcher());
  m->extractor_ = std::move(extractor);
  m->embedder_ = embedder;
  size_t usable = 0;
  for (const SpuRecord& s : spus) {
    SpuRecord kept = s;
    if (kept.members.size() > kMaxMembers) kept.members.resize(kMaxMembers);
    usable += !kept.members.empty() && !NormalizeText(kept.members[0].title).empty();
    m->spus_.push_back(std::move(kept));
  }
  figures->spus = m->spus_.size();
  if (usable < kMinSpus) {
    return absl::FailedPreconditionError(absl::StrCat(
        "SPU matcher: found ", usable, " SPUs with a member product (INSTANCE_OF); at least ",
        kMinSpus, " are needed"));
  }
  // Each SPU with members lends them in turn (round r: its member r) as listings to match;
  // the index of round r leaves member r of every SPU out, as a new listing would be.
  const size_t n = m->spus_.size();
  std::vector<std::vector<std::string>> side_tokens;
  m->ReadSides(&side_tokens);
  m->BuildVectors();
  size_t lendable = 0;
  for (const SpuRecord& s : m->spus_) {
    lendable += std::min<size_t>(s.members.size(), kHoldoutRounds);
  }
  // Half the lendable listings lend (see below), at most kMaxTrainingListings.
  const uint64_t keep =
      lendable / 2 <= kMaxTrainingListings ? 10000 : kMaxTrainingListings * 10000 / (lendable / 2);
  std::vector<std::vector<float>> train_x, validation_x;
  std::vector<float> train_y, validation_y;
  struct Listing {
    size_t spu;
    std::vector<size_t> rows;  // its rows in validation_x
    std::vector<size_t> candidates;
    bool absent = false;  // playing a new product: its own SPU left out
  };
  std::vector<Listing> validation;
  std::mt19937_64 rng(seed);
  double retrieved = 0, listings = 0;
  for (int round = 0; round < kHoldoutRounds; ++round) {
    // Every SPU lends its member of the round (a stable sample beyond the cap). The index
    // leaves the lent members out; candidates other than the listing's own SPU are compared
    // whole, as at match time (a variant written exactly like the listing is a hard
    // negative only then).
    auto lends = [&](size_t i) {
      const uint64_t h = Fnv1a64(absl::StrCat(m->spus_[i].id, "/", round), seed + 13);
      return m->spus_[i].members.size() > static_cast<size_t>(round) && h % 10000 < keep;
    };
    NeighborIndex index;
    {
      std::vector<std::pair<std::vector<std::string>, int>> docs(n);
      for (size_t i = 0; i < n; ++i) {
        for (uint32_t k = m->first_read_[i]; k < m->first_read_[i + 1]; ++k) {
          if (lends(i) && k == m->first_read_[i] + 1 + round) continue;
          docs[i].first.insert(docs[i].first.end(), side_tokens[k].begin(), side_tokens[k].end());
        }
      }
      index.Build(docs, 1);
    }
    for (size_t i = 0; i < n; ++i) {
      if (!lends(i)) continue;
      if (cancel != nullptr && cancel->load()) {
        return absl::CancelledError("SPU matcher: cancelled");
      }
      const uint32_t held = m->first_read_[i] + 1 + round;
      const SideRead& listing = m->reads_[held];
      const bool is_validation = (Fnv1a64(absl::StrCat(m->spus_[i].id), seed + 11) % 10000) <
                                 static_cast<uint64_t>(validation_share * 10000);
      auto& x = is_validation ? validation_x : train_x;
      auto& y = is_validation ? validation_y : train_y;
      Listing l{i, {}, {}};
      ++listings;
      bool found = false;
      const size_t first_row = x.size();
      const std::vector<float> vector = m->Embed(m->spus_[i].members[round].title);
      for (const Candidate& c : m->Candidates(index, side_tokens[held], vector)) {
        const size_t doc = c.spu;
        if (is_validation) {
          l.rows.push_back(x.size());
          l.candidates.push_back(doc);
        }
        const std::vector<const SideRead*> sides = m->Sides(doc, doc == i ? round : -1);
        x.push_back(ComparePair(listing, sides.data(), sides.size(), c.cosine, c.rank).values);
        x.back()[PairFeatures::kVectorCosine] = m->VectorCosine(vector, doc);
        y.push_back(doc == i ? 1.0f : 0.0f);
        found |= doc == i;
      }
      const size_t retrieved_end = x.size();
      retrieved += found ? 1 : 0;
      for (int r = 0; r < kRandomNegatives && n > 1; ++r) {
        size_t j = rng() % n;
        if (j == i) continue;
        const std::vector<const SideRead*> sides = m->Sides(j, -1);
        x.push_back(ComparePair(listing, sides.data(), sides.size(),
                                std::numeric_limits<double>::quiet_NaN(),
                                static_cast<int>(kCandidates))
                        .values);
        x.back()[PairFeatures::kVectorCosine] = m->VectorCosine(vector, j);
        y.push_back(0.0f);
      }
      SetCandidateGaps(&x, first_row, retrieved_end, x.size());
      // Half the listings (by a hash) also play a new product, whose SPU is not in the graph
      // yet: the same candidates without their own SPU, all negatives, so that being the
      // best candidate is not enough to match.
      if (found && Fnv1a64(absl::StrCat(m->spus_[i].id, "/", round), seed + 17) % 2 == 0) {
        Listing absent{i, {}, {}, true};
        const size_t absent_first = x.size();
        int absent_rank = 0;
        for (size_t row = first_row; row < retrieved_end; ++row) {
          if (y[row] == 1.0f) continue;
          if (is_validation) {
            absent.rows.push_back(x.size());
            absent.candidates.push_back(l.candidates[row - first_row]);
          }
          std::vector<float> copy = x[row];
          copy[PairFeatures::kRetrievalRank] = static_cast<float>(absent_rank++);
          x.push_back(std::move(copy));
          y.push_back(0.0f);
        }
        SetCandidateGaps(&x, absent_first, x.size(), x.size());
        if (is_validation) validation.push_back(std::move(absent));
      }
      if (is_validation) validation.push_back(std::move(l));
    }
  }
  figures->candidate_recall = listings > 0 ? retrieved / listings : 0;
  figures->training_pairs = train_x.size();
  if (train_x.empty()) return absl::FailedPreconditionError("SPU matcher: no training pairs");
  GradientBoosted::Params params;
  params.seed = seed;
  absl::StatusOr<std::unique_ptr<GradientBoosted>> scorer =
      GradientBoosted::Fit(train_x, train_y, params, cancel);
  if (!scorer.ok()) return scorer.status();
  m->scorer_ = std::move(*scorer);
  // Calibration on the held-out SPUs' listings, then their top candidates.
  std::vector<double> raw = m->scorer_->Predict(validation_x);
  std::vector<std::pair<double, double>> points;
  for (size_t k = 0; k < raw.size(); ++k) points.emplace_back(raw[k], validation_y[k]);
  m->calibration_.Fit(std::move(points));
  double answered = 0, right = 0, present = 0, absent = 0, false_matches = 0;
  for (const Listing& l : validation) {
    double best = -1;
    size_t best_spu = 0;
    for (size_t k = 0; k < l.rows.size(); ++k) {
      const double p = m->calibration_(raw[l.rows[k]]);
      if (p > best) {
        best = p;
        best_spu = l.candidates[k];
      }
    }
    if (l.absent) {
      ++absent;
      false_matches += best >= 0.5 ? 1 : 0;
      continue;
    }
    ++present;
    if (best < 0.5) continue;
    ++answered;
    right += best_spu == l.spu ? 1 : 0;
  }
  figures->validation_listings = static_cast<uint64_t>(present);
  figures->precision = answered > 0 ? right / answered : 0;
  figures->recall = present > 0 ? right / present : 0;
  figures->new_listings = static_cast<uint64_t>(absent);
  figures->false_match_rate = absent > 0 ? false_matches / absent : 0;
  m->BuildIndex(std::move(side_tokens));
  figures->memory_bytes = m->MemoryBytes();
  return m;
}

std::vector<SpuCandidate> SpuMatcher::Match(const MatchSide& listing, size_t top_k,
                                            double min_score) const {
  std::vector<SpuCandidate> out;
  if (scorer_ == nullptr) return out;
  std::vector<std::string> tokens;
  SideRead read = ReadSide(listing, *extractor_, &tokens);
  KeepIdentifyingModels(&read);
  const std::vector<float> vector = Embed(listing.title);
  const std::vector<Candidate> found = Candidates(index_, tokens, vector);
  if (found.empty()) return out;
  std::vector<std::vector<float>> x;
  std::vector<std::vector<std::string>> reasons;
  for (const Candidate& c : found) {
    const std::vector<const SideRead*> sides = Sides(c.spu);
    PairFeatures f = ComparePair(read, sides.data(), sides.size(), c.cosine, c.rank);
    f.values[PairFeatures::kVectorCosine] = VectorCosine(vector, c.spu);
    x.push_back(std::move(f.values));
    reasons.push_back(std::move(f.reasons));
  }
  SetCandidateGaps(&x, 0, x.size(), x.size());
  for (std::vector<float>& row : x) row.resize(feature_count_);
  std::vector<double> raw = scorer_->Predict(x);
  for (size_t k = 0; k < found.size() && k < raw.size(); ++k) {
    const double p = calibration_(raw[k]);
    if (p < min_score) continue;
    const SpuRecord& spu = spus_[found[k].spu];
    out.push_back({spu.id, spu.name.title, p, std::move(reasons[k])});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const SpuCandidate& a, const SpuCandidate& b) { return a.score > b.score; });
  if (out.size() > top_k) out.resize(top_k);
  return out;
}

std::vector<ListingPair> SpuMatcher::PairListings(const std::vector<MatchSide>& listings,
                                                  double min_score) const {
  std::vector<ListingPair> out;
  if (scorer_ == nullptr || listings.size() < 2) return out;
  std::vector<SideRead> reads;
  std::vector<std::vector<float>> vectors;
  std::vector<std::vector<std::string>> tokens(listings.size());
  reads.reserve(listings.size());
  for (size_t i = 0; i < listings.size(); ++i) {
    reads.push_back(ReadSide(listings[i], *extractor_, &tokens[i]));
    KeepIdentifyingModels(&reads.back());
    vectors.push_back(Embed(listings[i].title));
  }
  NeighborIndex index;
  {
    std::vector<std::pair<std::vector<std::string>, int>> docs(listings.size());
    for (size_t i = 0; i < listings.size(); ++i) docs[i].first = tokens[i];
    index.Build(docs, 1);
  }
  absl::flat_hash_map<uint64_t, double> best;  // (a << 32 | b) -> score
  for (size_t i = 0; i < listings.size(); ++i) {
    std::vector<std::vector<float>> x;
    std::vector<uint32_t> others;
    int rank = 0;
    for (const auto& [doc, cosine] : index.Nearest(tokens[i], kCandidates + 1)) {
      if (doc == i || others.size() == kCandidates) continue;
      const SideRead* side = &reads[doc];
      x.push_back(ComparePair(reads[i], &side, 1, cosine, rank++).values);
      if (!vectors[i].empty() && vectors[i].size() == vectors[doc].size()) {
        x.back()[PairFeatures::kVectorCosine] =
            Dot(vectors[i].data(), vectors[doc].data(), vectors[i].size());
      }
      others.push_back(doc);
    }
    if (x.empty()) continue;
    SetCandidateGaps(&x, 0, x.size(), x.size());
    for (std::vector<float>& row : x) row.resize(feature_count_);
    const std::vector<double> raw = scorer_->Predict(x);
    for (size_t k = 0; k < others.size() && k < raw.size(); ++k) {
      const double p = calibration_(raw[k]);
      if (p < min_score) continue;
      const uint32_t a = std::min<uint32_t>(i, others[k]), b = std::max<uint32_t>(i, others[k]);
      double& score = best[(static_cast<uint64_t>(a) << 32) | b];
      score = std::max(score, p);
    }
  }
  out.reserve(best.size());
  for (const auto& [key, score] : best) {
    out.push_back({static_cast<uint32_t>(key >> 32), static_cast<uint32_t>(key), score});
  }
  std::sort(out.begin(), out.end(), [](const ListingPair& x, const ListingPair& y) {
    return x.a != y.a ? x.a < y.a : x.b < y.b;
  });
  return out;
}

std::string SpuMatcher::Encode() const {
  ByteWriter w;
  w.Varint(kEncodingVersion);
  w.Varint(feature_count_);
  w.Varint(spus_.size());
  for (const SpuRecord& s : spus_) {
    w.Varint(s.id);
    EncodeSide(s.name, &w);
    w.Varint(s.members.size());
    for (const MatchSide& member : s.members) EncodeSide(member, &w);
  }
  w.Bytes(scorer_ != nullptr ? scorer_->Encode() : "");
  calibration_.Encode(&w);
  return std::move(w.str());
}

absl::StatusOr<std::unique_ptr<SpuMatcher>> SpuMatcher::Decode(
    absl::string_view bytes, std::shared_ptr<const AttributeExtractor> extractor,
    const Categorizer* embedder) {
  auto bad = [](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("SPU matcher: damaged ", what));
  };
  if (extractor == nullptr) return bad("bundle: no attribute extractor");
  std::unique_ptr<SpuMatcher> m(new SpuMatcher());
  m->extractor_ = std::move(extractor);
  m->embedder_ = embedder;
  ByteReader r(bytes);
  uint64_t version = 0, n = 0;
  if (!r.Varint(&version) || version < 1 || version > kEncodingVersion) {
    return bad("encoding version");
  }
  uint64_t features = kFeaturesV1;
  if (version >= 2 && (!r.Varint(&features) || features < 1 || features > PairFeatures::kCount)) {
    return bad("feature count");
  }
  m->feature_count_ = features;
  if (!r.Varint(&n) || n > bytes.size()) return bad("SPUs");
  m->spus_.resize(n);
  for (SpuRecord& s : m->spus_) {
    uint64_t members = 0;
    if (!r.Varint(&s.id) || !DecodeSide(&r, &s.name) || !r.Varint(&members) ||
        members > kMaxMembers) {
      return bad("SPUs");
    }
    s.members.resize(members);
    for (MatchSide& member : s.members) {
      if (!DecodeSide(&r, &member)) return bad("SPUs");
    }
  }
  absl::string_view scorer;
  if (!r.Bytes(&scorer)) return bad("scorer");
  if (!scorer.empty()) {
    absl::StatusOr<std::unique_ptr<GradientBoosted>> decoded = GradientBoosted::Decode(scorer);
    if (!decoded.ok()) return decoded.status();
    m->scorer_ = std::move(*decoded);
  }
  if (!m->calibration_.Decode(&r, bytes.size()) || !r.done()) return bad("calibration");
  std::vector<std::vector<std::string>> side_tokens;
  m->ReadSides(&side_tokens);
  m->BuildIndex(std::move(side_tokens));
  m->BuildVectors();
  return m;
}

}  // namespace kg::knowledge
