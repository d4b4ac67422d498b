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
// 8%, left for Categorize), HAS_BRAND, INSTANCE_OF and SOLD_BY. At most one edge of a type joins
// two entities; every edge obeys the schema; ids stay within PlanFor(options).
absl::StatusOr<Stats> Generate(const Options& options, const RecordSink& sink);

}  // namespace datagen
}  // namespace kg

#endif  // KG_CLIENT_DATAGEN_DATAGEN_H_
