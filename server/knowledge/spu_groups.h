// Grouping listings that have no SPU into new SPUs, without chaining weak links: a group is
// a core listing and listings that each match the core itself (score >= the threshold);
// two listings that only match through a third are never grouped for that. Cores are
// taken greedily, the listing with the most strong matches first. Plain C++.
#ifndef KG_SERVER_KNOWLEDGE_SPU_GROUPS_H_
#define KG_SERVER_KNOWLEDGE_SPU_GROUPS_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "server/knowledge/spu_matcher.h"

namespace kg::knowledge {

struct ListingGroup {
  uint32_t core = 0;
  // The other members, each with its score against the core, best first.
  std::vector<std::pair<uint32_t, double>> members;
};

// Groups listings 0..listings-1 by `pairs` (those with score >= `min_score` count): in the
// order of most strong matches (then highest summed score, then lowest index), a listing
// not yet grouped becomes a core, with its strong matches not yet grouped as members, when
// that makes at least `min_group_size` listings (a listing may still join a later core as a
// member). Each listing is in at most one group. Pairs naming a listing >= `listings` are
// ignored. Groups in the order they were formed.
std::vector<ListingGroup> GroupByCore(size_t listings, const std::vector<ListingPair>& pairs,
                                      double min_score, size_t min_group_size);

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_SPU_GROUPS_H_
