#include "server/knowledge/spu_features.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "server/knowledge/text.h"

namespace kg::knowledge {
namespace {

constexpr float kUnknown = std::numeric_limits<float>::quiet_NaN();

double Jaccard(const absl::flat_hash_set<std::string>& a,
               const absl::flat_hash_set<std::string>& b) {
  if (a.empty() && b.empty()) return 0;
  size_t common = 0;
  for (const std::string& x : a) common += b.contains(x) ? 1 : 0;
  return static_cast<double>(common) / static_cast<double>(a.size() + b.size() - common);
}

absl::flat_hash_set<std::string> Trigrams(const std::string& squashed) {
  absl::flat_hash_set<std::string> out;
  if (squashed.size() < 3) {
    if (!squashed.empty()) out.insert(squashed);
    return out;
  }
  for (size_t i = 0; i + 3 <= squashed.size(); ++i) out.insert(squashed.substr(i, 3));
  return out;
}

// What a title says, read once.
struct Read {
  absl::flat_hash_set<std::string> tokens;
  absl::flat_hash_set<std::string> trigrams;
  size_t length = 0;
  std::set<std::string> models;                                         // normalised model numbers
  std::map<std::string, std::pair<std::string, std::string>> measures;  // name -> (value, text)
};

Read ReadTitle(const std::string& title, const AttributeExtractor& extractor) {
  Read r;
  std::vector<std::string> tokens = Tokenize(title);
  r.length = tokens.size();
  r.tokens.insert(tokens.begin(), tokens.end());
  r.trigrams = Trigrams(absl::StrReplaceAll(NormalizeText(title), {{" ", ""}}));
  for (const ExtractedAttribute& a : extractor.Extract(title)) {
    if (a.name == "model_number") {
      r.models.insert(a.normalized_value);
    } else if (!a.unit.empty() || a.name == "pack_count") {
      r.measures.emplace(
          a.name, std::make_pair(a.normalized_value,
                                 a.unit.empty() ? a.normalized_value
                                                : absl::StrCat(a.normalized_value, " ", a.unit)));
    }
  }
  return r;
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

}  // namespace

PairFeatures ComparePair(const MatchSide& listing, const std::vector<MatchSide>& sides,
                         const AttributeExtractor& extractor, double retrieval_cosine, int rank) {
  PairFeatures f;
  f.values.assign(PairFeatures::kCount, kUnknown);
  f.values[PairFeatures::kRetrievalCosine] = static_cast<float>(retrieval_cosine);
  f.values[PairFeatures::kRetrievalRank] = static_cast<float>(rank);
  const Read l = ReadTitle(listing.title, extractor);
  std::vector<Read> reads;
  reads.reserve(sides.size());
  for (const MatchSide& s : sides) reads.push_back(ReadTitle(s.title, extractor));

  // Similarity: the closest side.
  double token = 0, trigram = 0, containment = 0, length = 0;
  for (const Read& r : reads) {
    const double j = Jaccard(l.tokens, r.tokens);
    if (j >= token) {
      token = j;
      size_t inside = 0;
      for (const std::string& t : l.tokens) inside += r.tokens.contains(t) ? 1 : 0;
      containment = l.tokens.empty() ? 0 : static_cast<double>(inside) / l.tokens.size();
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
  for (const Read& r : reads) spu_models.insert(r.models.begin(), r.models.end());
  if (!l.models.empty() && !spu_models.empty()) {
    std::string agreed;
    for (const std::string& a : l.models) {
      for (const std::string& b : spu_models) {
        if (agreed.empty() && ModelsAgree(a, b)) agreed = a;
      }
    }
    f.values[PairFeatures::kModelNumber] = agreed.empty() ? -1.0f : 1.0f;
    f.reasons.push_back(agreed.empty() ? absl::StrCat("model number ", *l.models.begin(), " vs ",
                                                      *spu_models.begin(), " differs")
                                       : absl::StrCat("model number ", agreed, " matches"));
  }

  // Brand: the listing's against the SPU's (its name's, else a member's).
  std::string spu_brand;
  for (const MatchSide& s : sides) {
    if (spu_brand.empty()) spu_brand = BrandKey(s.brand);
  }
  const std::string brand = BrandKey(listing.brand);
  if (!brand.empty() && !spu_brand.empty()) {
    const bool same = brand == spu_brand;
    f.values[PairFeatures::kBrand] = same ? 1.0f : -1.0f;
    f.reasons.push_back(same ? "brand matches" : absl::StrCat("brand ", listing.brand, " differs"));
  }

  // Measures, per dimension.
  int agree = 0, differ = 0;
  for (const auto& [name, value] : l.measures) {
    std::set<std::string> spu_values;
    std::string spu_text;
    for (const Read& r : reads) {
      auto it = r.measures.find(name);
      if (it == r.measures.end()) continue;
      spu_values.insert(it->second.first);
      if (spu_text.empty()) spu_text = it->second.second;
    }
    if (spu_values.empty()) continue;
    if (spu_values.count(value.first) > 0) {
      ++agree;
      f.reasons.push_back(absl::StrCat(name, " ", value.second, " matches"));
    } else {
      ++differ;
      f.reasons.insert(f.reasons.begin(),
                       absl::StrCat(name, " ", value.second, " vs ", spu_text, " differs"));
    }
  }
  if (!l.measures.empty()) {
    f.values[PairFeatures::kMeasuresAgree] = static_cast<float>(agree);
    f.values[PairFeatures::kMeasuresDiffer] = static_cast<float>(differ);
  }

  // Price: against the SPU's median known price.
  std::vector<double> prices;
  for (const MatchSide& s : sides) {
    if (s.price > 0) prices.push_back(s.price);
  }
  if (listing.price > 0 && !prices.empty()) {
    std::sort(prices.begin(), prices.end());
    const double median = prices[prices.size() / 2];
    const double ratio = listing.price / median;
    f.values[PairFeatures::kPriceLogRatio] = static_cast<float>(std::fabs(std::log(ratio)));
    const double apart = std::max(ratio, 1 / ratio);
    f.reasons.push_back(
        apart <= 1.25 ? absl::StrFormat("price within %.0f%%", std::max(1.0, (apart - 1) * 100))
                      : absl::StrFormat("price %.1fx apart", apart));
  }

  // Category.
  uint64_t spu_category = 0;
  for (const MatchSide& s : sides) {
    if (spu_category == 0) spu_category = s.category;
  }
  if (listing.category != 0 && spu_category != 0) {
    const bool same = listing.category == spu_category;
    f.values[PairFeatures::kCategory] = same ? 1.0f : -1.0f;
    f.reasons.push_back(same ? "same category" : "different category");
  }
  return f;
}

}  // namespace kg::knowledge
