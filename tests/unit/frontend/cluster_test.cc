#include "server/frontend/cluster.h"

#include "gtest/gtest.h"

namespace kg {
namespace {

TEST(ClusterTest, ParsesServersAndRanges) {
  auto c = ParseClusterConfig(
      "# two servers\npartitions 4\nserver 127.0.0.1:7001 0,1  # first\n\n"
      "server 127.0.0.1:7002 2-3\n",
      "c.txt");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->partition_count, 4u);
  ASSERT_EQ(c->servers.size(), 2u);
  EXPECT_EQ(c->servers[1].address, "127.0.0.1:7002");
  EXPECT_EQ(c->servers[1].partitions, (std::vector<uint32_t>{2, 3}));
}

TEST(ClusterTest, ErrorsNameTheLine) {
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {"server a:1 0\n", "c.txt:1: \"partitions N\" must come first"},
      {"partitions 2\nserver a:1 0\nserver b:1 0-1\n",
       "c.txt:3: partition 0 already hosted (line 2)"},
      {"partitions 2\nserver a:1 0\n", "c.txt: partition 1 is hosted by no server"},
      {"partitions 2\nserver a:1 5\n", "c.txt:2: partition 5 out of range 0..1"},
      {"partitions 0\n", "c.txt:1: expected \"partitions N\""},
      {"partitions 2\nfrobnicate\n", "c.txt:2: unknown directive"},
      {"partitions 2\nserver a:1 x\n", "c.txt:2: bad partition"},
      {"", "no \"partitions N\" line"},
  };
  for (const Case& c : cases) {
    auto r = ParseClusterConfig(c.text, "c.txt");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.expect), absl::string_view::npos)
        << r.status() << " for " << c.text;
  }
}

TEST(ClusterTest, PartitionList) {
  auto l = ParsePartitionList("0, 2,4-6", 8);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(*l, (std::vector<uint32_t>{0, 2, 4, 5, 6}));
  EXPECT_FALSE(ParsePartitionList("3-1", 8).ok());
  EXPECT_FALSE(ParsePartitionList("8", 8).ok());
  EXPECT_FALSE(ParsePartitionList("", 8).ok());
}

}  // namespace
}  // namespace kg
