// InsightOps: the front end's implementation of kg.v1.InsightService (TopProducts,
// CompareProducts) and of KnowledgeService.ProfileEntity: validation, the partition calls
// (the per-partition product index for top products, neighbor lists and counts, entity
// reads, buyer segment counts), and the computations of server/insight over what they
// return. Each operation takes several dependent partition calls, so it runs on a small
// WorkQueue (never on the caller's thread); TopProducts, cheap, runs on the caller's thread
// when every partition is in this process (then no call blocks). Thread-safe.
#ifndef KG_SERVER_FRONTEND_INSIGHT_OPS_H_
#define KG_SERVER_FRONTEND_INSIGHT_OPS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "kg/v1/insight.pb.h"
#include "kg/v1/knowledge.pb.h"
#include "server/frontend/cluster.h"
#include "server/frontend/partition_client.h"
#include "server/frontend/work_queue.h"

namespace kg {

// Request bounds (documented in proto/kg/v1/insight.proto and knowledge.proto).
inline constexpr int kDefaultTopLimit = 20;
inline constexpr int kMaxTopLimit = 1000;
inline constexpr int kMaxTopBrands = 100;
inline constexpr size_t kMaxTopCategories = 10000;
inline constexpr int kDefaultMaxPeers = 300;
inline constexpr int kMaxPeers = 2000;
inline constexpr int kDefaultProfileSample = 2000;
inline constexpr int kMaxProfileSample = 20000;
inline constexpr int kDefaultMinBuyers = 30;
inline constexpr int kMaxMinBuyers = 10000;
inline constexpr double kDefaultPurchaseWeight = 3;
inline constexpr double kMaxPurchaseWeight = 100;
// Products an aggregate profile (a merchant, an influencer, a category fallback) reads.
inline constexpr int kProfileProducts = 200;
// How long TopProducts reuses a category's expansion (it exists, its descendants): taxonomy
// changes show within this time. At most kTaxonomyCacheEntries categories are kept.
inline constexpr std::chrono::seconds kTaxonomyCacheTtl{5};
inline constexpr size_t kTaxonomyCacheEntries = 10000;

class InsightOps {
 public:
  // `router` must outlive this object.
  explicit InsightOps(const Router* router);

  void TopProducts(const CallOptions& o, const v1::TopProductsRequest& req,
                   v1::TopProductsResponse* resp, Done done);
  void CompareProducts(const CallOptions& o, const v1::CompareProductsRequest& req,
                       v1::CompareProductsResponse* resp, Done done);
  void ProfileEntity(const CallOptions& o, const v1::ProfileEntityRequest& req,
                     v1::ProfileEntityResponse* resp, Done done);

 private:
  void Queue(std::function<absl::Status()> work, Done done);
  absl::Status TopProductsNow(const CallOptions& o, const v1::TopProductsRequest& req,
                              v1::TopProductsResponse* resp) const;
  absl::Status CompareProductsNow(const CallOptions& o, const v1::CompareProductsRequest& req,
                                  v1::CompareProductsResponse* resp) const;
  absl::Status ProfileEntityNow(const CallOptions& o, const v1::ProfileEntityRequest& req,
                                v1::ProfileEntityResponse* resp) const;

  // The category (with its descendants when `descendants`), checked to exist; from the
  // cache when expanded less than kTaxonomyCacheTtl ago.
  absl::StatusOr<std::vector<uint64_t>> Categories(const CallOptions& o,
                                                   const v1::EntityKey& category,
                                                   bool descendants) const;

  const Router* router_;
  const bool all_local_;  // every partition in this process
  WorkQueue queue_;
  struct Expansion {
    std::chrono::steady_clock::time_point expires;
    std::vector<uint64_t> categories;
  };
  mutable absl::Mutex cache_mu_;
  // Keyed by category id * 2 + descendants.
  mutable absl::flat_hash_map<uint64_t, Expansion> cache_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace kg

#endif  // KG_SERVER_FRONTEND_INSIGHT_OPS_H_
