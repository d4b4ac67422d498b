// Id hashing, id parsing, time parsing, the client-side record check and the line index.
#include <cmath>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "client/importer/id_hash.h"
#include "client/importer/line_index.h"
#include "client/importer/record_check.h"
#include "client/importer/time_format.h"
#include "gtest/gtest.h"
#include "proto/jsonl.h"
#include "server/graph/schema.h"

namespace kg {
namespace {

TEST(IdHashTest, GoldenValues) {
  // FNV-1a 64 test vectors, and values documented in docs/IMPORT.md.
  EXPECT_EQ(HashId(""), 14695981039346656037ull);
  EXPECT_EQ(HashId("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(HashId("foobar"), 0x85944171f73967e8ull);
  EXPECT_EQ(HashId("85123A"), 4359830775492328649ull);
  EXPECT_EQ(HashId("acme"), 514768821131075087ull);
  EXPECT_EQ(CategoryPathId({"Animals", "Pets", "Cats"}, 2), 9265550743837970774ull);
  EXPECT_EQ(CategoryPathText({"Animals", "Pets", "Cats"}, 2), "Animals > Pets");
}

TEST(IdHashTest, SpacesAndNormalisation) {
  EXPECT_EQ(TrimSpaces(" \t\xC2\xA0 Acme  Co\xC2\xA0\r\n"), "Acme  Co");
  EXPECT_EQ(TrimSpaces("\xC2\xA0"), "");
  EXPECT_EQ(NormalizeName("  ACME\xC2\xA0\tCo.  "), "acme co.");
  EXPECT_EQ(NormalizeName("Caf\xC3\x89"), "caf\xC3\x89");  // non-ASCII kept as is
  EXPECT_EQ(HashId(NormalizeName(" Acme ")), HashId("acme"));
}

TEST(IdHashTest, ParseIdIsStrict) {
  EXPECT_EQ(*ParseId("1"), 1u);
  EXPECT_EQ(*ParseId("18446744073709551615"), UINT64_MAX);
  for (const char* bad : {"", "0", "000", "-1", "+1", " 1", "1.0", "12a", "0x10"}) {
    EXPECT_FALSE(ParseId(bad).ok()) << bad;
  }
  absl::Status big = ParseId("18446744073709551616").status();
  EXPECT_TRUE(absl::StrContains(big.message(), "out of range")) << big;
  EXPECT_TRUE(absl::StrContains(ParseId("0").status().message(), "0 is not allowed"));
  EXPECT_TRUE(absl::StrContains(ParseId("-7").status().message(), "not a decimal number"));
}

TEST(TimeFormatTest, PatternsAndEpochs) {
  EXPECT_EQ(*ParseTimeMs("2010-12-01 08:26:00", "%Y-%m-%d %H:%M:%S"), 1291191960000);
  EXPECT_EQ(*ParseTimeMs("12/1/2010 8:26", "%m/%d/%Y %H:%M"), 1291191960000);
  EXPECT_EQ(*ParseTimeMs("2010-12-01T10:26:00+02:00", "%Y-%m-%dT%H:%M:%S%Ez"), 1291191960000);
  EXPECT_EQ(*ParseTimeMs("1291191960", "epoch_s"), 1291191960000);
  EXPECT_EQ(*ParseTimeMs("1291191960123", "epoch_ms"), 1291191960123);
  EXPECT_FALSE(ParseTimeMs("2010-13-01 08:26:00", "%Y-%m-%d %H:%M:%S").ok());
  EXPECT_FALSE(ParseTimeMs("yesterday", "%Y-%m-%d").ok());
  EXPECT_FALSE(ParseTimeMs("1969-12-31", "%Y-%m-%d").ok());
  EXPECT_FALSE(ParseTimeMs("-5", "epoch_ms").ok());
  EXPECT_FALSE(ParseTimeMs("1.5", "epoch_s").ok());
  EXPECT_FALSE(ParseTimeMs("99999999999999999999", "epoch_ms").ok());
  EXPECT_TRUE(ValidateTimeFormat("%d.%m.%Y").ok());
  EXPECT_FALSE(ValidateTimeFormat("YYYY-MM-DD").ok());
  absl::Status bad = ParseTimeMs("12/1/2010", "%Y-%m-%d").status();
  EXPECT_TRUE(absl::StrContains(bad.message(), "\"12/1/2010\" does not match \"%Y-%m-%d\"")) << bad;
}

TEST(RecordCheckTest, Utf8) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  for (const char* bad :
       {"\xC3", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF", "a\x80"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
  }
}

TEST(RecordCheckTest, SchemaMatchesTheServers) {
  // The client's copy of the schema must equal server/graph/schema.h's, the one source.
  for (int t = 1; v1::EdgeType_IsValid(t); ++t) {
    EdgeEnds ends;
    ASSERT_TRUE(EdgeSchemaOf(static_cast<v1::EdgeType>(t), &ends)) << t;
    EdgeSchema server = SchemaOf(static_cast<EdgeType>(t));
    EXPECT_EQ(static_cast<int>(ends.src), static_cast<int>(server.src)) << t;
    EXPECT_EQ(static_cast<int>(ends.dst), static_cast<int>(server.dst)) << t;
  }
  EdgeEnds ends;
  EXPECT_FALSE(EdgeSchemaOf(v1::EDGE_TYPE_UNSPECIFIED, &ends));
}

TEST(RecordCheckTest, RejectsWhatTheServerRejects) {
  auto check = [](const std::string& json) {
    v1::ImportRecord record;
    absl::Status parsed = ParseRecordLine(json, &record);
    EXPECT_TRUE(parsed.ok()) << parsed;
    return std::string(CheckRecord(record).message());
  };
  EXPECT_EQ(check(R"({"entity":{"key":{"type":"BRAND","id":"3"},"name":"Acme"}})"), "");
  EXPECT_EQ(check(R"({"entity":{"key":{"type":"BRAND","id":"0"}}})"),
            "entity.key.id: must not be 0");
  EXPECT_EQ(check(R"({"entity":{"key":{"id":"3"}}})"),
            "entity.key.type: must be a known entity type, got 0");
  EXPECT_EQ(check(R"({"entity":{"key":{"type":"BRAND","id":"3"},"metrics":{"":1}}})"),
            "entity.metrics[]: name must be 1..128 bytes");
  EXPECT_EQ(
      check(
          R"({"edge":{"src":{"type":"BUYER","id":"1"},"type":"PURCHASED","dst":{"type":"BRAND","id":"2"}}})"),
      "edge.dst.type: PURCHASED edges end at PRODUCT, got BRAND");
  EXPECT_EQ(
      check(
          R"({"edge":{"src":{"type":"PRODUCT","id":"1"},"type":"PURCHASED","dst":{"type":"PRODUCT","id":"2"}}})"),
      "edge.src.type: PURCHASED edges start at BUYER, got PRODUCT");
  EXPECT_EQ(
      check(
          R"({"edge":{"src":{"type":"CATEGORY","id":"4"},"type":"SUBCATEGORY_OF","dst":{"type":"CATEGORY","id":"4"}}})"),
      "edge.dst: an edge cannot loop to its source");
  EXPECT_EQ(
      check(
          R"({"edge":{"src":{"type":"PRODUCT","id":"4"},"type":"HAS_BRAND","dst":{"type":"BRAND","id":"4"}}})"),
      "");
  EXPECT_EQ(
      check(
          R"({"edge":{"src":{"type":"BUYER","id":"1"},"type":"VIEWED","dst":{"type":"PRODUCT","id":"2"},"timeMs":"-1"}})"),
      "edge.time_ms: must not be negative");
  // Found by fuzz_jsonl: a weight beyond the 32-bit float range the server stores.
  EXPECT_EQ(
      check(
          R"({"edge":{"src":{"type":"BUYER","id":"1"},"type":"VIEWED","dst":{"type":"PRODUCT","id":"2"},"weight":6e38}})"),
      "edge.weight: must be a finite number within the 32-bit float range (|w| < 3.4e38)");
  EXPECT_EQ(
      check(
          R"({"edge":{"src":{"type":"BUYER","id":"1"},"type":"VIEWED","dst":{"type":"PRODUCT","id":"2"},"weight":3e38}})"),
      "");
  v1::ImportRecord record;
  record.mutable_entity()->mutable_key()->set_type(v1::BRAND);
  record.mutable_entity()->mutable_key()->set_id(1);
  record.mutable_entity()->set_name("bad \xFF");
  EXPECT_EQ(CheckRecord(record).message(), "entity.name: invalid UTF-8");
}

// Found by fuzz_jsonl: protobuf prints -0.0 as "-0" and reads "-0" back as 0, so a negative
// zero is stored as 0 and a record written out reads back the same.
TEST(RecordLineTest, NegativeZeroIsARoundTrip) {
  v1::ImportRecord record, again;
  ASSERT_TRUE(ParseRecordLine(
                  R"({"entity":{"key":{"type":"PRODUCT","id":"1"},"metrics":{"a":-0.0,"b":-2.5}}})",
                  &record)
                  .ok());
  EXPECT_FALSE(std::signbit(record.entity().metrics().at("a")));
  EXPECT_EQ(record.entity().metrics().at("b"), -2.5);
  ASSERT_TRUE(ParseRecordLine(FormatRecordLine(record), &again).ok());
  EXPECT_EQ(DeterministicBytes(again), DeterministicBytes(record));
  ASSERT_TRUE(
      ParseRecordLine(
          R"({"edge":{"src":{"type":"BUYER","id":"1"},"type":"VIEWED","dst":{"type":"PRODUCT","id":"2"},"weight":-0.0}})",
          &record)
          .ok());
  EXPECT_FALSE(std::signbit(record.edge().weight()));
  ASSERT_TRUE(ParseRecordLine(FormatRecordLine(record), &again).ok());
  EXPECT_EQ(DeterministicBytes(again), DeterministicBytes(record));
}

TEST(LineIndexTest, RunsMapRecordsToLines) {
  LineIndex index;
  for (int64_t line = 2; line <= 1001; ++line) index.Add(line, 1);  // JSONL: one run
  EXPECT_EQ(index.runs(), 1u);
  index.Add(1005, 3);  // a gap, then rows of 3 records (a CSV mapping)
  index.Add(1006, 3);
  index.Add(1009, 3);  // a row spanning lines 1006-1008 before it
  EXPECT_EQ(index.runs(), 3u);
  EXPECT_EQ(index.size(), 1009u);
  EXPECT_EQ(index.LineOf(0), 2);
  EXPECT_EQ(index.LineOf(999), 1001);
  EXPECT_EQ(index.LineOf(1000), 1005);
  EXPECT_EQ(index.LineOf(1002), 1005);
  EXPECT_EQ(index.LineOf(1003), 1006);
  EXPECT_EQ(index.LineOf(1008), 1009);
  EXPECT_EQ(index.LineOf(1009), 0);
}

}  // namespace
}  // namespace kg
