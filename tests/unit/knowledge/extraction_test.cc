// Brand recognition and attribute extraction: token offsets on multi-byte text, lexicon
// matching with spacing variants and overlaps, ambiguous brand words, new-brand proposals,
// every unit pattern and its normalisation, the learned attribute lexicon, and the
// encodings (including damaged ones).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/knowledge/attributes.h"
#include "server/knowledge/brands.h"
#include "server/knowledge/text.h"

namespace kg::knowledge {
namespace {

TEST(TokenSpansTest, OffsetsAreBytesOfTheTitleAsSent) {
  // Full-width "Ｎｉｋｅ" (3 bytes a letter), a registered sign, a hyphen, a trade mark.
  const std::string title =
      "\xEF\xBC\xAE\xEF\xBD\x89\xEF\xBD\x8B\xEF\xBD\x85\xC2\xAE Air-Max\xE2\x84\xA2 90";
  std::vector<TokenSpan> t = TokenSpans(title);
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0].text, "nike");
  EXPECT_EQ(t[0].start, 0u);
  EXPECT_EQ(t[0].end, 12u);
  EXPECT_EQ(title.substr(t[1].start, t[1].end - t[1].start), "Air");
  EXPECT_EQ(title.substr(t[2].start, t[2].end - t[2].start), "Max");
  EXPECT_EQ(t[3].text, "90");
  EXPECT_EQ(t[3].end, title.size());
  // Invalid bytes separate and are never inside a token.
  std::vector<TokenSpan> bad = TokenSpans(
      "ab\xff"
      "cd");
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_EQ(bad[1].start, 3u);
  EXPECT_EQ(NormalizeText("Nike\xE2\x84\xA2 Air"), "nike air");
}

// A small catalog: brands at the start of titles, one brand that is also a word ("Dove",
// which bird-feeder titles use), spacing variants of "Hot Wheels", and many one-off brands
// so that the span model learns where brands sit.
std::vector<BrandExample> Catalog(std::vector<BrandRecord>* brands) {
  std::mt19937_64 rng(7);
  const std::vector<std::string> syllables = {"zor", "blax", "quen", "tiv", "mar", "lok",
                                              "vex", "dra",  "pim",  "sol", "kru", "nat"};
  const std::vector<std::string> products = {"Running Shoes",  "Cotton T-Shirt", "Steel Bottle",
                                             "Leather Wallet", "Table Lamp",     "Wireless Mouse"};
  std::vector<BrandExample> out;
  brands->push_back({1, "Hot Wheels", {"HotWheels"}});
  brands->push_back({2, "Dove", {}});
  brands->push_back({3, "Acme Garden", {}});
  for (int i = 0; i < 60; ++i) {
    const char* variants[] = {"Hot Wheels", "HotWheels", "Hot-Wheels"};
    out.push_back({absl::StrCat(variants[i % 3], " Monster Truck ", i % 7 + 1, "-pack"), 1});
    out.push_back({absl::StrCat("Dove Beauty Soap ", 50 + i, " g"), 2});
    out.push_back({absl::StrCat("Acme Garden Dove Bird Feeder No ", i), 3});
  }
  for (uint64_t b = 10; b < 400; ++b) {
    std::string name = syllables[rng() % syllables.size()] + syllables[rng() % syllables.size()];
    name[0] = static_cast<char>(name[0] - 32);
    name += std::to_string(b);
    brands->push_back({b, name, {}});
    for (int k = 0; k < 3; ++k) {
      out.push_back({absl::StrCat(name, " ", products[rng() % products.size()]), b});
    }
  }
  return out;
}

TEST(BrandRecognizerTest, MatchesVariantsDisambiguatesAndProposesNewBrands) {
  std::vector<BrandRecord> brands;
  std::vector<BrandExample> examples = Catalog(&brands);
  BrandFigures figures;
  auto r = BrandRecognizer::Train(brands, examples, nullptr, 0.2, 1, &figures);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(figures.top_precision, 0.9);
  EXPECT_GT(figures.top_recall, 0.9);

  for (const std::string title : {"Hot Wheels Race Track", "HotWheels Race Track",
                                  "hot-wheels Race Track", "HOT WHEELS Race Track"}) {
    std::vector<BrandMention> m = (*r)->Recognize(title, nullptr, 3);
    ASSERT_FALSE(m.empty()) << title;
    EXPECT_EQ(m[0].brand, 1u) << title;
    EXPECT_EQ(m[0].name, "Hot Wheels");
    EXPECT_EQ(m[0].start, 0u);
    EXPECT_EQ(title.substr(m[0].start, m[0].end - m[0].start).size(), m[0].end);
    EXPECT_GE(m[0].confidence, BrandRecognizer::kMinConfidence);
  }
  // "Dove" after another brand, in a bird feeder's title: the other brand, not Dove.
  std::vector<BrandMention> feeder =
      (*r)->Recognize("Acme Garden Dove Bird Feeder Large", nullptr, 3);
  ASSERT_FALSE(feeder.empty());
  EXPECT_EQ(feeder[0].brand, 3u);
  for (const BrandMention& m : feeder) EXPECT_NE(m.brand, 2u);
  std::vector<BrandMention> soap = (*r)->Recognize("Dove Beauty Soap 75 g", nullptr, 3);
  ASSERT_FALSE(soap.empty());
  EXPECT_EQ(soap[0].brand, 2u);

  // A brand the graph does not know, where brands sit: a new-brand candidate.
  const std::string unknown = "Frobnitzer Leather Wallet";
  std::vector<BrandMention> fresh = (*r)->Recognize(unknown, nullptr, 3);
  ASSERT_FALSE(fresh.empty());
  EXPECT_EQ(fresh[0].brand, 0u);
  EXPECT_EQ(fresh[0].name, "Frobnitzer");
  EXPECT_EQ(fresh[0].start, 0u);
  EXPECT_EQ(fresh[0].end, 10u);

  // The encoding round-trips; damage is refused.
  std::string bytes = (*r)->Encode();
  auto back = BrandRecognizer::Decode(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->Recognize(unknown, nullptr, 3)[0].name, "Frobnitzer");
  EXPECT_EQ((*back)->Recognize("HotWheels Race Track", nullptr, 3)[0].brand, 1u);
  EXPECT_FALSE(BrandRecognizer::Decode(bytes.substr(0, bytes.size() / 2)).ok());
  EXPECT_FALSE(BrandRecognizer::Decode("").ok());
}

// The value and normalised value of the first extracted attribute named `name`.
std::pair<std::string, std::string> Find(const std::vector<ExtractedAttribute>& attrs,
                                         const std::string& name, std::string* unit = nullptr) {
  for (const ExtractedAttribute& a : attrs) {
    if (a.name == name) {
      if (unit != nullptr) *unit = a.unit;
      return {a.value, a.normalized_value};
    }
  }
  return {"", ""};
}

TEST(AttributeExtractorTest, UnitsPacksSizesTargetsAndModelNumbers) {
  auto x = AttributeExtractor::Train({}, nullptr);
  std::string unit;
  for (const std::string title : {"Acme SSD 1TB Internal", "Acme SSD 1 TB Internal",
                                  "Acme SSD 1000 GB Internal", "Acme SSD 1000gb Internal"}) {
    auto a = x->Extract(title);
    EXPECT_EQ(Find(a, "storage", &unit).second, "1000") << title;
    EXPECT_EQ(unit, "GB");
  }
  struct Case {
    std::string title, name, value, normalized, unit;
  };
  const std::vector<Case> cases = {
      {"Shampoo 500ml", "volume", "500ml", "500", "ml"},
      {"Water 1.5 L bottle", "volume", "1.5 L", "1500", "ml"},
      {"Olive oil 1,5 l", "volume", "1,5 l", "1500", "ml"},
      {"Rice 5 kg bag", "weight", "5 kg", "5000", "g"},
      {"Protein 2 lbs", "weight", "2 lbs", "907.1847", "g"},
      {"Chips 150 g", "weight", "150 g", "150", "g"},
      {"Power bank 10,000 mAh", "battery", "10,000 mAh", "10000", "mAh"},
      {"Charger 65W USB-C", "power", "65W", "65", "W"},
      {"Drill 18V cordless", "voltage", "18V", "18", "V"},
      {"Monitor 27 inch", "length", "27 inch", "68.58", "cm"},
      {"Laptop 15.6in", "length", "15.6in", "39.624", "cm"},
      {"Cable 2 m", "length", "2 m", "200", "cm"},
      {"CPU 3.2 GHz", "frequency", "3.2 GHz", "3200000000", "Hz"},
      {"Socks Pack of 3", "pack_count", "Pack of 3", "3", ""},
      {"Razor 5-pack", "pack_count", "5-pack", "5", ""},
      {"Juice 6 x 250 ml", "pack_count", "6", "6", ""},
      {"Sneakers Size 37", "size", "Size 37", "37", ""},
      {"Shirt XL", "size", "XL", "XL", ""},
      {"Boots UK 8", "size", "UK 8", "UK 8", ""},
      {"Dress Age 4-5", "age", "Age 4-5", "4-5 years", ""},
      {"Romper 6-12 Months", "age", "6-12 Months", "6-12 months", ""},
      {"Women's Running Shoes", "target", "Women", "women", ""},
      {"Boys' Jacket", "target", "Boys", "boys", ""},
      {"Kids Backpack", "target", "Kids", "kids", ""},
      {"Sony Bravia KDL-40EX400 LCD TV", "model_number", "KDL-40EX400", "KDL40EX400", ""},
  };
  for (const Case& c : cases) {
    auto a = x->Extract(c.title);
    std::string got_unit;
    auto [value, normalized] = Find(a, c.name, &got_unit);
    EXPECT_EQ(value, c.value) << c.title;
    EXPECT_EQ(normalized, c.normalized) << c.title;
    EXPECT_EQ(got_unit, c.unit) << c.title;
  }
  // Model numbers: the "Name - MODEL" convention ranks first and may be all digits; words
  // with a number and slash abbreviations are not model numbers.
  auto best_model = [&](const std::string& title) {
    const ExtractedAttribute* best = nullptr;
    for (const auto& e : x->Extract(title)) {
      if (e.name == "model_number" && (best == nullptr || e.confidence > best->confidence)) {
        best = &e;
      }
    }
    return best == nullptr ? std::string() : best->normalized_value;
  };
  EXPECT_EQ(best_model("LaCie Pocket Floppy Disk Drive - 706018"), "706018");
  EXPECT_EQ(best_model("Netgear ProSafe GS105 Ethernet Switch - GS105NA"), "GS105NA");
  EXPECT_EQ(best_model("Tripp Lite 375-Watt Inverter - PV375"), "PV375");
  EXPECT_EQ(best_model("Kensington Trackball w/PS2 Adapter"), "");
  EXPECT_EQ(best_model("Garmin USB Cable - 010-10723-01"), "0101072301");
  EXPECT_EQ(best_model("Samsung 2020 Edition"), "");  // digits alone, not after " - "
  // Not measures: "5G" network, "5 in 1".
  EXPECT_EQ(Find(x->Extract("Phone 5G 128GB"), "weight").first, "");
  EXPECT_EQ(Find(x->Extract("Phone 5G 128GB"), "storage").second, "128");
  EXPECT_EQ(Find(x->Extract("Tool 5 in 1"), "length").first, "");
  // Two measures side by side.
  auto both = x->Extract("Card 64GB/128GB");
  int storage = 0;
  for (const auto& a : both) storage += a.name == "storage";
  EXPECT_EQ(storage, 2);
  // Offsets in multi-byte text are the title's bytes.
  const std::string title = "Caf\xC3\xA9 Cr\xC3\xA8me 250\xC2\xA0ml";
  auto a = x->Extract(title);
  ASSERT_EQ(Find(a, "volume").second, "250");
  for (const auto& e : a) {
    EXPECT_EQ(title.substr(e.start, e.end - e.start), e.value);
  }
}

TEST(AttributeExtractorTest, LearnsValuesFromTheGraphAndRoundTrips) {
  std::vector<AttributeExample> examples;
  const std::vector<std::string> colors = {"Navy Blue", "Red", "Olive Green"};
  const std::vector<std::string> materials = {"Cotton", "Linen"};
  for (int i = 0; i < 90; ++i) {
    const std::string& c = colors[i % 3];
    const std::string& m = materials[i % 2];
    examples.push_back({absl::StrCat("Acme ", m, " Shirt, ", c),
                        {{"color", c}, {"material", m}, {"sku", absl::StrCat("SKU", i)}}});
  }
  // "Red" also in titles of products whose colour is something else: less confident.
  uint64_t entries = 0;
  auto x = AttributeExtractor::Train(examples, &entries);
  EXPECT_GE(entries, 5u);  // 3 colours, 2 materials; the SKUs are identifiers
  auto a = x->Extract("Zeta Linen Trousers, Navy Blue");
  EXPECT_EQ(Find(a, "color").first, "Navy Blue");
  EXPECT_EQ(Find(a, "color").second, "navy blue");
  EXPECT_EQ(Find(a, "material").first, "Linen");
  EXPECT_EQ(Find(x->Extract("Acme Shirt SKU7"), "sku").first, "");
  auto back = AttributeExtractor::Decode(x->Encode());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(Find((*back)->Extract("Olive Green Cotton Scarf"), "color").second, "olive green");
  EXPECT_FALSE(AttributeExtractor::Decode("x").ok());
}

// Random titles (valid and invalid UTF-8, many scripts, digits, units, punctuation): no
// crash, and every offset is inside the title, on a character boundary (never a UTF-8
// continuation byte), with start < end.
TEST(ExtractionFuzzTest, OffsetsAreAlwaysOnCharacterBoundaries) {
  std::vector<BrandRecord> brands;
  std::vector<BrandExample> examples = Catalog(&brands);
  BrandFigures figures;
  auto r = BrandRecognizer::Train(brands, examples, nullptr, 0.2, 1, &figures);
  ASSERT_TRUE(r.ok());
  auto x = AttributeExtractor::Train(
      {{"Acme Shirt, Red", {{"color", "Red"}}}, {"Acme Cap, Red", {{"color", "Red"}}}}, nullptr);
  const std::vector<std::string> pieces = {"Hot",
                                           "Wheels",
                                           "HotWheels",
                                           "-",
                                           " ",
                                           "  ",
                                           "500",
                                           "ml",
                                           "1,5",
                                           "l",
                                           "GB",
                                           "x",
                                           "Pack of",
                                           "\xC3\xA9",
                                           "\xE4\xB8\xAD",
                                           "\xEF\xBC\xA1",
                                           "\xE2\x84\xA2",
                                           "\xC2\xAE",
                                           "\xC2\xA0",
                                           "\xF0\x9F\x98\x80",
                                           "\xE0\xB8\xA3\xE0\xB8\xB5",
                                           "\xff",
                                           "\xc3",
                                           "\xe4\xb8",
                                           "'s",
                                           "Red",
                                           "KDL-40EX400",
                                           "/",
                                           "(",
                                           ")",
                                           "Size",
                                           "UK",
                                           "Age 4-5",
                                           "Women's",
                                           "Dove",
                                           "Acme Garden",
                                           "0",
                                           "99999999999999999999"};
  std::mt19937_64 rng(3);
  auto boundary = [](const std::string& t, size_t at) {
    return at == t.size() || (static_cast<unsigned char>(t[at]) & 0xC0) != 0x80;
  };
  for (int round = 0; round < 3000; ++round) {
    std::string title;
    const int n = 1 + static_cast<int>(rng() % 14);
    for (int i = 0; i < n; ++i) title += pieces[rng() % pieces.size()];
    for (const BrandMention& m : (*r)->Recognize(title, nullptr, 5)) {
      ASSERT_LT(m.start, m.end) << title;
      ASSERT_LE(m.end, title.size()) << title;
      ASSERT_TRUE(boundary(title, m.start) && boundary(title, m.end)) << title;
    }
    for (const ExtractedAttribute& a : x->Extract(title)) {
      ASSERT_LT(a.start, a.end) << title;
      ASSERT_LE(a.end, title.size()) << title;
      ASSERT_TRUE(boundary(title, a.start) && boundary(title, a.end)) << title;
      ASSERT_EQ(title.substr(a.start, a.end - a.start), a.value) << title;
    }
  }
}

}  // namespace
}  // namespace kg::knowledge
