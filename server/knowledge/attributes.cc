#include "server/knowledge/attributes.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "server/knowledge/bytes.h"
#include "server/knowledge/text.h"

namespace kg::knowledge {
namespace {

constexpr int kEncodingVersion = 1;
constexpr size_t kMaxValueTokens = 4;
constexpr size_t kMaxValueBytes = 48;
constexpr uint32_t kMinConfirmed = 2;  // a value confirmed by fewer products is not learned
// Pattern names whose confidence is learned when the graph stores them: at least this many
// training titles must yield them.
constexpr uint32_t kMinPatternEvidence = 20;

struct Unit {
  const char* name;  // the attribute
  const char* base;  // the dimension's unit
  double factor;     // to the base unit
};

// Lower-case spellings -> (attribute, base unit, factor).
const absl::flat_hash_map<std::string, Unit>& Units() {
  static const auto* units = new absl::flat_hash_map<std::string, Unit>{
      {"kb", {"storage", "GB", 1e-6}},    {"mb", {"storage", "GB", 1e-3}},
      {"gb", {"storage", "GB", 1}},       {"tb", {"storage", "GB", 1000}},
      {"ml", {"volume", "ml", 1}},        {"cl", {"volume", "ml", 10}},
      {"l", {"volume", "ml", 1000}},      {"ltr", {"volume", "ml", 1000}},
      {"litre", {"volume", "ml", 1000}},  {"litres", {"volume", "ml", 1000}},
      {"liter", {"volume", "ml", 1000}},  {"liters", {"volume", "ml", 1000}},
      {"mg", {"weight", "g", 0.001}},     {"g", {"weight", "g", 1}},
      {"gm", {"weight", "g", 1}},         {"gms", {"weight", "g", 1}},
      {"gram", {"weight", "g", 1}},       {"grams", {"weight", "g", 1}},
      {"kg", {"weight", "g", 1000}},      {"kgs", {"weight", "g", 1000}},
      {"lb", {"weight", "g", 453.59237}}, {"lbs", {"weight", "g", 453.59237}},
      {"oz", {"weight", "g", 28.349523}}, {"mah", {"battery", "mAh", 1}},
      {"w", {"power", "W", 1}},           {"watt", {"power", "W", 1}},
      {"watts", {"power", "W", 1}},       {"kw", {"power", "W", 1000}},
      {"v", {"voltage", "V", 1}},         {"volt", {"voltage", "V", 1}},
      {"volts", {"voltage", "V", 1}},     {"mm", {"length", "cm", 0.1}},
      {"cm", {"length", "cm", 1}},        {"m", {"length", "cm", 100}},
      {"in", {"length", "cm", 2.54}},     {"inch", {"length", "cm", 2.54}},
      {"inches", {"length", "cm", 2.54}}, {"ft", {"length", "cm", 30.48}},
      {"hz", {"frequency", "Hz", 1}},     {"khz", {"frequency", "Hz", 1e3}},
      {"mhz", {"frequency", "Hz", 1e6}},  {"ghz", {"frequency", "Hz", 1e9}},
  };
  return *units;
}

// Gender and age target words (normalised tokens) -> the target.
const absl::flat_hash_map<std::string, std::string>& Targets() {
  static const auto* targets = new absl::flat_hash_map<std::string, std::string>{
      {"women", "women"},   {"womens", "women"},  {"woman", "women"},    {"ladies", "women"},
      {"lady", "women"},    {"female", "women"},  {"men", "men"},        {"mens", "men"},
      {"male", "men"},      {"gents", "men"},     {"boy", "boys"},       {"boys", "boys"},
      {"girl", "girls"},    {"girls", "girls"},   {"kid", "kids"},       {"kids", "kids"},
      {"children", "kids"}, {"child", "kids"},    {"childrens", "kids"}, {"baby", "baby"},
      {"babies", "baby"},   {"infant", "baby"},   {"infants", "baby"},   {"newborn", "baby"},
      {"toddler", "baby"},  {"unisex", "unisex"},
  };
  return *targets;
}

// A number as text: an integer without decimals, else up to 4 decimals without trailing
// zeros.
std::string FormatNumber(double v) {
  if (std::fabs(v - std::round(v)) < 1e-9 && std::fabs(v) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(std::llround(v)));
  }
  std::string s = absl::StrFormat("%.4f", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// "1,5" is 1.5; "1,000" is 1000.
bool ParseNumber(absl::string_view text, double* out) {
  std::string s(text);
  size_t comma = s.find(',');
  if (comma != std::string::npos) {
    if (s.size() - comma - 1 == 3) {
      s.erase(comma, 1);
    } else {
      s[comma] = '.';
    }
  }
  return absl::SimpleAtod(s, out);
}

size_t Offset(absl::string_view text, re2::StringPiece piece) {
  return static_cast<size_t>(piece.data() - text.data());
}

// Calls fn(groups) for every non-overlapping match of `re` in `text`.
template <typename Fn>
void ForEachMatch(const RE2& re, absl::string_view text, Fn fn) {
  const int n = re.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> groups(static_cast<size_t>(n));
  re2::StringPiece input(text.data(), text.size());
  size_t pos = 0;
  while (pos <= text.size() &&
         re.Match(input, pos, text.size(), RE2::UNANCHORED, groups.data(), n)) {
    fn(groups);
    // Resume after the last captured group: a boundary character matched after it may
    // start the next match ("64GB/128GB").
    size_t next = 0;
    for (int k = 1; k < n; ++k) {
      if (groups[k].data() != nullptr)
        next = std::max(next, Offset(text, groups[k]) + groups[k].size());
    }
    if (next == 0) next = Offset(text, groups[0]) + groups[0].size();
    pos = next > pos ? next : pos + 1;
  }
}

struct Candidate {
  ExtractedAttribute a;
  bool lexicon = false;
};

// The title patterns of AttributeExtractor::Model.
struct TitlePatterns {
  RE2 measure{
      R"((?i)(?:^|[^\p{L}\p{N}.,])(\d+(?:[.,]\d+)?)([\s\x{00A0}\x{202F}]?)(tb|gb|mb|kb|ml|cl|ltr|litres?|liters?|l|mg|kgs?|gms?|grams?|g|lbs?|oz|mah|kw|watts?|w|volts?|v|mm|cm|inch(?:es)?|in|ft|m|ghz|mhz|khz|hz)(?:$|[^\p{L}\p{N}]))"};
  RE2 pack_of{R"((?i)\b(?:pack|set|box|combo)\s+of\s+(\d+)\b)"};
  RE2 n_pack{R"((?i)\b(\d+)\s?-?\s?(?:pack|pk|pcs|pieces|piece|pc|count|ct)\b)"};
  RE2 n_times{R"((?i)\b(\d+)\s?(?:x|×)\s?\d)"};
  RE2 size_word{R"((?i)\bsize\s*[:\-]?\s*(\d+(?:\.\d+)?|xxs|xs|s|m|l|xl|xxl|xxxl|[2-6]xl)\b)"};
  RE2 size_letters{R"((?i)\b(xxs|xs|xl|xxl|xxxl|[2-6]xl)\b)"};
  RE2 size_system{R"((?i)\b(uk|us|eu|euro)\s?-?\s?(\d+(?:\.\d+)?)\b)"};
  RE2 age{
      R"((?i)\b(?:age[sd]?\s*)?(\d+)\s*(?:-|to)\s*(\d+)\s*(years?|yrs?|y|months?|mths?)\b|\bage[sd]?\s*(\d+)\s*(?:-|to)\s*(\d+)\b)"};
  RE2 model_token{R"(^[A-Za-z0-9]+(?:[-./][A-Za-z0-9]+)*$)"};
  RE2 number_word{R"(^\d+-[A-Za-z][a-z]{2,}$)"};                    // "375-Watt", "7-Port"
  RE2 slash_word{R"((?:^|[^A-Za-z0-9])[a-z]/|/[a-z]\b|^[a-z]+/)"};  // "w/PS2", "f/4-5.6"
};

const TitlePatterns& SharedTitlePatterns() {
  static const TitlePatterns* patterns = new TitlePatterns();
  return *patterns;
}

}  // namespace

struct AttributeExtractor::Model {
  struct Entry {
    std::string name;
    std::string value;  // as stored (the most frequent spelling)
    double confidence = 0;
  };
  absl::flat_hash_map<std::string, std::vector<Entry>> lexicon;  // normalised value -> names
  std::map<std::string, double> pattern_confidence;              // learned where possible

  // The same for every catalog: compiled once per process and shared (RE2 is
  // thread-safe), so decoding a bundle does not compile them again.
  const TitlePatterns& re = SharedTitlePatterns();

  double Confidence(const std::string& name, double fallback) const {
    auto it = pattern_confidence.find(name);
    return it == pattern_confidence.end() ? fallback : it->second;
  }

  void Patterns(absl::string_view title, std::vector<Candidate>* out) const {
    auto add = [&](const std::string& name, size_t start, size_t end, std::string normalized,
                   std::string unit, double fallback) {
      Candidate c;
      c.a.name = name;
      c.a.value = std::string(title.substr(start, end - start));
      c.a.normalized_value = std::move(normalized);
      c.a.unit = std::move(unit);
      c.a.start = start;
      c.a.end = end;
      c.a.confidence = Confidence(name, fallback);
      out->push_back(std::move(c));
    };
    ForEachMatch(re.measure, title, [&](const std::vector<re2::StringPiece>& g) {
      std::string unit = absl::AsciiStrToLower(std::string(g[3].data(), g[3].size()));
      const bool spaced = !g[2].empty();
      if (unit == "in" && spaced) return;  // "5 in 1": a word, not inches
      // "4G", "5G": a network generation, not grams.
      if (unit == "g" && !spaced && g[3].data()[0] == 'G' && g[1].size() == 1) return;
      double v = 0;
      if (!ParseNumber(absl::string_view(g[1].data(), g[1].size()), &v)) return;
      const Unit& u = Units().at(unit);
      add(u.name, Offset(title, g[1]), Offset(title, g[3]) + g[3].size(),
          FormatNumber(v * u.factor), u.base, 0.95);
    });
    for (const RE2* pattern : {&re.pack_of, &re.n_pack, &re.n_times}) {
      ForEachMatch(*pattern, title, [&](const std::vector<re2::StringPiece>& g) {
        int64_t n = 0;
        if (!absl::SimpleAtoi(absl::string_view(g[1].data(), g[1].size()), &n) || n < 1 ||
            n > 10000) {
          return;
        }
        const re2::StringPiece& span = pattern == &re.n_times ? g[1] : g[0];
        add("pack_count", Offset(title, span), Offset(title, span) + span.size(), absl::StrCat(n),
            "", 0.9);
      });
    }
    ForEachMatch(re.size_word, title, [&](const std::vector<re2::StringPiece>& g) {
      add("size", Offset(title, g[0]), Offset(title, g[0]) + g[0].size(),
          absl::AsciiStrToUpper(std::string(g[1].data(), g[1].size())), "", 0.9);
    });
    ForEachMatch(re.size_letters, title, [&](const std::vector<re2::StringPiece>& g) {
      add("size", Offset(title, g[1]), Offset(title, g[1]) + g[1].size(),
          absl::AsciiStrToUpper(std::string(g[1].data(), g[1].size())), "", 0.85);
    });
    ForEachMatch(re.size_system, title, [&](const std::vector<re2::StringPiece>& g) {
      std::string system = absl::AsciiStrToUpper(std::string(g[1].data(), g[1].size()));
      if (system == "EURO") system = "EU";
      add("size", Offset(title, g[0]), Offset(title, g[0]) + g[0].size(),
          absl::StrCat(system, " ", std::string(g[2].data(), g[2].size())), "", 0.85);
    });
    ForEachMatch(re.age, title, [&](const std::vector<re2::StringPiece>& g) {
      const bool with_unit = !g[1].empty();
      re2::StringPiece lo = with_unit ? g[1] : g[4], hi = with_unit ? g[2] : g[5];
      if (lo.empty() || hi.empty()) return;
      std::string unit =
          with_unit ? absl::AsciiStrToLower(std::string(g[3].data(), g[3].size())) : "years";
      unit = unit[0] == 'm' ? "months" : "years";
      add("age", Offset(title, g[0]), Offset(title, g[0]) + g[0].size(),
          absl::StrCat(std::string(lo.data(), lo.size()), "-", std::string(hi.data(), hi.size()),
                       " ", unit),
          "", 0.85);
    });
    for (const TokenSpan& t : TokenSpans(title)) {
      auto it = Targets().find(t.text);
      if (it != Targets().end()) add("target", t.start, t.end, it->second, "", 0.9);
    }
    // Model numbers: whitespace-separated chunks of letters and digits (with inner - . /).
    // A chunk that ends the title after " - " (the usual "Name - MODEL" of catalogs) is
    // the likeliest and may be all digits ("Drive - 706018", "010-10702-00"); words with a
    // number ("375-Watt", "7-Port") and abbreviations with a slash ("w/PS2", "f/4-5.6")
    // are not model numbers.
    const size_t before = out->size();
    size_t i = 0;
    while (i < title.size()) {
      while (i < title.size() && absl::ascii_isspace(static_cast<unsigned char>(title[i]))) ++i;
      size_t j = i;
      while (j < title.size() && !absl::ascii_isspace(static_cast<unsigned char>(title[j]))) ++j;
      size_t s = i, e = j;
      auto punct = [](char c) {
        return c == '(' || c == ')' || c == '[' || c == ']' || c == ',' || c == ';' || c == ':' ||
               c == '"';
      };
      while (s < e && punct(title[s])) ++s;
      while (e > s && (punct(title[e - 1]) || title[e - 1] == '.')) --e;
      absl::string_view chunk = title.substr(s, e - s);
      size_t letters = 0, digits = 0;
      std::string normalized;
      for (char c : chunk) {
        if (absl::ascii_isalpha(static_cast<unsigned char>(c))) ++letters;
        if (absl::ascii_isdigit(static_cast<unsigned char>(c))) ++digits;
        if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
          normalized.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
        }
      }
      // Not a model number when it holds a measure, size or pack count ("64GB/128GB").
      const bool holds_other =
          std::any_of(out->begin(), out->begin() + before,
                      [&](const Candidate& c) { return c.a.start < e && s < c.a.end; });
      const bool last = title.find_first_not_of(" \t)]\".,;", j) == absl::string_view::npos;
      const bool after_dash = s >= 3 && title.substr(s - 3, 3) == " - ";
      const bool shaped =
          RE2::FullMatch(re2::StringPiece(chunk.data(), chunk.size()), re.model_token) &&
          !RE2::FullMatch(re2::StringPiece(chunk.data(), chunk.size()), re.number_word) &&
          !RE2::PartialMatch(re2::StringPiece(chunk.data(), chunk.size()), re.slash_word);
      const bool mixed = letters > 0 && digits > 0 && normalized.size() >= 4;
      const bool catalog_code = last && after_dash && digits >= 5 && letters == 0;
      if ((mixed || catalog_code) && normalized.size() <= 32 && !holds_other && shaped) {
        const double confidence = last && after_dash ? 0.9 : last || after_dash ? 0.8 : 0.7;
        add("model_number", s, e, normalized, "", Confidence("model_number", confidence));
      }
      i = j;
    }
  }

  void Lexicon(absl::string_view title, std::vector<Candidate>* out) const {
    std::vector<TokenSpan> tokens = TokenSpans(title);
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string key;
      for (size_t j = i; j < tokens.size() && j < i + kMaxValueTokens; ++j) {
        if (j > i) key.push_back(' ');
        key += tokens[j].text;
        auto it = lexicon.find(key);
        if (it == lexicon.end()) continue;
        for (const Entry& e : it->second) {
          if (e.confidence < kMinConfidence) continue;
          Candidate c;
          c.lexicon = true;
          c.a.name = e.name;
          c.a.start = tokens[i].start;
          c.a.end = tokens[j].end;
          c.a.value = std::string(title.substr(c.a.start, c.a.end - c.a.start));
          c.a.normalized_value = key;
          c.a.confidence = e.confidence;
          out->push_back(std::move(c));
        }
      }
    }
  }
};

AttributeExtractor::AttributeExtractor() : m_(std::make_unique<Model>()) {}
AttributeExtractor::~AttributeExtractor() = default;

std::vector<ExtractedAttribute> AttributeExtractor::Extract(absl::string_view title) const {
  std::vector<Candidate> c;
  m_->Lexicon(title, &c);
  m_->Patterns(title, &c);
  // Longer first, the lexicon before patterns, then more confident: a candidate that
  // overlaps a kept one is dropped, except that a measure covering a lexicon value lends
  // it its normalised value and unit.
  std::stable_sort(c.begin(), c.end(), [](const Candidate& x, const Candidate& y) {
    size_t lx = x.a.end - x.a.start, ly = y.a.end - y.a.start;
    if (lx != ly) return lx > ly;
    if (x.lexicon != y.lexicon) return x.lexicon;
    if (x.a.confidence != y.a.confidence) return x.a.confidence > y.a.confidence;
    return x.a.start < y.a.start;
  });
  std::vector<ExtractedAttribute> kept;
  for (Candidate& cand : c) {
    bool clash = false;
    for (ExtractedAttribute& k : kept) {
      if (cand.a.start < k.end && k.start < cand.a.end) {
        if (!cand.a.unit.empty() && k.unit.empty() && cand.a.start == k.start &&
            cand.a.end == k.end) {
          k.normalized_value = cand.a.normalized_value;
          k.unit = cand.a.unit;
        }
        clash = true;
        break;
      }
    }
    if (!clash) kept.push_back(std::move(cand.a));
  }
  std::sort(kept.begin(), kept.end(), [](const auto& x, const auto& y) {
    return x.start < y.start || (x.start == y.start && x.name < y.name);
  });
  return kept;
}

std::unique_ptr<AttributeExtractor> AttributeExtractor::Train(
    const std::vector<AttributeExample>& examples, uint64_t* lexicon_entries) {
  std::unique_ptr<AttributeExtractor> x(new AttributeExtractor());
  Model& m = *x->m_;
  // 1. Attribute names that name values, not identifiers.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, uint32_t>> values;
  absl::flat_hash_map<std::string, uint32_t> uses;
  for (const AttributeExample& e : examples) {
    for (const auto& [name, value] : e.attributes) {
      if (name == "description" || value.size() > kMaxValueBytes) continue;
      std::vector<std::string> tokens = Tokenize(value);
      if (tokens.empty() || tokens.size() > kMaxValueTokens) continue;
      if (std::all_of(tokens.begin(), tokens.end(), [](const std::string& t) {
            return std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
          })) {
        continue;  // bare numbers match everywhere
      }
      ++uses[name];
      ++values[name][absl::StrJoin(tokens, " ")];
    }
  }
  absl::flat_hash_set<std::string> names;
  for (const auto& [name, v] : values) {
    const double distinct = static_cast<double>(v.size()), n = uses[name];
    if (distinct > 50 && distinct / n > 0.5) continue;  // identifier-like
    names.insert(name);
  }
  // 2. Candidate entries (value confirmed by enough products), then their precision in
  // titles: of the titles containing the value, the share whose product has it.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, uint32_t>> confirmed;
  absl::flat_hash_map<std::string, uint32_t> hits;
  for (const auto& name : names) {
    for (const auto& [value, count] : values[name]) {
      if (count >= kMinConfirmed) confirmed[value][name] = 0;
    }
  }
  std::map<std::string, std::pair<uint32_t, uint32_t>> pattern_agree;  // name -> (agree, n)
  for (const AttributeExample& e : examples) {
    absl::flat_hash_map<std::string, std::string> own;
    for (const auto& [name, value] : e.attributes) {
      own[name] = absl::StrJoin(Tokenize(value), " ");
    }
    std::vector<TokenSpan> tokens = TokenSpans(e.title);
    absl::flat_hash_set<std::string> seen;
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string key;
      for (size_t j = i; j < tokens.size() && j < i + kMaxValueTokens; ++j) {
        if (j > i) key.push_back(' ');
        key += tokens[j].text;
        auto it = confirmed.find(key);
        if (it == confirmed.end() || !seen.insert(key).second) continue;
        ++hits[key];
        for (auto& [name, n] : it->second) {
          auto o = own.find(name);
          if (o != own.end() && o->second == key) ++n;
        }
      }
    }
    // Patterns whose name the product stores: how often they agree with it.
    std::vector<Candidate> found;
    m.Patterns(e.title, &found);
    for (const Candidate& c : found) {
      auto o = own.find(c.a.name);
      if (o == own.end()) continue;
      auto& [agree, n] = pattern_agree[c.a.name];
      ++n;
      std::vector<Candidate> stored;
      m.Patterns(o->second, &stored);
      bool same = o->second == absl::StrJoin(Tokenize(c.a.normalized_value), " ");
      for (const Candidate& s : stored) {
        same |= s.a.name == c.a.name && s.a.normalized_value == c.a.normalized_value;
      }
      agree += same ? 1 : 0;
    }
  }
  for (const auto& [name, an] : pattern_agree) {
    if (an.second >= kMinPatternEvidence) {
      m.pattern_confidence[name] = (an.first + 1.0) / (an.second + 2.0);
    }
  }
  uint64_t entries = 0;
  for (const auto& [key, by_name] : confirmed) {
    const double h = hits.contains(key) ? hits[key] : 0;
    for (const auto& [name, n] : by_name) {
      if (n < kMinConfirmed) continue;
      m.lexicon[key].push_back({name, key, (n + 0.5) / (h + 1.0)});
      ++entries;
    }
    auto it = m.lexicon.find(key);
    if (it != m.lexicon.end()) {
      std::sort(it->second.begin(), it->second.end(), [](const auto& a, const auto& b) {
        return a.confidence > b.confidence || (a.confidence == b.confidence && a.name < b.name);
      });
    }
  }
  if (lexicon_entries != nullptr) *lexicon_entries = entries;
  return x;
}

std::string AttributeExtractor::Encode() const {
  ByteWriter w;
  w.Varint(kEncodingVersion);
  std::vector<const std::string*> keys;
  for (const auto& [key, entries] : m_->lexicon) keys.push_back(&key);
  std::sort(keys.begin(), keys.end(), [](auto* a, auto* b) { return *a < *b; });
  w.Varint(keys.size());
  for (const std::string* key : keys) {
    const auto& entries = m_->lexicon.at(*key);
    w.Bytes(*key);
    w.Varint(entries.size());
    for (const Model::Entry& e : entries) {
      w.Bytes(e.name);
      w.Bytes(e.value);
      w.Double(e.confidence);
    }
  }
  w.Varint(m_->pattern_confidence.size());
  for (const auto& [name, c] : m_->pattern_confidence) {
    w.Bytes(name);
    w.Double(c);
  }
  return std::move(w.str());
}

absl::StatusOr<std::unique_ptr<AttributeExtractor>> AttributeExtractor::Decode(
    absl::string_view bytes) {
  auto bad = [] { return absl::DataLossError("attribute extractor: damaged encoding"); };
  std::unique_ptr<AttributeExtractor> x(new AttributeExtractor());
  ByteReader r(bytes);
  uint64_t version = 0, n = 0;
  if (!r.Varint(&version) || version != kEncodingVersion) return bad();
  if (!r.Varint(&n) || n > bytes.size()) return bad();
  for (uint64_t i = 0; i < n; ++i) {
    std::string key;
    uint64_t count = 0;
    if (!r.String(&key) || !r.Varint(&count) || count > bytes.size()) return bad();
    auto& entries = x->m_->lexicon[key];
    for (uint64_t k = 0; k < count; ++k) {
      Model::Entry e;
      if (!r.String(&e.name) || !r.String(&e.value) || !r.Probability(&e.confidence)) {
        return bad();
      }
      entries.push_back(std::move(e));
    }
  }
  if (!r.Varint(&n) || n > bytes.size()) return bad();
  for (uint64_t i = 0; i < n; ++i) {
    std::string name;
    double c = 0;
    if (!r.String(&name) || !r.Probability(&c)) return bad();
    x->m_->pattern_confidence[name] = c;
  }
  if (!r.done()) return bad();
  return x;
}

}  // namespace kg::knowledge
