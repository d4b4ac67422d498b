#include "server/frontend/knowledge_ops.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/frontend/fanout.h"
#include "server/frontend/partition_calls.h"
#include "server/graph/key.h"
#include "server/graph/schema.h"
#include "server/knowledge/bundle.h"
#include "server/knowledge/categorizer.h"
#include "server/knowledge/taxonomy.h"
#include "server/knowledge/text.h"
#include "server/partition/convert.h"
#include "server/partition/status.h"

namespace kg {
namespace {

using internal::v1::ScannedEntity;

constexpr uint32_t kCountBatch = 1000;
constexpr size_t kInstallChunk = 4 << 20;

// The taxonomy as the graph has it now: every CATEGORY with its SUBCATEGORY_OF parent.
absl::StatusOr<knowledge::Taxonomy> ScanTaxonomy(const Router& router,
                                                 const std::function<CallOptions()>& options) {
  std::vector<knowledge::CategoryRecord> records;
  absl::Status s = ScanAll(router, options, v1::CATEGORY, {Edge(v1::SUBCATEGORY_OF, v1::OUT, 1)},
                           [&records](const ScannedEntity& e) {
                             if (records.size() >= kMaxCategories) {
                               return absl::ResourceExhaustedError(absl::StrCat(
                                   "the taxonomy has more than ", kMaxCategories, " categories"));
                             }
                             uint64_t parent = e.edges(0).ids_size() > 0 ? e.edges(0).ids(0) : 0;
                             records.push_back({e.entity().key().id(), e.entity().name(), parent});
                             return absl::OkStatus();
                           });
  if (!s.ok()) return s;
  return knowledge::Taxonomy::Build(std::move(records));
}

// A scanned PRODUCT as the categorizer sees it.
knowledge::ProductInput InputOf(const v1::Entity& e, std::string brand) {
  return knowledge::StoredProduct(e.name(), {e.attributes().begin(), e.attributes().end()},
                                  std::move(brand));
}

// The edge listing what a MERCHANT, INFLUENCER or CONTENT key is about.
bool MixEdge(v1::EntityType type, v1::EdgeType* edge, v1::Direction* dir) {
  switch (type) {
    case v1::MERCHANT:
      *edge = v1::SOLD_BY;
      *dir = v1::IN;
      return true;
    case v1::INFLUENCER:
      *edge = v1::PROMOTES;
      *dir = v1::OUT;
      return true;
    case v1::CONTENT:
      *edge = v1::FEATURES;
      *dir = v1::OUT;
      return true;
    default:
      return false;
  }
}

// Validates a text item.
absl::Status CheckText(const v1::KnowledgeItem& item, int i) {
  if (!item.has_text()) {
    return absl::InvalidArgumentError(absl::StrCat("items[", i, "]: set key or text"));
  }
  const v1::ProductText& t = item.text();
  if (t.title().size() > kMaxTitleBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("items[", i, "].text.title: longer than ", kMaxTitleBytes, " bytes"));
  }
  if (knowledge::NormalizeText(t.title()).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("items[", i, "].text.title: required (no letters or digits in it)"));
  }
  if (t.description().size() > kMaxDescriptionBytes) {
    return absl::InvalidArgumentError(absl::StrCat("items[", i, "].text.description: longer than ",
                                                   kMaxDescriptionBytes, " bytes"));
  }
  if (t.attributes_size() > kMaxTextAttributes) {
    return absl::InvalidArgumentError(
        absl::StrCat("items[", i, "].text.attributes: more than ", kMaxTextAttributes, " entries"));
  }
  return absl::OkStatus();
}

// Validates an item: a text, or a key whose type is one of `types` (`what` names what the
// RPC does with it and `accepted` the types, for the error).
absl::Status CheckItemOf(const v1::KnowledgeItem& item, int i,
                         std::initializer_list<v1::EntityType> types, absl::string_view what,
                         absl::string_view accepted) {
  if (!item.has_key()) return CheckText(item, i);
  absl::Status s = ValidateKey(item.key(), ItemField{"items", i, ".key"});
  if (!s.ok()) return s;
  if (std::find(types.begin(), types.end(), item.key().type()) == types.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("items[", i, "].key.type: ", v1::EntityType_Name(item.key().type()), " ", what,
                     " (give a ", accepted, " key, or a text)"));
  }
  return absl::OkStatus();
}

// Categorize: products, texts or mix keys.
absl::Status CheckItem(const v1::KnowledgeItem& item, int i) {
  return CheckItemOf(item, i, {v1::PRODUCT, v1::MERCHANT, v1::INFLUENCER, v1::CONTENT},
                     "cannot be categorized", "PRODUCT, MERCHANT, INFLUENCER or CONTENT");
}

// RecognizeBrands / ExtractAttributes: a text, or a key of an entity with a title.
absl::Status CheckTitled(const v1::KnowledgeItem& item, int i) {
  return CheckItemOf(item, i, {v1::PRODUCT, v1::SPU, v1::CONTENT}, "has no title",
                     "PRODUCT, SPU or CONTENT");
}

// MatchSpu: a text, or a PRODUCT key.
absl::Status CheckProductOrText(const v1::KnowledgeItem& item, int i) {
  return CheckItemOf(item, i, {v1::PRODUCT}, "is not a product", "PRODUCT");
}

using CategorizeScatter =
    Scatter<internal::v1::CategorizeRequest, internal::v1::CategorizeResponse>;

// Reads the replies of a scatter of items into `out[item]`; records the versions seen.
// FAILED_PRECONDITION (no model) from any partition is returned.
template <typename Req, typename Resp, typename Result>
absl::Status Collect(Scatter<Req, Resp>* scatter, std::vector<Result*>* out,
                     std::set<std::string>* versions) {
  for (auto& slot : scatter->slots()) {
    if (slot->status.ok()) versions->insert(slot->resp.model_version());
    if (absl::IsFailedPrecondition(slot->status)) return slot->status;
    for (size_t j = 0; j < slot->items.size(); ++j) {
      Result* result = (*out)[slot->items[j]];
      absl::Status error;
      if (!slot->Answered(j, slot->resp.results_size(), &error)) {
        SetItemStatus(error, result->mutable_status());
        continue;
      }
      result->Swap(slot->resp.mutable_results(static_cast<int>(j)));
      // The partition named the item by its place in the partition's request.
      const std::string local = absl::StrCat("items[", j, "]");
      if (result->status().code() != 0 && absl::StartsWith(result->status().message(), local)) {
        result->mutable_status()->set_message(absl::StrCat(
            "items[", slot->items[j], "]", result->status().message().substr(local.size())));
      }
    }
  }
  return absl::OkStatus();
}

// The reply's model version: UNAVAILABLE when partitions answered with different ones.
template <typename Resp>
absl::Status SetVersion(const std::set<std::string>& versions, Resp* resp) {
  if (versions.size() > 1) {
    return absl::UnavailableError(
        "partition servers answered with different model versions (a bundle is being "
        "installed); retry");
  }
  if (!versions.empty()) resp->set_model_version(*versions.begin());
  return absl::OkStatus();
}

// Whether a request has MERCHANT / INFLUENCER / CONTENT keys (aggregates).
bool HasAggregates(const v1::CategorizeRequest& req) {
  for (const v1::KnowledgeItem& item : req.items()) {
    if (item.has_key() && item.key().type() != v1::PRODUCT) return true;
  }
  return false;
}

// The number of items of a request, checked.
absl::Status CheckItemCount(int items) {
  if (items < 1 || items > kMaxKnowledgeItems) {
    return absl::InvalidArgumentError(
        absl::StrCat("items: must have 1..", kMaxKnowledgeItems, " items, got ", items));
  }
  return absl::OkStatus();
}

// A type in a context that template argument deduction ignores.
template <typename T>
struct NonDeduced {
  using type = T;
};

// RecognizeBrands, ExtractAttributes, MatchSpu: each item checked by `check` (its own status
// when bad), `prepare` setting the other fields of each internal request; texts
// spread round-robin from `first`, keys sent to their partition, the replies put back in
// item order with one model version; `done` runs on the thread of the last reply.
template <typename Req, typename Resp, typename InternalReq, typename InternalResp>
void SpreadItems(
    const Router& router, uint32_t first, const CallOptions& o, const Req& req, Resp* resp,
    void (PartitionClient::*method)(const CallOptions&, const InternalReq*, InternalResp*, Done),
    absl::Status (*check)(const v1::KnowledgeItem&, int),
    const std::function<void(typename NonDeduced<InternalReq>::type*)>& prepare, Done done) {
  absl::Status s = CheckDeadline(o);
  if (s.ok()) s = CheckItemCount(req.items_size());
  if (!s.ok()) return done(s);
  using Result = std::remove_pointer_t<decltype(resp->add_results())>;
  struct Call {
    explicit Call(uint32_t partitions) : scatter(partitions) {}
    Scatter<InternalReq, InternalResp> scatter;
    std::vector<Result*> results;
    std::set<std::string> versions;
  };
  auto call = std::make_shared<Call>(router.partition_count());
  for (int i = 0; i < req.items_size(); ++i) {
    const v1::KnowledgeItem& item = req.items(i);
    call->results.push_back(resp->add_results());
    absl::Status item_ok = check(item, i);
    if (!item_ok.ok()) {
      SetItemStatus(item_ok, call->results.back()->mutable_status());
      continue;
    }
    uint32_t p = item.has_key() ? router.PartitionOf(KeyFromProto(item.key()))
                                : (first + static_cast<uint32_t>(i)) % router.partition_count();
    auto& slot = call->scatter.At(p);
    if (slot.items.empty() && prepare) prepare(&slot.req);
    *slot.req.add_items() = item;
    slot.items.push_back(i);
  }
  if (call->scatter.slots().empty()) return done(absl::OkStatus());
  Call* c = call.get();
  c->scatter.Run(router, o, method, [call = std::move(call), resp, done = std::move(done)] {
    absl::Status collected = Collect(&call->scatter, &call->results, &call->versions);
    done(collected.ok() ? SetVersion(call->versions, resp) : collected);
  });
}

}  // namespace

void KnowledgeOps::RecognizeBrands(const CallOptions& o, const v1::RecognizeBrandsRequest& req,
                                   v1::RecognizeBrandsResponse* resp, Done done) {
  SpreadItems<v1::RecognizeBrandsRequest, v1::RecognizeBrandsResponse>(
      *router_, next_partition_.fetch_add(static_cast<uint32_t>(req.items_size())), o, req, resp,
      &PartitionClient::RecognizeBrands, &CheckTitled, {}, std::move(done));
}

void KnowledgeOps::ExtractAttributes(const CallOptions& o, const v1::ExtractAttributesRequest& req,
                                     v1::ExtractAttributesResponse* resp, Done done) {
  SpreadItems<v1::ExtractAttributesRequest, v1::ExtractAttributesResponse>(
      *router_, next_partition_.fetch_add(static_cast<uint32_t>(req.items_size())), o, req, resp,
      &PartitionClient::ExtractAttributes, &CheckTitled, {}, std::move(done));
}

void KnowledgeOps::MatchSpu(const CallOptions& o, const v1::MatchSpuRequest& req,
                            v1::MatchSpuResponse* resp, Done done) {
  if (req.top_k() < 0 || req.top_k() > kMaxTopK) {
    return done(absl::InvalidArgumentError(absl::StrCat(
        "top_k: must be 0..", kMaxTopK, " (0 means ", kDefaultTopK, "), got ", req.top_k())));
  }
  if (!(req.min_score() >= 0 && req.min_score() <= 1)) {
    return done(
        absl::InvalidArgumentError(absl::StrCat("min_score: must be 0..1, got ", req.min_score())));
  }
  const int top_k = req.top_k();
  const double min_score = req.min_score();
  SpreadItems<v1::MatchSpuRequest, v1::MatchSpuResponse>(
      *router_, next_partition_.fetch_add(static_cast<uint32_t>(req.items_size())), o, req, resp,
      &PartitionClient::MatchSpu, &CheckProductOrText,
      [top_k, min_score](internal::v1::MatchSpuRequest* r) {
        r->set_top_k(top_k);
        r->set_min_score(min_score);
      },
      std::move(done));
}

struct KnowledgeOps::CategorizePlan {
  explicit CategorizePlan(uint32_t partitions) : scatter(partitions) {}
  std::vector<v1::CategorizeResult*> results;
  CategorizeScatter scatter;
  std::vector<int> mixes;
  std::set<std::string> versions;
};

KnowledgeOps::KnowledgeOps(const Router* router, const GraphOps* graph)
    : router_(router), graph_(graph), queue_(8, 256) {}

KnowledgeOps::~KnowledgeOps() {
  cancel_ = true;
  std::thread trainer;
  {
    std::lock_guard<std::mutex> lock(train_mu_);
    trainer = std::move(trainer_);
  }
  if (trainer.joinable()) trainer.join();
}

void KnowledgeOps::Queue(std::function<absl::Status()> work, Done done) {
  QueueWork(&queue_, std::move(work), std::move(done), "knowledge");
}

void KnowledgeOps::Categorize(const CallOptions& o, const v1::CategorizeRequest& req,
                              v1::CategorizeResponse* resp, Done done) {
  if (!HasAggregates(req)) {
    CategorizeDirect(o, req, resp, std::move(done));
    return;
  }
  Queue([this, o, &req, resp] { return CategorizeNow(o, req, resp); }, std::move(done));
}

void KnowledgeOps::CategorizeDirect(const CallOptions& o, const v1::CategorizeRequest& req,
                                    v1::CategorizeResponse* resp, Done done) const {
  auto plan = std::make_shared<CategorizePlan>(router_->partition_count());
  absl::Status s = PlanCategorize(o, req, resp, plan.get());
  if (!s.ok() || plan->scatter.slots().empty()) {
    done(s);
    return;
  }
  CategorizePlan* p = plan.get();
  p->scatter.Run(*router_, o, &PartitionClient::Categorize,
                 [plan = std::move(plan), resp, done = std::move(done)] {
                   absl::Status collected =
                       Collect(&plan->scatter, &plan->results, &plan->versions);
                   done(collected.ok() ? SetVersion(plan->versions, resp) : collected);
                 });
}

void KnowledgeOps::GetTaxonomy(const CallOptions& o, const v1::GetTaxonomyRequest& req,
                               v1::GetTaxonomyResponse* resp, Done done) {
  Queue([this, o, &req, resp] { return GetTaxonomyNow(o, req, resp); }, std::move(done));
}

absl::Status KnowledgeOps::PlanCategorize(const CallOptions& o, const v1::CategorizeRequest& req,
                                          v1::CategorizeResponse* resp,
                                          CategorizePlan* plan) const {
  absl::Status s = CheckDeadline(o);
  if (!s.ok()) return s;
  s = CheckItemCount(req.items_size());
  if (!s.ok()) return s;
  if (req.top_k() < 0 || req.top_k() > kMaxTopK) {
    return absl::InvalidArgumentError(absl::StrCat("top_k: must be 0..", kMaxTopK, " (0 means ",
                                                   kDefaultTopK, "), got ", req.top_k()));
  }
  const Router& router = *router_;
  const uint32_t partitions = router.partition_count();
  for (int i = 0; i < req.items_size(); ++i) plan->results.push_back(resp->add_results());
  uint32_t next = next_partition_.fetch_add(static_cast<uint32_t>(req.items_size()));
  for (int i = 0; i < req.items_size(); ++i) {
    const v1::KnowledgeItem& item = req.items(i);
    absl::Status item_ok = CheckItem(item, i);
    if (!item_ok.ok()) {
      SetItemStatus(item_ok, plan->results[i]->mutable_status());
      continue;
    }
    uint32_t p;
    if (item.has_key()) {
      if (item.key().type() != v1::PRODUCT) {
        plan->mixes.push_back(i);
        continue;
      }
      p = router.PartitionOf(KeyFromProto(item.key()));
    } else {
      p = (next + static_cast<uint32_t>(i)) % partitions;
    }
    auto& slot = plan->scatter.At(p);
    *slot.req.add_items() = item;
    slot.req.set_top_k(req.top_k());
    slot.items.push_back(i);
  }
  return absl::OkStatus();
}

absl::Status KnowledgeOps::CategorizeNow(const CallOptions& o, const v1::CategorizeRequest& req,
                                         v1::CategorizeResponse* resp) const {
  const Router& router = *router_;
  const uint32_t partitions = router.partition_count();
  CategorizePlan plan(partitions);
  absl::Status s = PlanCategorize(o, req, resp, &plan);
  if (!s.ok()) return s;
  std::vector<v1::CategorizeResult*>& results = plan.results;
  std::vector<int>& mixes = plan.mixes;
  std::set<std::string>& versions = plan.versions;
  if (!plan.scatter.slots().empty()) {
    RunAndWait(&plan.scatter, router, o, &PartitionClient::Categorize);
    s = Collect(&plan.scatter, &results, &versions);
    if (!s.ok()) return s;
  }

  // Aggregates: the newest products of each MERCHANT / INFLUENCER / CONTENT key, their
  // categories (stored, else predicted), and each category's share.
  if (!mixes.empty()) {
    using Lists = Scatter<internal::v1::GetNeighborsRequest, internal::v1::GetNeighborsResponse>;
    Lists lists(partitions);
    for (int i : mixes) {
      const v1::EntityKey& key = req.items(i).key();
      v1::EdgeType edge{};
      v1::Direction dir{};
      MixEdge(key.type(), &edge, &dir);
      auto& slot = lists.At(router.PartitionOf(KeyFromProto(key)));
      internal::v1::NeighborQuery* q = slot.req.add_queries();
      *q->mutable_key() = key;
      q->set_edge_type(edge);
      q->set_direction(dir);
      q->set_limit(kMixSample);
      slot.items.push_back(i);
    }
    RunAndWait(&lists, router, o, &PartitionClient::GetNeighbors);
    // Products of every aggregate, categorized together.
    CategorizeScatter products(partitions);
    for (auto& slot : lists.slots()) {
      for (size_t j = 0; j < slot->items.size(); ++j) {
        int i = slot->items[j];
        absl::Status error;
        if (!slot->Answered(j, slot->resp.pages_size(), &error)) {
          SetItemStatus(error, results[i]->mutable_status());
          continue;
        }
        const internal::v1::NeighborPage& page = slot->resp.pages(static_cast<int>(j));
        if (page.status().code() != 0) {
          *results[i]->mutable_status() = page.status();
          continue;
        }
        results[i]->set_total(page.total_count());
        for (const internal::v1::EncodedNeighbor& n : page.neighbors()) {
          uint32_t p = router.PartitionOf(KeyFromProto(n.key()));
          auto& ps = products.At(p);
          v1::KnowledgeItem* product = ps.req.add_items();
          *product->mutable_key() = n.key();
          ps.req.set_top_k(1);
          ps.req.set_prefer_stored(true);
          ps.items.push_back(i);
        }
      }
    }
    if (!products.slots().empty()) {
      RunAndWait(&products, router, o, &PartitionClient::Categorize);
      struct Share {
        double count = 0;
        v1::CategoryPrediction prediction;
      };
      std::map<int, std::map<uint64_t, Share>> shares;
      std::map<int, uint64_t> sampled;
      for (auto& slot : products.slots()) {
        if (absl::IsFailedPrecondition(slot->status)) return slot->status;
        if (slot->status.ok()) versions.insert(slot->resp.model_version());
        for (size_t j = 0; j < slot->items.size(); ++j) {
          absl::Status error;
          if (!slot->Answered(j, slot->resp.results_size(), &error)) continue;
          const v1::CategorizeResult& r = slot->resp.results(static_cast<int>(j));
          if (r.status().code() != 0 || r.predictions_size() == 0) continue;
          int i = slot->items[j];
          ++sampled[i];
          Share& share = shares[i][r.predictions(0).category().id()];
          share.count += 1;
          share.prediction = r.predictions(0);
        }
      }
      for (auto& [i, by_category] : shares) {
        std::vector<Share*> ranked;
        for (auto& [id, share] : by_category) ranked.push_back(&share);
        std::stable_sort(ranked.begin(), ranked.end(),
                         [](const Share* a, const Share* b) { return a->count > b->count; });
        int k = req.top_k() == 0 ? kDefaultTopK : req.top_k();
        for (int r = 0; r < static_cast<int>(ranked.size()) && r < k; ++r) {
          v1::CategoryPrediction* p = results[i]->add_predictions();
          *p = ranked[r]->prediction;
          p->set_confidence(ranked[r]->count / static_cast<double>(sampled[i]));
        }
        results[i]->set_sampled(sampled[i]);
      }
    }
  }
  return SetVersion(versions, resp);
}

void KnowledgeOps::DevelopBrands(const CallOptions& o, const v1::DevelopBrandsRequest& req,
                                 v1::DevelopBrandsResponse* resp, Done done) {
  Queue([this, o, &req, resp] { return DevelopBrandsNow(o, req, resp); }, std::move(done));
}

absl::Status KnowledgeOps::DevelopBrandsNow(const CallOptions& o,
                                            const v1::DevelopBrandsRequest& req,
                                            v1::DevelopBrandsResponse* resp) const {
  absl::Status s = CheckDeadline(o);
  int max_candidates = 50, examples = 3;
  double min_confidence = 0.9;
  int64_t max_products = 1000000;
  if (s.ok()) s = Setting(req.max_candidates(), 1, 1000, "max_candidates", &max_candidates);
  if (s.ok() && req.examples() == -1) {
    examples = 0;
  } else if (s.ok()) {
    s = Setting(req.examples(), 1, 10, "examples", &examples);
  }
  if (s.ok()) s = Setting(req.min_confidence(), 0.5, 1.0, "min_confidence", &min_confidence);
  if (s.ok()) {
    s = Setting<int64_t>(req.max_products(), 1, 10000000, "max_products", &max_products);
  }
  if (s.ok() && req.apply() && graph_ == nullptr) {
    s = absl::FailedPreconditionError("apply: this server cannot write edges");
  }
  if (!s.ok()) return s;
  const Router& router = *router_;
  // 1. The products without a brand, by partition, with their titles.
  std::vector<std::vector<std::pair<uint64_t, std::string>>> unbranded(router.partition_count());
  uint64_t kept = 0;
  s = ScanAll(
      router, [&o] { return o; }, v1::PRODUCT, {Edge(v1::HAS_BRAND, v1::OUT, 1)},
      [&](const ScannedEntity& e) {
        resp->set_products_scanned(resp->products_scanned() + 1);
        if (e.edges(0).ids_size() > 0) return absl::OkStatus();
        resp->set_products_without_brand(resp->products_without_brand() + 1);
        if (kept >= static_cast<uint64_t>(max_products)) return absl::OkStatus();
        ++kept;
        const EntityKey key = KeyFromProto(e.entity().key());
        unbranded[router.PartitionOf(key)].emplace_back(key.id, e.entity().name());
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  // 2. Their brands, read on their partitions.
  struct Candidate {
    std::map<std::string, uint64_t> spellings;
    uint64_t products = 0;
    double confidence = 0;
    std::vector<std::pair<uint64_t, std::string>> examples;
  };
  std::map<std::string, Candidate> candidates;  // by the name's normalised form
  std::map<uint64_t, std::pair<std::string, std::vector<uint64_t>>> known;
  std::set<std::string> versions;
  for (uint32_t p = 0; p < router.partition_count(); ++p) {
    for (size_t start = 0; start < unbranded[p].size(); start += kMaxKnowledgeItems) {
      s = CheckDeadline(o);
      if (!s.ok()) return s;
      const size_t end = std::min(unbranded[p].size(), start + kMaxKnowledgeItems);
      internal::v1::RecognizeBrandsRequest call;
      for (size_t i = start; i < end; ++i) {
        *call.add_items()->mutable_key() = Key(v1::PRODUCT, unbranded[p][i].first);
      }
      internal::v1::RecognizeBrandsResponse reply;
      s = CallPartition(router, p, o, &PartitionClient::RecognizeBrands, &call, &reply);
      if (!s.ok()) return s;
      versions.insert(reply.model_version());
      for (int j = 0; j < reply.results_size() && start + j < end; ++j) {
        const v1::RecognizeBrandsResult& r = reply.results(j);
        if (r.status().code() != 0 || r.mentions_size() == 0) continue;
        const v1::BrandMention& m = r.mentions(0);
        const auto& [id, title] = unbranded[p][start + j];
        if (m.brand().id() == 0) {
          Candidate& c =
              candidates[absl::StrReplaceAll(knowledge::NormalizeText(m.name()), {{" ", ""}})];
          ++c.spellings[m.name()];
          ++c.products;
          c.confidence += m.confidence();
          if (c.examples.size() < static_cast<size_t>(examples)) c.examples.emplace_back(id, title);
        } else if (m.confidence() >= min_confidence) {
          auto& [name, products] = known[m.brand().id()];
          name = m.name();
          products.push_back(id);
        }
      }
    }
  }
  if (versions.size() > 1) {
    return absl::UnavailableError(
        "partition servers answered with different model versions (a bundle is being "
        "installed); retry");
  }
  if (!versions.empty()) resp->set_model_version(*versions.begin());
  std::vector<const Candidate*> ranked;
  for (const auto& [key, c] : candidates) ranked.push_back(&c);
  std::stable_sort(ranked.begin(), ranked.end(), [](const Candidate* a, const Candidate* b) {
    return a->products > b->products;
  });
  if (ranked.size() > static_cast<size_t>(max_candidates)) ranked.resize(max_candidates);
  for (const Candidate* c : ranked) {
    v1::BrandCandidate* out = resp->add_candidates();
    auto spelling =
        std::max_element(c->spellings.begin(), c->spellings.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    out->set_name(spelling->first);
    out->set_products(c->products);
    out->set_mean_confidence(c->confidence / static_cast<double>(c->products));
    for (const auto& [id, title] : c->examples) {
      out->add_example_titles(title);
      *out->add_example_products() = Key(v1::PRODUCT, id);
    }
  }
  std::vector<std::pair<uint64_t, const std::pair<std::string, std::vector<uint64_t>>*>> brands;
  for (const auto& [id, entry] : known) brands.emplace_back(id, &entry);
  std::stable_sort(brands.begin(), brands.end(), [](const auto& a, const auto& b) {
    return a.second->second.size() > b.second->second.size();
  });
  for (const auto& [id, entry] : brands) {
    v1::BrandAssignment* out = resp->add_recognized();
    *out->mutable_brand() = Key(v1::BRAND, id);
    out->set_name(entry->first);
    out->set_products(entry->second.size());
  }
  // 3. With apply: the edges, through the graph's durable write path.
  if (!req.apply()) return absl::OkStatus();
  const int64_t now = absl::ToUnixMillis(absl::Now());
  v1::UpsertEdgesRequest batch;
  WriteCounts counts;
  auto flush = [&]() -> absl::Status {
    absl::Status st = UpsertEdgesNow(*graph_, o, &batch, &counts);
    resp->set_edges_written(counts.written);
    resp->set_write_failures(counts.failed);
    return st;
  };
  for (const auto& [id, entry] : brands) {
    for (uint64_t product : entry->second) {
      v1::Edge* e = batch.add_edges();
      *e->mutable_src() = Key(v1::PRODUCT, product);
      e->set_type(v1::HAS_BRAND);
      *e->mutable_dst() = Key(v1::BRAND, id);
      e->set_time_ms(now);
      e->set_weight(1);
      if (batch.edges_size() >= kMaxBatch) {
        s = flush();
        if (!s.ok()) return s;
      }
    }
  }
  return flush();
}

absl::Status KnowledgeOps::GetTaxonomyNow(const CallOptions& o, const v1::GetTaxonomyRequest& req,
                                          v1::GetTaxonomyResponse* resp) const {
  absl::Status s = CheckDeadline(o);
  if (!s.ok()) return s;
  if (req.child_depth() < 0 || req.child_depth() > kMaxChildDepth) {
    return absl::InvalidArgumentError(absl::StrCat("child_depth: must be 0..", kMaxChildDepth,
                                                   " (0 means 1), got ", req.child_depth()));
  }
  if (req.has_category()) {
    s = ValidateKey(req.category(), "category");
    if (s.ok() && req.category().type() != v1::CATEGORY) {
      s = absl::InvalidArgumentError("category.type: must be CATEGORY");
    }
    if (!s.ok()) return s;
  }
  const Router& router = *router_;
  // The whole tree, live: every category with its parent.
  absl::StatusOr<knowledge::Taxonomy> scanned = ScanTaxonomy(router, [&o] { return o; });
  if (!scanned.ok()) return scanned.status();
  const knowledge::Taxonomy& tree = *scanned;
  // Direct product counts, then sums over subtrees.
  using Counts = Scatter<internal::v1::CountNeighborsRequest, internal::v1::CountNeighborsResponse>;
  absl::flat_hash_map<uint64_t, uint64_t> direct, total;
  for (size_t start = 0; start < tree.TopDownOrder().size(); start += kCountBatch) {
    Counts counts(router.partition_count());
    std::vector<uint64_t> ids;
    for (size_t k = start; k < std::min(tree.TopDownOrder().size(), start + kCountBatch); ++k) {
      uint64_t id = tree.TopDownOrder()[k];
      EntityKey key{EntityType::kCategory, id};
      auto& slot = counts.At(router.PartitionOf(key));
      internal::v1::CountQuery* q = slot.req.add_queries();
      q->mutable_key()->set_type(v1::CATEGORY);
      q->mutable_key()->set_id(id);
      q->set_edge_type(v1::IN_CATEGORY);
      q->set_direction(v1::IN);
      slot.items.push_back(static_cast<int>(ids.size()));
      ids.push_back(id);
    }
    RunAndWait(&counts, router, o, &PartitionClient::CountNeighbors);
    for (auto& slot : counts.slots()) {
      if (!slot->status.ok()) {
        return absl::Status(slot->status.code(),
                            absl::StrCat("counting products of partition ", slot->partition, ": ",
                                         slot->status.message()));
      }
      for (size_t j = 0;
           j < slot->items.size() && j < static_cast<size_t>(slot->resp.counts_size()); ++j) {
        direct[ids[slot->items[j]]] = slot->resp.counts(static_cast<int>(j));
      }
    }
  }
  const std::vector<uint64_t>& order = tree.TopDownOrder();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    total[*it] += direct[*it];
    if (tree.parent(*it) != 0) total[tree.parent(*it)] += total[*it];
  }
  auto node = [&](uint64_t id, v1::CategoryNode* out) {
    out->mutable_key()->set_type(v1::CATEGORY);
    out->mutable_key()->set_id(id);
    out->set_name(tree.name(id));
    out->set_product_count(direct[id]);
    out->set_product_count_with_descendants(total[id]);
    if (tree.parent(id) != 0) {
      out->mutable_parent()->set_type(v1::CATEGORY);
      out->mutable_parent()->set_id(tree.parent(id));
    }
    out->set_depth(tree.depth(id));
  };
  // The category asked for.
  uint64_t at = 0;
  if (req.has_category()) {
    at = req.category().id();
    if (!tree.Contains(at)) {
      return absl::NotFoundError(absl::StrCat("category: CATEGORY:", at, " not found"));
    }
  } else if (!req.path().empty()) {
    const std::vector<uint64_t>* level = &tree.roots();
    for (absl::string_view name : absl::StrSplit(req.path(), " > ")) {
      std::string want = knowledge::NormalizeText(name);
      uint64_t found = 0;
      for (uint64_t c : *level) {
        if (tree.name(c) == name || knowledge::NormalizeText(tree.name(c)) == want) {
          found = c;
          break;
        }
      }
      if (found == 0) {
        return absl::NotFoundError(
            absl::StrCat("path: no category \"", name, "\" ",
                         at == 0 ? "among the roots" : absl::StrCat("under ", tree.name(at))));
      }
      at = found;
      level = &tree.children(at);
    }
  }
  if (at != 0) {
    for (uint64_t c : tree.PathTo(at)) node(c, resp->add_path());
  }
  const int depth = req.child_depth() == 0 ? 1 : req.child_depth();
  std::vector<uint64_t> frontier = at == 0 ? tree.roots() : tree.children(at);
  for (int d = 0; d < depth && !frontier.empty(); ++d) {
    std::vector<uint64_t> below;
    for (uint64_t c : frontier) {
      if (resp->children_size() >= kMaxTaxonomyChildren) return absl::OkStatus();
      node(c, resp->add_children());
      below.insert(below.end(), tree.children(c).begin(), tree.children(c).end());
    }
    frontier = std::move(below);
  }
  return absl::OkStatus();
}

void KnowledgeOps::TrainModels(const v1::TrainModelsRequest& req, ProgressFn progress,
                               Done finish) {
  std::lock_guard<std::mutex> lock(train_mu_);
  if (training_) {
    finish(absl::AbortedError("a training is already running; wait for it to finish"));
    return;
  }
  training_ = true;
  if (trainer_.joinable()) trainer_.join();
  trainer_ = std::thread(
      [this, req, progress = std::move(progress), finish = std::move(finish)]() mutable {
        absl::Status s = Train(req, progress);
        {
          std::lock_guard<std::mutex> l(train_mu_);
          training_ = false;
        }
        finish(s);
      });
}

absl::Status KnowledgeOps::Train(const v1::TrainModelsRequest& req,
                                 const ProgressFn& progress) const {
  knowledge::CategorizerParams params;
  absl::Status s = Setting(req.epoch(), 1, 200, "epoch", &params.epoch);
  if (s.ok()) s = Setting(req.learning_rate(), 1e-6, 5.0, "learning_rate", &params.learning_rate);
  if (s.ok()) s = Setting(req.word_ngrams(), 1, 5, "word_ngrams", &params.word_ngrams);
  if (s.ok()) s = Setting(req.dim(), 8, 300, "dim", &params.dim);
  if (s.ok()) s = Setting(req.buckets(), 1000, 10000000, "buckets", &params.buckets);
  if (s.ok()) {
    s = Setting(req.min_label_examples(), 1, 1000, "min_label_examples",
                &params.min_label_examples);
  }
  if (s.ok()) s = Setting(req.max_label_depth(), 1, 20, "max_label_depth", &params.max_label_depth);
  if (s.ok()) s = Setting(req.coarse_depth(), 1, 20, "coarse_depth", &params.coarse_depth);
  if (s.ok()) s = Setting(req.threads(), 1, 2, "threads", &params.threads);
  if (s.ok()) {
    s = Setting(req.validation_share(), 0.01, 0.5, "validation_share", &params.validation_share);
  }
  if (!s.ok()) return s;
  if (req.seed() != 0) params.seed = req.seed();

  const Router& router = *router_;
  const double parts = router.partition_count();
  auto report = [&progress](absl::string_view stage, double fraction) {
    v1::TrainModelsProgress m;
    m.set_stage(std::string(stage));
    m.set_fraction(fraction);
    progress(m);
  };
  report("scanning the taxonomy", 0.0);
  absl::StatusOr<knowledge::Taxonomy> scanned = ScanTaxonomy(router, FreshOptions);
  if (!scanned.ok()) return scanned.status();
  auto taxonomy = std::make_shared<const knowledge::Taxonomy>(std::move(*scanned));
  if (cancel_) return absl::CancelledError("training cancelled: the server is stopping");
  report("scanning brands", 0.02);
  absl::flat_hash_map<uint64_t, std::string> brands;
  std::vector<knowledge::BrandRecord> brand_records;
  s = ScanAll(router, FreshOptions, v1::BRAND, {}, [&](const ScannedEntity& e) {
    brands[e.entity().key().id()] = e.entity().name();
    knowledge::BrandRecord record{e.entity().key().id(), e.entity().name(), {}};
    auto aliases = e.entity().attributes().find("aliases");
    if (aliases != e.entity().attributes().end()) {
      for (absl::string_view alias : absl::StrSplit(aliases->second, absl::ByAnyChar("|;,"))) {
        alias = absl::StripAsciiWhitespace(alias);
        if (!alias.empty()) record.aliases.emplace_back(alias);
      }
    }
    brand_records.push_back(std::move(record));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (cancel_) return absl::CancelledError("training cancelled: the server is stopping");
  report("scanning products", 0.04);
  // SPUs: their names, brand attribute and price, then their members from the products.
  report("scanning SPUs", 0.04);
  std::map<uint64_t, knowledge::SpuRecord> spus;
  s = ScanAll(router, FreshOptions, v1::SPU, {}, [&spus](const ScannedEntity& e) {
    knowledge::SpuRecord& r = spus[e.entity().key().id()];
    r.id = e.entity().key().id();
    r.name.title = e.entity().name();
    auto brand = e.entity().attributes().find("brand");
    if (brand != e.entity().attributes().end()) r.name.brand = brand->second;
    for (const char* metric : {"price", "list_price"}) {
      auto price = e.entity().metrics().find(metric);
      if (r.name.price <= 0 && price != e.entity().metrics().end()) r.name.price = price->second;
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  std::vector<knowledge::LabelledProduct> examples;
  std::vector<knowledge::BrandExample> brand_examples;
  std::vector<knowledge::AttributeExample> attribute_examples;
  s = ScanAll(
      router, FreshOptions, v1::PRODUCT,
      {Edge(v1::IN_CATEGORY, v1::OUT, 1), Edge(v1::HAS_BRAND, v1::OUT, 1),
       Edge(v1::INSTANCE_OF, v1::OUT, 1)},
      [&](const ScannedEntity& e) {
        std::string brand;
        uint64_t brand_id = 0;
        if (e.edges(1).ids_size() > 0) {
          auto it = brands.find(e.edges(1).ids(0));
          if (it != brands.end()) {
            brand = it->second;
            brand_id = it->first;
          }
        }
        brand_examples.push_back({e.entity().name(), brand_id});
        if (e.edges(2).ids_size() > 0) {
          auto spu = spus.find(e.edges(2).ids(0));
          if (spu != spus.end() &&
              spu->second.members.size() < knowledge::SpuMatcher::kMaxMembers) {
            auto price = e.entity().metrics().find("price");
            spu->second.members.push_back(
                {e.entity().name(), brand,
                 price != e.entity().metrics().end() ? price->second : 0.0,
                 e.edges(0).ids_size() > 0 ? e.edges(0).ids(0) : 0});
          }
        }
        if (e.entity().attributes_size() > 0) {
          attribute_examples.push_back(
              {e.entity().name(),
               {e.entity().attributes().begin(), e.entity().attributes().end()}});
        }
        if (e.edges(0).ids_size() == 0) return absl::OkStatus();  // not labelled
        examples.push_back({InputOf(e.entity(), brand), e.edges(0).ids(0)});
        return absl::OkStatus();
      },
      [&](uint32_t p) { report("scanning products", 0.04 + 0.06 * (p + 1) / parts); });
  if (!s.ok()) return s;

  knowledge::ValidationFigures figures;
  absl::StatusOr<std::unique_ptr<knowledge::Categorizer>> categorizer =
      knowledge::Categorizer::Train(
          taxonomy, examples, params,
          [&report](double f, absl::string_view stage) { report(stage, 0.1 + 0.7 * f); }, &figures,
          &cancel_);
  if (!categorizer.ok()) return categorizer.status();
  if (cancel_) return absl::CancelledError("training cancelled: the server is stopping");
  report("training the brand recognizer", 0.8);
  knowledge::BrandFigures brand_figures;
  absl::StatusOr<std::unique_ptr<knowledge::BrandRecognizer>> recognizer =
      knowledge::BrandRecognizer::Train(brand_records, brand_examples, categorizer->get(),
                                        params.validation_share, params.seed, &brand_figures,
                                        &cancel_);
  if (!recognizer.ok()) return recognizer.status();
  brand_examples = {};
  report("learning the attribute lexicon", 0.84);
  uint64_t attribute_entries = 0;
  std::unique_ptr<knowledge::AttributeExtractor> attributes =
      knowledge::AttributeExtractor::Train(attribute_examples, &attribute_entries);
  attribute_examples = {};
  if (cancel_) return absl::CancelledError("training cancelled: the server is stopping");
  report("training the SPU matcher", 0.86);
  std::shared_ptr<const knowledge::AttributeExtractor> shared_attributes = std::move(attributes);
  knowledge::SpuMatcherFigures spu_figures;
  std::vector<knowledge::SpuRecord> spu_records;
  spu_records.reserve(spus.size());
  for (auto& [id, record] : spus) spu_records.push_back(std::move(record));
  spus.clear();
  absl::StatusOr<std::unique_ptr<knowledge::SpuMatcher>> matcher =
      knowledge::SpuMatcher::Train(spu_records, shared_attributes, params.validation_share,
                                   params.seed, &spu_figures, &cancel_, categorizer->get());
  spu_records = {};
  // Too few SPUs is not an error of the training: the bundle has no matcher then.
  if (!matcher.ok() && !absl::IsFailedPrecondition(matcher.status())) return matcher.status();
  if (cancel_) return absl::CancelledError("training cancelled: the server is stopping");

  knowledge::ModelBundle bundle;
  absl::Time now = absl::Now();
  bundle.created_ms = absl::ToUnixMillis(now);
  bundle.version = absl::StrCat(
      absl::FormatTime("%Y%m%d-%H%M%S", now, absl::UTCTimeZone()), "-",
      absl::StrFormat("%08x", static_cast<uint32_t>(Mix64(absl::ToUnixNanos(now)) >> 32)));
  bundle.categorizer_figures = figures;
  bundle.taxonomy = taxonomy;
  bundle.categorizer = std::move(*categorizer);
  bundle.brands = std::move(brands);
  bundle.brand_recognizer = std::move(*recognizer);
  bundle.attributes = shared_attributes;
  if (matcher.ok()) bundle.spu_matcher = std::move(*matcher);
  report("encoding the bundle", 0.9);
  const std::string bytes = knowledge::EncodeBundle(bundle);

  // Install on every server: once per distinct server, through its first partition.
  std::map<std::string, uint32_t> servers;
  for (uint32_t p = 0; p < router.partition_count(); ++p) {
    servers.emplace(router.client(p).address(), p);
  }
  v1::TrainModelsProgress last;
  int installed = 0;
  for (const auto& [address, p] : servers) {
    report(absl::StrCat("installing on ", address), 0.92 + 0.08 * installed / servers.size());
    for (size_t offset = 0; offset < bytes.size(); offset += kInstallChunk) {
      internal::v1::InstallBundleRequest chunk;
      chunk.set_version(bundle.version);
      chunk.set_offset(offset);
      chunk.set_total_bytes(bytes.size());
      chunk.set_data(bytes.substr(offset, kInstallChunk));
      chunk.set_last(offset + kInstallChunk >= bytes.size());
      internal::v1::InstallBundleResponse done;
      s = CallPartition(router, p, FreshOptions(), &PartitionClient::InstallBundle, &chunk, &done);
      if (!s.ok()) {
        return absl::Status(s.code(), absl::StrCat("installing bundle ", bundle.version, " on ",
                                                   address, ": ", s.message()));
      }
    }
    last.add_installed_on(address);
    ++installed;
  }
  last.set_stage("done");
  last.set_fraction(1.0);
  last.set_done(true);
  last.set_model_version(bundle.version);
  last.set_bundle_bytes(bytes.size());
  last.set_categories(taxonomy->size());
  last.set_labelled_products(examples.size());
  last.set_brands(bundle.brands.size());
  v1::CategorizerFigures* f = last.mutable_categorizer();
  f->set_train_examples(figures.train_examples);
  f->set_validation_examples(figures.validation_examples);
  f->set_skipped_examples(figures.skipped_examples);
  f->set_labels(figures.labels);
  f->set_accuracy_depth1(figures.accuracy_at_depth[0]);
  f->set_accuracy_depth2(figures.accuracy_at_depth[1]);
  f->set_accuracy_depth3(figures.accuracy_at_depth[2]);
  f->set_confident_predictions(figures.confident_predictions);
  f->set_confident_accuracy(figures.confident_accuracy);
  f->set_brand_weight(figures.brand_weight);
  f->set_top_down(figures.top_down);
  f->set_neighbor_weight(figures.neighbor_weight);
  f->set_fine_weight(figures.fine_weight);
  v1::BrandFigures* bf = last.mutable_brands_model();
  bf->set_lexicon_keys(brand_figures.lexicon_keys);
  bf->set_train_titles(brand_figures.train_titles);
  bf->set_validation_titles(brand_figures.validation_titles);
  bf->set_top_precision(brand_figures.top_precision);
  bf->set_top_recall(brand_figures.top_recall);
  last.set_attribute_lexicon_entries(attribute_entries);
  if (bundle.spu_matcher != nullptr) {
    v1::SpuMatcherFigures* sf = last.mutable_spu_matcher();
    sf->set_spus(spu_figures.spus);
    sf->set_training_pairs(spu_figures.training_pairs);
    sf->set_validation_listings(spu_figures.validation_listings);
    sf->set_precision(spu_figures.precision);
    sf->set_recall(spu_figures.recall);
    sf->set_candidate_recall(spu_figures.candidate_recall);
    sf->set_new_listings(spu_figures.new_listings);
    sf->set_false_match_rate(spu_figures.false_match_rate);
    sf->set_memory_bytes(spu_figures.memory_bytes);
  }
  progress(last);
  return absl::OkStatus();
}

}  // namespace kg
