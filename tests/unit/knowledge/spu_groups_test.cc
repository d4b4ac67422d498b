// GroupByCore: groups are a core and its own strong matches; weak links never chain
// listings together; each listing is in one group at most; the minimum group size and
// the threshold hold.
#include "server/knowledge/spu_groups.h"

#include <gtest/gtest.h>

#include <set>

namespace kg::knowledge {
namespace {

std::set<uint32_t> Members(const ListingGroup& g) {
  std::set<uint32_t> out = {g.core};
  for (const auto& [m, score] : g.members) out.insert(m);
  return out;
}

TEST(SpuGroupsTest, CoreAndItsOwnMatches) {
  // 0-1-2 all match one another; 3 matches 2 only; 4-5 match; 6 matches nobody strongly.
  std::vector<ListingPair> pairs = {{0, 1, 0.95}, {0, 2, 0.92}, {1, 2, 0.9},
                                    {2, 3, 0.85}, {4, 5, 0.97}, {5, 6, 0.4}};
  std::vector<ListingGroup> groups = GroupByCore(7, pairs, 0.8, 2);
  ASSERT_EQ(groups.size(), 2u);
  // 2 has the most strong matches (0, 1, 3): it is the first core and takes all three.
  EXPECT_EQ(groups[0].core, 2u);
  EXPECT_EQ(Members(groups[0]), (std::set<uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(groups[0].members[0].first, 0u);  // best first
  EXPECT_DOUBLE_EQ(groups[0].members[0].second, 0.92);
  EXPECT_EQ(Members(groups[1]), (std::set<uint32_t>{4, 5}));
}

TEST(SpuGroupsTest, NoChainOfWeakLinks) {
  // A chain 0-1-2-3-4: each link strong, but the ends do not match each other.
  std::vector<ListingPair> chain = {{0, 1, 0.9}, {1, 2, 0.9}, {2, 3, 0.9}, {3, 4, 0.9}};
  std::vector<ListingGroup> groups = GroupByCore(5, chain, 0.8, 2);
  std::set<uint32_t> seen;
  for (const ListingGroup& g : groups) {
    for (const auto& [m, score] : g.members) {
      // Every member matches its core directly.
      bool direct = false;
      for (const ListingPair& p : chain) {
        direct |= (p.a == g.core && p.b == m) || (p.b == g.core && p.a == m);
      }
      EXPECT_TRUE(direct) << "member " << m << " of core " << g.core;
    }
    for (uint32_t m : Members(g)) EXPECT_TRUE(seen.insert(m).second) << "listing " << m;
    EXPECT_LE(Members(g).size(), 3u);
  }
  EXPECT_GE(groups.size(), 1u);
}

TEST(SpuGroupsTest, ThresholdSizeAndBadPairs) {
  std::vector<ListingPair> pairs = {{0, 1, 0.7}, {2, 3, 0.9}, {3, 9, 0.99}, {4, 4, 1.0}};
  // 0.7 is below the threshold; the pair naming listing 9 (of 5) and the self-pair are
  // ignored.
  std::vector<ListingGroup> groups = GroupByCore(5, pairs, 0.8, 2);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(Members(groups[0]), (std::set<uint32_t>{2, 3}));
  // A minimum of 3: no group; of 1: every listing is in a group.
  EXPECT_TRUE(GroupByCore(5, pairs, 0.8, 3).empty());
  std::vector<ListingGroup> all = GroupByCore(5, pairs, 0.8, 1);
  size_t listed = 0;
  for (const ListingGroup& g : all) listed += Members(g).size();
  EXPECT_EQ(listed, 5u);
  EXPECT_TRUE(GroupByCore(0, {}, 0.8, 2).empty());
}

}  // namespace
}  // namespace kg::knowledge
