// The knowledge library: text normalisation, the taxonomy, the categorizer learning and
// generalising on a small generated catalog, its calibration and determinism, and the
// model bundle's encoding (including a damaged one).
#include <fasttext/fasttext.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "server/knowledge/bundle.h"
#include "server/knowledge/bytes.h"
#include "server/knowledge/categorizer.h"
#include "server/knowledge/learn.h"
#include "server/knowledge/neighbors.h"
#include "server/knowledge/taxonomy.h"
#include "server/knowledge/text.h"

namespace kg::knowledge {
namespace {

TEST(TextTest, NormalizesUnicodeCasePunctuationAndBadBytes) {
  EXPECT_EQ(NormalizeText("Nike\xC2\xAE Air-Max 90 (Men's)"), "nike air max 90 men s");
  EXPECT_EQ(NormalizeText("\xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3 Stra\xC3\x9F"
                          "e"),
            "abc strasse");
  // e + combining accent composes; the trade mark sign separates (NFKC would make it "tm").
  EXPECT_EQ(NormalizeText("caf\x65\xCC\x81 \xE2\x84\xA2"), "caf\xC3\xA9");
  EXPECT_EQ(NormalizeText("Nike\xE2\x84\xA2"
                          "Air"),
            "nike air");
  EXPECT_EQ(NormalizeText("a\xff\xfe"
                          "b"),
            "a b");
  EXPECT_EQ(NormalizeText("  ...  "), "");
  EXPECT_EQ(Tokenize("Hot-Wheels  car"), (std::vector<std::string>{"hot", "wheels", "car"}));
}

// ASCII text takes a path of its own, without utf8proc; a non-ASCII letter appended sends
// the same text through the general path, which must agree on every ASCII byte (control
// characters and NUL included).
TEST(TextTest, AsciiPathAgreesWithTheUnicodePath) {
  const std::string accent = "\xC3\xA9";  // é, unchanged by NFKC and case folding
  auto general = [&](const std::string& ascii) {
    std::string out = NormalizeText(ascii + " " + accent);
    EXPECT_GE(out.size(), accent.size());
    out.resize(out.size() - accent.size());
    if (!out.empty()) out.pop_back();  // the space before the accent
    return out;
  };
  for (int c = 0; c < 0x80; ++c) {
    const std::string text = "Ab" + std::string(1, static_cast<char>(c)) + "9z";
    EXPECT_EQ(NormalizeText(text), general(text)) << "byte " << c;
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string text(rng() % 24, ' ');
    for (char& ch : text) ch = static_cast<char>(rng() % 0x80);
    ASSERT_EQ(NormalizeText(text), general(text)) << "case " << i;
  }
  EXPECT_EQ(NormalizeText("  Men's T-Shirt, XL\t(Pack of 2)  "), "men s t shirt xl pack of 2");
}

TEST(TextTest, SplitsScriptsWrittenWithoutSpacesIntoLetters) {
  // Chinese: one token per character, Latin words around it stay whole.
  EXPECT_EQ(NormalizeText("\xE8\x80\x90\xE5\x85\x8B\xE8\xB7\x91\xE6\xAD\xA5\xE9\x9E\x8B"
                          "Air Max 90"),
            "\xE8\x80\x90 \xE5\x85\x8B \xE8\xB7\x91 \xE6\xAD\xA5 \xE9\x9E\x8B air max 90");
  // Half-width katakana becomes full-width (NFKC), each letter a token.
  EXPECT_EQ(NormalizeText("\xEF\xBD\xB6\xEF\xBE\x92\xEF\xBE\x97"),
            "\xE3\x82\xAB \xE3\x83\xA1 \xE3\x83\xA9");
  // Thai: a vowel mark stays with the letter before it.
  EXPECT_EQ(NormalizeText("\xE0\xB8\xA3\xE0\xB8\xB5\xE0\xB8\x94"),
            "\xE0\xB8\xA3\xE0\xB8\xB5 \xE0\xB8\x94");
  // Spaced scripts are untouched.
  EXPECT_EQ(NormalizeText("\xD0\x9A\xD1\x80\xD0\xB0\xD1\x81\xD0\xBD\xD1\x8B\xD0\xB9 "
                          "\xEC\x8B\xA0\xEB\xB0\x9C"),
            "\xD0\xBA\xD1\x80\xD0\xB0\xD1\x81\xD0\xBD\xD1\x8B\xD0\xB9 \xEC\x8B\xA0\xEB\xB0\x9C");
}

TEST(NeighborIndexTest, FindsTheNearestLabelsAndRoundTrips) {
  NeighborIndex index;
  index.Build({{{"red", "running", "shoe", "nimbus"}, 0},
               {{"blue", "running", "shoe", "nimbus"}, 0},
               {{"steel", "water", "bottle"}, 1},
               {{"glass", "water", "bottle", "1l"}, 1}},
              2);
  std::vector<double> near = index.Query({"green", "nimbus", "shoe"}, 3);
  ASSERT_EQ(near.size(), 2u);
  EXPECT_GT(near[0], 0.99);
  EXPECT_TRUE(index.Query({"unknown", "words"}, 3).empty());
  // The nearest documents: best first, cosine 1 for the same words.
  auto nearest = index.Nearest({"glass", "water", "bottle", "1l"}, 3);
  ASSERT_EQ(nearest.size(), 2u);
  EXPECT_EQ(nearest[0].first, 3u);
  EXPECT_NEAR(nearest[0].second, 1.0, 1e-6);
  EXPECT_EQ(nearest[1].first, 2u);
  EXPECT_GT(nearest[1].second, 0.0);
  EXPECT_LT(nearest[1].second, nearest[0].second);
  EXPECT_EQ(index.label(nearest[0].first), 1);
  EXPECT_EQ(index.size(), 4u);
  auto back = NeighborIndex::Decode(index.Encode());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Query({"water", "bottle"}, 2), index.Query({"water", "bottle"}, 2));
  std::string bytes = index.Encode();
  EXPECT_FALSE(NeighborIndex::Decode(bytes.substr(0, bytes.size() - 2)).ok());
}

// Tokens too common to read (in more than 5% of the documents) still count for the documents
// found: by a scan of their postings when those are short, by a search per document found
// when long. Either way every document found gets its exact TF-IDF cosine.
TEST(NeighborIndexTest, CommonTokensCountExactlyForTheDocumentsFound) {
  std::vector<std::pair<std::vector<std::string>, int>> docs;
  for (int d = 0; d < 2000; ++d) {
    std::vector<std::string> tokens = {"common"};  // every document: searched
    if (d % 13 == 0) tokens.push_back("mid");      // 154 documents: scanned
    if (d % 200 == 7) tokens.push_back("rare");    // 10 documents: read
    if (d % 3 == 0) tokens.push_back(absl::StrCat("w", d % 7));
    docs.emplace_back(tokens, d % 2);
  }
  NeighborIndex index;
  index.Build(docs, 2);
  const std::vector<std::string> query = {"rare", "mid", "common", "w0", "nowhere"};
  // The reference: idf = ln((n + 1) / (df + 1)) + 1, cosine over every known token.
  std::map<std::string, int> df;
  for (const auto& [tokens, label] : docs) {
    for (const std::string& t : tokens) ++df[t];
  }
  auto idf = [&](const std::string& t) { return std::log(2001.0 / (df[t] + 1)) + 1; };
  double query_norm = 0;
  for (const std::string& t : query) {
    if (df.count(t)) query_norm += idf(t) * idf(t);
  }
  std::vector<std::pair<uint32_t, double>> expected;
  for (uint32_t d = 0; d < docs.size(); ++d) {
    const auto& tokens = docs[d].first;
    if (std::find(tokens.begin(), tokens.end(), "rare") == tokens.end() &&
        std::find(tokens.begin(), tokens.end(), "w0") == tokens.end()) {
      continue;  // not found: shares no token the query reads
    }
    double dot = 0, norm = 0;
    for (const std::string& t : tokens) {
      norm += idf(t) * idf(t);
      if (std::find(query.begin(), query.end(), t) != query.end()) dot += idf(t) * idf(t);
    }
    expected.emplace_back(d, dot / std::sqrt(norm) / std::sqrt(query_norm));
  }
  std::sort(expected.begin(), expected.end(), [](const auto& a, const auto& b) {
    return a.second > b.second + 1e-9 ||
           (std::abs(a.second - b.second) <= 1e-9 && a.first < b.first);
  });
  const auto nearest = index.Nearest(query, 20);
  ASSERT_EQ(nearest.size(), 20u);
  for (size_t i = 0; i < nearest.size(); ++i) {
    EXPECT_EQ(nearest[i].first, expected[i].first) << i;
    EXPECT_NEAR(nearest[i].second, expected[i].second, 1e-5) << i;
  }
  // The documents found differ only by the common tokens: "mid" and "w0" must have counted.
  EXPECT_GT(nearest.front().second, nearest.back().second + 0.05);
}

// Calibration read from a bundle maps every score to a probability: a decoder that took
// any doubles served scores above 1 (found by fuzz_bundle: corpus/fuzz_bundle/
// crash-calibration-out-of-range).
// A query whose rarest token is in more documents than the postings budget (1,024) but
// under 5% of them reads all of that token's postings: every one of its documents is found.
TEST(NeighborIndexTest, ReadsAllOfARarestTokenLongerThanTheBudget) {
  std::vector<std::pair<std::vector<std::string>, int>> docs;
  size_t with_big = 0;
  for (int d = 0; d < 30000; ++d) {
    std::vector<std::string> tokens = {absl::StrCat("u", d % 5)};
    if (d % 21 == 0) {
      tokens.push_back("big");  // 1,429 documents: over 1,024, under 5% of 30,000
      ++with_big;
    }
    docs.emplace_back(tokens, (d / 21) % 3);
  }
  ASSERT_GT(with_big, 1024u);
  NeighborIndex index;
  index.Build(docs, 3);
  const auto nearest = index.Nearest({"big"}, with_big + 10);
  ASSERT_EQ(nearest.size(), with_big);
  std::set<uint32_t> seen;
  for (const auto& [d, cosine] : nearest) {
    EXPECT_EQ(d % 21, 0u) << d;
    EXPECT_GT(cosine, 0.0);
    seen.insert(d);
  }
  EXPECT_EQ(seen.size(), with_big);
  // The label mix of them all: a third each.
  std::vector<double> mix = index.Query({"big"}, with_big);
  ASSERT_EQ(mix.size(), 3u);
  for (double share : mix) EXPECT_NEAR(share, 1.0 / 3, 0.01);
}

TEST(LearnTest, CalibrationAndWeightsDecodeOnlyAsFitLeavesThem) {
  Isotonic fitted;
  fitted.Fit({{0.1, 0}, {0.2, 0}, {0.3, 1}, {0.4, 0}, {0.8, 1}, {0.9, 1}});
  ByteWriter w;
  fitted.Encode(&w);
  Isotonic back;
  ByteReader r(w.str());
  ASSERT_TRUE(back.Decode(&r, 100));
  for (double raw : {-1.0, 0.15, 0.35, 0.85, 2.0}) EXPECT_EQ(back(raw), fitted(raw));
  auto decodes = [](std::vector<std::pair<double, double>> steps) {
    ByteWriter w;
    w.Varint(steps.size());
    for (const auto& [x, y] : steps) {
      w.Double(x);
      w.Double(y);
    }
    Isotonic iso;
    ByteReader r(w.str());
    return iso.Decode(&r, 100);
  };
  const double nan = std::nan(""), inf = INFINITY;
  EXPECT_TRUE(decodes({{0.1, 0.2}, {0.1, 0.5}, {0.7, 1}}));
  EXPECT_FALSE(decodes({{0.1, 0.2}, {0.5, 1.5}}));  // not a probability
  EXPECT_FALSE(decodes({{0.1, -0.1}}));
  EXPECT_FALSE(decodes({{0.1, nan}}));
  EXPECT_FALSE(decodes({{nan, 0.5}}));
  EXPECT_FALSE(decodes({{0.1, inf}}));
  EXPECT_FALSE(decodes({{0.1, 0.6}, {0.5, 0.4}}));  // decreasing
  EXPECT_FALSE(decodes({{0.5, 0.4}, {0.1, 0.6}}));  // steps out of order

  auto weights = [](std::vector<double> ws) {
    ByteWriter w;
    w.Varint(ws.size());
    for (double v : ws) w.Double(v);
    Logistic l;
    ByteReader r(w.str());
    return l.Decode(&r, ws.size());
  };
  EXPECT_TRUE(weights({0.5, -3, 1e6}));
  EXPECT_FALSE(weights({0.5, nan}));
  EXPECT_FALSE(weights({inf, 1}));
  EXPECT_FALSE(weights({1e300, -1e300}));

  // The reader the other models' decoders take their confidences and weights with.
  ByteWriter values;
  for (double v : {0.5, 1.5, nan, -0.0, 1.0}) values.Double(v);
  ByteReader in(values.str());
  double v = 0;
  EXPECT_TRUE(in.Probability(&v));
  EXPECT_FALSE(in.Probability(&v));
  EXPECT_FALSE(in.DoubleIn(&v, -1e9, 1e9));
  EXPECT_TRUE(in.Probability(&v));
  EXPECT_TRUE(in.DoubleIn(&v, 0, 1));
  EXPECT_TRUE(in.done());
}

TEST(TaxonomyTest, BuildsPathsCutsCyclesAndRoundTrips) {
  Taxonomy t = Taxonomy::Build({{1, "Clothing", 0},
                                {2, "Women", 1},
                                {3, "Dresses", 2},
                                {4, "Sports", 0},
                                {5, "Orphan", 99},  // unknown parent: a root
                                {6, "A", 7},
                                {7, "B", 6}});  // a cycle: cut at 6
  EXPECT_EQ(t.size(), 7u);
  EXPECT_EQ(t.roots(), (std::vector<uint64_t>{1, 4, 5, 6}));
  EXPECT_EQ(t.PathTo(3), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(t.depth(3), 3);
  EXPECT_EQ(t.children(1), (std::vector<uint64_t>{2}));
  EXPECT_TRUE(t.IsWithin(3, 1));
  EXPECT_FALSE(t.IsWithin(3, 4));
  EXPECT_EQ(t.cut_cycles(), 1u);
  EXPECT_EQ(t.parent(7), 6u);
  auto back = Taxonomy::Decode(t.Encode());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->PathTo(3), t.PathTo(3));
  EXPECT_EQ(back->name(2), "Women");
  EXPECT_FALSE(Taxonomy::Decode(t.Encode().substr(0, 5)).ok());
}

// A generated catalog: 3 roots x 3 children x 3 leaves; each leaf has its own words, each
// brand sells in one root; titles mix two leaf words, a root word and noise.
struct Catalog {
  std::shared_ptr<const Taxonomy> taxonomy;
  std::vector<uint64_t> leaves;
  std::vector<LabelledProduct> Products(int n, uint64_t seed) const {
    std::mt19937_64 rng(seed);
    std::vector<LabelledProduct> out;
    for (int i = 0; i < n; ++i) {
      size_t leaf_index = rng() % leaves.size();
      uint64_t leaf = leaves[leaf_index];
      uint64_t root = taxonomy->PathTo(leaf)[0];
      LabelledProduct p;
      p.category = leaf;
      p.input.title =
          absl::StrCat("leafword", leaf, "x", rng() % 6, " leafword", leaf, "y", rng() % 6,
                       " rootword", root, " noise", rng() % 50, " ", rng() % 1000);
      if (rng() % 2) p.input.brand = absl::StrCat("Brand ", root, "-", rng() % 3);
      p.input.attributes = {{"colour", rng() % 2 ? "red" : "blue"}};
      out.push_back(std::move(p));
    }
    return out;
  }
};

Catalog MakeCatalog() {
  std::vector<CategoryRecord> records;
  Catalog c;
  uint64_t next = 1;
  for (int r = 0; r < 3; ++r) {
    uint64_t root = next++;
    records.push_back({root, absl::StrCat("Root ", r), 0});
    for (int m = 0; m < 3; ++m) {
      uint64_t mid = next++;
      records.push_back({mid, absl::StrCat("Mid ", r, m), root});
      for (int l = 0; l < 3; ++l) {
        uint64_t leaf = next++;
        records.push_back({leaf, absl::StrCat("Leaf ", r, m, l), mid});
        c.leaves.push_back(leaf);
      }
    }
  }
  c.taxonomy = std::make_shared<const Taxonomy>(Taxonomy::Build(records));
  return c;
}

CategorizerParams FastParams() {
  CategorizerParams p;
  p.epoch = 15;
  p.dim = 16;
  p.buckets = 20000;
  p.validation_share = 0.2;
  return p;
}

TEST(CategorizerTest, LearnsAndGeneralisesWithCalibratedConfidences) {
  Catalog catalog = MakeCatalog();
  ValidationFigures figures;
  std::vector<double> progress;
  auto c = Categorizer::Train(
      catalog.taxonomy, catalog.Products(2000, 1), FastParams(),
      [&progress](double f, absl::string_view) { progress.push_back(f); }, &figures);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(figures.labels, 27u);
  EXPECT_GT(figures.validation_examples, 200u);
  EXPECT_GT(figures.accuracy_at_depth[0], 0.9);
  ASSERT_FALSE(progress.empty());
  EXPECT_DOUBLE_EQ(progress.back(), 1.0);
  // Products never seen: the right leaf, a consistent path, confidences that mean what
  // they say.
  std::vector<LabelledProduct> test = catalog.Products(600, 77);
  int right = 0, confident = 0, confident_right = 0;
  double confidence_sum = 0;
  for (const LabelledProduct& p : test) {
    std::vector<CategoryScore> top = (*c)->Predict(p.input, 3);
    ASSERT_EQ(top.size(), 3u);
    EXPECT_GE(top[0].confidence, 0.0);
    EXPECT_LE(top[0].confidence, 1.0);
    EXPECT_NE(top[0].category, top[1].category);
    right += top[0].category == p.category;
    confidence_sum += top[0].confidence;
    if (top[0].confidence >= 0.9) {
      ++confident;
      confident_right += top[0].category == p.category;
    }
  }
  double accuracy = right / static_cast<double>(test.size());
  EXPECT_GT(accuracy, 0.85);
  // Calibrated: the mean confidence is close to the accuracy.
  EXPECT_NEAR(confidence_sum / static_cast<double>(test.size()), accuracy, 0.1);
  if (confident > 20) {
    EXPECT_GE(confident_right / static_cast<double>(confident), 0.85);
  }
  // Text it has never seen at all still gets a valid answer.
  std::vector<CategoryScore> unknown = (*c)->Predict(ProductInput{"zzz qqq", "", "", {}}, 2);
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_TRUE(catalog.taxonomy->Contains(unknown[0].category));
}

TEST(CategorizerTest, FineModelRefinesBelowTheCoarseLevels) {
  Catalog catalog = MakeCatalog();
  CategorizerParams params = FastParams();
  params.coarse_depth = 2;  // the coarse model stops at the middle level
  ValidationFigures figures;
  auto c =
      Categorizer::Train(catalog.taxonomy, catalog.Products(2000, 11), params, nullptr, &figures);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(figures.labels, 9u + 27u);  // 9 middle categories, 27 leaves
  int leaves_right = 0;
  std::vector<LabelledProduct> test = catalog.Products(300, 12);
  for (const LabelledProduct& p : test) {
    std::vector<CategoryScore> top = (*c)->Predict(p.input, 1);
    ASSERT_EQ(top.size(), 1u);
    leaves_right += top[0].category == p.category;
  }
  EXPECT_GT(leaves_right, 240) << "the fine model did not refine to the leaves";
  // Both models survive encoding.
  auto back = Categorizer::Decode((*c)->Encode(), catalog.taxonomy);
  ASSERT_TRUE(back.ok()) << back.status();
  for (const LabelledProduct& p : catalog.Products(30, 13)) {
    EXPECT_EQ((*back)->Predict(p.input, 1)[0].category, (*c)->Predict(p.input, 1)[0].category);
  }
}

// The text models are written and read in memory (no temporary files); their bytes are
// model files fastText itself loads and saves back byte for byte.
TEST(CategorizerTest, TextModelsAreFastTextModelFiles) {
  Catalog catalog = MakeCatalog();
  CategorizerParams params = FastParams();
  params.coarse_depth = 2;  // two text models
  ValidationFigures figures;
  auto c =
      Categorizer::Train(catalog.taxonomy, catalog.Products(600, 21), params, nullptr, &figures);
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string encoded = (*c)->Encode();
  ByteReader r(encoded);
  uint64_t version = 0;
  absl::string_view models[2];
  ASSERT_TRUE(r.Varint(&version) && r.Bytes(&models[0]) && r.Bytes(&models[1]));
  char dir[] = "/tmp/kg_ft_test.XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  for (absl::string_view model : models) {
    ASSERT_FALSE(model.empty());
    const std::string in = absl::StrCat(dir, "/in.bin"), out = absl::StrCat(dir, "/out.bin");
    std::ofstream(in, std::ios::binary)
        .write(model.data(), static_cast<std::streamsize>(model.size()));
    fasttext::FastText ft;
    ft.loadModel(in);
    EXPECT_GT(ft.getDictionary()->nlabels(), 1);
    ft.saveModel(out);
    std::ifstream saved(out, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(saved)),
                            std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes, std::string(model));
  }
  std::filesystem::remove_all(dir);
  // Decoded from memory (no temporary files: a TMPDIR that does not exist does not matter),
  // the same predictions, and the same bytes again.
  const char* tmpdir = std::getenv("TMPDIR");
  const std::string saved_tmpdir = tmpdir != nullptr ? tmpdir : "";
  ::setenv("TMPDIR", "/nonexistent/kg_no_tmp", 1);
  auto back = Categorizer::Decode(encoded, catalog.taxonomy);
  if (tmpdir != nullptr) {
    ::setenv("TMPDIR", saved_tmpdir.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->Encode(), encoded);
  for (const LabelledProduct& p : catalog.Products(30, 22)) {
    EXPECT_EQ((*back)->Predict(p.input, 1)[0].category, (*c)->Predict(p.input, 1)[0].category);
  }
}

TEST(CategorizerTest, DeterministicForASeedAndRefusesTooLittleData) {
  Catalog catalog = MakeCatalog();
  std::vector<LabelledProduct> data = catalog.Products(400, 5);
  ValidationFigures f1, f2;
  auto a = Categorizer::Train(catalog.taxonomy, data, FastParams(), nullptr, &f1);
  auto b = Categorizer::Train(catalog.taxonomy, data, FastParams(), nullptr, &f2);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->Encode(), (*b)->Encode());
  EXPECT_EQ(f1.accuracy_at_depth[2], f2.accuracy_at_depth[2]);

  std::vector<LabelledProduct> few(data.begin(), data.begin() + 5);
  ValidationFigures f;
  auto refused = Categorizer::Train(catalog.taxonomy, few, FastParams(), nullptr, &f);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("found 5 usable"), absl::string_view::npos)
      << refused.status();
}

// Two threads train the coarse and the fine text model side by side: the same models as
// one after the other, byte for byte, and progress still climbs to 1 under one stage name.
TEST(CategorizerTest, SideBySideTrainingGivesTheSameModels) {
  Catalog catalog = MakeCatalog();
  std::vector<LabelledProduct> data = catalog.Products(1500, 31);
  CategorizerParams params = FastParams();
  params.coarse_depth = 2;  // a fine model below the coarse levels
  ValidationFigures one, two;
  auto sequential = Categorizer::Train(catalog.taxonomy, data, params, nullptr, &one);
  ASSERT_TRUE(sequential.ok()) << sequential.status();
  ASSERT_EQ(one.labels, 9u + 27u);  // 9 coarse labels and 27 fine ones
  params.threads = 2;
  std::vector<double> fractions;
  std::set<std::string> stages;
  auto parallel = Categorizer::Train(
      catalog.taxonomy, data, params,
      [&](double fraction, absl::string_view stage) {
        fractions.push_back(fraction);
        stages.insert(std::string(stage));
      },
      &two);
  ASSERT_TRUE(parallel.ok()) << parallel.status();
  EXPECT_EQ((*parallel)->Encode(), (*sequential)->Encode());
  EXPECT_EQ(two.accuracy_at_depth[2], one.accuracy_at_depth[2]);
  EXPECT_TRUE(stages.count("training the coarse and fine text models")) << stages.size();
  EXPECT_FALSE(stages.count("training the fine text model"));
  ASSERT_FALSE(fractions.empty());
  EXPECT_DOUBLE_EQ(fractions.back(), 1.0);
  for (size_t i = 1; i < fractions.size(); ++i) {
    EXPECT_GE(fractions[i], fractions[i - 1]) << "progress went back at message " << i;
  }
}

// Cancelled while the text models train, one after the other or side by side (a
// cancellation reaches both): CANCELLED within moments.
TEST(CategorizerTest, TrainingStopsWhenCancelled) {
  Catalog catalog = MakeCatalog();
  for (int threads : {1, 2}) {
    CategorizerParams params = FastParams();
    params.epoch = 200;       // long enough to be cancelled while the text models train
    params.coarse_depth = 2;  // a fine model too
    params.threads = threads;
    std::atomic<bool> cancel{false};
    std::atomic<bool> training{false};
    ValidationFigures figures;
    std::thread canceller([&] {
      for (int i = 0; i < 1000 && !training; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      cancel = true;
    });
    auto start = std::chrono::steady_clock::now();
    auto c = Categorizer::Train(
        catalog.taxonomy, catalog.Products(4000, 21), params,
        [&training](double, absl::string_view stage) {
          if (stage.find("text model") != absl::string_view::npos) training = true;
        },
        &figures, &cancel);
    canceller.join();
    EXPECT_EQ(c.status().code(), absl::StatusCode::kCancelled) << threads << ": " << c.status();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << threads;
  }
}

// A fastText model file as fastText 0.9 writes it: settings (dim 8, `loss` (3: softmax),
// supervised, `bucket`, char n-grams `minn`..`maxn`), a dictionary of one word and one
// label, and the input matrix (`input_rows` rows) and output matrix; `cut` drops the bytes
// after the label's text (its NUL byte and the rest).
std::string TextModel(int32_t bucket, int32_t minn, int32_t maxn, int64_t input_rows, bool cut,
                      int32_t loss = 3) {
  std::string s;
  auto put = [&s](auto v) { s.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(int32_t{793712314});
  put(int32_t{12});
  for (int32_t a : {8, 5, 1, 1, 5, 1, loss, 3, bucket, minn, maxn, 100}) put(a);
  put(1e-4);
  for (int32_t a : {2, 1, 1}) put(a);
  put(int64_t{2});
  put(int64_t{-1});
  s.append("shoe", 5);
  put(int64_t{1});
  put(int8_t{0});
  s.append("__label__1");
  if (cut) return s;
  s.push_back('\0');
  put(int64_t{1});
  put(int8_t{1});
  put(uint8_t{0});
  put(input_rows);
  put(int64_t{8});
  s.append(static_cast<size_t>(1 + bucket) * 8 * sizeof(float), '\0');
  put(uint8_t{0});
  put(int64_t{1});
  put(int64_t{8});
  s.append(8 * sizeof(float), '\0');
  return s;
}

// fastText reads a model file as it is written. fuzz_bundle found a categorizer section
// (behind a valid checksum) whose input matrix size made fastText allocate 256 GB
// (fuzz/corpus/fuzz_bundle/crash-fasttext-matrix-size); its loader also reads a label
// without its NUL byte on past the end without end, growing the word until memory runs
// out, and divides by a zero bucket count when the model has character n-grams (SIGFPE).
// A model with another loss than softmax (what Train writes) made fastText build a
// Huffman tree from the label counts as written, which ran out of memory
// (corpus/fuzz_bundle/oom-fasttext-hierarchical-softmax).
// Each is refused as damaged before fastText sees it.
TEST(BundleTest, RefusesTextModelsFastTextWouldMisread) {
  auto taxonomy = std::make_shared<const Taxonomy>(Taxonomy::Build({{1, "Shoes", 0}}));
  struct Case {
    const char* what;
    std::string model;
  };
  for (const Case& c : {Case{"label without NUL", TextModel(0, 0, 0, 1, true)},
                        Case{"n-grams without buckets", TextModel(0, 1, 3, 1, false)},
                        Case{"huge input matrix", TextModel(0, 0, 0, int64_t{1} << 40, false)},
                        Case{"rows not words + buckets", TextModel(4, 0, 0, 1, false)},
                        Case{"hierarchical softmax", TextModel(0, 0, 0, 1, false, 1)},
                        Case{"negative sampling", TextModel(0, 0, 0, 1, false, 2)},
                        Case{"one-vs-all", TextModel(0, 0, 0, 1, false, 4)}}) {
    ByteWriter section;
    section.Varint(4);
    section.Bytes(c.model);
    section.Bytes("");
    auto refused = Categorizer::Decode(section.str(), taxonomy);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << c.what;
    EXPECT_NE(refused.status().message().find("text model is damaged"), absl::string_view::npos)
        << c.what << ": " << refused.status();
  }
  // The same model, well formed, gets past fastText (and then lacks the other settings).
  ByteWriter section;
  section.Varint(4);
  section.Bytes(TextModel(0, 0, 0, 1, false));
  section.Bytes("");
  auto loaded = Categorizer::Decode(section.str(), taxonomy);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(loaded.status().message().find("text model"), absl::string_view::npos)
      << loaded.status();
}

TEST(BundleTest, RoundTripsAndRefusesDamage) {
  Catalog catalog = MakeCatalog();
  ValidationFigures figures;
  auto c = Categorizer::Train(catalog.taxonomy, catalog.Products(500, 3), FastParams(), nullptr,
                              &figures);
  ASSERT_TRUE(c.ok()) << c.status();
  ModelBundle bundle;
  bundle.version = "test-1";
  bundle.created_ms = 1234;
  bundle.categorizer_figures = figures;
  bundle.taxonomy = catalog.taxonomy;
  bundle.categorizer = std::move(*c);
  bundle.brands = {{7, "Acme"}, {9, "Hot Wheels"}};
  std::string bytes = EncodeBundle(bundle);
  auto back = DecodeBundle(bytes, "mem");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->version, "test-1");
  EXPECT_EQ(back->created_ms, 1234);
  EXPECT_EQ(back->categorizer_figures.validation_examples, figures.validation_examples);
  EXPECT_EQ(back->taxonomy->size(), catalog.taxonomy->size());
  EXPECT_EQ(back->brands, bundle.brands);
  for (const LabelledProduct& p : catalog.Products(50, 9)) {
    auto x = bundle.categorizer->Predict(p.input, 2);
    auto y = back->categorizer->Predict(p.input, 2);
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(x[i].category, y[i].category);
      EXPECT_DOUBLE_EQ(x[i].confidence, y[i].confidence);
    }
  }
  // Damage anywhere is refused, naming the source.
  for (size_t at : {size_t{3}, bytes.size() / 2, bytes.size() - 3}) {
    std::string damaged = bytes;
    damaged[at] ^= 0x20;
    auto refused = DecodeBundle(damaged, "/data/models/bundle");
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << at;
    EXPECT_NE(refused.status().message().find("/data/models/bundle"), absl::string_view::npos);
  }
  EXPECT_FALSE(DecodeBundle(bytes.substr(0, bytes.size() / 2), "half").ok());
  EXPECT_FALSE(DecodeBundle("", "empty").ok());
  // Without a brand recognizer and an attribute extractor (as bundles written before they
  // existed): it loads, without them.
  EXPECT_EQ(back->brand_recognizer, nullptr);
  EXPECT_EQ(back->attributes, nullptr);
  // With them: they round-trip.
  BrandFigures brand_figures;
  auto recognizer = BrandRecognizer::Train(
      {{7, "Acme", {}}, {9, "Hot Wheels", {"HotWheels"}}},
      {{"Acme Steel Bottle", 7}, {"Acme Lamp", 7}, {"Hot Wheels Truck", 9}, {"HotWheels Car", 9}},
      bundle.categorizer.get(), 0.1, 1, &brand_figures);
  ASSERT_TRUE(recognizer.ok()) << recognizer.status();
  bundle.brand_recognizer = std::move(*recognizer);
  bundle.attributes = AttributeExtractor::Train(
      {{"Acme Lamp, Red", {{"color", "Red"}}}, {"Acme Bottle, Red", {{"color", "Red"}}}}, nullptr);
  auto full = DecodeBundle(EncodeBundle(bundle), "mem");
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_NE(full->brand_recognizer, nullptr);
  ASSERT_NE(full->attributes, nullptr);
  auto mention = full->brand_recognizer->Recognize("hot-wheels Race Set", nullptr, 1);
  ASSERT_EQ(mention.size(), 1u);
  EXPECT_EQ(mention[0].brand, 9u);
  auto extracted = full->attributes->Extract("Zeta Vase, Red, 500 ml");
  ASSERT_EQ(extracted.size(), 2u);
  EXPECT_EQ(extracted[0].name, "color");
  EXPECT_EQ(extracted[1].unit, "ml");
}

}  // namespace
}  // namespace kg::knowledge
