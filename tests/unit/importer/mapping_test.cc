#include "client/importer/mapping.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "client/importer/csv_mapper.h"
#include "client/importer/id_hash.h"
#include "gtest/gtest.h"
#include "proto/jsonl.h"

namespace kg {
namespace {

constexpr char kRetail[] = R"(# a comment
delimiter ","
header true
skip_if CustomerID empty
skip_if Quantity <= 0      # returns

entity BUYER once
  id CustomerID
  attr country Country | replace "_" " "
entity PRODUCT
  id StockCode | trim | hash
  name "Description" | replace "_" " "
  metric price UnitPrice
edge PURCHASED
  src BUYER CustomerID
  dst PRODUCT StockCode | trim | hash
  time InvoiceDate | parse_time "%m/%d/%Y %H:%M"
  weight Quantity
)";

std::string ParseError(const std::string& text) {
  absl::StatusOr<Mapping> mapping = ParseMapping(text, "m.mapping");
  return mapping.ok() ? "" : std::string(mapping.status().message());
}

TEST(MappingTest, ParsesBlocksFiltersAndSteps) {
  absl::StatusOr<Mapping> mapping = ParseMapping(kRetail, "retail.mapping");
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  EXPECT_EQ(mapping->delimiter, ',');
  EXPECT_TRUE(mapping->header);
  ASSERT_EQ(mapping->skip_if.size(), 2u);
  EXPECT_EQ(mapping->skip_if[1].op, RowFilter::Op::kLe);
  EXPECT_EQ(mapping->skip_if[1].line, 5);
  ASSERT_EQ(mapping->blocks.size(), 3u);
  const MappingBlock& buyer = mapping->blocks[0];
  EXPECT_EQ(buyer.entity_type, v1::BUYER);
  EXPECT_TRUE(buyer.once);
  EXPECT_EQ(buyer.line, 7);
  ASSERT_EQ(buyer.attributes.size(), 1u);
  EXPECT_EQ(buyer.attributes[0].value.steps[0].func, StepFunc::kReplace);
  EXPECT_EQ(buyer.attributes[0].value.steps[0].arg2, " ");
  const MappingBlock& edge = mapping->blocks[2];
  EXPECT_EQ(edge.edge_type, v1::PURCHASED);
  EXPECT_EQ(edge.dst->text, "StockCode | trim | hash");
  EXPECT_EQ(edge.time->steps[0].arg, "%m/%d/%Y %H:%M");
}

TEST(MappingTest, ErrorsNameTheLine) {
  EXPECT_TRUE(absl::StartsWith(ParseError("entity PRODUKT\n  id a\n"),
                               "m.mapping:1: unknown entity type \"PRODUKT\""));
  EXPECT_TRUE(
      absl::StrContains(ParseError("\n\nfrobnicate x\n"), "m.mapping:3: unknown directive"));
  EXPECT_TRUE(absl::StrContains(ParseError("id a\n"), "m.mapping:1: unknown directive \"id\""));
  EXPECT_TRUE(absl::StrContains(ParseError("entity BRAND\n  id a | md5\n"),
                                "m.mapping:2: unknown function \"md5\""));
  EXPECT_TRUE(absl::StrContains(ParseError("entity BRAND\n  name a\n"),
                                "m.mapping:1: entity block without an id line"));
  EXPECT_EQ(ParseError("# x\nedge PURCHASED\n  src PRODUCT a\n  dst PRODUCT b\n"),
            "m.mapping:2: PURCHASED edges start at BUYER, but src is PRODUCT");
  EXPECT_TRUE(absl::StrContains(ParseError("edge VIEWED\n  src BUYER a\n"),
                                "m.mapping:1: edge VIEWED needs src and dst"));
  EXPECT_TRUE(absl::StrContains(ParseError("edge LIKES\n"), "m.mapping:1: unknown edge type"));
  EXPECT_TRUE(absl::StrContains(ParseError("entity BRAND\n  id \"a\n"),
                                "m.mapping:2: unterminated quoted string"));
  EXPECT_TRUE(absl::StrContains(ParseError("entity BRAND\n  id a | parse_time \"YYYY\"\n"),
                                "m.mapping:2: time format \"YYYY\""));
  EXPECT_TRUE(absl::StrContains(ParseError("skip_if q < ten\nentity BRAND\n id a\n"),
                                "m.mapping:1: skip_if: < needs a number"));
  EXPECT_TRUE(absl::StrContains(ParseError("entity BRAND\n  id a\n  id b\n"),
                                "m.mapping:3: id is given twice"));
  EXPECT_TRUE(absl::StrContains(ParseError("entity BRAND\n  id a extra\n"),
                                "m.mapping:2: unexpected \"extra\""));
  EXPECT_TRUE(absl::StrContains(ParseError("delimiter \",,\"\nentity BRAND\n id a\n"),
                                "m.mapping:1: delimiter must be one byte"));
  EXPECT_TRUE(absl::StrContains(ParseError("category_path p\n  link HAS_BRAND PRODUCT a\n"),
                                "m.mapping:1: link HAS_BRAND goes PRODUCT -> BRAND"));
  EXPECT_TRUE(absl::StrContains(ParseError("# only comments\n"), "nothing would be imported"));
}

TEST(MappingTest, UnknownColumnsAreReportedWhenBinding) {
  absl::StatusOr<Mapping> mapping = ParseMapping("entity BRAND\n  id brand_id\n", "b.mapping");
  ASSERT_TRUE(mapping.ok());
  CsvMapper mapper(*mapping);
  absl::Status bound = mapper.BindColumns({"id", "name"});
  EXPECT_EQ(bound.message(), "b.mapping:1: unknown column \"brand_id\" (the header has: id, name)");
}

TEST(MappingTest, MapsRowsFiltersAndDeduplicates) {
  absl::StatusOr<Mapping> mapping = ParseMapping(kRetail, "retail.mapping");
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  CsvMapper mapper(*mapping);
  ASSERT_TRUE((mapper
                   .BindColumns({"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                                 "UnitPrice", "CustomerID", "Country"})
                   .ok()));
  std::vector<v1::ImportRecord> records;
  bool skipped = false;
  ASSERT_TRUE((mapper
                   .MapRow({"536365", "85123A", "WHITE_HEART", "6", "12/1/2010 8:26", "2.55",
                            "17850", "United_Kingdom"},
                           &records, &skipped)
                   .ok()));
  EXPECT_FALSE(skipped);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(
      FormatRecordLine(records[0]),
      R"({"entity":{"key":{"type":"BUYER","id":"17850"},"attributes":{"country":"United Kingdom"}}})");
  EXPECT_EQ(
      FormatRecordLine(records[1]),
      R"({"entity":{"key":{"type":"PRODUCT","id":"4359830775492328649"},"name":"WHITE HEART","metrics":{"price":2.55}}})");
  EXPECT_EQ(
      FormatRecordLine(records[2]),
      R"({"edge":{"src":{"type":"BUYER","id":"17850"},"type":"PURCHASED","dst":{"type":"PRODUCT","id":"4359830775492328649"},"timeMs":"1291191960000","weight":6}})");

  // The same buyer again: `once` leaves the BUYER out.
  records.clear();
  ASSERT_TRUE((mapper
                   .MapRow({"536366", "22633", "HAND_WARMER", "1", "12/1/2010 8:28", "1.85",
                            "17850", "United_Kingdom"},
                           &records, &skipped)
                   .ok()));
  EXPECT_EQ(records.size(), 2u);
  // A return and a guest checkout are skipped, not errors.
  records.clear();
  EXPECT_TRUE((mapper
                   .MapRow({"C1", "22633", "X", "-1", "12/1/2010 8:28", "1", "17850", "UK"},
                           &records, &skipped)
                   .ok()));
  EXPECT_TRUE(skipped);
  EXPECT_TRUE(
      mapper.MapRow({"1", "22633", "X", "1", "12/1/2010 8:28", "1", "", "UK"}, &records, &skipped)
          .ok());
  EXPECT_TRUE(skipped);
  EXPECT_TRUE(records.empty());
  // Errors leave nothing behind, not even the `once` bookkeeping.
  absl::Status bad =
      mapper.MapRow({"1", "22633", "X", "2", "2010-12-01", "1", "99", "UK"}, &records, &skipped);
  EXPECT_TRUE(absl::StrContains(bad.message(), "edge PURCHASED time: time \"2010-12-01\"")) << bad;
  EXPECT_TRUE(records.empty());
  ASSERT_TRUE(
      mapper.MapRow({"1", "22633", "X", "2", "12/1/2010 8:28", "1", "99", "UK"}, &records, &skipped)
          .ok());
  EXPECT_EQ(records.size(), 3u);  // BUYER:99 is emitted now
}

TEST(MappingTest, CategoryPathsBrandsAndOptionalBlocks) {
  absl::StatusOr<Mapping> mapping = ParseMapping(R"(
entity PRODUCT
  id 1
  name 2
entity BRAND optional once
  id 4 | normalize | hash
  name 4 | trim
edge HAS_BRAND optional
  src PRODUCT 1
  dst BRAND 4 | normalize | hash
category_path 3 | json_list_first
  separator " >> "
  drop_leaf_matching 2
  link IN_CATEGORY PRODUCT 1
)",
                                                 "f.mapping");
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  mapping->header = false;
  CsvMapper mapper(*mapping);
  ASSERT_TRUE((mapper.BindColumns({"", "", "", ""}).ok()));
  std::vector<v1::ImportRecord> records;
  bool skipped = false;
  ASSERT_TRUE((mapper
                   .MapRow({"7", "Trail Shoe",
                            R"x(["Shoes >> Running \"Pro\" >> Trail Shoe (Blue)"])x", " ACME "},
                           &records, &skipped)
                   .ok()));
  std::vector<std::string> lines;
  for (const auto& r : records) lines.push_back(FormatRecordLine(r));
  const std::string shoes = std::to_string(HashId("Shoes"));
  const std::string pro = std::to_string(HashId("Shoes > Running \"Pro\""));
  const std::string acme = std::to_string(HashId("acme"));
  ASSERT_EQ(lines.size(), 7u) << lines.size();
  EXPECT_EQ(lines[0], R"({"entity":{"key":{"type":"PRODUCT","id":"7"},"name":"Trail Shoe"}})");
  EXPECT_EQ(lines[1],
            R"({"entity":{"key":{"type":"BRAND","id":")" + acme + R"("},"name":"ACME"}})");
  EXPECT_TRUE(absl::StrContains(lines[2], R"("type":"HAS_BRAND")"));
  EXPECT_EQ(lines[3], R"({"entity":{"key":{"type":"CATEGORY","id":")" + shoes +
                          R"("},"name":"Shoes","attributes":{"level":"1","path":"Shoes"}}})");
  EXPECT_EQ(
      lines[4],
      R"({"entity":{"key":{"type":"CATEGORY","id":")" + pro +
          R"("},"name":"Running \"Pro\"","attributes":{"level":"2","path":"Shoes \u003e Running \"Pro\""}}})");
  EXPECT_EQ(lines[5], R"({"edge":{"src":{"type":"CATEGORY","id":")" + pro +
                          R"("},"type":"SUBCATEGORY_OF","dst":{"type":"CATEGORY","id":")" + shoes +
                          R"("}}})");
  EXPECT_EQ(
      lines[6],
      R"({"edge":{"src":{"type":"PRODUCT","id":"7"},"type":"IN_CATEGORY","dst":{"type":"CATEGORY","id":")" +
          pro + R"("}}})");
  // Same path and brand again, no brand: only the product and its links are new.
  records.clear();
  ASSERT_TRUE(
      mapper.MapRow({"8", "Road Shoe", R"(["Shoes >> Running \"Pro\""])", ""}, &records, &skipped)
          .ok());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].edge().dst().id(), std::stoull(pro));
  EXPECT_EQ(mapper.blocks_left_out(), 2u);  // BRAND and HAS_BRAND of row 2
  // Not a JSON list.
  absl::Status bad = mapper.MapRow({"9", "x", "Shoes >> Trail", ""}, &records, &skipped);
  EXPECT_TRUE(absl::StrContains(bad.message(), "json_list_first")) << bad;
  bad = mapper.MapRow({"9", "x", R"(["Shoes >>  >> Trail"])", ""}, &records, &skipped);
  EXPECT_TRUE(absl::StrContains(bad.message(), "empty segment")) << bad;
}

}  // namespace
}  // namespace kg
