#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/kgctl/commands.h"
#include "gtest/gtest.h"
#include "tests/unit/client/fake_server.h"

namespace kg {
namespace {

class KgctlTest : public ::testing::Test {
 protected:
  KgctlTest() {
    options_.addr = server_.address();
    options_.progress = false;
  }

  // Runs a command; returns its exit code and fills out_ / err_.
  int Run(const std::string& command, const std::vector<std::string>& args,
          const std::string& input = "") {
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    int code = RunCommand(command, args, options_, in, out, err);
    out_ = out.str();
    err_ = err.str();
    return code;
  }

  std::vector<std::string> Lines() const { return absl::StrSplit(out_, '\n', absl::SkipEmpty()); }

  std::string TempPath(const std::string& name) const {
    return absl::StrCat(::testing::TempDir(), "/kgctl_test_", name);
  }

  FakeServer server_;
  CommandOptions options_;
  std::string out_;
  std::string err_;
};

TEST_F(KgctlTest, HelpDescribesEveryCommand) {
  EXPECT_EQ(Run("help", {}), 0);
  for (const char* command : {"get", "neighbors", "count", "traverse", "upsert", "delete-entity",
                              "delete-edge", "import", "cluster-info", "health", "generate"}) {
    EXPECT_TRUE(absl::StrContains(out_, absl::StrCat("\n  ", command, " "))) << command;
  }
  EXPECT_TRUE(absl::StrContains(out_, "--addr"));
  EXPECT_EQ(Run("frobnicate", {}), 2);
}

TEST_F(KgctlTest, GetPrintsOneResultPerKey) {
  options_.fields = "name, metrics.price";
  ASSERT_EQ(Run("get", {"product:1", "PRODUCT:2"}), 0) << err_;
  ASSERT_EQ(Lines().size(), 2u) << out_;
  EXPECT_EQ(Lines()[0],
            "{\"key\":{\"type\":\"PRODUCT\",\"id\":\"1\"},\"found\":true,\"entity\":{\"key\":{"
            "\"type\":\"PRODUCT\",\"id\":\"1\"},\"name\":\"entity 1\"}}");
  EXPECT_EQ(Lines()[1], "{\"key\":{\"type\":\"PRODUCT\",\"id\":\"2\"},\"found\":false}");
  auto request = server_.graph().Last<v1::GetEntitiesRequest>();
  ASSERT_EQ(request.read_mask().paths_size(), 2);
  EXPECT_EQ(request.read_mask().paths(1), "metrics.price");
}

TEST_F(KgctlTest, BadKeyIsAUsageError) {
  EXPECT_EQ(Run("get", {"PRODUCT:abc"}), 2);
  EXPECT_TRUE(absl::StrContains(err_, "id \"abc\"")) << err_;
  EXPECT_TRUE(out_.empty());
}

TEST_F(KgctlTest, NeighborsFollowsPages) {
  options_.type = "purchased";
  options_.dir = "in";
  options_.all_pages = true;
  ASSERT_EQ(Run("neighbors", {"PRODUCT:1"}), 0) << err_;
  EXPECT_EQ(Lines().size(), 3u) << out_;  // 5 neighbors, 2 per page
  auto request = server_.graph().Last<v1::GetNeighborsRequest>();
  EXPECT_EQ(request.edge_type(), v1::PURCHASED);
  EXPECT_EQ(request.direction(), v1::IN);
  EXPECT_EQ(request.page_token(), "4");

  options_.max_pages = 2;
  ASSERT_EQ(Run("neighbors", {"PRODUCT:1"}), 0) << err_;
  EXPECT_EQ(Lines().size(), 2u);
  EXPECT_TRUE(absl::StrContains(err_, "--page_token=4")) << err_;

  options_.type = "";
  EXPECT_EQ(Run("neighbors", {"PRODUCT:1"}), 2);
}

TEST_F(KgctlTest, CountPrintsZeroCounts) {
  options_.type = "VIEWED,purchased";
  options_.dir = "in";
  ASSERT_EQ(Run("count", {"PRODUCT:1"}), 0) << err_;
  EXPECT_TRUE(absl::StrContains(out_, "\"count\":\"0\"")) << out_;
  auto request = server_.graph().Last<v1::CountNeighborsRequest>();
  ASSERT_EQ(request.edge_types_size(), 2);
  EXPECT_EQ(request.edge_types(1), v1::PURCHASED);
  ASSERT_EQ(request.directions_size(), 1);
}

TEST_F(KgctlTest, TraverseParsesHops) {
  options_.hops = "in:PURCHASED,out:purchased:50";
  options_.hop_limit = 10;
  options_.max_results = 5;
  ASSERT_EQ(Run("traverse", {"PRODUCT:1"}), 0) << err_;
  EXPECT_EQ(Lines().size(), 1u);
  auto request = server_.graph().Last<v1::TraverseRequest>();
  ASSERT_EQ(request.hops_size(), 2);
  EXPECT_EQ(request.hops(0).direction(), v1::IN);
  EXPECT_EQ(request.hops(0).limit(), 10);
  EXPECT_EQ(request.hops(1).direction(), v1::OUT);
  EXPECT_EQ(request.hops(1).limit(), 50);
  EXPECT_EQ(request.max_results(), 5);

  options_.hops = "sideways:PURCHASED";
  EXPECT_EQ(Run("traverse", {"PRODUCT:1"}), 2);
}

TEST_F(KgctlTest, UpsertPrintsEachItemsStatus) {
  const std::string entity = R"({"entity":{"key":{"type":"BRAND","id":"1"},"name":"Nimbus"}})";
  const std::string unnamed = R"({"entity":{"key":{"type":"BRAND","id":"2"}}})";
  const std::string edge =
      R"({"edge":{"src":{"type":"BUYER","id":"1"},"type":"VIEWED","dst":{"type":"PRODUCT","id":"2"}}})";
  ASSERT_EQ(Run("upsert", {entity, edge}), 0) << err_;
  ASSERT_EQ(Lines().size(), 2u);
  EXPECT_EQ(Lines()[0],
            "{\"entity\":{\"type\":\"BRAND\",\"id\":\"1\"},\"code\":0,\"message\":\"\"}");
  EXPECT_TRUE(absl::StartsWith(Lines()[1], "{\"edge\":{\"src\":")) << Lines()[1];

  EXPECT_EQ(Run("upsert", {}, entity + "\n\n" + unnamed + "\n"), 1);
  ASSERT_EQ(Lines().size(), 2u);
  EXPECT_TRUE(absl::StrContains(Lines()[1], "\"code\":3")) << Lines()[1];

  EXPECT_EQ(Run("upsert", {"{\"entity\":"}), 2);
  EXPECT_TRUE(absl::StrContains(err_, "argument 1")) << err_;
}

TEST_F(KgctlTest, DeleteCommands) {
  EXPECT_EQ(Run("delete-entity", {"PRODUCT:1", "PRODUCT:2"}), 1);
  ASSERT_EQ(Lines().size(), 2u);
  EXPECT_TRUE(absl::StrContains(Lines()[0], "\"edgesRemoved\":\"3\"")) << Lines()[0];
  EXPECT_TRUE(absl::StrContains(Lines()[1], "\"code\":5")) << Lines()[1];
  EXPECT_EQ(Run("delete-edge", {"BUYER:1", "purchased", "PRODUCT:2"}), 0) << err_;
  EXPECT_EQ(Run("delete-edge", {"BUYER:1", "PRODUCT:2"}), 2);
}

TEST_F(KgctlTest, ImportStreamsAFileAndReportsBadLines) {
  const std::string path = TempPath("import.jsonl");
  {
    std::ofstream file(path);
    file << R"({"entity":{"key":{"type":"BRAND","id":"1"},"name":"Nimbus"}})"
         << "\n";
    file << "# a comment\n";
    file << "not json\n";
    for (int i = 1; i <= 2500; ++i) {
      file << R"({"edge":{"src":{"type":"BUYER","id":")" << i
           << R"("},"type":"VIEWED","dst":{"type":"PRODUCT","id":"1"},"weight":1}})"
           << "\n";
    }
  }
  options_.max_errors = 1;
  EXPECT_EQ(Run("import", {path}), 1);  // the bad line makes it non-zero
  EXPECT_TRUE(absl::StrContains(err_, path + ":3:")) << err_;
  ASSERT_EQ(Lines().size(), 1u);
  EXPECT_TRUE(absl::StrContains(out_, "\"recordsReceived\":\"2501\"")) << out_;
  EXPECT_EQ(server_.graph().import_messages(), 3);  // 1000 + 1000 + 501
  EXPECT_EQ(server_.graph().import_max_errors(), 1u);

  options_.max_errors = 0;
  EXPECT_EQ(Run("import", {path}), 1);
  EXPECT_TRUE(absl::StrContains(err_, "more than --max_errors=0")) << err_;
  EXPECT_EQ(Run("import", {TempPath("missing.jsonl")}), 1);
  std::remove(path.c_str());
}

TEST_F(KgctlTest, ImportFailsWhenTheServerStops) {
  const std::string path = TempPath("rejected.jsonl");
  {
    std::ofstream file(path);
    file
        << R"({"edge":{"src":{"type":"BUYER","id":"1"},"type":"VIEWED","dst":{"type":"PRODUCT","id":"1"},"weight":-1}})"
        << "\n";
  }
  EXPECT_EQ(Run("import", {path}), 1);
  EXPECT_TRUE(absl::StrContains(err_, "INVALID_ARGUMENT")) << err_;
  std::remove(path.c_str());
}

TEST_F(KgctlTest, ImportCsvMapsServerRejectionsToLines) {
  const std::string mapping = TempPath("views.mapping");
  const std::string csv = TempPath("views.csv");
  std::ofstream(mapping) << "entity PRODUCT once\n  id sku | hash\n  name title\n"
                            "edge VIEWED\n  src BUYER user\n  dst PRODUCT sku | hash\n"
                            "  weight w\n";
  // Line 3 spans two lines; the fake server rejects negative weights (line 6).
  std::ofstream(csv) << "user,sku,title,w\n1,A,Lamp,1\n2,B,\"Big\nMug\",2\n3,A,Lamp,x\n"
                        "4,A,Lamp,-1\n";
  options_.mapping = mapping;
  options_.max_errors = 5;
  options_.dry_run = true;
  EXPECT_EQ(Run("import", {csv}), 1);  // line 5 is bad
  EXPECT_EQ(server_.graph().import_messages(), 0);
  EXPECT_TRUE(absl::StrContains(out_, "\"dryRun\":true")) << out_;
  EXPECT_TRUE(absl::StrContains(out_, "\"records\":\"5\"")) << out_;
  EXPECT_TRUE(absl::StrContains(err_, csv + ":5: edge VIEWED weight: \"x\" is not a finite number"))
      << err_;

  options_.dry_run = false;
  EXPECT_EQ(Run("import", {csv}), 1);
  EXPECT_TRUE(absl::StrContains(out_, "\"recordsReceived\":\"5\"")) << out_;
  EXPECT_TRUE(absl::StrContains(out_, "\"recordsRejected\":\"1\"")) << out_;
  EXPECT_TRUE(absl::StrContains(err_, csv + ":6: rejected by the server (record 4)")) << err_;
  EXPECT_EQ(Run("import", {csv, "--format=xml"}), 2);
  options_.format = "xml";
  EXPECT_EQ(Run("import", {csv}), 2);
  options_.format = "";
  options_.mapping = "";
  EXPECT_EQ(Run("import", {csv}), 2);
  EXPECT_TRUE(absl::StrContains(err_, "needs --mapping")) << err_;
  std::remove(csv.c_str());
  std::remove(mapping.c_str());
}

TEST_F(KgctlTest, GenerateWritesIdenticalFilesAndCounts) {
  options_.scale = 0.01;
  options_.out = TempPath("gen1.jsonl");
  ASSERT_EQ(Run("generate", {}), 0) << err_;
  EXPECT_TRUE(absl::StrContains(out_, "\"PURCHASED\":")) << out_;
  const std::string report = out_;
  options_.out = TempPath("gen2.jsonl");
  ASSERT_EQ(Run("generate", {}), 0) << err_;
  std::ifstream a(TempPath("gen1.jsonl")), b(TempPath("gen2.jsonl"));
  std::stringstream sa, sb;
  sa << a.rdbuf();
  sb << b.rdbuf();
  const std::string first = sa.str();
  EXPECT_EQ(first, sb.str());
  const size_t lines = std::count(first.begin(), first.end(), '\n');
  EXPECT_TRUE(absl::StrContains(report, absl::StrCat("{\"records\":", lines, ","))) << report;
  std::remove(TempPath("gen1.jsonl").c_str());
  std::remove(TempPath("gen2.jsonl").c_str());

  options_.scale = 0;
  EXPECT_EQ(Run("generate", {}), 2);
}

TEST_F(KgctlTest, HealthAndClusterInfo) {
  ASSERT_EQ(Run("health", {}), 0) << err_;
  EXPECT_EQ(out_, "{\"status\":\"SERVING\"}\n");
  ASSERT_EQ(Run("cluster-info", {}), 0) << err_;
  EXPECT_TRUE(absl::StrContains(out_, "\"role\":\"all\"")) << out_;
}

}  // namespace
}  // namespace kg
