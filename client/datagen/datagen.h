// The sample-data generator: a deterministic, seeded, streaming generator of a realistic
// e-commerce knowledge graph, emitted as ImportRecords to a callback. Memory grows with the
// number of products, never with the number of edges. Functions are thread-safe (no
// shared state); one Generate call runs on the calling thread.
//   kg::datagen::Options options;  // scale 1: ~1M edges
//   auto stats = kg::datagen::Generate(options, [&](const kg::v1::ImportRecord& r) {
//     return Write(r);  // absl::Status; a non-OK status stops the generator
//   });
#ifndef KG_CLIENT_DATAGEN_DATAGEN_H_
#define KG_CLIENT_DATAGEN_DATAGEN_H_

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kg/v1/types.pb.h"

namespace kg {
namespace datagen {

// 2026-11-01T00:00:00Z: the default end of the generated event window.
inline constexpr int64_t kDefaultEndTimeMs = 1793491200000;
// Events (buyer funnel, follows, posts, promotions) fall in the window
// (end_time_ms - kEventWindowMs, end_time_ms].
inline constexpr int64_t kEventWindowMs = int64_t{90} * 24 * 3600 * 1000;
// Product metrics sales_30d and gmv_30d sum the PURCHASED edges (weight = quantity) with
// time_ms >= end_time_ms - kSalesWindowMs.
inline constexpr int64_t kSalesWindowMs = int64_t{30} * 24 * 3600 * 1000;

// How buyers behave, and the ground truths planted in the data (Options::planted receives
// them). Rules 1 to 4 apply to every product; the planted pairs of rule 5 hold everything
// else equal so that one cause explains the difference between their two products.
//
// 1. Promotion drives traffic. Each influencer PROMOTES 5..20 products of its top-level
//    category (drawn by popularity) at times uniform in the event window. For each
//    influencer a buyer follows, with probability 0.5 the buyer VIEWS one of its promoted
//    products (chosen uniformly) at a time uniform in (that PROMOTES edge's time,
//    end_time_ms]; a product for the other gender (women's for a man, men's for a woman) is
//    viewed only 1 time in 10. These views go through the same funnel as the others, and a
//    buyer has at most one edge of a type with a product.
// 2. Conversion depends on rating and price. A view is clicked with probability 0.45, a
//    click carted with 0.6, and a cart purchased with
//      min(1, 0.33 * RatingFactor(rating) * PriceFactor(price / reference)),
//      RatingFactor(r) = clamp(1 + 1.2 * (r - 4), 0.2, 1.85),
//      PriceFactor(x)  = clamp(x^-3, 0.3, 3),
//    rating and price being the product's metrics and reference the typical price of its
//    leaf category (its peers' median price), so a product priced below its peers converts
//    better (and premium brands, priced above, worse). A rating is 3.0 + 1.8 x the SPU's
//    quality (uniform 0..1) plus normal noise (sd 0.25), within 1..5; an SPU's base price is
//    the leaf's median price x its brand tier's factor (0.6 budget, 1.0 mid, 1.9 premium) x
//    e^(0.35 N(0,1)), each variant's price the base +-8% (shelf prices, x.99).
// 3. Buyers have favourite leaf categories. Each buyer has 1..3 (uniform) favourite leaves,
//    each drawn from the buyer's top-level interests (which lean on gender and age), then
//    within that category by number of products (a leaf for the other gender weighs 1/10).
//    40% of the draws of a buyer's ordinary views come from the products of a favourite leaf
//    (by popularity within the leaf: Zipf, exponent 0.95, in the order of the top-level
//    popularity); the others from the top-level categories of interest by popularity.
// 4. Products have an audience. An SPU targets women, men or everyone (gender_target) and
//    peaks at one age band. A buyer accepts a drawn ordinary view with probability 0.1 if
//    the product is for the other gender (buyers of gender U accept any), times 1.0, 0.25,
//    0.08 or 0.03 for the buyer's age band 0, 1, 2 or 3+ bands from the peak; else draws again,
//    up to 8 draws (the last is kept). The planted main segment of a product (Planted
//    kAudience) is dimension "gender" value "F" for a women's product, "M" for a men's, and
//    for a unisex product dimension "age_band" value its peak band (e.g. "25-34").
// 5. Planted pairs. Each SPU with 2 variants or more draws a cause uniformly among
//    "promotion", "price" and "rating"; planted_pair_percent percent of these SPUs get a
//    planted pair, a third per cause: A, the first variant, outperforms B, the second,
//    because of the cause (Planted kPair; fewer pairs when a cause lacks candidates, which
//    happens at small scales). Everything else is equal: whenever an ordinary
//    view is drawn on A or B it goes to either, 50/50 (one popularity); both cost the SPU's
//    base shelf price and are rated 4.0; their review_count follows their mean sales. Then:
//    - "promotion": the 6..8 most followed influencers of the category that promote neither
//      A nor B also PROMOTE A, at times in the first half of the event window, and their
//      followers view A as in rule 1. No influencer of the category's 8 most followed
//      promotes B. Chosen among SPUs whose base price is 0.74..1 x the reference, nearest
//      to 1.5 x the mean product's popularity (the extra views then show).
//    - "price": A costs 0.8 x the base price, B 1.15 x (shelf prices).
//    - "rating": A is rated 4.7, B 3.3.
//    "price" and "rating" pairs are the most popular SPUs whose two products none of the
//    category's 3 most followed influencers promotes, with a base price 0.78..1.28 x the
//    reference (so that neither purchase rate reaches its bounds).
//    At scale 1 (416 pairs), A out-purchases B in about 95% of the pairs; the winners of
//    "promotion" pairs have about 3x the views of the losers, those of "price" and "rating"
//    pairs the same.

// A planted ground truth (Options::planted).
struct Planted {
  enum Kind {
    // `product`'s main buyer segment (rule 4): `dimension` "gender" with `value` "F" or
    // "M", or `dimension` "age_band" with `value` an age band such as "25-34".
    kAudience,
    // Product `product` outperforms product `other`, a variant of the same SPU, because of
    // `cause`: "promotion", "price" or "rating" (rule 5).
    kPair,
  };
  Kind kind = kAudience;
  // The product described (kAudience) or the pair's winner, A (kPair).
  uint64_t product = 0;
  // The pair's loser, B (kPair); 0 for kAudience.
  uint64_t other = 0;
  // kAudience: the buyer attribute ("gender" or "age_band") and its value.
  std::string dimension;
  std::string value;
  // kPair: "promotion", "price" or "rating".
  std::string cause;
};

struct Options {
  // Size of the graph: 1.0 is about 1M logical edges (about 20k products, 50k buyers); edges
  // grow linearly with scale. Valid range 0.001..1000. Default 1.0.
  double scale = 1.0;
  // Seed of every random choice: the same options give byte-identical output. Default 42.
  uint64_t seed = 42;
  // End of the event window, ms since the Unix epoch; also every entity's update time.
  // Default kDefaultEndTimeMs (fixed, so the output is reproducible).
  int64_t end_time_ms = kDefaultEndTimeMs;
  // The products for SPU assignment (AdminService.AssignSpus), 0..50: this percent of the
  // SPUs are "new": their SPU entity and every INSTANCE_OF edge to them are withheld (their
  // ids stay unused); and this percent of the other products lose their INSTANCE_OF edge.
  // Default 0 (nothing withheld).
  double unassigned_percent = 0;
  // Receives every withheld record (SPU entities, INSTANCE_OF edges), e.g. to keep as the
  // answer key of an assignment; importing them restores the full graph. May be empty.
  std::function<absl::Status(const v1::ImportRecord&)> withheld;
  // The percent, 0..100, of the SPUs with at least 2 variants that get a planted pair (rule 5
  // above; fewer when a cause lacks candidates, at small scales). 0: none. Default 10.
  double planted_pair_percent = 10;
  // Receives the planted ground truths, after the products: one kAudience record per
  // product (in id order), then one kPair record per planted pair (by winner id). The record
  // is valid only during the call. A non-OK return stops the generator. May be empty.
  std::function<absl::Status(const Planted&)> planted;
};

// Returns INVALID_ARGUMENT naming the bad field if `options` is out of range.
absl::Status ValidateOptions(const Options& options);

// How many entities of each type a generation produces. Each type uses ids 1..count, so
// benchmarks can draw valid keys without reading the data.
struct Plan {
  // Indexed by v1::EntityType (index 0, ENTITY_TYPE_UNSPECIFIED, stays 0).
  std::array<uint64_t, 9> entities{};
  // Leaf categories use the contiguous CATEGORY ids
  // first_leaf_category .. first_leaf_category + leaf_categories - 1; top-level categories
  // are 1..top_categories.
  uint64_t first_leaf_category = 0;
  uint64_t leaf_categories = 0;
  uint64_t top_categories = 0;

  uint64_t Count(v1::EntityType type) const { return entities[type]; }
};

// The plan of Generate(options). Requires ValidateOptions(options).ok(). Costs about a
// millisecond per 10k products.
Plan PlanFor(const Options& options);

// What a generation emitted.
struct Stats {
  // Indexed by v1::EntityType and v1::EdgeType.
  std::array<uint64_t, 9> entities{};
  std::array<uint64_t, 14> edges{};
  // Records withheld (Options::unassigned_percent), not counted above.
  uint64_t withheld = 0;
  // Planted pairs (Options::planted_pair_percent), whether or not Options::planted is set.
  uint64_t planted_pairs = 0;

  uint64_t total_entities() const;
  uint64_t total_edges() const;
  uint64_t records() const { return total_entities() + total_edges(); }
};

// Receives each record. The record is valid only during the call (it is reused). A
// non-OK return stops the generation, and Generate returns that status.
using RecordSink = std::function<absl::Status(const v1::ImportRecord& record)>;

// Generates the graph and streams it to `sink`: categories with SUBCATEGORY_OF, brands,
// merchants, SPUs, influencers with their content (POSTED, FEATURES, PROMOTES), each buyer
// with FOLLOWS and funnel events (VIEWED, CLICKED, ADDED_TO_CART, PURCHASED), then products
// (with sales metrics consistent with the PURCHASED edges) with IN_CATEGORY (all but about
// 8%, left for Categorize), HAS_BRAND, INSTANCE_OF and SOLD_BY; then hands the planted
// ground truths to Options::planted (see the rules above). At most one edge of a type joins
// two entities; every edge obeys the schema; ids stay within PlanFor(options).
absl::StatusOr<Stats> Generate(const Options& options, const RecordSink& sink);

}  // namespace datagen
}  // namespace kg

#endif  // KG_CLIENT_DATAGEN_DATAGEN_H_
