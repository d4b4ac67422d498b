#include "client/importer/csv_reader.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace kg {
namespace {

struct Row {
  int64_t line;
  std::vector<std::string> fields;
  std::string error;
};

std::vector<Row> ReadAll(const std::string& text, char delimiter = ',') {
  std::istringstream in(text);
  CsvReader reader(delimiter);
  reader.OpenStream(&in);
  std::vector<Row> rows;
  std::vector<std::string> fields;
  absl::Status status;
  while (reader.Next(&fields, &status)) {
    rows.push_back({reader.line_number(), fields, std::string(status.message())});
  }
  EXPECT_EQ(reader.bytes_read(), text.size());
  return rows;
}

using Fields = std::vector<std::string>;

TEST(CsvReaderTest, PlainAndQuotedFields) {
  std::vector<Row> rows = ReadAll("a,b,c\n1,\"x, y\",\"say \"\"hi\"\"\"\n,,\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].fields, (Fields{"a", "b", "c"}));
  EXPECT_EQ(rows[1].fields, (Fields{"1", "x, y", "say \"hi\""}));
  EXPECT_EQ(rows[2].fields, (Fields{"", "", ""}));
  for (const Row& row : rows) EXPECT_EQ(row.error, "");
}

TEST(CsvReaderTest, EmbeddedNewlinesKeepLineNumbers) {
  std::vector<Row> rows =
      ReadAll("h1,h2\r\n\"two\nlines\",x\r\n\n\"three\r\n\n\",y\nlast,z");  // no final newline
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].line, 2);
  EXPECT_EQ(rows[1].fields, (Fields{"two\nlines", "x"}));
  EXPECT_EQ(rows[2].line, 5);  // line 4 is empty and skipped
  EXPECT_EQ(rows[2].fields, (Fields{"three\r\n\n", "y"}));
  EXPECT_EQ(rows[3].line, 8);
  EXPECT_EQ(rows[3].fields, (Fields{"last", "z"}));
  EXPECT_EQ(rows[0].fields, (Fields{"h1", "h2"}));  // CR of CRLF is not data
}

TEST(CsvReaderTest, OtherDelimiter) {
  std::vector<Row> rows = ReadAll("a\tb,c\t\"d\te\"\n", '\t');
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].fields, (Fields{"a", "b,c", "d\te"}));
}

TEST(CsvReaderTest, MalformedRecordsAreReportedAndReadingGoesOn) {
  std::vector<Row> rows =
      ReadAll("ok,1\nbad\"quote,2\n\"closed\"extra,3\nfine,4\n\"open,5\nmore\n");
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].error, "");
  EXPECT_EQ(rows[1].line, 2);
  EXPECT_TRUE(absl::StrContains(rows[1].error, "quote inside unquoted field 1")) << rows[1].error;
  EXPECT_EQ(rows[2].line, 3);
  EXPECT_TRUE(absl::StrContains(rows[2].error, "after the closing quote of field 1"))
      << rows[2].error;
  EXPECT_EQ(rows[3].fields, (Fields{"fine", "4"}));
  EXPECT_EQ(rows[3].error, "");
  EXPECT_EQ(rows[4].line, 5);
  EXPECT_TRUE(absl::StrContains(rows[4].error, "quoted field opened on line 5 is never closed"))
      << rows[4].error;
}

}  // namespace
}  // namespace kg
