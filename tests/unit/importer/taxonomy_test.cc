#include "client/importer/taxonomy.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "proto/jsonl.h"

namespace kg {
namespace {

TEST(TaxonomyTest, CategoriesAndParentEdges) {
  TaxonomyParser parser;
  std::vector<v1::ImportRecord> records;
  ASSERT_TRUE(parser.ParseLine("# Google_Product_Taxonomy_Version: 2021-09-21", &records).ok());
  EXPECT_TRUE(records.empty());
  ASSERT_TRUE(parser.ParseLine("1 - Animals & Pet Supplies", &records).ok());
  ASSERT_TRUE(parser.ParseLine("2 - Animals & Pet Supplies > Pet Supplies\r", &records).ok());
  ASSERT_TRUE(parser.ParseLine("", &records).ok());
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(
      FormatRecordLine(records[0]),
      R"({"entity":{"key":{"type":"CATEGORY","id":"1"},"name":"Animals & Pet Supplies","attributes":{"level":"1","path":"Animals & Pet Supplies"}}})");
  EXPECT_EQ(
      FormatRecordLine(records[1]),
      R"({"entity":{"key":{"type":"CATEGORY","id":"2"},"name":"Pet Supplies","attributes":{"level":"2","path":"Animals & Pet Supplies \u003e Pet Supplies"}}})");
  EXPECT_EQ(
      FormatRecordLine(records[2]),
      R"({"edge":{"src":{"type":"CATEGORY","id":"2"},"type":"SUBCATEGORY_OF","dst":{"type":"CATEGORY","id":"1"}}})");
}

TEST(TaxonomyTest, MalformedLines) {
  TaxonomyParser parser;
  std::vector<v1::ImportRecord> records;
  ASSERT_TRUE(parser.ParseLine("1 - A", &records).ok());
  records.clear();
  auto error = [&](const std::string& line) {
    return std::string(parser.ParseLine(line, &records).message());
  };
  EXPECT_EQ(error("3 - B > C"), "parent \"B\" is not defined on an earlier line");
  EXPECT_EQ(error("1 - Z"), "id 1 is already used on line 1");
  EXPECT_EQ(error("9 - A"), "path \"A\" is listed twice");
  EXPECT_TRUE(absl::StrContains(error("0 - Q"), "id 0 is not allowed"));
  EXPECT_TRUE(absl::StrContains(error("x1 - Q"), "not a decimal number"));
  EXPECT_TRUE(absl::StrContains(error("Q without id"), "want \"ID - Level1 > Level2"));
  EXPECT_EQ(error("4 - A >  > C"), "empty segment in the category path");
  EXPECT_EQ(error("5 - A > \xC3("), "invalid UTF-8");
  EXPECT_TRUE(records.empty());
  EXPECT_TRUE(parser.ParseLine("3 - A > C", &records).ok());  // the failed lines left no trace
}

}  // namespace
}  // namespace kg
