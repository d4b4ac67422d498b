// KnowledgeOps: the front end's implementation of kg.v1.KnowledgeService (Categorize,
// GetTaxonomy) and of AdminService.TrainModels: validation, routing (a PRODUCT key to its
// partition, texts spread over the partitions, aggregates computed from their parts),
// the scans that gather training data, training, and installing the bundle on every
// partition server. Independent of gRPC's server side. Thread-safe.
//
// Operations made of dependent partition calls run on a small WorkQueue (never on the
// caller's thread); TrainModels runs on its own thread, one at a time.
#ifndef KG_SERVER_FRONTEND_KNOWLEDGE_OPS_H_
#define KG_SERVER_FRONTEND_KNOWLEDGE_OPS_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "kg/v1/admin.pb.h"
#include "kg/v1/knowledge.pb.h"
#include "server/frontend/cluster.h"
#include "server/frontend/graph_ops.h"
#include "server/frontend/partition_client.h"
#include "server/frontend/work_queue.h"

namespace kg {

// Request bounds (documented in proto/kg/v1/knowledge.proto).
inline constexpr int kMaxKnowledgeItems = 1000;
inline constexpr int kDefaultTopK = 3;
inline constexpr int kMaxTopK = 20;
inline constexpr size_t kMaxTitleBytes = 4096;
inline constexpr size_t kMaxDescriptionBytes = 65536;
inline constexpr int kMaxTextAttributes = 64;
inline constexpr int kMixSample = 200;
inline constexpr int kMaxChildDepth = 5;
inline constexpr int kMaxTaxonomyChildren = 10000;
inline constexpr size_t kMaxCategories = 1000000;

class KnowledgeOps {
 public:
  // `router` (and `graph`, which writes the HAS_BRAND edges of DevelopBrands; may be null,
  // then `apply` is refused) must outlive this object.
  explicit KnowledgeOps(const Router* router, const GraphOps* graph = nullptr);
  // Cancels a training in progress (it ends with CANCELLED within about 100 ms) and waits
  // for it.
  ~KnowledgeOps();

  void Categorize(const CallOptions& o, const v1::CategorizeRequest& req,
                  v1::CategorizeResponse* resp, Done done);
  void GetTaxonomy(const CallOptions& o, const v1::GetTaxonomyRequest& req,
                   v1::GetTaxonomyResponse* resp, Done done);
  void RecognizeBrands(const CallOptions& o, const v1::RecognizeBrandsRequest& req,
                       v1::RecognizeBrandsResponse* resp, Done done);
  void ExtractAttributes(const CallOptions& o, const v1::ExtractAttributesRequest& req,
                         v1::ExtractAttributesResponse* resp, Done done);
  void MatchSpu(const CallOptions& o, const v1::MatchSpuRequest& req, v1::MatchSpuResponse* resp,
                Done done);
  // AdminService.DevelopBrands (admin.proto), on the work queue.
  void DevelopBrands(const CallOptions& o, const v1::DevelopBrandsRequest& req,
                     v1::DevelopBrandsResponse* resp, Done done);

  // AdminService.AssignSpus (admin.proto), on the work queue; one at a time.
  void AssignSpus(const CallOptions& o, const v1::AssignSpusRequest& req,
                  v1::AssignSpusResponse* resp, Done done);

  // Trains and installs a new bundle. `progress` gets each message (the last with `done`
  // set) on the training thread; `finish` runs once, after the last progress message, with
  // the outcome. ABORTED at once when a training is running.
  using ProgressFn = std::function<void(const v1::TrainModelsProgress&)>;
  void TrainModels(const v1::TrainModelsRequest& req, ProgressFn progress, Done finish);

 private:
  // Runs `work` on the work queue and passes its status to `done` (RESOURCE_EXHAUSTED at
  // once when the queue is full).
  void Queue(std::function<absl::Status()> work, Done done);
  // A Categorize request checked and split: its product and text items grouped per
  // partition, its MERCHANT / INFLUENCER / CONTENT keys (answered by aggregation).
  struct CategorizePlan;
  absl::Status PlanCategorize(const CallOptions& o, const v1::CategorizeRequest& req,
                              v1::CategorizeResponse* resp, CategorizePlan* plan) const;
  // Products and texts only: the partition calls run without the work queue, and `done`
  // runs on the thread of the last reply (inline when every partition is local).
  void CategorizeDirect(const CallOptions& o, const v1::CategorizeRequest& req,
                        v1::CategorizeResponse* resp, Done done) const;
  // With aggregates: dependent partition calls, waited for on the work queue.
  absl::Status CategorizeNow(const CallOptions& o, const v1::CategorizeRequest& req,
                             v1::CategorizeResponse* resp) const;
  absl::Status DevelopBrandsNow(const CallOptions& o, const v1::DevelopBrandsRequest& req,
                                v1::DevelopBrandsResponse* resp) const;
  absl::Status AssignSpusNow(const CallOptions& o, const v1::AssignSpusRequest& req,
                             v1::AssignSpusResponse* resp) const;
  absl::Status GetTaxonomyNow(const CallOptions& o, const v1::GetTaxonomyRequest& req,
                              v1::GetTaxonomyResponse* resp) const;
  absl::Status Train(const v1::TrainModelsRequest& req, const ProgressFn& progress) const;

  const Router* router_;
  const GraphOps* graph_;
  mutable std::atomic<uint32_t> next_partition_{0};  // spreads texts over partitions
  WorkQueue queue_;
  std::mutex train_mu_;
  bool training_ = false;  // guarded by train_mu_
  std::thread trainer_;    // guarded by train_mu_
  std::atomic<bool> cancel_{false};
  mutable std::mutex assign_mu_;  // held by a running AssignSpus
};

}  // namespace kg

#endif  // KG_SERVER_FRONTEND_KNOWLEDGE_OPS_H_
