// End to end: malformed files through OpenRecordReader. Every bad row is reported with its
// line and reason, and the record stream holds exactly the good rows' records.
#include "client/importer/record_reader.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/importer/id_hash.h"
#include "gtest/gtest.h"
#include "proto/jsonl.h"

namespace kg {
namespace {

class RecordReaderTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(::testing::TempDir(), "/record_reader_test_", name);
    std::ofstream(path, std::ios::binary) << text;
    files_.push_back(path);
    return path;
  }
  ~RecordReaderTest() override {
    for (const std::string& f : files_) std::remove(f.c_str());
  }

  // Reads everything: good records as JSONL lines, errors, skipped-row lines.
  void ReadAll(const ReaderOptions& options) {
    absl::StatusOr<std::unique_ptr<RecordReader>> reader = OpenRecordReader(options);
    ASSERT_TRUE(reader.ok()) << reader.status();
    SourceRow row;
    while ((*reader)->Next(&row)) {
      if (!row.status.ok()) {
        EXPECT_TRUE(row.records.empty());
        errors_.push_back(std::string(row.status.message()));
      } else if (row.skipped) {
        skipped_.push_back(row.line);
      } else {
        for (const auto& r : row.records) records_.push_back(FormatRecordLine(r));
        lines_.push_back(row.line);
      }
    }
  }

  std::vector<std::string> files_;
  std::vector<std::string> records_;
  std::vector<std::string> errors_;
  std::vector<int64_t> lines_;
  std::vector<int64_t> skipped_;
};

TEST_F(RecordReaderTest, MalformedJsonl) {
  const std::string good1 = R"({"entity":{"key":{"type":"BRAND","id":"3"},"name":"Acme"}})";
  const std::string good2 =
      R"({"edge":{"src":{"type":"BUYER","id":"1"},"type":"PURCHASED","dst":{"type":"PRODUCT","id":"18446744073709551615"},"timeMs":"1","weight":2}})";
  const std::string path = Write(
      "bad.jsonl",
      absl::StrCat(
          good1, "\n",
          "{\"entity\":{\"key\":{\"type\":\"BRAND\",\"id\":\"3\"}\n",  // 2: bad JSON
          R"({"entity":{"key":{"type":"PRODUKT","id":"3"}}})", "\n",   // 3: enum
          R"({"entity":{"key":{"type":"BRAND","id":"0"}}})", "\n",     // 4: id 0
          R"({"entity":{"key":{"type":"BRAND","id":"-4"}}})", "\n",    // 5: negative
          R"({"entity":{"key":{"type":"BRAND","id":"18446744073709551616"}}})",
          "\n",                                                       // 6: > 2^64-1
          R"({"entity":{"key":{"type":"BRAND","id":"abc"}}})", "\n",  // 7: not a number
          "{\"entity\":{\"key\":{\"type\":\"BRAND\",\"id\":\"5\"},\"name\":\"\xFF\"}}\n",  // 8:
                                                                                           // UTF-8
          R"({"edge":{"src":{"type":"PRODUCT","id":"1"},"type":"PURCHASED","dst":{"type":"PRODUCT","id":"2"}}})",
          "\n",                              // 9
          "\n# a comment\n", good2, "\n"));  // 12
  ReadAll({path, ImportFormat::kJsonl, ""});
  EXPECT_EQ(records_, (std::vector<std::string>{good1, good2}));
  EXPECT_EQ(lines_, (std::vector<int64_t>{1, 12}));
  ASSERT_EQ(errors_.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(absl::StartsWith(errors_[i], absl::StrCat(path, ":", i + 2, ": "))) << errors_[i];
  }
  EXPECT_TRUE(absl::StrContains(errors_[0], "bad JSON record")) << errors_[0];
  EXPECT_TRUE(absl::StrContains(errors_[1], "PRODUKT")) << errors_[1];
  EXPECT_TRUE(absl::StrContains(errors_[2], "entity.key.id: must not be 0")) << errors_[2];
  EXPECT_TRUE(absl::StrContains(errors_[3], "bad JSON record")) << errors_[3];
  EXPECT_TRUE(absl::StrContains(errors_[4], "bad JSON record")) << errors_[4];
  EXPECT_TRUE(absl::StrContains(errors_[5], "bad JSON record")) << errors_[5];
  EXPECT_TRUE(absl::StrContains(errors_[6], "UTF-8")) << errors_[6];
  EXPECT_TRUE(
      absl::StrContains(errors_[7], "edge.src.type: PURCHASED edges start at BUYER, got PRODUCT"))
      << errors_[7];
}

TEST_F(RecordReaderTest, MalformedCsv) {
  const std::string mapping = Write("m.mapping", R"(
skip_if qty <= 0
entity BUYER once
  id customer
entity PRODUCT once
  id sku | hash
  name title
edge PURCHASED
  src BUYER customer
  dst PRODUCT sku | hash
  time when | parse_time "%Y-%m-%d %H:%M"
  weight qty
)");
  const std::string csv = Write(
      "bad.csv",
      absl::StrCat("customer,sku,title,qty,when\n",
                   "7,A1,\"Lamp, \"\"big\"\"\nwith a newline\",2,2010-12-01 08:26\n",  // 2-3: good
                   "7,A2,Mug,1\n",                                      // 4: 4 fields
                   "0,A2,Mug,1,2010-12-01 08:26\n",                     // 5: id 0
                   "-3,A2,Mug,1,2010-12-01 08:26\n",                    // 6: negative id
                   "18446744073709551616,A2,Mug,1,2010-12-01 08:26\n",  // 7: too big
                   "8,A2,Mug,1,12/01/2010\n",                           // 8: bad time
                   "8,A2,Mug,lots,2010-12-01 08:26\n",                  // 9: bad number
                   "8,A2,M\xC3\x28g,1,2010-12-01 08:26\n",              // 10: UTF-8
                   "8,A2,\"Mug\"x,1,2010-12-01 08:26\n",                // 11: bad quoting
                   "8,A3,Cup,-1,2010-12-01 08:26\n",                    // 12: a return
                   ",A3,Cup,1,2010-12-01 08:26\n",                      // 13: empty id
                   "8,A2,Mug,3,2010-12-01 09:00\n"));                   // 14: good
  ReadAll({csv, ImportFormat::kCsv, mapping});
  const std::string a1 = std::to_string(HashId("A1"));
  const std::string a2 = std::to_string(HashId("A2"));
  EXPECT_EQ(
      records_,
      (std::vector<std::string>{
          R"({"entity":{"key":{"type":"BUYER","id":"7"}}})",
          R"({"entity":{"key":{"type":"PRODUCT","id":")" + a1 +
              R"("},"name":"Lamp, \"big\"\nwith a newline"}})",
          R"({"edge":{"src":{"type":"BUYER","id":"7"},"type":"PURCHASED","dst":{"type":"PRODUCT","id":")" +
              a1 + R"("},"timeMs":"1291191960000","weight":2}})",
          R"({"entity":{"key":{"type":"BUYER","id":"8"}}})",
          R"({"entity":{"key":{"type":"PRODUCT","id":")" + a2 + R"("},"name":"Mug"}})",
          R"({"edge":{"src":{"type":"BUYER","id":"8"},"type":"PURCHASED","dst":{"type":"PRODUCT","id":")" +
              a2 + R"("},"timeMs":"1291194000000","weight":3}})"}));
  EXPECT_EQ(lines_, (std::vector<int64_t>{2, 14}));
  EXPECT_EQ(skipped_, (std::vector<int64_t>{12}));
  const std::vector<std::pair<int, std::string>> want = {
      {4, "4 fields, want 5 (as in the header)"},
      {5, "entity BUYER id (customer): id 0 is not allowed"},
      {6, "entity BUYER id (customer): id \"-3\" is not a decimal number"},
      {7, "entity BUYER id (customer): id \"18446744073709551616\" is out of range"},
      {8, "edge PURCHASED time: time \"12/01/2010\" does not match \"%Y-%m-%d %H:%M\""},
      {9, "skip_if qty: \"lots\" is not a finite number"},
      {10, "field 3 (title): invalid UTF-8"},
      {11, "text after the closing quote of field 3"},
      {13, "entity BUYER id: empty id (customer); mark the block optional to skip it"},
  };
  ASSERT_EQ(errors_.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(absl::StartsWith(errors_[i], absl::StrCat(csv, ":", want[i].first, ": ")))
        << errors_[i];
    EXPECT_TRUE(absl::StrContains(errors_[i], want[i].second)) << errors_[i];
  }
}

TEST_F(RecordReaderTest, SchemaBreakingEdgeInTheDataIsRejectedPerRow) {
  // The mapping is valid; the CSV's values make a self-loop on one row only.
  const std::string mapping = Write("loop.mapping", R"(
edge SUBCATEGORY_OF
  src CATEGORY child
  dst CATEGORY parent
)");
  const std::string csv = Write("loop.csv", "child,parent\n2,1\n3,3\n4,1\n");
  ReadAll({csv, ImportFormat::kCsv, mapping});
  EXPECT_EQ(records_.size(), 2u);
  EXPECT_EQ(lines_, (std::vector<int64_t>{2, 4}));
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0], csv + ":3: edge.dst: an edge cannot loop to its source");
}

TEST_F(RecordReaderTest, TaxonomyFile) {
  const std::string path = Write("taxonomy.txt",
                                 "# Google_Product_Taxonomy_Version: 2021-09-21\n"
                                 "1 - Animals\n"
                                 "3 - Animals > Pets\n"
                                 "4 - Plants > Trees\n"
                                 "5 - Animals > Pets > Cats");  // no final newline
  ReadAll({path, ImportFormat::kTaxonomy, ""});
  EXPECT_EQ(records_.size(), 5u);  // 3 categories, 2 edges
  EXPECT_EQ(lines_, (std::vector<int64_t>{2, 3, 5}));
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0], path + ":4: parent \"Plants\" is not defined on an earlier line");

  const std::string other = Write("not_taxonomy.txt", "1 - Animals\n");
  errors_.clear();
  ReadAll({other, ImportFormat::kTaxonomy, ""});
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_TRUE(absl::StrContains(errors_[0], ":1: not a Google Product Taxonomy file"));
}

TEST_F(RecordReaderTest, OpenErrors) {
  EXPECT_TRUE(absl::IsNotFound(
      OpenRecordReader({"/nonexistent.jsonl", ImportFormat::kJsonl, ""}).status()));
  const std::string csv = Write("h.csv", "a,b\n1,2\n");
  EXPECT_TRUE(absl::StrContains(OpenRecordReader({csv, ImportFormat::kCsv, ""}).status().message(),
                                "needs --mapping"));
  const std::string mapping = Write("h.mapping", "entity BRAND\n  id c\n");
  absl::Status s = OpenRecordReader({csv, ImportFormat::kCsv, mapping}).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "unknown column \"c\"")) << s;
  EXPECT_EQ(*FormatFromPath("x.CSV"), ImportFormat::kCsv);
  EXPECT_EQ(*FormatFromPath("x.jsonl"), ImportFormat::kJsonl);
  EXPECT_EQ(*FormatFromPath("taxonomy-with-ids.en-US.txt"), ImportFormat::kTaxonomy);
  EXPECT_FALSE(FormatFromPath("x.parquet").ok());
  EXPECT_FALSE(ParseImportFormat("xml").ok());
}

}  // namespace
}  // namespace kg
