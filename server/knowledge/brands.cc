#include "server/knowledge/brands.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/knowledge/bytes.h"
#include "server/knowledge/learn.h"

namespace kg::knowledge {
namespace {

constexpr int kEncodingVersion = 1;
constexpr size_t kMaxKeyTokens = 6;      // longest brand name matched, in tokens
constexpr size_t kSpanStarts = 4;        // a new-brand span starts in the first 4 tokens
constexpr size_t kSpanMaxLength = 3;     // and has at most 3 tokens
constexpr size_t kCategoryEntries = 16;  // per brand, its main coarse categories
constexpr size_t kLexicalFeatures = 11;
constexpr size_t kSpanFeatures = 20;
constexpr size_t kMaxTrainingRows = 400000;  // per model; beyond, every k-th row

double Logit(double p) {
  p = std::clamp(p, 1e-6, 1 - 1e-6);
  return std::log(p / (1 - p));
}

// The lexicon key of tokens [i, j): their normalised texts without spaces.
std::string Squash(const std::vector<TokenSpan>& tokens, size_t i, size_t j) {
  std::string key;
  for (size_t k = i; k < j; ++k) key += tokens[k].text;
  return key;
}

// A name as a lexicon key ("Hot-Wheels" -> "hotwheels").
std::string NameKey(absl::string_view name) {
  std::vector<TokenSpan> t = TokenSpans(name);
  return Squash(t, 0, t.size());
}

bool AllDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Written in capitals ("SUNFLAME"), at least two letters.
bool AllUpper(absl::string_view title, const TokenSpan& t) {
  size_t letters = 0;
  for (size_t i = t.start; i < t.end && i < title.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(title[i]);
    if (absl::ascii_islower(c)) return false;
    letters += absl::ascii_isupper(c) ? 1 : 0;
  }
  return letters >= 2;
}

bool Capitalised(absl::string_view title, const TokenSpan& t) {
  return t.start < title.size() && absl::ascii_isupper(static_cast<unsigned char>(title[t.start]));
}

}  // namespace

struct BrandRecognizer::Model {
  struct Entry {
    uint64_t brand = 0;
    bool alias = false;
    uint32_t linked = 0;        // training titles matching the key whose product is this brand
    uint32_t linked_first = 0;  // ... where the match starts the title
  };
  struct Key {
    uint32_t seen = 0;        // training titles matching the key
    uint32_t seen_first = 0;  // ... at the start of the title
    uint32_t tokens = 1;
    std::vector<Entry> entries;
  };
  struct Brand {
    std::string name;
    uint32_t products = 0;  // training titles of the brand
    // Smoothed share of its titles' predicted coarse categories (the rest follows the
    // prior): s(l) for its main labels.
    std::vector<std::pair<int, double>> categories;
  };
  struct TokenStat {
    uint32_t titles = 0;    // training titles with the token
    uint32_t in_brand = 0;  // ... where it is part of the brand's mention
  };
  // A title read once.
  struct Title {
    absl::string_view text;
    std::vector<TokenSpan> tokens;
    std::vector<double> dist;  // coarse category distribution (empty: no context)
  };
  struct Match {
    size_t i = 0, j = 0;
    const Key* key = nullptr;
    std::string squashed;
  };
  // What a training title contributed to the statistics, so that its own features leave
  // it out (leave-one-out): its brand, its brand's span and its distinct tokens.
  struct Own {
    uint64_t brand = 0;
    bool has_span = false;
    size_t span_i = 0, span_j = 0;
    const std::vector<double>* dist = nullptr;
    absl::flat_hash_set<std::string> keys;        // lexicon keys matched in it
    absl::flat_hash_set<std::string> first_keys;  // ... at its start
  };

  absl::flat_hash_map<std::string, Key> lexicon;
  absl::flat_hash_map<uint64_t, Brand> brands;
  absl::flat_hash_map<std::string, TokenStat> tokens;
  std::vector<double> label_prior;  // empty without a categorizer
  // Training only: each brand's summed category distribution (sparse).
  absl::flat_hash_map<uint64_t, absl::flat_hash_map<int, double>> sums;
  Logistic lexical, span;
  Isotonic lexical_calibration, span_calibration;

  Title Read(absl::string_view text, const Categorizer* categorizer) const {
    Title t;
    t.text = text;
    t.tokens = TokenSpans(text);
    if (categorizer != nullptr && !label_prior.empty() &&
        categorizer->coarse_labels() == label_prior.size()) {
      t.dist = categorizer->TitleDistribution(text);
    }
    return t;
  }

  std::vector<Match> Matches(const Title& t) const {
    std::vector<Match> out;
    for (size_t i = 0; i < t.tokens.size(); ++i) {
      std::string key;
      for (size_t j = i; j < t.tokens.size() && j < i + kMaxKeyTokens; ++j) {
        key += t.tokens[j].text;
        auto it = lexicon.find(key);
        if (it != lexicon.end()) out.push_back({i, j + 1, &it->second, key});
      }
    }
    return out;
  }

  // How much better the brand's categories fit the title than the prior does.
  double Lift(uint64_t brand, const Title& t, const Own* own) const {
    if (t.dist.empty()) return 1;
    auto b = brands.find(brand);
    if (b == brands.end()) return 1;
    const bool self = own != nullptr && own->brand == brand;
    std::vector<std::pair<int, double>> shares;
    auto sum = sums.find(brand);
    if (sum != sums.end()) {  // training: from the sums, leaving the title out
      const double n = b->second.products - (self ? 1.0 : 0.0);
      if (n <= 0) return 1;
      for (const auto& [l, v] : sum->second) {
        double x = v - (self ? (*own->dist)[l] : 0.0);
        if (x > 0) shares.emplace_back(l, x / (n + 1));
      }
    } else {
      shares = b->second.categories;
    }
    double lift = 1;
    for (const auto& [l, s] : shares) {
      lift += s * (t.dist[l] / std::max(label_prior[l], 1e-9) - 1);
    }
    return std::max(lift, 1e-6);
  }

  std::vector<double> LexicalFeatures(const Title& t, const Match& m, const Entry& e,
                                      const Own* own) const {
    const bool in_own = own != nullptr && own->keys.contains(m.squashed);
    const bool first_own = own != nullptr && own->first_keys.contains(m.squashed);
    const double seen = m.key->seen - (in_own ? 1.0 : 0.0);
    const double linked = e.linked - (in_own && own->brand == e.brand ? 1.0 : 0.0);
    const double seen_first = m.key->seen_first - (first_own ? 1.0 : 0.0);
    const double linked_first = e.linked_first - (first_own && own->brand == e.brand ? 1.0 : 0.0);
    auto b = brands.find(e.brand);
    double products = b == brands.end() ? 0 : b->second.products;
    if (own != nullptr && own->brand == e.brand) products -= 1;
    return {1.0, std::log((linked + 0.5) / (seen + 1)), m.i == 0 ? 1.0 : 0.0,
            std::log1p(static_cast<double>(m.i)), std::log(Lift(e.brand, t, own)),
            std::log1p(std::max(products, 0.0)), static_cast<double>(m.j - m.i),
            e.alias ? 1.0 : 0.0, seen <= 0 ? 1.0 : 0.0, m.j - m.i == t.tokens.size() ? 1.0 : 0.0,
            // How often the key starting a title is this brand, for a match at the start.
            m.i == 0 ? std::log((linked_first + 0.5) / (seen_first + 1)) : 0.0};
  }

  // logit of how often a token is part of a brand mention (leaving the title out).
  double TokenRate(const Title& t, size_t k, const Own* own, double* titles_out) const {
    auto it = tokens.find(t.tokens[k].text);
    double titles = 0, in_brand = 0;
    if (it != tokens.end()) {
      titles = it->second.titles;
      in_brand = it->second.in_brand;
    }
    if (own != nullptr && it != tokens.end()) {
      titles -= 1;  // every distinct token of a training title was counted once
      bool inside = false;
      if (own->has_span) {
        for (size_t q = own->span_i; q < own->span_j; ++q)
          inside |= t.tokens[q].text == t.tokens[k].text;
      }
      if (inside) in_brand -= 1;
    }
    if (titles_out != nullptr) *titles_out = std::max(titles, 0.0);
    return Logit((std::max(in_brand, 0.0) + 0.1) / (std::max(titles, 0.0) + 1));
  }

  std::vector<double> SpanFeatures(const Title& t, size_t s, size_t len, const Own* own) const {
    double mean = 0, least = 1e9, capitalised = 0, digits = 0, first_titles = 0;
    for (size_t k = s; k < s + len; ++k) {
      double titles = 0;
      double r = TokenRate(t, k, own, &titles);
      if (k == s) first_titles = titles;
      mean += r / len;
      least = std::min(least, r);
      capitalised += Capitalised(t.text, t.tokens[k]) ? 1.0 / len : 0.0;
      digits += AllDigits(t.tokens[k].text) ? 1 : 0;
    }
    double title_capitalised = 0;
    for (const TokenSpan& tok : t.tokens) {
      title_capitalised += Capitalised(t.text, tok) ? 1.0 / t.tokens.size() : 0.0;
    }
    const bool after = s + len < t.tokens.size();
    // Words never seen in training titles (as a new brand's are), inside and after.
    double unseen = 0, upper = 0;
    for (size_t k = s; k < s + len; ++k) {
      double titles = 0;
      TokenRate(t, k, own, &titles);
      unseen += titles <= 0 ? 1.0 / len : 0.0;
      upper += AllUpper(t.text, t.tokens[k]) ? 1.0 / len : 0.0;
    }
    double next_titles = 0;
    if (after) TokenRate(t, s + len, own, &next_titles);
    const bool next_digits =
        after && std::any_of(t.tokens[s + len].text.begin(), t.tokens[s + len].text.end(),
                             [](char c) { return c >= '0' && c <= '9'; });
    return {1.0,
            s == 0 ? 1.0 : 0.0,
            std::log1p(static_cast<double>(s)),
            static_cast<double>(len),
            mean,
            least,
            after ? TokenRate(t, s + len, own, nullptr) : 0.0,
            after ? 1.0 : 0.0,
            s > 0 ? TokenRate(t, s - 1, own, nullptr) : 0.0,
            std::log1p(first_titles),
            digits > 0 ? 1.0 : 0.0,
            capitalised,
            capitalised - title_capitalised,
            unseen,
            after && next_titles <= 0 ? 1.0 : 0.0,
            after ? std::log1p(next_titles) : 0.0,
            next_digits ? 1.0 : 0.0,
            upper,
            after && AllUpper(t.text, t.tokens[s + len]) ? 1.0 : 0.0,
            after && Capitalised(t.text, t.tokens[s + len]) ? 1.0 : 0.0};
  }

  // The spans a new brand may occupy.
  template <typename Fn>
  void ForEachSpan(const Title& t, Fn fn) const {
    for (size_t s = 0; s < kSpanStarts && s < t.tokens.size(); ++s) {
      for (size_t len = 1; len <= kSpanMaxLength && s + len <= t.tokens.size(); ++len) fn(s, len);
    }
  }

  // The gold brand's mention in a title: its earliest, then longest, lexicon match.
  bool GoldSpan(const std::vector<Match>& matches, uint64_t gold, size_t* i, size_t* j) const {
    bool found = false;
    for (const Match& m : matches) {
      bool of_gold = std::any_of(m.key->entries.begin(), m.key->entries.end(),
                                 [gold](const Entry& e) { return e.brand == gold; });
      if (!of_gold) continue;
      if (!found || m.i < *i || (m.i == *i && m.j > *j)) {
        *i = m.i;
        *j = m.j;
        found = true;
      }
    }
    return found;
  }
};

BrandRecognizer::BrandRecognizer() : m_(std::make_unique<Model>()) {}
BrandRecognizer::~BrandRecognizer() = default;

const std::string& BrandRecognizer::name(uint64_t brand) const {
  static const std::string kNone;
  auto it = m_->brands.find(brand);
  return it == m_->brands.end() ? kNone : it->second.name;
}

absl::StatusOr<std::unique_ptr<BrandRecognizer>> BrandRecognizer::Train(
    const std::vector<BrandRecord>& brands, const std::vector<BrandExample>& examples,
    const Categorizer* categorizer, double validation_share, uint64_t seed, BrandFigures* figures,
    const std::atomic<bool>* cancel) {
  *figures = BrandFigures();
  std::unique_ptr<BrandRecognizer> r(new BrandRecognizer());
  Model& m = *r->m_;
  // 1. The lexicon.
  for (const BrandRecord& b : brands) {
    Model::Brand& brand = m.brands[b.id];
    brand.name = b.name;
    std::vector<std::string> names = {b.name};
    names.insert(names.end(), b.aliases.begin(), b.aliases.end());
    for (size_t n = 0; n < names.size(); ++n) {
      std::vector<TokenSpan> t = TokenSpans(names[n]);
      if (t.empty() || t.size() > kMaxKeyTokens) continue;
      Model::Key& key = m.lexicon[NameKey(names[n])];
      key.tokens = static_cast<uint32_t>(t.size());
      bool known = std::any_of(key.entries.begin(), key.entries.end(),
                               [&](const Model::Entry& e) { return e.brand == b.id; });
      if (!known) key.entries.push_back({b.id, n > 0, 0, 0});
    }
  }
  figures->lexicon_keys = m.lexicon.size();
  if (categorizer != nullptr) m.label_prior = categorizer->label_prior();

  // 2. The split, and the statistics of the training titles.
  std::vector<const BrandExample*> train, validation;
  for (const BrandExample& e : examples) {
    std::string norm = NormalizeText(e.title);
    if (norm.empty()) continue;
    bool held_out =
        (Fnv1a64(norm, seed + 7) % 10000) < static_cast<uint64_t>(validation_share * 10000);
    (held_out ? validation : train).push_back(&e);
  }
  figures->train_titles = train.size();
  figures->validation_titles = validation.size();
  std::vector<Model::Title> titles;
  std::vector<Model::Own> owns;
  titles.reserve(train.size());
  owns.reserve(train.size());
  for (const BrandExample* e : train) {
    if (cancel != nullptr && cancel->load()) return absl::CancelledError("brands: cancelled");
    titles.push_back(m.Read(e->title, categorizer));
    Model::Title& t = titles.back();
    Model::Own own;
    own.brand = e->brand;
    std::vector<Model::Match> matches = m.Matches(t);
    for (const Model::Match& match : matches) {
      own.keys.insert(match.squashed);
      if (match.i == 0) own.first_keys.insert(match.squashed);
    }
    for (const std::string& key : own.keys) {
      Model::Key& k = m.lexicon[key];
      const bool first = own.first_keys.contains(key);
      ++k.seen;
      k.seen_first += first ? 1 : 0;
      for (Model::Entry& entry : k.entries) {
        entry.linked += entry.brand == e->brand ? 1 : 0;
        entry.linked_first += first && entry.brand == e->brand ? 1 : 0;
      }
    }
    if (e->brand != 0) {
      auto b = m.brands.find(e->brand);
      if (b != m.brands.end()) {
        ++b->second.products;
        if (!t.dist.empty()) {
          auto& sum = m.sums[e->brand];
          for (size_t l = 0; l < t.dist.size(); ++l) {
            if (t.dist[l] >= 0.005) sum[static_cast<int>(l)] += t.dist[l];
          }
        }
      }
      own.has_span = m.GoldSpan(matches, e->brand, &own.span_i, &own.span_j);
    }
    absl::flat_hash_set<std::string> distinct, in_brand;
    for (size_t k = 0; k < t.tokens.size(); ++k) {
      distinct.insert(t.tokens[k].text);
      if (own.has_span && k >= own.span_i && k < own.span_j) in_brand.insert(t.tokens[k].text);
    }
    for (const std::string& tok : distinct) ++m.tokens[tok].titles;
    for (const std::string& tok : in_brand) ++m.tokens[tok].in_brand;
    owns.push_back(std::move(own));
  }
  for (size_t i = 0; i < owns.size(); ++i) {
    if (owns[i].dist == nullptr) owns[i].dist = &titles[i].dist;
  }

  // 3. The two models, on the training titles with a brand (leave-one-out features).
  std::vector<std::vector<double>> lx, sx;
  std::vector<double> ly, sy;
  for (size_t i = 0; i < titles.size(); ++i) {
    if (owns[i].brand == 0) continue;
    const Model::Title& t = titles[i];
    for (const Model::Match& match : m.Matches(t)) {
      for (const Model::Entry& entry : match.key->entries) {
        lx.push_back(m.LexicalFeatures(t, match, entry, &owns[i]));
        ly.push_back(entry.brand == owns[i].brand ? 1.0 : 0.0);
      }
    }
    m.ForEachSpan(t, [&](size_t s, size_t len) {
      sx.push_back(m.SpanFeatures(t, s, len, &owns[i]));
      sy.push_back(owns[i].has_span && s == owns[i].span_i && s + len == owns[i].span_j ? 1.0
                                                                                        : 0.0);
    });
  }
  auto thin = [](std::vector<std::vector<double>>* x, std::vector<double>* y) {
    if (x->size() <= kMaxTrainingRows) return;
    const size_t step = (x->size() + kMaxTrainingRows - 1) / kMaxTrainingRows;
    size_t out = 0;
    for (size_t i = 0; i < x->size(); i += step, ++out) {
      if (out == i) continue;  // a vector moved onto itself would be emptied
      (*x)[out] = std::move((*x)[i]);
      (*y)[out] = (*y)[i];
    }
    x->resize(out);
    y->resize(out);
  };
  thin(&lx, &ly);
  thin(&sx, &sy);
  if (cancel != nullptr && cancel->load()) return absl::CancelledError("brands: cancelled");
  m.lexical.Fit(lx, ly);
  m.span.Fit(sx, sy);
  // Inference reads the brands' category shares, not the training sums.
  for (auto& [id, sum] : m.sums) {
    Model::Brand& b = m.brands[id];
    std::vector<std::pair<int, double>> shares;
    for (const auto& [l, v] : sum) shares.emplace_back(l, v / (b.products + 1.0));
    std::sort(shares.begin(), shares.end(), [](const auto& a, const auto& b) {
      return a.second > b.second || (a.second == b.second && a.first < b.first);
    });
    if (shares.size() > kCategoryEntries) shares.resize(kCategoryEntries);
    b.categories = std::move(shares);
  }
  m.sums.clear();

  // 4. Calibration on the validation titles with a brand.
  std::vector<std::pair<double, double>> lexical_points, span_points;
  for (const BrandExample* e : validation) {
    if (e->brand == 0) continue;
    Model::Title t = m.Read(e->title, categorizer);
    std::vector<Model::Match> matches = m.Matches(t);
    for (const Model::Match& match : matches) {
      for (const Model::Entry& entry : match.key->entries) {
        lexical_points.emplace_back(m.lexical.Score(m.LexicalFeatures(t, match, entry, nullptr)),
                                    entry.brand == e->brand ? 1.0 : 0.0);
      }
    }
    size_t gi = 0, gj = 0;
    const bool has_span = m.GoldSpan(matches, e->brand, &gi, &gj);
    double best = -1;
    bool right = false;
    m.ForEachSpan(t, [&](size_t s, size_t len) {
      double raw = m.span.Score(m.SpanFeatures(t, s, len, nullptr));
      if (raw > best) {
        best = raw;
        right = has_span && s == gi && s + len == gj;
      }
    });
    if (best >= 0) span_points.emplace_back(best, right ? 1.0 : 0.0);
  }
  m.lexical_calibration.Fit(std::move(lexical_points));
  m.span_calibration.Fit(std::move(span_points));

  // 5. Figures: the top mention of each validation title with a brand.
  double answered = 0, right = 0, with_brand = 0;
  for (const BrandExample* e : validation) {
    if (e->brand == 0) continue;
    ++with_brand;
    std::vector<BrandMention> top = r->Recognize(e->title, categorizer, 1);
    if (top.empty()) continue;
    ++answered;
    right += NameKey(top[0].name) == NameKey(r->name(e->brand)) ? 1 : 0;
  }
  figures->top_precision = answered > 0 ? right / answered : 0;
  figures->top_recall = with_brand > 0 ? right / with_brand : 0;
  return r;
}

std::vector<BrandMention> BrandRecognizer::Recognize(absl::string_view title,
                                                     const Categorizer* categorizer,
                                                     size_t max) const {
  const Model& m = *m_;
  Model::Title t = m.Read(title, categorizer);
  struct Scored {
    size_t i, j;
    uint64_t brand;
    double p;
  };
  std::vector<Scored> scored;
  for (const Model::Match& match : m.Matches(t)) {
    for (const Model::Entry& entry : match.key->entries) {
      double p =
          m.lexical_calibration(m.lexical.Score(m.LexicalFeatures(t, match, entry, nullptr)));
      scored.push_back({match.i, match.j, entry.brand, p});
    }
  }
  std::sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
    return a.p > b.p || (a.p == b.p && (a.i < b.i || (a.i == b.i && a.brand < b.brand)));
  });
  std::vector<BrandMention> out;
  std::vector<std::pair<size_t, size_t>> taken;
  auto overlaps = [&taken](size_t i, size_t j) {
    return std::any_of(taken.begin(), taken.end(),
                       [&](const auto& s) { return i < s.second && s.first < j; });
  };
  for (const Scored& s : scored) {
    if (s.p < kMinConfidence || overlaps(s.i, s.j)) continue;
    taken.emplace_back(s.i, s.j);
    out.push_back({s.brand, name(s.brand), t.tokens[s.i].start, t.tokens[s.j - 1].end, s.p});
  }
  // No known brand: the most brand-like span that is not in the lexicon.
  if (out.empty()) {
    double best = -1;
    size_t bs = 0, blen = 0;
    m.ForEachSpan(t, [&](size_t s, size_t len) {
      if (m.lexicon.contains(Squash(t.tokens, s, s + len))) return;
      double raw = m.span.Score(m.SpanFeatures(t, s, len, nullptr));
      if (raw > best) {
        best = raw;
        bs = s;
        blen = len;
      }
    });
    if (best >= 0) {
      double p = m.span_calibration(best);
      if (p >= kMinConfidence) {
        const size_t start = t.tokens[bs].start, end = t.tokens[bs + blen - 1].end;
        out.push_back({0, std::string(title.substr(start, end - start)), start, end, p});
      }
    }
  }
  if (out.size() > max) out.resize(max);
  return out;
}

std::string BrandRecognizer::Encode() const {
  const Model& m = *m_;
  ByteWriter w;
  w.Varint(kEncodingVersion);
  std::vector<const std::string*> keys;
  for (const auto& [key, k] : m.lexicon) keys.push_back(&key);
  std::sort(keys.begin(), keys.end(), [](auto* a, auto* b) { return *a < *b; });
  w.Varint(keys.size());
  for (const std::string* key : keys) {
    const Model::Key& k = m.lexicon.at(*key);
    w.Bytes(*key);
    w.Varint(k.seen);
    w.Varint(k.seen_first);
    w.Varint(k.tokens);
    w.Varint(k.entries.size());
    for (const Model::Entry& e : k.entries) {
      w.Varint(e.brand);
      w.Varint(e.alias ? 1 : 0);
      w.Varint(e.linked);
      w.Varint(e.linked_first);
    }
  }
  std::vector<uint64_t> ids;
  for (const auto& [id, b] : m.brands) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  w.Varint(ids.size());
  for (uint64_t id : ids) {
    const Model::Brand& b = m.brands.at(id);
    w.Varint(id);
    w.Bytes(b.name);
    w.Varint(b.products);
    w.Varint(b.categories.size());
    for (const auto& [l, s] : b.categories) {
      w.Varint(static_cast<uint64_t>(l));
      w.Double(s);
    }
  }
  std::vector<const std::string*> toks;
  for (const auto& [tok, s] : m.tokens) toks.push_back(&tok);
  std::sort(toks.begin(), toks.end(), [](auto* a, auto* b) { return *a < *b; });
  w.Varint(toks.size());
  for (const std::string* tok : toks) {
    const Model::TokenStat& s = m.tokens.at(*tok);
    w.Bytes(*tok);
    w.Varint(s.titles);
    w.Varint(s.in_brand);
  }
  w.Varint(m.label_prior.size());
  for (double p : m.label_prior) w.Double(p);
  m.lexical.Encode(&w);
  m.span.Encode(&w);
  m.lexical_calibration.Encode(&w);
  m.span_calibration.Encode(&w);
  return std::move(w.str());
}

absl::StatusOr<std::unique_ptr<BrandRecognizer>> BrandRecognizer::Decode(absl::string_view bytes) {
  auto bad = [](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("brand recognizer: damaged ", what));
  };
  std::unique_ptr<BrandRecognizer> r(new BrandRecognizer());
  Model& m = *r->m_;
  ByteReader in(bytes);
  uint64_t version = 0, n = 0;
  if (!in.Varint(&version) || version != kEncodingVersion) return bad("encoding version");
  if (!in.Varint(&n) || n > bytes.size()) return bad("lexicon");
  for (uint64_t i = 0; i < n; ++i) {
    std::string key;
    uint64_t seen = 0, seen_first = 0, tokens = 0, entries = 0;
    if (!in.String(&key) || !in.Varint(&seen) || !in.Varint(&seen_first) || !in.Varint(&tokens) ||
        !in.Varint(&entries) || entries > bytes.size()) {
      return bad("lexicon");
    }
    Model::Key& k = m.lexicon[key];
    k.seen = static_cast<uint32_t>(seen);
    k.seen_first = static_cast<uint32_t>(seen_first);
    k.tokens = static_cast<uint32_t>(tokens);
    for (uint64_t e = 0; e < entries; ++e) {
      uint64_t brand = 0, alias = 0, linked = 0, linked_first = 0;
      if (!in.Varint(&brand) || !in.Varint(&alias) || !in.Varint(&linked) ||
          !in.Varint(&linked_first)) {
        return bad("lexicon");
      }
      k.entries.push_back(
          {brand, alias != 0, static_cast<uint32_t>(linked), static_cast<uint32_t>(linked_first)});
    }
  }
  if (!in.Varint(&n) || n > bytes.size()) return bad("brands");
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t id = 0, products = 0, count = 0;
    Model::Brand b;
    if (!in.Varint(&id) || !in.String(&b.name) || !in.Varint(&products) || !in.Varint(&count) ||
        count > kCategoryEntries) {
      return bad("brands");
    }
    b.products = static_cast<uint32_t>(products);
    for (uint64_t c = 0; c < count; ++c) {
      uint64_t l = 0;
      double s = 0;
      if (!in.Varint(&l) || !in.Probability(&s)) return bad("brands");
      b.categories.emplace_back(static_cast<int>(l), s);
    }
    m.brands[id] = std::move(b);
  }
  if (!in.Varint(&n) || n > bytes.size()) return bad("tokens");
  for (uint64_t i = 0; i < n; ++i) {
    std::string tok;
    uint64_t titles = 0, in_brand = 0;
    if (!in.String(&tok) || !in.Varint(&titles) || !in.Varint(&in_brand)) return bad("tokens");
    m.tokens[tok] = {static_cast<uint32_t>(titles), static_cast<uint32_t>(in_brand)};
  }
  if (!in.Varint(&n) || n > bytes.size()) return bad("label prior");
  m.label_prior.resize(n);
  for (double& p : m.label_prior) {
    if (!in.Probability(&p)) return bad("label prior");
  }
  for (const auto& [id, b] : m.brands) {
    for (const auto& [l, s] : b.categories) {
      if (l < 0 || static_cast<size_t>(l) >= m.label_prior.size()) return bad("brand categories");
    }
  }
  if (!m.lexical.Decode(&in, kLexicalFeatures) || !m.span.Decode(&in, kSpanFeatures) ||
      !m.lexical_calibration.Decode(&in, bytes.size()) ||
      !m.span_calibration.Decode(&in, bytes.size()) || !in.done()) {
    return bad("models");
  }
  return r;
}

}  // namespace kg::knowledge
