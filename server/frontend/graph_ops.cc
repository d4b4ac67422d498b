#include "server/frontend/graph_ops.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/frontend/fanout.h"
#include "server/frontend/page_token.h"
#include "server/graph/schema.h"
#include "server/observability/metrics.h"
#include "server/partition/convert.h"
#include "server/partition/status.h"

namespace kg {
namespace {

// Found entities, each as its encoded kg.v1.Entity.
using EntityMap = absl::flat_hash_map<EntityKey, const std::string*>;

absl::Status CheckCount(int n, int max, absl::string_view field) {
  if (n == 0) return absl::InvalidArgumentError(absl::StrCat(field, ": must not be empty"));
  if (n > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", n, " items, at most ", max, " allowed"));
  }
  return absl::OkStatus();
}

absl::Status CheckRange(int64_t v, int64_t lo, int64_t hi, absl::string_view field) {
  if (v < lo || v > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", v, " is out of range ", lo, "..", hi));
  }
  return absl::OkStatus();
}

absl::Status CheckWindow(int64_t min_ms, int64_t max_ms, absl::string_view prefix) {
  if (min_ms < 0) {
    return absl::InvalidArgumentError(absl::StrCat(prefix, "min_time_ms: must not be negative"));
  }
  if (max_ms < 0) {
    return absl::InvalidArgumentError(absl::StrCat(prefix, "max_time_ms: must not be negative"));
  }
  if (min_ms > 0 && max_ms > 0 && min_ms > max_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, "min_time_ms: ", min_ms, " is after max_time_ms ", max_ms));
  }
  return absl::OkStatus();
}

absl::Status CheckEdgeType(int v, absl::string_view field) {
  if (!IsValidEdgeType(v)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be a known edge type, got ", v));
  }
  return absl::OkStatus();
}

absl::Status CheckDirection(int v, absl::string_view field) {
  if (v != v1::OUT && v != v1::IN) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be OUT or IN, got ", v));
  }
  return absl::OkStatus();
}

Direction DirOf(int v) { return v == v1::IN ? Direction::kIn : Direction::kOut; }

// Looks up `keys` on their partitions; runs `then` with the found entities (pointers valid
// during the call only) or the first partition error.
void FetchEntities(const Router& router, const CallOptions& o, const std::vector<EntityKey>& keys,
                   const google::protobuf::FieldMask& mask, google::protobuf::Arena* arena,
                   std::function<void(absl::Status, const EntityMap&)> then) {
  using S = Scatter<internal::v1::GetEntitiesRequest, internal::v1::GetEntitiesResponse>;
  auto scatter = std::make_shared<S>(router.partition_count(), arena);
  for (const EntityKey& key : keys) {
    auto& slot = scatter->At(router.PartitionOf(key));
    KeyToProto(key, slot.req.add_keys());
  }
  for (auto& slot : scatter->slots()) *slot->req.mutable_read_mask() = mask;
  S* raw = scatter.get();
  raw->Run(router, o, &PartitionClient::GetEntities, [scatter, then = std::move(then)]() {
    EntityMap found;
    for (auto& slot : scatter->slots()) {
      if (!slot->status.ok()) {
        then(slot->status, found);
        return;
      }
      for (const internal::v1::EncodedEntityResult& r : slot->resp.results()) {
        if (r.found()) found[KeyFromProto(r.key())] = &r.entity();
      }
    }
    then(absl::OkStatus(), found);
  });
}

}  // namespace

GraphOps::GraphOps(const Router* router, std::string role, std::string version)
    : router_(router), role_(std::move(role)), version_(std::move(version)), start_ms_(NowMs()) {}

void GraphOps::GetEntities(const CallOptions& o, const v1::GetEntitiesRequest& req,
                           internal::v1::EncodedGetEntitiesResponse* resp, Done done) const {
  absl::Status s = CheckDeadline(o);
  if (s.ok()) s = CheckCount(req.keys_size(), kMaxBatch, "keys");
  ReadMask mask;
  if (s.ok()) s = ParseReadMask(req.read_mask(), "read_mask", &mask);
  for (int i = 0; s.ok() && i < req.keys_size(); ++i) {
    s = ValidateKey(req.keys(i), ItemField{"keys", i});
  }
  if (!s.ok()) return done(s);
  using S = Scatter<internal::v1::GetEntitiesRequest, internal::v1::GetEntitiesResponse>;
  auto scatter = std::make_shared<S>(router_->partition_count(), resp->GetArena());
  for (int i = 0; i < req.keys_size(); ++i) {
    auto& slot = scatter->At(router_->PartitionOf(KeyFromProto(req.keys(i))));
    *slot.req.add_keys() = req.keys(i);
    slot.items.push_back(i);
  }
  for (auto& slot : scatter->slots()) *slot->req.mutable_read_mask() = req.read_mask();
  resp->mutable_results()->Reserve(req.keys_size());
  for (int i = 0; i < req.keys_size(); ++i) resp->add_results();
  S* raw = scatter.get();
  raw->Run(*router_, o, &PartitionClient::GetEntities, [scatter, resp, done = std::move(done)]() {
    for (auto& slot : scatter->slots()) {
      for (size_t j = 0; j < slot->items.size(); ++j) {
        internal::v1::EncodedEntityResult* out = resp->mutable_results(slot->items[j]);
        absl::Status error;
        if (slot->Answered(j, slot->resp.results_size(), &error)) {
          out->Swap(slot->resp.mutable_results(static_cast<int>(j)));
        } else {
          *out->mutable_key() = slot->req.keys(static_cast<int>(j));
          SetItemStatus(error, out->mutable_status());
        }
      }
    }
    done(absl::OkStatus());
  });
}

void GraphOps::ApplyEntities(const CallOptions& o,
                             std::vector<std::pair<int, const v1::Entity*>> items, bool merge,
                             std::vector<absl::Status>* statuses,
                             std::function<void()> then) const {
  using S = Scatter<internal::v1::UpsertEntitiesRequest, internal::v1::UpsertEntitiesResponse>;
  auto scatter = std::make_shared<S>(router_->partition_count());
  for (const auto& [index, entity] : items) {
    auto& slot = scatter->At(router_->PartitionOf(KeyFromProto(entity->key())));
    *slot.req.add_entities() = *entity;
    slot.req.set_merge(merge);
    slot.items.push_back(index);
  }
  S* raw = scatter.get();
  raw->Run(*router_, o, &PartitionClient::UpsertEntities,
           [scatter, statuses, then = std::move(then)]() {
             for (auto& slot : scatter->slots()) {
               for (size_t j = 0; j < slot->items.size(); ++j) {
                 absl::Status error;
                 (*statuses)[slot->items[j]] =
                     slot->Answered(j, slot->resp.results_size(), &error)
                         ? FromItemStatus(slot->resp.results(static_cast<int>(j)))
                         : error;
               }
             }
             then();
           });
}

void GraphOps::UpsertEntities(const CallOptions& o, const v1::UpsertEntitiesRequest& req,
                              v1::UpsertEntitiesResponse* resp, Done done) const {
  absl::Status s = CheckDeadline(o);
  if (s.ok()) s = CheckCount(req.entities_size(), kMaxBatch, "entities");
  if (!s.ok()) return done(s);
  auto statuses = std::make_shared<std::vector<absl::Status>>(req.entities_size());
  std::vector<std::pair<int, const v1::Entity*>> items;
  int64_t now = NowMs();
  for (int i = 0; i < req.entities_size(); ++i) {
    EntityKey key;
    EntityData data;
    (*statuses)[i] =
        EntityFromProto(req.entities(i), absl::StrCat("entities[", i, "]"), now, &key, &data);
    if ((*statuses)[i].ok()) items.emplace_back(i, &req.entities(i));
  }
  ApplyEntities(o, std::move(items), req.merge(), statuses.get(),
                [statuses, resp, done = std::move(done)]() {
                  for (const absl::Status& st : *statuses) SetItemStatus(st, resp->add_results());
                  done(absl::OkStatus());
                });
}

void GraphOps::ApplyEdges(const CallOptions& o, bool upsert, std::vector<EdgeItem> items,
                          std::vector<absl::Status>* statuses, std::function<void()> then) const {
  // The OUT copy of an edge is the authority. An item with both copies selected is written
  // in two steps: the OUT copy on the source's partition, together with an intent that the
  // IN copy must follow (durable stores only); then the IN copy on the destination's
  // partition; then the intent is cleared. A crash between the steps leaves the intent,
  // which ResolveIntents completes. A copy not selected counts as absent (NOT_FOUND).
  struct State {
    std::vector<EdgeItem> items;
    std::vector<std::array<absl::Status, 2>> copy_status;  // per item, [side]
    std::vector<uint64_t> intent_id;                       // per item, from the OUT step
  };
  auto state = std::make_shared<State>();
  state->items = std::move(items);
  size_t n = state->items.size();
  state->copy_status.resize(n);
  state->intent_id.assign(n, 0);
  for (size_t k = 0; k < n; ++k) {
    if (!state->items[k].out_copy) state->copy_status[k][0] = absl::NotFoundError("not selected");
    if (!state->items[k].in_copy) state->copy_status[k][1] = absl::NotFoundError("not selected");
  }
  auto copy_ok = [upsert](const absl::Status& s) {
    return s.ok() || (!upsert && absl::IsNotFound(s));
  };
  const Router* router = router_;
  auto combine = [state, statuses, upsert, router, o, then = std::move(then)]() {
    using Clear = Scatter<internal::v1::ClearIntentsRequest, internal::v1::ClearIntentsResponse>;
    auto clear = std::make_shared<Clear>(router->partition_count());
    for (size_t k = 0; k < state->items.size(); ++k) {
      const auto& cs = state->copy_status[k];
      absl::Status result;
      const EdgeItem& item = state->items[k];
      if (upsert) {
        // Only the selected copies count (an unselected one is marked NOT_FOUND).
        result = item.out_copy && !cs[0].ok() ? cs[0] : item.in_copy ? cs[1] : absl::OkStatus();
      } else if (cs[0].ok() || cs[1].ok()) {
        // Deleted where present: a copy already missing is not an error.
        result = !cs[0].ok() && !absl::IsNotFound(cs[0])   ? cs[0]
                 : !cs[1].ok() && !absl::IsNotFound(cs[1]) ? cs[1]
                                                           : absl::OkStatus();
      } else {
        result = absl::IsNotFound(cs[0]) && absl::IsNotFound(cs[1])
                     ? absl::NotFoundError("no such edge")
                 : !absl::IsNotFound(cs[0]) ? cs[0]
                                            : cs[1];
      }
      (*statuses)[state->items[k].index] = result;
      bool in_done = cs[1].ok() || (!upsert && absl::IsNotFound(cs[1]));
      if (state->intent_id[k] != 0 && in_done) {
        auto& slot = clear->At(router->PartitionOf(KeyFromProto(state->items[k].edge.src())));
        slot.req.add_ids(state->intent_id[k]);
      }
    }
    // Clearing is not awaited: an intent left behind is replayed, which is idempotent.
    Clear* raw = clear.get();
    raw->Run(*router, o, &PartitionClient::ClearIntents, [clear]() {});
    then();
  };
  // Sends the selected copies of one side; fills copy_status (and intent ids for OUT).
  auto send = [this, o, upsert, state, copy_ok](int side, std::function<void()> next) {
    auto fill_and_run = [&](auto* tag, auto method) {
      using S = std::remove_pointer_t<decltype(tag)>;
      auto scatter = std::make_shared<S>(router_->partition_count());
      for (size_t k = 0; k < state->items.size(); ++k) {
        const EdgeItem& item = state->items[k];
        if (!(side == 0 ? item.out_copy : item.in_copy)) continue;
        if (side == 1 && item.out_copy && !copy_ok(state->copy_status[k][0])) {
          state->copy_status[k][1] = state->copy_status[k][0];  // not attempted
          continue;
        }
        const v1::EntityKey& owner = side == 0 ? item.edge.src() : item.edge.dst();
        auto& slot = scatter->At(router_->PartitionOf(KeyFromProto(owner)));
        internal::v1::EdgeCopy* copy = slot.req.add_copies();
        *copy->mutable_edge() = item.edge;
        copy->set_side(side == 0 ? v1::OUT : v1::IN);
        copy->set_record_intent(side == 0 && item.in_copy);
        slot.items.push_back(static_cast<int>(k));
      }
      S* raw = scatter.get();
      raw->Run(*router_, o, method, [scatter, state, side, next = std::move(next)]() {
        for (auto& slot : scatter->slots()) {
          for (size_t j = 0; j < slot->items.size(); ++j) {
            int k = slot->items[j];
            absl::Status error;
            bool answered = slot->Answered(j, slot->resp.results_size(), &error);
            state->copy_status[k][side] =
                answered ? FromItemStatus(slot->resp.results(static_cast<int>(j))) : error;
            if (answered && side == 0 && static_cast<int>(j) < slot->resp.intent_ids_size()) {
              state->intent_id[k] = slot->resp.intent_ids(static_cast<int>(j));
            }
          }
        }
        next();
      });
    };
    if (upsert) {
      fill_and_run(static_cast<Scatter<internal::v1::UpsertEdgeCopiesRequest,
                                       internal::v1::UpsertEdgeCopiesResponse>*>(nullptr),
                   &PartitionClient::UpsertEdgeCopies);
    } else {
      fill_and_run(static_cast<Scatter<internal::v1::DeleteEdgeCopiesRequest,
                                       internal::v1::DeleteEdgeCopiesResponse>*>(nullptr),
                   &PartitionClient::DeleteEdgeCopies);
    }
  };
  send(0, [send, combine]() { send(1, combine); });
}

void GraphOps::UpsertEdges(const CallOptions& o, const v1::UpsertEdgesRequest& req,
                           v1::UpsertEdgesResponse* resp, Done done) const {
  absl::Status s = CheckDeadline(o);
  if (s.ok()) s = CheckCount(req.edges_size(), kMaxBatch, "edges");
  if (!s.ok()) return done(s);
  auto statuses = std::make_shared<std::vector<absl::Status>>(req.edges_size());
  std::vector<EdgeItem> items;
  int64_t now = NowMs();
  for (int i = 0; i < req.edges_size(); ++i) {
    v1::Edge edge;
    (*statuses)[i] = ValidateEdgeProto(req.edges(i), absl::StrCat("edges[", i, "]"), now, &edge);
    if ((*statuses)[i].ok()) items.push_back({i, std::move(edge)});
  }
  ApplyEdges(o, true, std::move(items), statuses.get(), [statuses, resp, done = std::move(done)]() {
    for (const absl::Status& st : *statuses) SetItemStatus(st, resp->add_results());
    done(absl::OkStatus());
  });
}

void GraphOps::DeleteEdges(const CallOptions& o, const v1::DeleteEdgesRequest& req,
                           v1::DeleteEdgesResponse* resp, Done done) const {
  absl::Status s = CheckDeadline(o);
  if (s.ok()) s = CheckCount(req.edges_size(), kMaxBatch, "edges");
  if (!s.ok()) return done(s);
  auto statuses = std::make_shared<std::vector<absl::Status>>(req.edges_size());
  std::vector<EdgeItem> items;
  for (int i = 0; i < req.edges_size(); ++i) {
    v1::Edge edge;
    *edge.mutable_src() = req.edges(i).src();
    *edge.mutable_dst() = req.edges(i).dst();
    edge.set_type(req.edges(i).type());
    (*statuses)[i] = ValidateEdgeProto(edge, absl::StrCat("edges[", i, "]"), 0, nullptr);
    if ((*statuses)[i].ok()) items.push_back({i, std::move(edge)});
  }
  ApplyEdges(o, false, std::move(items), statuses.get(),
             [statuses, resp, done = std::move(done)]() {
               for (const absl::Status& st : *statuses) SetItemStatus(st, resp->add_results());
               done(absl::OkStatus());
             });
}

void GraphOps::DeleteEntities(const CallOptions& o, const v1::DeleteEntitiesRequest& req,
                              v1::DeleteEntitiesResponse* resp, Done done) const {
  absl::Status s = CheckDeadline(o);
  if (s.ok()) s = CheckCount(req.keys_size(), kMaxBatch, "keys");
  if (!s.ok()) return done(s);
  struct State {
    std::vector<absl::Status> statuses;
    std::vector<uint64_t> removed;
    std::vector<absl::Status> copy_statuses;  // phase 2, one per opposite copy
    std::vector<EdgeItem> copies;
    std::vector<int> copy_owner;  // item index of each opposite copy
    // (item, partition, intent id) recorded with each deletion, cleared once phase 2 is done.
    std::vector<std::tuple<int, uint32_t, uint64_t>> intents;
  };
  auto state = std::make_shared<State>();
  state->statuses.resize(req.keys_size());
  state->removed.resize(req.keys_size());
  using S = Scatter<internal::v1::DeleteEntitiesRequest, internal::v1::DeleteEntitiesResponse>;
  auto scatter = std::make_shared<S>(router_->partition_count());
  for (int i = 0; i < req.keys_size(); ++i) {
    EntityKey key = KeyFromProto(req.keys(i));
    state->statuses[i] = ValidateKey(req.keys(i), ItemField{"keys", i});
    if (!state->statuses[i].ok()) continue;
    auto& slot = scatter->At(router_->PartitionOf(key));
    *slot.req.add_keys() = req.keys(i);
    slot.items.push_back(i);
  }
  S* raw = scatter.get();
  raw->Run(
      *router_, o, &PartitionClient::DeleteEntities,
      [this, o, scatter, state, resp, done = std::move(done)]() {
        // Phase 2: delete the opposite copies on their owners' partitions.
        for (auto& slot : scatter->slots()) {
          for (size_t j = 0; j < slot->items.size(); ++j) {
            int item = slot->items[j];
            absl::Status error;
            if (!slot->Answered(j, slot->resp.results_size(), &error)) {
              state->statuses[item] = error;
              continue;
            }
            internal::v1::DeletedEntity* d = slot->resp.mutable_results(static_cast<int>(j));
            state->statuses[item] = FromItemStatus(d->status());
            state->removed[item] = d->opposite_copies_size();
            if (d->intent_id() != 0) {
              state->intents.emplace_back(item, slot->partition, d->intent_id());
            }
            for (internal::v1::EdgeCopy& c : *d->mutable_opposite_copies()) {
              state->copy_owner.push_back(item);
              bool out = c.side() == v1::OUT;
              state->copies.push_back({static_cast<int>(state->copies.size()),
                                       std::move(*c.mutable_edge()), out, !out});
            }
          }
        }
        state->copy_statuses.resize(state->copies.size());
        // Only the opposite copies: the entity's own went with it. One already
        // missing (NOT_FOUND) is fine.
        ApplyEdges(
            o, false, std::move(state->copies), &state->copy_statuses,
            [this, o, state, resp, done]() {
              std::vector<bool> complete(state->statuses.size(), true);
              for (size_t k = 0; k < state->copy_statuses.size(); ++k) {
                const absl::Status& cs = state->copy_statuses[k];
                int item = state->copy_owner[k];
                if (!cs.ok() && !absl::IsNotFound(cs)) complete[item] = false;
                if (!cs.ok() && !absl::IsNotFound(cs) && state->statuses[item].ok()) {
                  state->statuses[item] =
                      absl::Status(cs.code(), absl::StrCat("entity removed, but an edge copy "
                                                           "could not be: ",
                                                           cs.message()));
                }
              }
              // Intents of completed deletions are cleared (not awaited; a leftover
              // is replayed idempotently).
              using Clear =
                  Scatter<internal::v1::ClearIntentsRequest, internal::v1::ClearIntentsResponse>;
              auto clear = std::make_shared<Clear>(router_->partition_count());
              for (const auto& [item, partition, id] : state->intents) {
                if (complete[item]) clear->At(partition).req.add_ids(id);
              }
              Clear* raw_clear = clear.get();
              raw_clear->Run(*router_, o, &PartitionClient::ClearIntents, [clear]() {});
              for (size_t i = 0; i < state->statuses.size(); ++i) {
                v1::DeleteEntityResult* r = resp->add_results();
                SetItemStatus(state->statuses[i], r->mutable_status());
                r->set_edges_removed(state->removed[i]);
              }
              done(absl::OkStatus());
            });
      });
}

void GraphOps::GetNeighbors(const CallOptions& o, const v1::GetNeighborsRequest& req,
                            internal::v1::EncodedGetNeighborsResponse* resp, Done done) const {
  absl::Status s = CheckDeadline(o);
  if (s.ok()) s = CheckCount(req.keys_size(), kMaxNeighborKeys, "keys");
  if (s.ok()) s = CheckEdgeType(req.edge_type(), "edge_type");
  if (s.ok()) s = CheckDirection(req.direction(), "direction");
  if (s.ok()) s = CheckRange(req.limit(), 0, kMaxNeighborLimit, "limit");
  if (s.ok()) s = CheckWindow(req.min_time_ms(), req.max_time_ms(), "");
  ReadMask mask;
  if (s.ok()) s = ParseReadMask(req.entity_read_mask(), "entity_read_mask", &mask);
  int limit = req.limit() == 0 ? kDefaultNeighborLimit : req.limit();
  if (s.ok() && !req.page_token().empty() && req.keys_size() != 1) {
    s = absl::InvalidArgumentError("page_token: requires exactly one key");
  }
  if (s.ok() && req.include_entities() && req.keys_size() * limit > kMaxInlineEntities) {
    s = absl::InvalidArgumentError(absl::StrCat(
        "limit: with include_entities, keys x limit must be at most ", kMaxInlineEntities));
  }
  if (!s.ok()) return done(s);

  EdgeType type = static_cast<EdgeType>(req.edge_type());
  Direction dir = DirOf(req.direction());
  using S = Scatter<internal::v1::GetNeighborsRequest, internal::v1::GetNeighborsResponse>;
  auto scatter = std::make_shared<S>(router_->partition_count(), resp->GetArena());
  resp->mutable_results()->Reserve(req.keys_size());
  for (int i = 0; i < req.keys_size(); ++i) {
    internal::v1::EncodedNeighborList* list = resp->add_results();
    *list->mutable_key() = req.keys(i);
    EntityKey key = KeyFromProto(req.keys(i));
    absl::Status ks = ValidateKey(req.keys(i), ItemField{"keys", i});
    if (ks.ok()) ks = ValidateOwner(key, type, dir, ItemField{"keys", i});
    if (!ks.ok()) {
      SetItemStatus(ks, list->mutable_status());
      continue;
    }
    auto& slot = scatter->At(router_->PartitionOf(key));
    internal::v1::NeighborQuery& q = *slot.req.add_queries();  // on the call's arena
    *q.mutable_key() = req.keys(i);
    q.set_edge_type(req.edge_type());
    q.set_direction(req.direction());
    q.set_min_time_ms(req.min_time_ms());
    q.set_max_time_ms(req.max_time_ms());
    q.set_limit(limit);
    if (!req.page_token().empty()) {
      absl::Status ts = DecodePageToken(req.page_token(), q, q.mutable_after());
      if (!ts.ok()) return done(ts);
    }
    slot.items.push_back(i);
  }
  S* raw = scatter.get();
  const Router* router = router_;
  raw->Run(*router_, o, &PartitionClient::GetNeighbors,
           [router, o, scatter, resp, include = req.include_entities(),
            mask = req.entity_read_mask(), done = std::move(done)]() {
             std::vector<EntityKey> wanted;
             absl::flat_hash_set<EntityKey> seen;
             for (auto& slot : scatter->slots()) {
               for (size_t j = 0; j < slot->items.size(); ++j) {
                 internal::v1::EncodedNeighborList* list = resp->mutable_results(slot->items[j]);
                 absl::Status error;
                 if (!slot->Answered(j, slot->resp.pages_size(), &error)) {
                   SetItemStatus(error, list->mutable_status());
                   continue;
                 }
                 internal::v1::NeighborPage* page = slot->resp.mutable_pages(static_cast<int>(j));
                 if (page->status().code() != 0) *list->mutable_status() = page->status();
                 list->set_total_count(page->total_count());
                 list->mutable_neighbors()->Swap(page->mutable_neighbors());
                 if (page->has_next()) {
                   list->set_next_page_token(
                       EncodePageToken(slot->req.queries(static_cast<int>(j)), page->next()));
                 }
                 if (include) {
                   for (const internal::v1::EncodedNeighbor& n : list->neighbors()) {
                     EntityKey k = KeyFromProto(n.key());
                     if (seen.insert(k).second) wanted.push_back(k);
                   }
                 }
               }
             }
             if (!include || wanted.empty()) return done(absl::OkStatus());
             FetchEntities(*router, o, wanted, mask, resp->GetArena(),
                           [resp, done](absl::Status fs, const EntityMap& found) {
                             if (!fs.ok()) return done(fs);
                             for (auto& list : *resp->mutable_results()) {
                               for (auto& n : *list.mutable_neighbors()) {
                                 auto it = found.find(KeyFromProto(n.key()));
                                 n.set_entity_found(it != found.end());
                                 if (it != found.end()) n.set_entity(*it->second);
                               }
                             }
                             done(absl::OkStatus());
                           });
           });
}

void GraphOps::CountNeighbors(const CallOptions& o, const v1::CountNeighborsRequest& req,
                              v1::CountNeighborsResponse* resp, Done done) const {
  absl::Status s = CheckDeadline(o);
  if (s.ok()) s = CheckCount(req.keys_size(), kMaxBatch, "keys");
  std::vector<EdgeType> types;
  std::vector<Direction> dirs;
  for (int i = 0; s.ok() && i < req.edge_types_size(); ++i) {
    s = CheckEdgeType(req.edge_types(i), absl::StrCat("edge_types[", i, "]"));
    if (s.ok()) types.push_back(static_cast<EdgeType>(req.edge_types(i)));
  }
  for (int i = 0; s.ok() && i < req.directions_size(); ++i) {
    s = CheckDirection(req.directions(i), absl::StrCat("directions[", i, "]"));
    if (s.ok()) dirs.push_back(DirOf(req.directions(i)));
  }
  if (s.ok()) s = CheckWindow(req.min_time_ms(), req.max_time_ms(), "");
  if (!s.ok()) return done(s);
  if (types.empty()) {
    for (int t = 1; t < kEdgeTypeCount; ++t) types.push_back(static_cast<EdgeType>(t));
  }
  if (dirs.empty()) dirs = {Direction::kOut, Direction::kIn};
  std::sort(types.begin(), types.end());
  types.erase(std::unique(types.begin(), types.end()), types.end());
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());

  using S = Scatter<internal::v1::CountNeighborsRequest, internal::v1::CountNeighborsResponse>;
  auto scatter = std::make_shared<S>(router_->partition_count());
  for (int i = 0; i < req.keys_size(); ++i) {
    v1::KeyCounts* kc = resp->add_results();
    *kc->mutable_key() = req.keys(i);
    EntityKey key = KeyFromProto(req.keys(i));
    absl::Status ks = ValidateKey(req.keys(i), ItemField{"keys", i});
    if (!ks.ok()) {
      SetItemStatus(ks, kc->mutable_status());
      continue;
    }
    auto* slot = &scatter->At(router_->PartitionOf(key));
    for (EdgeType t : types) {
      for (Direction d : dirs) {
        if (OwnerType(t, d) != key.type) continue;
        v1::NeighborCount* c = kc->add_counts();
        c->set_edge_type(static_cast<v1::EdgeType>(t));
        c->set_direction(static_cast<v1::Direction>(d));
        internal::v1::CountQuery* q = slot->req.add_queries();
        *q->mutable_key() = req.keys(i);
        q->set_edge_type(static_cast<v1::EdgeType>(t));
        q->set_direction(static_cast<v1::Direction>(d));
        q->set_min_time_ms(req.min_time_ms());
        q->set_max_time_ms(req.max_time_ms());
        slot->items.push_back(i);
      }
    }
  }
  S* raw = scatter.get();
  raw->Run(
      *router_, o, &PartitionClient::CountNeighbors, [scatter, resp, done = std::move(done)]() {
        std::vector<int> next(resp->results_size(), 0);
        for (auto& slot : scatter->slots()) {
          for (size_t j = 0; j < slot->items.size(); ++j) {
            int item = slot->items[j];
            v1::KeyCounts* kc = resp->mutable_results(item);
            absl::Status error;
            if (!slot->Answered(j, slot->resp.counts_size(), &error)) {
              SetItemStatus(error, kc->mutable_status());
              continue;
            }
            kc->mutable_counts(next[item]++)->set_count(slot->resp.counts(static_cast<int>(j)));
          }
        }
        done(absl::OkStatus());
      });
}

namespace {

struct Score {
  double paths = 0;
  double weight = 0;
};

struct TraverseState {
  const v1::TraverseRequest* req;
  v1::TraverseResponse* resp;
  Done done;
  CallOptions options;
  std::vector<std::pair<EntityKey, Score>> frontier;
  absl::flat_hash_set<EntityKey> start;
  int max_frontier;
  int max_results;
};

double RankOf(const v1::TraverseRequest& req, const Score& s) {
  return req.ranking() == v1::TraverseRequest::WEIGHT_SUM ? s.weight : s.paths;
}

// Orders best first, ties by ascending key.
void SortByScore(const v1::TraverseRequest& req, std::vector<std::pair<EntityKey, Score>>* v,
                 size_t keep) {
  auto better = [&req](const auto& a, const auto& b) {
    double ra = RankOf(req, a.second), rb = RankOf(req, b.second);
    return ra != rb ? ra > rb : a.first < b.first;
  };
  keep = std::min(keep, v->size());
  std::partial_sort(v->begin(), v->begin() + keep, v->end(), better);
  v->resize(keep);
}

void RunHop(const Router* router, std::shared_ptr<TraverseState> st, int h);

void FinishTraverse(const Router* router, std::shared_ptr<TraverseState> st) {
  const v1::TraverseRequest& req = *st->req;
  auto& results = st->frontier;
  if (!req.include_start()) {
    results.erase(std::remove_if(results.begin(), results.end(),
                                 [&](const auto& e) { return st->start.contains(e.first); }),
                  results.end());
  }
  SortByScore(req, &results, st->max_results);
  std::vector<EntityKey> keys;
  for (const auto& [key, score] : results) {
    v1::TraverseResult* r = st->resp->add_results();
    KeyToProto(key, r->mutable_key());
    r->set_score(RankOf(req, score));
    r->set_path_count(static_cast<uint64_t>(score.paths));
    keys.push_back(key);
  }
  if (!req.include_entities() || keys.empty()) return st->done(absl::OkStatus());
  FetchEntities(*router, st->options, keys, req.entity_read_mask(), st->resp->GetArena(),
                [st](absl::Status fs, const EntityMap& found) {
                  if (!fs.ok()) return st->done(fs);
                  for (v1::TraverseResult& r : *st->resp->mutable_results()) {
                    auto it = found.find(KeyFromProto(r.key()));
                    r.set_entity_found(it != found.end());
                    if (it != found.end() && !r.mutable_entity()->ParseFromString(*it->second)) {
                      return st->done(absl::InternalError("undecodable entity from a partition"));
                    }
                  }
                  st->done(absl::OkStatus());
                });
}

void RunHop(const Router* router, std::shared_ptr<TraverseState> st, int h) {
  const v1::Hop& hop = st->req->hops(h);
  using S = Scatter<internal::v1::GetNeighborsRequest, internal::v1::GetNeighborsResponse>;
  auto scatter = std::make_shared<S>(router->partition_count());
  int limit = hop.limit() == 0 ? kDefaultHopLimit : hop.limit();
  int64_t budget = kTraverseEdgesPerHop / std::max<int64_t>(1, st->frontier.size());
  if (limit > budget) {
    limit = static_cast<int>(std::max<int64_t>(1, budget));
    st->resp->set_truncated(true);
  }
  for (size_t i = 0; i < st->frontier.size(); ++i) {
    const EntityKey& key = st->frontier[i].first;
    auto& slot = scatter->At(router->PartitionOf(key));
    internal::v1::NeighborQuery* q = slot.req.add_queries();
    KeyToProto(key, q->mutable_key());
    q->set_edge_type(hop.edge_type());
    q->set_direction(hop.direction());
    q->set_min_time_ms(hop.min_time_ms());
    q->set_max_time_ms(hop.max_time_ms());
    q->set_limit(limit);
    slot.items.push_back(static_cast<int>(i));
  }
  S* raw = scatter.get();
  raw->Run(*router, st->options, &PartitionClient::GetNeighbors, [router, st, scatter, h]() {
    const v1::Hop& hop = st->req->hops(h);
    EntityType ntype = NeighborType(static_cast<EdgeType>(hop.edge_type()), DirOf(hop.direction()));
    absl::flat_hash_map<uint64_t, Score> next;
    for (auto& slot : scatter->slots()) {
      if (!slot->status.ok()) return st->done(slot->status);
      for (size_t j = 0; j < slot->items.size() && static_cast<int>(j) < slot->resp.pages_size();
           ++j) {
        const internal::v1::NeighborPage& page = slot->resp.pages(static_cast<int>(j));
        if (page.status().code() != 0) return st->done(FromItemStatus(page.status()));
        const Score& from = st->frontier[slot->items[j]].second;
        for (const internal::v1::EncodedNeighbor& n : page.neighbors()) {
          Score& to = next[n.key().id()];
          to.paths += from.paths;
          to.weight += from.weight * n.weight();
        }
      }
    }
    st->resp->add_frontier_sizes(next.size());
    st->frontier.clear();
    st->frontier.reserve(next.size());
    for (const auto& [id, score] : next) st->frontier.emplace_back(EntityKey{ntype, id}, score);
    if (st->frontier.size() > static_cast<size_t>(st->max_frontier)) {
      st->resp->set_truncated(true);
      SortByScore(*st->req, &st->frontier, st->max_frontier);
    }
    if (h + 1 < st->req->hops_size() && !st->frontier.empty()) {
      RunHop(router, st, h + 1);
    } else {
      for (int rest = h + 1; rest < st->req->hops_size(); ++rest) st->resp->add_frontier_sizes(0);
      FinishTraverse(router, st);
    }
  });
}

}  // namespace

void GraphOps::Traverse(const CallOptions& o, const v1::TraverseRequest& req,
                        v1::TraverseResponse* resp, Done done) const {
  absl::Status s = CheckDeadline(o);
  if (s.ok()) s = CheckCount(req.start_size(), kMaxTraverseStart, "start");
  if (s.ok()) s = CheckCount(req.hops_size(), kMaxHops, "hops");
  if (s.ok()) s = CheckRange(req.max_results(), 0, kMaxResults, "max_results");
  if (s.ok()) s = CheckRange(req.max_frontier(), 0, kMaxFrontier, "max_frontier");
  if (s.ok() && req.ranking() != v1::TraverseRequest::PATH_COUNT &&
      req.ranking() != v1::TraverseRequest::WEIGHT_SUM) {
    s = absl::InvalidArgumentError("ranking: must be PATH_COUNT or WEIGHT_SUM");
  }
  ReadMask mask;
  if (s.ok()) s = ParseReadMask(req.entity_read_mask(), "entity_read_mask", &mask);
  EntityType reached = EntityType::kUnspecified;
  for (int h = 0; s.ok() && h < req.hops_size(); ++h) {
    const v1::Hop& hop = req.hops(h);
    std::string f = absl::StrCat("hops[", h, "]");
    s = CheckEdgeType(hop.edge_type(), f + ".edge_type");
    if (s.ok()) s = CheckDirection(hop.direction(), f + ".direction");
    if (s.ok()) s = CheckRange(hop.limit(), 0, kMaxNeighborLimit, f + ".limit");
    if (s.ok()) s = CheckWindow(hop.min_time_ms(), hop.max_time_ms(), f + ".");
    if (!s.ok()) break;
    EdgeType t = static_cast<EdgeType>(hop.edge_type());
    Direction d = DirOf(hop.direction());
    if (h > 0 && OwnerType(t, d) != reached) {
      s = absl::InvalidArgumentError(absl::StrCat(f, ": ", EdgeTypeName(t), " ", DirectionName(d),
                                                  " starts from ", EntityTypeName(OwnerType(t, d)),
                                                  " but the previous hop reaches ",
                                                  EntityTypeName(reached)));
    }
    reached = NeighborType(t, d);
  }
  for (int i = 0; s.ok() && i < req.start_size(); ++i) {
    EntityKey key = KeyFromProto(req.start(i));
    s = ValidateKey(req.start(i), ItemField{"start", i});
    EdgeType t = static_cast<EdgeType>(req.hops(0).edge_type());
    Direction d = DirOf(req.hops(0).direction());
    if (s.ok() && key.type != OwnerType(t, d)) {
      s = absl::InvalidArgumentError(
          absl::StrCat("hops[0]: ", EdgeTypeName(t), " ", DirectionName(d), " starts from ",
                       EntityTypeName(OwnerType(t, d)), " keys, but start[", i, "] is a ",
                       EntityTypeName(key.type)));
    }
  }
  if (!s.ok()) return done(s);
  auto st = std::make_shared<TraverseState>();
  st->req = &req;
  st->resp = resp;
  st->done = std::move(done);
  st->options = o;
  st->max_frontier = req.max_frontier() == 0 ? kDefaultMaxFrontier : req.max_frontier();
  st->max_results = req.max_results() == 0 ? kDefaultMaxResults : req.max_results();
  for (const v1::EntityKey& k : req.start()) {
    EntityKey key = KeyFromProto(k);
    if (st->start.insert(key).second) st->frontier.emplace_back(key, Score{1, 1});
  }
  RunHop(router_, std::move(st), 0);
}

void GraphOps::GetClusterInfo(const CallOptions& o, const v1::GetClusterInfoRequest& req,
                              v1::GetClusterInfoResponse* resp, Done done) const {
  absl::Status s = CheckDeadline(o);
  if (!s.ok()) return done(s);
  using S = Scatter<internal::v1::GetPartitionInfoRequest, internal::v1::GetPartitionInfoResponse>;
  auto scatter = std::make_shared<S>(router_->partition_count());
  for (uint32_t p = 0; p < router_->partition_count(); ++p) scatter->At(p);
  resp->set_role(role_);
  resp->set_partition_count(router_->partition_count());
  resp->set_version(version_);
  resp->set_uptime_ms(NowMs() - start_ms_);
  resp->set_resident_memory_bytes(ResidentMemoryBytes());
  S* raw = scatter.get();
  const Router* router = router_;
  raw->Run(*router_, o, &PartitionClient::GetPartitionInfo,
           [router, scatter, resp, done = std::move(done)]() {
             for (auto& slot : scatter->slots()) {
               v1::PartitionInfo* info = resp->add_partitions();
               if (slot->status.ok()) {
                 info->Swap(slot->resp.mutable_info());
                 resp->set_entity_count(resp->entity_count() + info->entity_count());
                 resp->set_edge_count(resp->edge_count() + info->out_edge_count());
               } else {
                 info->set_partition(slot->partition);
                 SetItemStatus(slot->status, info->mutable_status());
               }
               info->set_server(router->client(slot->partition).address());
             }
             done(absl::OkStatus());
           });
}

void GraphOps::Checkpoint(const CallOptions& o, const v1::CheckpointRequest& req,
                          v1::CheckpointResponse* resp, Done done) const {
  absl::Status s = CheckDeadline(o);
  if (s.ok() && req.dir().empty()) s = absl::InvalidArgumentError("dir: required");
  if (s.ok() && req.dir().front() != '/') {
    s = absl::InvalidArgumentError("dir: must be an absolute path");
  }
  if (!s.ok()) return done(s);
  using S = Scatter<internal::v1::CheckpointRequest, internal::v1::CheckpointResponse>;
  auto scatter = std::make_shared<S>(router_->partition_count());
  for (uint32_t p = 0; p < router_->partition_count(); ++p) scatter->At(p).req.set_dir(req.dir());
  S* raw = scatter.get();
  const Router* router = router_;
  raw->Run(*router_, o, &PartitionClient::Checkpoint,
           [router, scatter, resp, done = std::move(done)]() {
             absl::Status first;
             for (auto& slot : scatter->slots()) {
               v1::CheckpointResponse::Partition* out = resp->add_partitions();
               out->set_partition(slot->partition);
               out->set_server(router->client(slot->partition).address());
               if (!slot->status.ok()) SetItemStatus(slot->status, out->mutable_status());
               if (first.ok()) first = slot->status;
             }
             done(first);
           });
}

void GraphOps::ResolveIntents(const CallOptions& o, int64_t min_age_ms,
                              std::function<void(absl::Status, uint64_t)> done) const {
  using List = Scatter<internal::v1::ListIntentsRequest, internal::v1::ListIntentsResponse>;
  auto list = std::make_shared<List>(router_->partition_count());
  for (uint32_t p = 0; p < router_->partition_count(); ++p) {
    list->At(p).req.set_min_age_ms(min_age_ms);
  }
  List* raw = list.get();
  raw->Run(*router_, o, &PartitionClient::ListIntents, [this, o, list, done]() {
    struct State {
      std::vector<std::pair<uint32_t, uint64_t>> intents;  // (partition, id)
      std::vector<int> op_intent;                          // op -> index in intents
      std::vector<absl::Status> upsert_status, delete_status;
      std::vector<int> upsert_op, delete_op;  // status index -> op
    };
    auto state = std::make_shared<State>();
    std::vector<EdgeItem> upserts, deletes;
    absl::Status unreachable;  // a partition that could not be asked is tried next time
    for (auto& slot : list->slots()) {
      if (!slot->status.ok()) {
        unreachable = slot->status;
        continue;
      }
      for (const internal::v1::Intent& intent : slot->resp.intents()) {
        int index = static_cast<int>(state->intents.size());
        state->intents.emplace_back(slot->partition, intent.id());
        for (const internal::v1::IntentOp& op : intent.ops()) {
          int op_index = static_cast<int>(state->op_intent.size());
          state->op_intent.push_back(index);
          bool out = op.copy().side() == v1::OUT;
          auto& items = op.delete_() ? deletes : upserts;
          auto& ops = op.delete_() ? state->delete_op : state->upsert_op;
          items.push_back({static_cast<int>(items.size()), op.copy().edge(), out, !out});
          ops.push_back(op_index);
        }
      }
    }
    if (state->intents.empty()) return done(unreachable, 0);
    state->upsert_status.resize(upserts.size());
    state->delete_status.resize(deletes.size());
    auto pending = std::make_shared<std::atomic<int>>(2);
    auto finish = [this, o, state, done, pending, unreachable]() {
      if (pending->fetch_sub(1) != 1) return;
      std::vector<bool> complete(state->intents.size(), true);
      for (size_t i = 0; i < state->upsert_status.size(); ++i) {
        if (!state->upsert_status[i].ok()) complete[state->op_intent[state->upsert_op[i]]] = false;
      }
      for (size_t i = 0; i < state->delete_status.size(); ++i) {
        const absl::Status& s = state->delete_status[i];
        if (!s.ok() && !absl::IsNotFound(s))
          complete[state->op_intent[state->delete_op[i]]] = false;
      }
      using Clear = Scatter<internal::v1::ClearIntentsRequest, internal::v1::ClearIntentsResponse>;
      auto clear = std::make_shared<Clear>(router_->partition_count());
      uint64_t resolved = 0;
      for (size_t i = 0; i < state->intents.size(); ++i) {
        if (!complete[i]) continue;
        clear->At(state->intents[i].first).req.add_ids(state->intents[i].second);
        ++resolved;
      }
      Clear* raw_clear = clear.get();
      raw_clear->Run(*router_, o, &PartitionClient::ClearIntents,
                     [clear, done, resolved, unreachable]() {
                       for (auto& slot : clear->slots()) {
                         if (!slot->status.ok()) return done(slot->status, resolved);
                       }
                       done(unreachable, resolved);
                     });
    };
    ApplyEdges(o, true, std::move(upserts), &state->upsert_status, finish);
    ApplyEdges(o, false, std::move(deletes), &state->delete_status, finish);
  });
}

void GraphOps::ImportBatch(const CallOptions& o, const v1::ImportRequest& batch,
                           uint64_t first_index, v1::ImportResponse* totals, Done done) const {
  if (batch.records_size() > kMaxImportRecordsPerMessage) {
    return done(absl::InvalidArgumentError(absl::StrCat("records: ", batch.records_size(),
                                                        " in one message, at most ",
                                                        kMaxImportRecordsPerMessage, " allowed")));
  }
  auto statuses = std::make_shared<std::vector<absl::Status>>(batch.records_size());
  std::vector<std::pair<int, const v1::Entity*>> entities;
  std::vector<EdgeItem> edges;
  int64_t now = NowMs();
  for (int i = 0; i < batch.records_size(); ++i) {
    const v1::ImportRecord& r = batch.records(i);
    if (r.has_entity()) {
      EntityKey key;
      EntityData data;
      (*statuses)[i] = EntityFromProto(r.entity(), "entity", now, &key, &data);
      if ((*statuses)[i].ok()) entities.emplace_back(i, &r.entity());
    } else if (r.has_edge()) {
      v1::Edge edge;
      (*statuses)[i] = ValidateEdgeProto(r.edge(), "edge", now, &edge);
      if ((*statuses)[i].ok()) edges.push_back({i, std::move(edge)});
    } else {
      (*statuses)[i] = absl::InvalidArgumentError("record: neither entity nor edge is set");
    }
  }
  auto finish = [statuses, &batch, first_index, totals, done = std::move(done)]() {
    totals->set_records_received(totals->records_received() + statuses->size());
    for (size_t i = 0; i < statuses->size(); ++i) {
      const absl::Status& st = (*statuses)[i];
      if (st.ok()) {
        if (batch.records(static_cast<int>(i)).has_entity()) {
          totals->set_entities_upserted(totals->entities_upserted() + 1);
        } else {
          totals->set_edges_upserted(totals->edges_upserted() + 1);
        }
        continue;
      }
      totals->set_records_rejected(totals->records_rejected() + 1);
      if (totals->first_errors_size() < kMaxImportErrorsReported) {
        v1::ImportError* e = totals->add_first_errors();
        e->set_record_index(first_index + i);
        e->set_message(std::string(st.message()));
      }
    }
    done(absl::OkStatus());
  };
  // Entities and edges are independent (edges need not have entities): write both, then
  // account.
  auto pending = std::make_shared<std::atomic<int>>(2);
  auto arrive = [pending, finish = std::move(finish)]() {
    if (pending->fetch_sub(1) == 1) finish();
  };
  ApplyEntities(o, std::move(entities), false, statuses.get(), arrive);
  ApplyEdges(o, true, std::move(edges), statuses.get(), arrive);
}

}  // namespace kg
