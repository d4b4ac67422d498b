// The SPU matcher's pair features and reasons on known pairs: model numbers (equal, a
// regional suffix, different), brands, measures of one dimension that agree or differ,
// price, category, and the closest member's text similarity.
#include "server/knowledge/spu_features.h"

#include <gtest/gtest.h>

#include <cmath>

#include "absl/strings/match.h"

namespace kg::knowledge {
namespace {

bool HasReason(const PairFeatures& f, const std::string& text) {
  for (const std::string& r : f.reasons) {
    if (absl::StrContains(r, text)) return true;
  }
  return false;
}

TEST(SpuFeaturesTest, KnownPairs) {
  auto x = AttributeExtractor::Train({}, nullptr);

  // The same turntable, one shop's title against the SPU's name and a member.
  PairFeatures same = ComparePair(
      {"Sony PS-LX350H Belt Drive Turntable", "Sony", 99, 7},
      {{"Sony Turntable - PSLX350H", "Sony", 0, 7}, {"Sony PSLX350H Turntable Black", "", 105, 0}},
      *x, 0.62, 0);
  ASSERT_EQ(same.values.size(), static_cast<size_t>(PairFeatures::kCount));
  EXPECT_EQ(same.values[PairFeatures::kModelNumber], 1.0f);
  EXPECT_EQ(same.values[PairFeatures::kBrand], 1.0f);
  EXPECT_EQ(same.values[PairFeatures::kCategory], 1.0f);
  EXPECT_NEAR(same.values[PairFeatures::kPriceLogRatio], std::fabs(std::log(99.0 / 105)), 1e-5);
  EXPECT_FLOAT_EQ(same.values[PairFeatures::kRetrievalCosine], 0.62f);
  // The closest side: the name shares sony and turntable of 7 distinct tokens.
  EXPECT_NEAR(same.values[PairFeatures::kTokenJaccard], 2.0 / 7, 1e-6);
  EXPECT_TRUE(HasReason(same, "model number PSLX350H matches"));
  EXPECT_TRUE(HasReason(same, "brand matches"));
  EXPECT_TRUE(HasReason(same, "price within 6%"));

  // Another capacity of the same card: the storage differs, first among the reasons.
  PairFeatures other =
      ComparePair({"SanDisk Ultra microSDXC 128GB", "SanDisk", 30, 0},
                  {{"SanDisk Ultra microSDXC 64GB", "SanDisk", 15, 0}}, *x, std::nan(""), 3);
  EXPECT_EQ(other.values[PairFeatures::kMeasuresAgree], 0.0f);
  EXPECT_EQ(other.values[PairFeatures::kMeasuresDiffer], 1.0f);
  ASSERT_FALSE(other.reasons.empty());
  EXPECT_EQ(other.reasons[0], "storage 128 GB vs 64 GB differs");
  EXPECT_TRUE(HasReason(other, "price 2.0x apart"));
  EXPECT_TRUE(std::isnan(other.values[PairFeatures::kRetrievalCosine]));
  EXPECT_TRUE(std::isnan(other.values[PairFeatures::kCategory]));  // unknown

  // A regional suffix agrees; a different model and brand do not.
  EXPECT_EQ(ComparePair({"Netgear GS105NA Switch", "", 0, 0}, {{"Netgear GS105 5-Port", "", 0, 0}},
                        *x, 0.5, 0)
                .values[PairFeatures::kModelNumber],
            1.0f);
  PairFeatures wrong = ComparePair({"Sony KDL-40EX400 TV", "Sony", 0, 3},
                                   {{"Samsung UN40C6300 TV", "Samsung", 0, 4}}, *x, 0.2, 1);
  EXPECT_EQ(wrong.values[PairFeatures::kModelNumber], -1.0f);
  EXPECT_EQ(wrong.values[PairFeatures::kBrand], -1.0f);
  EXPECT_EQ(wrong.values[PairFeatures::kCategory], -1.0f);
  EXPECT_TRUE(HasReason(wrong, "model number KDL40EX400 vs UN40C6300 differs"));
  // A series code shared, the model codes apart: a conflict, not an agreement.
  PairFeatures series = ComparePair({"Acme SERIES7X Drill DR150Q", "", 0, 0},
                                    {{"Acme SERIES7X Drill DR240Q", "", 0, 0}}, *x, 0.9, 0);
  EXPECT_EQ(series.values[PairFeatures::kModelNumber], 0.0f);
  EXPECT_TRUE(HasReason(series, "model number DR150Q vs DR240Q differs"));
  // A code the SPU does not mention is no conflict.
  EXPECT_EQ(ComparePair({"Acme SERIES7X Drill DR150Q", "", 0, 0}, {{"Acme Drill DR150Q", "", 0, 0}},
                        *x, 0.9, 0)
                .values[PairFeatures::kModelNumber],
            1.0f);
  // Pack counts count as a dimension.
  PairFeatures packs = ComparePair({"Acme Razor Blades Pack of 4", "", 0, 0},
                                   {{"Acme Razor Blades Pack of 8", "", 0, 0}}, *x, 0.9, 0);
  EXPECT_EQ(packs.values[PairFeatures::kMeasuresDiffer], 1.0f);
}

TEST(SpuFeaturesTest, CandidateGapsAgainstTheBestRetrievedCandidate) {
  auto x = AttributeExtractor::Train({}, nullptr);
  const MatchSide listing{"Sony Cyber-shot DSC-W310 Camera Black", "Sony", 0, 0};
  std::vector<std::vector<float>> rows = {
      ComparePair(listing, {{"Sony Cyber-shot DSC-W310 Camera", "Sony", 0, 0}}, *x, 0.9, 0).values,
      ComparePair(listing, {{"Sony Cyber-shot DSC-W330 Camera", "Sony", 0, 0}}, *x, 0.6, 1).values,
      // A random negative: not retrieved (no cosine), so no cosine gap.
      ComparePair(listing, {{"Acme Garden Hose 20 m", "", 0, 0}}, *x, std::nan(""), 20).values};
  EXPECT_TRUE(std::isnan(rows[0][PairFeatures::kCosineGap]));  // ComparePair leaves them
  SetCandidateGaps(&rows, 0, 2, 3);
  EXPECT_FLOAT_EQ(rows[0][PairFeatures::kCosineGap], 0.0f);
  EXPECT_NEAR(rows[1][PairFeatures::kCosineGap], 0.3f, 1e-6);
  EXPECT_TRUE(std::isnan(rows[2][PairFeatures::kCosineGap]));
  EXPECT_FLOAT_EQ(rows[0][PairFeatures::kTokenGap], 0.0f);
  EXPECT_GT(rows[1][PairFeatures::kTokenGap], 0.0f);
  EXPECT_GT(rows[2][PairFeatures::kTrigramGap], rows[1][PairFeatures::kTrigramGap]);
}

}  // namespace
}  // namespace kg::knowledge
