// kg_lexicon_bench: resident memory of the brand recognizer at a catalog scale (issue 10:
// "resident memory of the lexicons at 100,000 brands"), and its in-process speed.
//
//   kg_lexicon_bench [--brands=100000] [--titles_per_brand=2]
//
// Builds synthetic brands (names of two or three made-up syllables, a tenth of them with an
// alias) and titles that start with them, trains a BrandRecognizer (no categorizer
// context), and prints the resident memory it added (after training, with the training
// data freed, and after decoding its encoding into a fresh object, which is what a
// partition server holds), its encoded size, and Recognize calls per second on one thread.
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "server/knowledge/brands.h"

ABSL_FLAG(int64_t, brands, 100000, "synthetic brands");
ABSL_FLAG(int32_t, titles_per_brand, 2, "training titles per brand");

namespace {

// Resident set size in bytes (/proc/self/statm).
double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Resident memory and speed of the brand recognizer at scale.");
  absl::ParseCommandLine(argc, argv);
  using kg::knowledge::BrandExample;
  using kg::knowledge::BrandRecognizer;
  using kg::knowledge::BrandRecord;
  const int64_t n = absl::GetFlag(FLAGS_brands);
  const int per = absl::GetFlag(FLAGS_titles_per_brand);
  const std::vector<std::string> syllables = {"ka",  "lo",  "mi",  "zen", "tor", "vak", "ri",
                                              "sun", "pel", "dra", "qu",  "nix", "bo",  "tal",
                                              "wey", "fi",  "gor", "hu",  "jin", "mar"};
  const std::vector<std::string> products = {"Running Shoes",    "Cotton T-Shirt", "Steel Bottle",
                                             "Leather Wallet",   "Table Lamp",     "Wireless Mouse",
                                             "Face Wash 100 ml", "Analog Watch"};
  std::mt19937_64 rng(1);
  std::vector<BrandRecord> brands;
  std::vector<BrandExample> examples;
  std::vector<std::string> queries;
  for (int64_t b = 1; b <= n; ++b) {
    std::string name;
    const int parts = 2 + static_cast<int>(rng() % 2);
    for (int p = 0; p < parts; ++p) name += syllables[rng() % syllables.size()];
    name[0] = static_cast<char>(name[0] - 32);
    name += std::to_string(b % 97);
    BrandRecord record{static_cast<uint64_t>(b), name, {}};
    if (b % 10 == 0) record.aliases.push_back(name + " Co");
    for (int t = 0; t < per; ++t) {
      examples.push_back(
          {absl::StrCat(name, " ", products[rng() % products.size()]), static_cast<uint64_t>(b)});
    }
    queries.push_back(absl::StrCat(name, " New ", products[rng() % products.size()]));
    brands.push_back(std::move(record));
  }
  malloc_trim(0);
  const double before = ResidentBytes();
  kg::knowledge::BrandFigures figures;
  auto trained = BrandRecognizer::Train(brands, examples, nullptr, 0.1, 1, &figures);
  if (!trained.ok()) {
    std::fprintf(stderr, "%s\n", trained.status().ToString().c_str());
    return 1;
  }
  const std::string bytes = (*trained)->Encode();
  trained->reset();
  malloc_trim(0);
  const double freed = ResidentBytes();
  auto decoded = BrandRecognizer::Decode(bytes);
  if (!decoded.ok()) {
    std::fprintf(stderr, "%s\n", decoded.status().ToString().c_str());
    return 1;
  }
  malloc_trim(0);
  const double loaded = ResidentBytes();
  auto start = std::chrono::steady_clock::now();
  size_t found = 0;
  for (const std::string& q : queries) {
    found += (*decoded)->Recognize(q, nullptr, 5).empty() ? 0 : 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "brands %lld (lexicon keys %llu), training titles %zu: validation top precision %.4f "
      "recall %.4f\n",
      static_cast<long long>(n), static_cast<unsigned long long>(figures.lexicon_keys),
      examples.size(), figures.top_precision, figures.top_recall);
  std::printf(
      "encoded %.1f MB; resident memory of the decoded recognizer %.1f MB (%.0f bytes "
      "a brand)\n",
      bytes.size() / 1e6, (loaded - freed) / 1e6, (loaded - freed) / n);
  std::printf(
      "Recognize on one thread: %.0f titles/s (%zu of %zu with a mention); resident "
      "before training %.1f MB\n",
      queries.size() / seconds, found, queries.size(), before / 1e6);
  return 0;
}
