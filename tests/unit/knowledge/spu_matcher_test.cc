// SpuMatcher on a generated catalog: SPUs of one model in two capacities (hard negatives),
// listings written differently by other shops; the right SPU comes first with a calibrated
// score and reasons, the other capacity does not, new listings of one product pair up
// (PairListings), too few SPUs are refused, and the encoding round-trips.
#include "server/knowledge/spu_matcher.h"

#include <gtest/gtest.h>

#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kg::knowledge {
namespace {

struct Truth {
  std::string brand, type, model;
  int capacity;
};

std::string ModelCode(std::mt19937_64* rng) {
  const char* letters = "ABCDEFGHJKLMNPQRSTUVWXYZ";
  std::string code;
  for (int i = 0; i < 3; ++i) code.push_back(letters[(*rng)() % 24]);
  code += std::to_string(100 + (*rng)() % 900);
  code.push_back(letters[(*rng)() % 24]);
  return code;
}

// A listing of `t` as one of several shops would write it.
std::string Listing(const Truth& t, int style) {
  switch (style % 4) {
    case 0:
      return absl::StrCat(t.brand, " ", t.type, " ", t.model, " ", t.capacity, "GB");
    case 1:
      return absl::StrCat(t.brand, " ", t.model, " ", t.capacity, " GB ", t.type, ", Black");
    case 2:
      return absl::StrCat(t.type, " by ", t.brand, " - ", t.capacity, "GB - ", t.model);
    default:
      return absl::StrCat(t.brand, " ", t.capacity, "GB ", t.type, " (", t.model, ")");
  }
}

TEST(SpuMatcherTest, MatchesListingsToTheirSpu) {
  auto extractor =
      std::shared_ptr<const AttributeExtractor>(AttributeExtractor::Train({}, nullptr));
  const std::vector<std::string> brands = {"Sandisk", "Kingston", "Samsung", "Lexar", "Sony"};
  const std::vector<std::string> types = {"microSD Card", "USB Flash Drive", "Portable SSD",
                                          "SD Card"};
  std::mt19937_64 rng(5);
  std::vector<SpuRecord> spus;
  std::vector<Truth> truths;
  uint64_t id = 1;
  for (int k = 0; k < 120; ++k) {
    Truth t{brands[rng() % brands.size()], types[rng() % types.size()], ModelCode(&rng), 64};
    for (int capacity : {64, 128}) {  // one model, two capacities: two SPUs
      t.capacity = capacity;
      SpuRecord s;
      s.id = id++;
      s.name = {absl::StrCat(t.brand, " ", t.type, " ", t.model, " ", capacity, " GB"), t.brand,
                capacity * 0.5, 1};
      for (int style = 0; style < 3; ++style) {
        s.members.push_back({Listing(t, style), t.brand, capacity * 0.5 + style, 1});
      }
      spus.push_back(std::move(s));
      truths.push_back(t);
    }
  }
  SpuMatcherFigures figures;
  auto matcher = SpuMatcher::Train(spus, extractor, 0.2, 1, &figures);
  ASSERT_TRUE(matcher.ok()) << matcher.status();
  EXPECT_EQ(figures.spus, spus.size());
  EXPECT_GT(figures.candidate_recall, 0.95);
  EXPECT_GT(figures.precision, 0.9);
  EXPECT_GT(figures.recall, 0.8);

  // New listings (a style no member has), with their brand and price.
  int right = 0, confident = 0;
  for (size_t i = 0; i < spus.size(); ++i) {
    const Truth& t = truths[i];
    auto got = (*matcher)->Match({Listing(t, 3), t.brand, t.capacity * 0.5, 0}, 3, 0.0);
    ASSERT_FALSE(got.empty());
    right += got[0].spu == spus[i].id;
    confident += got[0].spu == spus[i].id && got[0].score >= 0.5;
    for (size_t k = 1; k < got.size(); ++k) EXPECT_LE(got[k].score, got[k - 1].score);
  }
  EXPECT_GE(right, static_cast<int>(spus.size() * 9 / 10));
  EXPECT_GE(confident, static_cast<int>(spus.size() * 8 / 10));

  // The reasons of a match and of the other capacity.
  const Truth& t = truths[0];
  auto got = (*matcher)->Match({Listing(t, 3), t.brand, 0, 0}, 2, 0.0);
  ASSERT_GE(got.size(), 2u);
  bool model_reason = false;
  for (const std::string& r : got[0].reasons) {
    model_reason |= absl::StrContains(r, absl::StrCat("model number ", t.model, " matches"));
  }
  EXPECT_TRUE(model_reason);
  EXPECT_GT(got[0].score, got[1].score);
  // min_score filters.
  for (const SpuCandidate& c : (*matcher)->Match({Listing(t, 3), t.brand, 0, 0}, 5, 0.5)) {
    EXPECT_GE(c.score, 0.5);
  }

  // The encoding round-trips.
  auto back = SpuMatcher::Decode((*matcher)->Encode(), extractor);
  ASSERT_TRUE(back.ok()) << back.status();
  auto again = (*back)->Match({Listing(t, 3), t.brand, 0, 0}, 2, 0.0);
  ASSERT_EQ(again.size(), got.size());
  EXPECT_EQ(again[0].spu, got[0].spu);
  EXPECT_NEAR(again[0].score, got[0].score, 1e-6);
  std::string bytes = (*matcher)->Encode();
  EXPECT_FALSE(SpuMatcher::Decode(bytes.substr(0, bytes.size() / 2), extractor).ok());

  // Pairs among new listings: two listings of one product (other styles) pair up; the other
  // capacity of the same model mostly does not.
  std::vector<MatchSide> listings;
  for (size_t i = 0; i < 40; ++i) {
    listings.push_back({Listing(truths[i], 3), truths[i].brand, 0, 0});
    listings.push_back({Listing(truths[i], 0), truths[i].brand, 0, 0});
  }
  std::vector<ListingPair> pairs = (*matcher)->PairListings(listings, 0.5);
  int same = 0, other = 0;
  for (const ListingPair& p : pairs) {
    EXPECT_LT(p.a, p.b);
    EXPECT_GE(p.score, 0.5);
    EXPECT_LE(p.score, 1.0);
    (p.a / 2 == p.b / 2 ? same : other) += 1;
  }
  EXPECT_GE(same, 32);  // of 40
  EXPECT_LE(other, 8);
  EXPECT_TRUE((*matcher)->PairListings({listings[0]}, 0.5).empty());

  // Too few SPUs.
  std::vector<SpuRecord> few(spus.begin(), spus.begin() + 5);
  auto refused = SpuMatcher::Train(few, extractor, 0.2, 1, &figures);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "found 5 SPUs"));
}

}  // namespace
}  // namespace kg::knowledge
