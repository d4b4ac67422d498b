#include "server/knowledge/spu_features.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "server/knowledge/bytes.h"
#include "server/knowledge/text.h"

namespace kg::knowledge {
namespace {

constexpr float kUnknown = std::numeric_limits<float>::quiet_NaN();

// |a ∩ b| of two sorted, unique vectors.
template <typename T>
size_t Common(const std::vector<T>& a, const std::vector<T>& b) {
  size_t common = 0;
  auto i = a.begin(), j = b.begin();
  while (i != a.end() && j != b.end()) {
    if (*i < *j) {
      ++i;
    } else if (*j < *i) {
      ++j;
    } else {
      ++common;
      ++i;
      ++j;
    }
  }
  return common;
}

template <typename T>
double Jaccard(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.empty() && b.empty()) return 0;
  const size_t common = Common(a, b);
  return static_cast<double>(common) / static_cast<double>(a.size() + b.size() - common);
}

template <typename T>
void SortUnique(std::vector<T>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

// Model numbers agree when equal, or when one extends the other by a suffix or prefix and
// the shorter has at least 5 characters ("GS105" / "GS105NA").
bool ModelsAgree(const std::string& a, const std::string& b) {
  if (a == b) return true;
  const std::string& shorter = a.size() < b.size() ? a : b;
  const std::string& longer = a.size() < b.size() ? b : a;
  return shorter.size() >= 5 && longer.find(shorter) != std::string::npos;
}

std::string BrandKey(const std::string& brand) {
  return absl::StrReplaceAll(NormalizeText(brand), {{" ", ""}});
}

const SideRead::Measure* FindMeasure(const SideRead& r, const std::string& name) {
  for (const SideRead::Measure& m : r.measures) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

}  // namespace

size_t SideRead::MemoryBytes() const {
  size_t bytes = sizeof(SideRead) + tokens.capacity() * sizeof(uint64_t) +
                 trigrams.capacity() * sizeof(uint32_t) + models.capacity() * sizeof(std::string) +
                 measures.capacity() * sizeof(Measure) + brand.capacity() + brand_text.capacity();
  for (const std::string& m : models) bytes += m.capacity();
  for (const Measure& m : measures)
    bytes += m.name.capacity() + m.value.capacity() + m.text.capacity();
  return bytes;
}

SideRead ReadSide(const MatchSide& side, const AttributeExtractor& extractor,
                  std::vector<std::string>* index_tokens) {
  SideRead r;
  std::vector<std::string> tokens = Tokenize(side.title);
  r.length = static_cast<uint32_t>(tokens.size());
  r.tokens.reserve(tokens.size());
  for (const std::string& t : tokens) r.tokens.push_back(Fnv1a64(t));
  SortUnique(&r.tokens);
  const std::string squashed = absl::StrReplaceAll(NormalizeText(side.title), {{" ", ""}});
  if (squashed.size() < 3) {
    // A title this short is one "trigram" of its own bytes.
    uint32_t code = 0;
    for (unsigned char c : squashed) code = (code << 8) | c;
    if (!squashed.empty()) r.trigrams.push_back(code | (1u << 31));
  } else {
    r.trigrams.reserve(squashed.size() - 2);
    for (size_t i = 0; i + 3 <= squashed.size(); ++i) {
      r.trigrams.push_back(
          (static_cast<uint32_t>(static_cast<unsigned char>(squashed[i])) << 16) |
          (static_cast<uint32_t>(static_cast<unsigned char>(squashed[i + 1])) << 8) |
          static_cast<unsigned char>(squashed[i + 2]));
    }
    SortUnique(&r.trigrams);
  }
  for (const ExtractedAttribute& a : extractor.Extract(side.title)) {
    if (a.name == "model_number") {
      r.models.push_back(a.normalized_value);
    } else if ((!a.unit.empty() || a.name == "pack_count") && FindMeasure(r, a.name) == nullptr) {
      r.measures.push_back(
          {a.name, a.normalized_value,
           a.unit.empty() ? a.normalized_value : absl::StrCat(a.normalized_value, " ", a.unit)});
    }
  }
  SortUnique(&r.models);
  std::sort(r.measures.begin(), r.measures.end(),
            [](const SideRead::Measure& a, const SideRead::Measure& b) { return a.name < b.name; });
  r.brand = BrandKey(side.brand);
  r.brand_text = side.brand;
  r.price = side.price;
  r.category = side.category;
  if (index_tokens != nullptr) {
    for (std::string& t : tokens) index_tokens->push_back(std::move(t));
    if (!r.brand.empty()) index_tokens->push_back("__brand__" + NormalizeText(side.brand));
    // Model numbers as written differently ("PS-LX350H", "PSLX350H") share one token.
    for (const std::string& m : r.models) index_tokens->push_back("__model__" + m);
  }
  r.models.shrink_to_fit();
  return r;
}

void SetCandidateGaps(std::vector<std::vector<float>>* rows, size_t begin, size_t retrieved_end,
                      size_t end) {
  constexpr std::pair<int, int> kGaps[] = {
      {PairFeatures::kRetrievalCosine, PairFeatures::kCosineGap},
      {PairFeatures::kTokenJaccard, PairFeatures::kTokenGap},
      {PairFeatures::kTrigramJaccard, PairFeatures::kTrigramGap}};
  for (const auto& [feature, gap] : kGaps) {
    float best = 0;
    for (size_t r = begin; r < retrieved_end; ++r) {
      const float v = (*rows)[r][feature];
      if (v == v) best = std::max(best, v);
    }
    for (size_t r = begin; r < end; ++r) {
      const float v = (*rows)[r][feature];
      (*rows)[r][gap] = v == v ? best - v : kUnknown;
    }
  }
}

PairFeatures ComparePair(const MatchSide& listing, const std::vector<MatchSide>& sides,
                         const AttributeExtractor& extractor, double retrieval_cosine, int rank) {
  const SideRead l = ReadSide(listing, extractor);
  std::vector<SideRead> reads;
  reads.reserve(sides.size());
  for (const MatchSide& s : sides) reads.push_back(ReadSide(s, extractor));
  std::vector<const SideRead*> pointers;
  for (const SideRead& r : reads) pointers.push_back(&r);
  return ComparePair(l, pointers.data(), pointers.size(), retrieval_cosine, rank);
}

PairFeatures ComparePair(const SideRead& l, const SideRead* const* sides, size_t count,
                         double retrieval_cosine, int rank) {
  PairFeatures f;
  f.values.assign(PairFeatures::kCount, kUnknown);
  f.values[PairFeatures::kRetrievalCosine] = static_cast<float>(retrieval_cosine);
  f.values[PairFeatures::kRetrievalRank] = static_cast<float>(rank);

  // Similarity: the closest side.
  double token = 0, trigram = 0, containment = 0, length = 0;
  for (size_t k = 0; k < count; ++k) {
    const SideRead& r = *sides[k];
    const size_t common = Common(l.tokens, r.tokens);
    const size_t all = l.tokens.size() + r.tokens.size() - common;
    const double j = all == 0 ? 0 : static_cast<double>(common) / static_cast<double>(all);
    if (j >= token) {
      token = j;
      containment =
          l.tokens.empty() ? 0 : static_cast<double>(common) / static_cast<double>(l.tokens.size());
      length = std::max(l.length, r.length) == 0
                   ? 0
                   : static_cast<double>(std::min(l.length, r.length)) /
                         static_cast<double>(std::max(l.length, r.length));
    }
    trigram = std::max(trigram, Jaccard(l.trigrams, r.trigrams));
  }
  f.values[PairFeatures::kTokenJaccard] = static_cast<float>(token);
  f.values[PairFeatures::kTrigramJaccard] = static_cast<float>(trigram);
  f.values[PairFeatures::kContainment] = static_cast<float>(containment);
  f.values[PairFeatures::kLengthRatio] = static_cast<float>(length);

  // Model numbers.
  std::set<std::string> spu_models;
  for (size_t k = 0; k < count; ++k)
    spu_models.insert(sides[k]->models.begin(), sides[k]->models.end());
  if (!l.models.empty() && !spu_models.empty()) {
    // Agreement: some model number agrees. Conflict: besides, each side has one that
    // agrees with nothing on the other (two different codes, e.g. a series name shared
    // and the model codes apart).
    std::string agreed, listing_alone, spu_alone;
    for (const std::string& a : l.models) {
      bool matched = false;
      for (const std::string& b : spu_models) matched |= ModelsAgree(a, b);
      if (matched && agreed.empty()) agreed = a;
      if (!matched && listing_alone.empty()) listing_alone = a;
    }
    for (const std::string& b : spu_models) {
      bool matched = false;
      for (const std::string& a : l.models) matched |= ModelsAgree(a, b);
      if (!matched && spu_alone.empty()) spu_alone = b;
    }
    const bool conflict = !listing_alone.empty() && !spu_alone.empty();
    f.values[PairFeatures::kModelNumber] = agreed.empty() ? -1.0f : conflict ? 0.0f : 1.0f;
    if (agreed.empty()) {
      f.reasons.push_back(
          absl::StrCat("model number ", l.models.front(), " vs ", *spu_models.begin(), " differs"));
    } else if (conflict) {
      f.reasons.insert(f.reasons.begin(),
                       absl::StrCat("model number ", listing_alone, " vs ", spu_alone, " differs"));
      f.reasons.push_back(absl::StrCat("model number ", agreed, " matches"));
    } else {
      f.reasons.push_back(absl::StrCat("model number ", agreed, " matches"));
    }
  }

  // Brand: the listing's against the SPU's (its name's, else a member's).
  const std::string* spu_brand = nullptr;
  for (size_t k = 0; k < count && spu_brand == nullptr; ++k) {
    if (!sides[k]->brand.empty()) spu_brand = &sides[k]->brand;
  }
  if (!l.brand.empty() && spu_brand != nullptr) {
    const bool same = l.brand == *spu_brand;
    f.values[PairFeatures::kBrand] = same ? 1.0f : -1.0f;
    f.reasons.push_back(same ? "brand matches" : absl::StrCat("brand ", l.brand_text, " differs"));
  }

  // Measures, per dimension.
  int agree = 0, differ = 0;
  for (const SideRead::Measure& m : l.measures) {
    bool seen = false, same = false;
    const std::string* spu_text = nullptr;
    for (size_t k = 0; k < count; ++k) {
      const SideRead::Measure* s = FindMeasure(*sides[k], m.name);
      if (s == nullptr) continue;
      seen = true;
      same |= s->value == m.value;
      if (spu_text == nullptr) spu_text = &s->text;
    }
    if (!seen) continue;
    if (same) {
      ++agree;
      f.reasons.push_back(absl::StrCat(m.name, " ", m.text, " matches"));
    } else {
      ++differ;
      f.reasons.insert(f.reasons.begin(),
                       absl::StrCat(m.name, " ", m.text, " vs ", *spu_text, " differs"));
    }
  }
  if (!l.measures.empty()) {
    f.values[PairFeatures::kMeasuresAgree] = static_cast<float>(agree);
    f.values[PairFeatures::kMeasuresDiffer] = static_cast<float>(differ);
  }

  // Price: against the SPU's median known price.
  std::vector<double> prices;
  for (size_t k = 0; k < count; ++k) {
    if (sides[k]->price > 0) prices.push_back(sides[k]->price);
  }
  if (l.price > 0 && !prices.empty()) {
    std::sort(prices.begin(), prices.end());
    const double median = prices[prices.size() / 2];
    const double ratio = l.price / median;
    f.values[PairFeatures::kPriceLogRatio] = static_cast<float>(std::fabs(std::log(ratio)));
    const double apart = std::max(ratio, 1 / ratio);
    f.reasons.push_back(
        apart <= 1.25 ? absl::StrFormat("price within %.0f%%", std::max(1.0, (apart - 1) * 100))
                      : absl::StrFormat("price %.1fx apart", apart));
  }

  // Category.
  uint64_t spu_category = 0;
  for (size_t k = 0; k < count && spu_category == 0; ++k) spu_category = sides[k]->category;
  if (l.category != 0 && spu_category != 0) {
    const bool same = l.category == spu_category;
    f.values[PairFeatures::kCategory] = same ? 1.0f : -1.0f;
    f.reasons.push_back(same ? "same category" : "different category");
  }
  return f;
}

}  // namespace kg::knowledge
