#include "server/knowledge/spu_groups.h"

#include <algorithm>
#include <numeric>

namespace kg::knowledge {

std::vector<ListingGroup> GroupByCore(size_t listings, const std::vector<ListingPair>& pairs,
                                      double min_score, size_t min_group_size) {
  std::vector<std::vector<std::pair<uint32_t, double>>> strong(listings);
  for (const ListingPair& p : pairs) {
    if (p.score < min_score || p.a >= listings || p.b >= listings || p.a == p.b) continue;
    strong[p.a].emplace_back(p.b, p.score);
    strong[p.b].emplace_back(p.a, p.score);
  }
  std::vector<double> sum(listings, 0);
  for (size_t i = 0; i < listings; ++i) {
    for (const auto& [other, score] : strong[i]) sum[i] += score;
    std::sort(strong[i].begin(), strong[i].end(), [](const auto& x, const auto& y) {
      return x.second != y.second ? x.second > y.second : x.first < y.first;
    });
  }
  std::vector<uint32_t> order(listings);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
    if (strong[x].size() != strong[y].size()) return strong[x].size() > strong[y].size();
    return sum[x] > sum[y];
  });
  std::vector<bool> grouped(listings, false);
  std::vector<ListingGroup> out;
  for (uint32_t core : order) {
    if (grouped[core]) continue;
    ListingGroup g{core, {}};
    for (const auto& [other, score] : strong[core]) {
      if (!grouped[other]) g.members.emplace_back(other, score);
    }
    if (1 + g.members.size() < std::max<size_t>(min_group_size, 1)) continue;
    grouped[core] = true;
    for (const auto& [other, score] : g.members) grouped[other] = true;
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace kg::knowledge
