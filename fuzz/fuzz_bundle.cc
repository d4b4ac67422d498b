// The model bundle loader (server/knowledge/bundle.h, DecodeBundle), as a partition server
// reads its bundle file or an installation. The input is a bundle without its last 8
// bytes: the target appends the FNV-1a checksum, so the fuzzer explores what lies behind
// it (a checksum detects damage, not a crafted file) down to the fastText loader and the
// checks of the gradient-boosted trees (server/knowledge/forest.h). A bundle that decodes
// re-encodes to one that decodes and encodes identically, and its SPU matcher (if any)
// matches a listing: the trees it decoded are walked (forest.h's prediction).
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
    bundle.attributes = std::shared_ptr<const kg::knowledge::AttributeExtractor>(
        kg::knowledge::AttributeExtractor::Train({}, nullptr));
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
  if (bundle->spu_matcher != nullptr) {
    for (const kg::knowledge::SpuCandidate& c :
         bundle->spu_matcher->Match({"Acme KX114 flask 500ml", "Acme", 12, 2}, 3, 0.0)) {
      KG_FUZZ_CHECK(c.score >= 0 && c.score <= 1, "an SPU score is not a probability");
    }
  }
  return 0;
}
