// The model bundle loader (server/knowledge/bundle.h, DecodeBundle), as a partition server
// reads its bundle file or an installation. The input is a bundle without its last 8
// bytes: the target appends the FNV-1a checksum, so the fuzzer explores what lies behind
// it (a checksum detects damage, not a crafted file) down to the fastText loader and the
// checks of the gradient-boosted trees (server/knowledge/forest.h). A bundle that decodes
// re-encodes to one that decodes and encodes identically, and what its models serve for a
// title (categories, brand mentions, attributes, SPU candidates: the matcher's decoded
// trees are walked) has probabilities in [0, 1] and spans inside the title.
//
// KG_FUZZ_WRITE_SEEDS=DIR fuzz_bundle writes seed inputs (small trained bundles) to DIR.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz/fuzz_util.h"
#include "server/knowledge/bundle.h"
#include "server/knowledge/bytes.h"

namespace {

using kg::knowledge::ModelBundle;

std::string WithChecksum(absl::string_view body) {
  std::string bytes(body);
  const uint64_t sum = kg::knowledge::Fnv1a64(body);
  char tail[8];
  std::memcpy(tail, &sum, 8);
  bytes.append(tail, 8);
  return bytes;
}

// A small SPU matcher (its gradient-boosted trees are what the forest decoder reads).
std::shared_ptr<const kg::knowledge::SpuMatcher> SeedMatcher(
    std::shared_ptr<const kg::knowledge::AttributeExtractor> extractor) {
  std::vector<kg::knowledge::SpuRecord> spus;
  for (uint64_t id = 1; id <= 12; ++id) {
    kg::knowledge::SpuRecord s;
    s.id = id;
    const std::string model = absl::StrCat("KX", 100 + id * 7);
    s.name = {absl::StrCat("Acme Flask ", model, " ", id * 250, " ml"), "Acme", 10.0 + id, 2};
    s.members.push_back({absl::StrCat("Acme ", model, " flask ", id * 250, "ml"), "Acme", 0, 2});
    s.members.push_back({absl::StrCat("Flask ", model, " by Acme"), "Acme", 11.0 + id, 2});
    spus.push_back(std::move(s));
  }
  kg::knowledge::SpuMatcherFigures figures;
  auto matcher = kg::knowledge::SpuMatcher::Train(spus, extractor, 0.2, 1, &figures);
  if (!matcher.ok()) return nullptr;
  return std::move(*matcher);
}

// A small bundle: a two-level taxonomy and a categorizer trained on a few dozen titles;
// with `spu`, an attribute extractor and an SPU matcher too.
std::string SeedBundle(int fine_levels, int brands, bool spu = false) {
  std::vector<kg::knowledge::CategoryRecord> records = {{1, "Shoes", 0}, {2, "Bottles", 0}};
  if (fine_levels > 0) records.push_back({3, "Trail", 1});
  auto taxonomy = std::make_shared<const kg::knowledge::Taxonomy>(
      kg::knowledge::Taxonomy::Build(std::move(records)));
  std::vector<kg::knowledge::LabelledProduct> products;
  for (int i = 0; i < 60; ++i) {
    const bool shoe = i % 2 == 1;
    products.push_back({{absl::StrCat(shoe ? "runner sneaker " : "flask bottle ", i), "", "", {}},
                        static_cast<uint64_t>(shoe ? (fine_levels > 0 && i % 4 == 1 ? 3 : 1) : 2)});
  }
  kg::knowledge::CategorizerParams params;
  // Tiny on purpose: each execution decodes the whole bundle twice, so a small seed is
  // what lets the fuzzer reach millions of executions.
  params.epoch = 2;
  params.dim = 2;
  params.buckets = 16;
  params.min_label_examples = 5;
  kg::knowledge::ValidationFigures figures;
  auto categorizer =
      kg::knowledge::Categorizer::Train(taxonomy, products, params, nullptr, &figures);
  if (!categorizer.ok()) return "";
  ModelBundle bundle;
  bundle.version = absl::StrCat("seed-", fine_levels, "-", brands);
  bundle.created_ms = 1700000000000;
  bundle.categorizer_figures = figures;
  bundle.taxonomy = taxonomy;
  bundle.categorizer = std::move(*categorizer);
  for (int b = 1; b <= brands; ++b) bundle.brands[b] = absl::StrCat("Brand ", b);
  if (spu) {
    // A brand recognizer and an attribute lexicon learned from a few titles, and the
    // matcher.
    std::vector<kg::knowledge::BrandRecord> records = {{1, "Acme", {"Acme Co"}},
                                                       {2, "Trailfox", {}}};
    std::vector<kg::knowledge::BrandExample> examples;
    std::vector<kg::knowledge::AttributeExample> attributes;
    for (int i = 0; i < 40; ++i) {
      const bool acme = i % 2 == 0;
      examples.push_back({absl::StrCat(acme ? "Acme flask " : "Trailfox runner ", i,
                                       i % 3 == 0 ? " Red" : " Blue"),
                          static_cast<uint64_t>(acme ? 1 : 2)});
      attributes.push_back({examples.back().title, {{"color", i % 3 == 0 ? "Red" : "Blue"}}});
    }
    kg::knowledge::BrandFigures brand_figures;
    auto recognizer = kg::knowledge::BrandRecognizer::Train(
        records, examples, bundle.categorizer.get(), 0.3, 1, &brand_figures);
    if (!recognizer.ok()) return "";
    bundle.brand_recognizer = std::move(*recognizer);
    bundle.attributes = std::shared_ptr<const kg::knowledge::AttributeExtractor>(
        kg::knowledge::AttributeExtractor::Train(attributes, nullptr));
    bundle.spu_matcher = SeedMatcher(bundle.attributes);
    if (bundle.spu_matcher == nullptr) return "";
  }
  return kg::knowledge::EncodeBundle(bundle);
}

void WriteSeeds(const std::string& dir) {
  int n = 0;
  auto write = [&](const std::string& bundle) {
    KG_FUZZ_CHECK(!bundle.empty(), "training a seed bundle failed");
    std::ofstream(absl::StrCat(dir, "/bundle-", n++), std::ios::binary)
        << bundle.substr(0, bundle.size() - 8);
  };
  for (int fine : {0, 1}) {
    for (int brands : {0, 2}) write(SeedBundle(fine, brands));
  }
  write(SeedBundle(0, 0, /*spu=*/true));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (const char* dir = std::getenv("KG_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes =
      WithChecksum(absl::string_view(reinterpret_cast<const char*>(data), size));
  absl::StatusOr<ModelBundle> bundle = kg::knowledge::DecodeBundle(bytes, "fuzz");
  if (!bundle.ok()) return 0;
  const std::string encoded = kg::knowledge::EncodeBundle(*bundle);
  absl::StatusOr<ModelBundle> again = kg::knowledge::DecodeBundle(encoded, "re-encoded");
  KG_FUZZ_CHECK(again.ok(),
                "a re-encoded bundle does not decode: " + std::string(again.status().message()));
  KG_FUZZ_CHECK(kg::knowledge::EncodeBundle(*again) == encoded,
                "the bundle encoding is not a round trip");

  // What the models serve from the decoded bytes: probabilities, offsets inside the title.
  const std::string title = "Acme Co KX114 flask 500ml Red, runner sneaker 3";
  auto probability = [](double p) { return p >= 0 && p <= 1; };
  if (bundle->categorizer != nullptr) {
    for (const kg::knowledge::CategoryScore& c :
         bundle->categorizer->Predict({title, "", "Acme", {}}, 3)) {
      KG_FUZZ_CHECK(probability(c.confidence), "a category confidence is not a probability");
    }
  }
  if (bundle->brand_recognizer != nullptr) {
    for (const kg::knowledge::BrandMention& m :
         bundle->brand_recognizer->Recognize(title, bundle->categorizer.get(), 5)) {
      KG_FUZZ_CHECK(probability(m.confidence), "a brand confidence is not a probability");
      KG_FUZZ_CHECK(m.start < m.end && m.end <= title.size(), "a brand span outside the title");
    }
  }
  if (bundle->attributes != nullptr) {
    for (const kg::knowledge::ExtractedAttribute& a : bundle->attributes->Extract(title)) {
      KG_FUZZ_CHECK(probability(a.confidence), "an attribute confidence is not a probability");
      KG_FUZZ_CHECK(a.start < a.end && a.end <= title.size(),
                    "an attribute span outside the title");
    }
  }
  if (bundle->spu_matcher != nullptr) {
    for (const kg::knowledge::SpuCandidate& c :
         bundle->spu_matcher->Match({"Acme KX114 flask 500ml", "Acme", 12, 2}, 3, 0.0)) {
      KG_FUZZ_CHECK(probability(c.score), "an SPU score is not a probability");
    }
  }
  return 0;
}
