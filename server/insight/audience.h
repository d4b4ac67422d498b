// Audience statistics: the segments (buyer attribute values) of a weighted sample of
// buyers against the platform's base rates: share, lift, a Wilson interval, and a one-line
// summary. Plain C++.
#ifndef KG_SERVER_INSIGHT_AUDIENCE_H_
#define KG_SERVER_INSIGHT_AUDIENCE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace kg::insight {

// One buyer of a sample: its attributes and its weight (e.g. 3 for a purchase, 1 for a
// view only).
struct BuyerObservation {
  std::vector<std::pair<std::string, std::string>> attributes;
  double weight = 1;
};

// The platform's buyers: per (dimension, value), how many have it; dimensions not listed
// (identifiers, free text) are not segments.
struct BaseRates {
  std::map<std::pair<std::string, std::string>, uint64_t> counts;
  uint64_t buyers = 0;
  std::set<std::string> dropped;
};

struct SegmentStat {
  std::string dimension;
  std::string value;
  double share = 0;       // weighted share among the sample's buyers having the dimension
  double base_share = 0;  // among all buyers having the dimension
  double lift = 0;        // share / base_share (0 when base_share is 0)
  uint64_t count = 0;     // buyers of the sample with the value
  double ci_low = 0;      // 95% Wilson interval of `share`
  double ci_high = 0;
};

// The 95% Wilson score interval of a proportion `p` observed over `n` trials (n may be an
// effective, non-integer sample size); {0, 1} for n <= 0.
std::pair<double, double> Wilson(double p, double n);

// Segments of `sample` over the dimensions of `base` (per dimension, values by share,
// largest first; dimensions by name). The interval uses the effective sample size of the
// weights, (sum w)^2 / sum w^2.
std::vector<SegmentStat> AudienceSegments(const std::vector<BuyerObservation>& sample,
                                          const BaseRates& base);

// A segment must hold this share of its audience to be its main segment.
inline constexpr double kMainSegmentMinShare = 0.2;

// E.g. "mostly gender F (86%, lift 1.65); age_band 25-34 (41%, lift 1.37)": per dimension
// the value with the highest lift among those over-represented with confidence (the
// interval above the base share, lift >= 1.2, share >= kMainSegmentMinShare), the two
// strongest dimensions; or "no segment stands out".
std::string AudienceSummary(const std::vector<SegmentStat>& segments, uint64_t buyers);

}  // namespace kg::insight

#endif  // KG_SERVER_INSIGHT_AUDIENCE_H_
