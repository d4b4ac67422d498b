// AdminService.AssignSpus: attaches products without an SPU to their best known SPU, groups
// the rest into new SPUs, and writes both through the graph's durable path (admin.proto
// says what it promises; docs/KNOWLEDGE.md how it is measured).
#include <algorithm>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/frontend/knowledge_ops.h"
#include "server/frontend/partition_calls.h"
#include "server/knowledge/bytes.h"
#include "server/knowledge/spu_groups.h"
#include "server/knowledge/text.h"
#include "server/partition/convert.h"
#include "spdlog/spdlog.h"

namespace kg {
namespace {

using internal::v1::ScannedEntity;

// Listings paired on one partition server at a time (PairListings' bound).
constexpr size_t kMaxPairBlock = 20000;
constexpr char kCreatedBy[] = "spu_assign";

// A product without an SPU, as the matcher read it.
struct Pooled {
  uint64_t product = 0;
  internal::v1::Listing listing;
};

struct Attachment {
  uint64_t product = 0;
  std::string title;
  v1::SpuCandidate candidate;
};

void AddInstanceOf(uint64_t product, uint64_t spu, int64_t now, v1::UpsertEdgesRequest* batch) {
  v1::Edge* e = batch->add_edges();
  *e->mutable_src() = Key(v1::PRODUCT, product);
  e->set_type(v1::INSTANCE_OF);
  *e->mutable_dst() = Key(v1::SPU, spu);
  e->set_time_ms(now);
  e->set_weight(1);
}

void AddSpu(uint64_t id, const std::string& name, v1::UpsertEntitiesRequest* batch) {
  v1::Entity* e = batch->add_entities();
  *e->mutable_key() = Key(v1::SPU, id);
  e->set_name(name);
  (*e->mutable_attributes())["created_by"] = kCreatedBy;
}

// Blocks of similar listings: by brand, category, then title.
std::vector<uint32_t> BlockOrder(const std::vector<Pooled>& pool) {
  std::vector<std::tuple<std::string, uint64_t, std::string, uint32_t>> keys;
  keys.reserve(pool.size());
  for (uint32_t i = 0; i < pool.size(); ++i) {
    const internal::v1::Listing& l = pool[i].listing;
    keys.emplace_back(absl::StrReplaceAll(knowledge::NormalizeText(l.brand()), {{" ", ""}}),
                      l.category(), knowledge::NormalizeText(l.title()), i);
  }
  std::sort(keys.begin(), keys.end());
  std::vector<uint32_t> order;
  order.reserve(keys.size());
  for (const auto& k : keys) order.push_back(std::get<3>(k));
  return order;
}

}  // namespace

void KnowledgeOps::AssignSpus(const CallOptions& o, const v1::AssignSpusRequest& req,
                              v1::AssignSpusResponse* resp, Done done) {
  Queue([this, o, &req, resp] { return AssignSpusNow(o, req, resp); }, std::move(done));
}

absl::Status KnowledgeOps::AssignSpusNow(const CallOptions& o, const v1::AssignSpusRequest& req,
                                         v1::AssignSpusResponse* resp) const {
  absl::Status s = CheckDeadline(o);
  double min_score = 0.9, group_min_score = 0.9;
  int min_group_size = 2, max_listed = 100;
  int64_t max_products = 1000000;
  if (s.ok()) s = Setting(req.min_score(), 0.5, 1.0, "min_score", &min_score);
  if (s.ok()) s = Setting(req.group_min_score(), 0.5, 1.0, "group_min_score", &group_min_score);
  if (s.ok()) s = Setting(req.min_group_size(), 1, 1000, "min_group_size", &min_group_size);
  if (s.ok()) {
    s = Setting<int64_t>(req.max_products(), 1, 10000000, "max_products", &max_products);
  }
  if (s.ok() && req.max_listed() == -1) {
    max_listed = 0;
  } else if (s.ok()) {
    s = Setting(req.max_listed(), 1, 10000, "max_listed", &max_listed);
  }
  if (s.ok() && !req.dry_run() && graph_ == nullptr) {
    s = absl::FailedPreconditionError("this server cannot write: use dry_run");
  }
  if (!s.ok()) return s;
  std::unique_lock<std::mutex> running(assign_mu_, std::try_to_lock);
  if (!running.owns_lock()) {
    return absl::AbortedError("another AssignSpus is running on this front end; retry after it");
  }
  resp->set_dry_run(req.dry_run());
  const Router& router = *router_;
  auto options = [&o] { return o; };

  // 1. The products: those without an SPU by partition; the SPU ids the others refer to.
  std::vector<std::vector<std::pair<uint64_t, std::string>>> without(router.partition_count());
  absl::flat_hash_set<uint64_t> referred;
  absl::flat_hash_map<uint64_t, std::string> own_id;  // attached to the SPU of its own id
  s = ScanAll(router, options, v1::PRODUCT, {Edge(v1::INSTANCE_OF, v1::OUT, 1)},
              [&](const ScannedEntity& e) {
                resp->set_products_scanned(resp->products_scanned() + 1);
                const uint64_t id = e.entity().key().id();
                if (e.edges(0).ids_size() > 0) {
                  const uint64_t spu = e.edges(0).ids(0);
                  referred.insert(spu);
                  if (spu == id) own_id.emplace(id, e.entity().name());
                  return absl::OkStatus();
                }
                resp->set_products_without_spu(resp->products_without_spu() + 1);
                if (resp->products_examined() >= static_cast<uint64_t>(max_products)) {
                  return absl::OkStatus();
                }
                resp->set_products_examined(resp->products_examined() + 1);
                without[router.PartitionOf(KeyFromProto(e.entity().key()))].emplace_back(
                    id, e.entity().name());
                return absl::OkStatus();
              });
  if (!s.ok()) return s;
  // 2. The SPU entities; those referred to without one, and which an earlier run left
  // (named after the product whose id they have).
  absl::flat_hash_set<uint64_t> existing;
  s = ScanAll(router, options, v1::SPU, {}, [&existing](const ScannedEntity& e) {
    existing.insert(e.entity().key().id());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  std::vector<std::pair<uint64_t, std::string>> repairs;
  for (uint64_t spu : referred) {
    if (existing.contains(spu)) continue;
    resp->set_dangling_spus(resp->dangling_spus() + 1);
    auto it = own_id.find(spu);
    if (it != own_id.end()) repairs.emplace_back(it->first, it->second);
  }
  std::sort(repairs.begin(), repairs.end());

  // 3. Each product against the known SPUs, on its partition.
  std::set<std::string> versions;
  std::vector<Attachment> attachments;
  std::vector<Pooled> pool;
  for (uint32_t p = 0; p < router.partition_count(); ++p) {
    for (size_t start = 0; start < without[p].size(); start += kMaxKnowledgeItems) {
      s = CheckDeadline(o);
      if (!s.ok()) return s;
      const size_t end = std::min(without[p].size(), start + kMaxKnowledgeItems);
      internal::v1::MatchSpuRequest call;
      call.set_top_k(1);
      call.set_describe(true);
      for (size_t i = start; i < end; ++i) {
        *call.add_items()->mutable_key() = Key(v1::PRODUCT, without[p][i].first);
      }
      internal::v1::MatchSpuResponse reply;
      s = CallPartition(router, p, o, &PartitionClient::MatchSpu, &call, &reply);
      if (!s.ok()) return s;
      versions.insert(reply.model_version());
      for (int j = 0; j < reply.results_size() && start + j < end; ++j) {
        const v1::MatchSpuResult& r = reply.results(j);
        if (r.status().code() != 0) continue;  // e.g. deleted since the scan
        const auto& [id, title] = without[p][start + j];
        if (r.candidates_size() > 0 && r.candidates(0).score() >= min_score) {
          attachments.push_back({id, title, r.candidates(0)});
        } else if (j < reply.listings_size()) {
          pool.push_back({id, reply.listings(j)});
        }
      }
    }
  }
  // 4. The rest paired with one another, a block of similar listings per call.
  std::vector<knowledge::ListingPair> pairs;
  const std::vector<uint32_t> order = BlockOrder(pool);
  for (size_t start = 0, block = 0; start < order.size(); start += kMaxPairBlock, ++block) {
    const size_t end = std::min(order.size(), start + kMaxPairBlock);
    if (end - start < 2) continue;
    s = CheckDeadline(o);
    if (!s.ok()) return s;
    internal::v1::PairListingsRequest call;
    call.set_min_score(group_min_score);
    for (size_t k = start; k < end; ++k) *call.add_listings() = pool[order[k]].listing;
    internal::v1::PairListingsResponse reply;
    s = CallPartition(router, static_cast<uint32_t>(block % router.partition_count()), o,
                      &PartitionClient::PairListings, &call, &reply);
    if (!s.ok()) return s;
    versions.insert(reply.model_version());
    for (const internal::v1::ListingPair& q : reply.pairs()) {
      if (q.a() >= end - start || q.b() >= end - start) continue;
      pairs.push_back({order[start + q.a()], order[start + q.b()], q.score()});
    }
  }
  if (versions.size() > 1) {
    return absl::UnavailableError(
        "partition servers answered with different model versions (a bundle is being "
        "installed); retry");
  }
  if (!versions.empty()) resp->set_model_version(*versions.begin());
  std::vector<knowledge::ListingGroup> groups = knowledge::GroupByCore(
      pool.size(), pairs, group_min_score, static_cast<size_t>(min_group_size));
  std::stable_sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) {
    return a.members.size() > b.members.size();
  });
  // New SPU ids: the core product's, unless an SPU has it or is referred to by it.
  absl::flat_hash_set<uint64_t> taken = existing;
  taken.insert(referred.begin(), referred.end());
  std::vector<uint64_t> new_ids;
  for (const knowledge::ListingGroup& g : groups) {
    const uint64_t core = pool[g.core].product;
    uint64_t id = core;
    for (int attempt = 1; id == 0 || taken.contains(id); ++attempt) {
      id = knowledge::Fnv1a64(absl::StrCat("spu-of-product:", core, "/", attempt)) >> 1;
    }
    taken.insert(id);
    new_ids.push_back(id);
  }

  // 5. The reply.
  resp->set_attached(attachments.size());
  for (size_t i = 0; i < attachments.size() && i < static_cast<size_t>(max_listed); ++i) {
    const Attachment& a = attachments[i];
    v1::SpuAttachment* out = resp->add_attachments();
    *out->mutable_product() = Key(v1::PRODUCT, a.product);
    out->set_title(a.title);
    *out->mutable_spu() = a.candidate.spu();
    out->set_spu_name(a.candidate.name());
    out->set_score(a.candidate.score());
    *out->mutable_reasons() = a.candidate.reasons();
  }
  resp->set_new_spus(groups.size());
  uint64_t grouped = 0;
  for (size_t k = 0; k < groups.size(); ++k) {
    const knowledge::ListingGroup& g = groups[k];
    grouped += 1 + g.members.size();
    if (k >= static_cast<size_t>(max_listed)) continue;
    v1::NewSpuGroup* out = resp->add_groups();
    *out->mutable_spu() = Key(v1::SPU, new_ids[k]);
    out->set_name(pool[g.core].listing.title());
    *out->add_products() = Key(v1::PRODUCT, pool[g.core].product);
    out->add_titles(pool[g.core].listing.title());
    out->add_scores(1);
    for (const auto& [member, score] : g.members) {
      *out->add_products() = Key(v1::PRODUCT, pool[member].product);
      out->add_titles(pool[member].listing.title());
      out->add_scores(score);
    }
  }
  resp->set_grouped_products(grouped);
  resp->set_left_without_spu(pool.size() - grouped);
  if (req.dry_run()) return absl::OkStatus();

  // 6. The writes: repaired SPU entities; attachments; each group's edges, then (when one of
  // them was written) its SPU entity.
  const int64_t now = absl::ToUnixMillis(absl::Now());
  WriteCounts edges, entities;
  v1::UpsertEdgesRequest edge_batch;
  v1::UpsertEntitiesRequest entity_batch;
  auto record = [&]() {
    resp->set_edges_written(edges.written);
    resp->set_entities_written(entities.written);
    resp->set_write_failures(edges.failed + entities.failed);
  };
  for (const auto& [id, name] : repairs) {
    AddSpu(id, name, &entity_batch);
    if (entity_batch.entities_size() >= kMaxBatch) {
      s = UpsertEntitiesNow(*graph_, o, &entity_batch, &entities);
      if (!s.ok()) return s;
    }
  }
  s = UpsertEntitiesNow(*graph_, o, &entity_batch, &entities);
  resp->set_repaired_spus(entities.written);
  record();
  if (!s.ok()) return s;
  for (const Attachment& a : attachments) {
    AddInstanceOf(a.product, a.candidate.spu().id(), now, &edge_batch);
    if (edge_batch.edges_size() >= kMaxBatch) {
      s = UpsertEdgesNow(*graph_, o, &edge_batch, &edges);
      record();
      if (!s.ok()) return s;
    }
  }
  s = UpsertEdgesNow(*graph_, o, &edge_batch, &edges);
  record();
  if (!s.ok()) return s;
  std::vector<size_t> pending;  // groups whose edges are in edge_batch
  std::vector<bool> edge_ok;
  auto flush_groups = [&]() -> absl::Status {
    absl::Status st = UpsertEdgesNow(*graph_, o, &edge_batch, &edges, &edge_ok);
    record();
    if (!st.ok()) return st;
    size_t row = 0;
    for (size_t k : pending) {
      bool member = false;
      for (size_t m = 0; m < 1 + groups[k].members.size(); ++m, ++row) {
        member |= row < edge_ok.size() && edge_ok[row];
      }
      if (member) AddSpu(new_ids[k], pool[groups[k].core].listing.title(), &entity_batch);
    }
    pending.clear();
    st = UpsertEntitiesNow(*graph_, o, &entity_batch, &entities);
    record();
    return st;
  };
  for (size_t k = 0; k < groups.size(); ++k) {
    const knowledge::ListingGroup& g = groups[k];
    if (edge_batch.edges_size() + 1 + static_cast<int>(g.members.size()) > kMaxBatch) {
      s = flush_groups();
      if (!s.ok()) return s;
    }
    AddInstanceOf(pool[g.core].product, new_ids[k], now, &edge_batch);
    for (const auto& [member, score] : g.members) {
      AddInstanceOf(pool[member].product, new_ids[k], now, &edge_batch);
    }
    pending.push_back(k);
  }
  s = flush_groups();
  if (!s.ok()) return s;
  spdlog::info(
      "AssignSpus: {} products without an SPU examined; {} attached, {} in {} new SPUs, {} "
      "left; {} SPU entities repaired; {} edges and {} entities written, {} refused",
      resp->products_examined(), resp->attached(), resp->grouped_products(), resp->new_spus(),
      resp->left_without_spu(), resp->repaired_spus(), resp->edges_written(),
      resp->entities_written(), resp->write_failures());
  return absl::OkStatus();
}

}  // namespace kg
