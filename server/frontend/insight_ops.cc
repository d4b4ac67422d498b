#include "server/frontend/insight_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "proto/jsonl.h"
#include "server/frontend/fanout.h"
#include "server/frontend/partition_calls.h"
#include "server/graph/status_macros.h"
#include "server/insight/audience.h"
#include "server/insight/compare.h"
#include "server/insight/metrics.h"
#include "server/knowledge/bytes.h"
#include "server/partition/convert.h"
#include "server/partition/status.h"

namespace kg {
namespace {

using EntityMap = absl::flat_hash_map<std::pair<int, uint64_t>, v1::Entity>;

// Keys, edges and lists read per scatter, at most.
constexpr size_t kChunk = 2000;
// Levels of SUBCATEGORY_OF walked, at most (a cycle in the data cannot loop).
constexpr int kMaxTaxonomyDepth = 32;
// Products of an influencer's content read per content item, and content items read.
constexpr uint32_t kFeaturesPerContent = 10;
constexpr uint32_t kContentRead = 50;

std::pair<int, uint64_t> Id(const v1::EntityKey& key) { return {key.type(), key.id()}; }

struct Hit {
  uint64_t id = 0;
  int64_t time_ms = 0;
  double weight = 0;
};

struct List {
  std::vector<Hit> edges;  // newest first
  uint64_t total = 0;      // in the window
};

struct ListQuery {
  v1::EntityKey key;
  v1::EdgeType type = v1::EDGE_TYPE_UNSPECIFIED;
  v1::Direction direction = v1::OUT;
  int64_t since_ms = 0;
  int64_t until_ms = 0;
  uint32_t limit = 0;
};

ListQuery Query(const v1::EntityKey& key, v1::EdgeType type, v1::Direction dir, uint32_t limit,
                int64_t since_ms = 0, int64_t until_ms = 0) {
  ListQuery q;
  q.key = key;
  q.type = type;
  q.direction = dir;
  q.limit = limit;
  q.since_ms = since_ms;
  q.until_ms = until_ms;
  return q;
}

// The newest edges (up to each query's limit) and window totals of every query.
absl::Status ReadLists(const Router& router, const CallOptions& o,
                       const std::vector<ListQuery>& queries, std::vector<List>* out) {
  out->assign(queries.size(), List{});
  for (size_t start = 0; start < queries.size(); start += kChunk) {
    Scatter<internal::v1::GetNeighborsRequest, internal::v1::GetNeighborsResponse> lists(
        router.partition_count());
    for (size_t i = start; i < std::min(queries.size(), start + kChunk); ++i) {
      const ListQuery& q = queries[i];
      auto& slot = lists.At(router.PartitionOf(KeyFromProto(q.key)));
      internal::v1::NeighborQuery* nq = slot.req.add_queries();
      *nq->mutable_key() = q.key;
      nq->set_edge_type(q.type);
      nq->set_direction(q.direction);
      nq->set_min_time_ms(q.since_ms);
      nq->set_max_time_ms(q.until_ms);
      nq->set_limit(q.limit);
      slot.items.push_back(static_cast<int>(i));
    }
    RunAndWait(&lists, router, o, &PartitionClient::GetNeighbors);
    for (auto& slot : lists.slots()) {
      for (size_t j = 0; j < slot->items.size(); ++j) {
        absl::Status error;
        if (!slot->Answered(j, slot->resp.pages_size(), &error)) return error;
        const internal::v1::NeighborPage& page = slot->resp.pages(static_cast<int>(j));
        KG_RETURN_IF_ERROR(FromItemStatus(page.status()));
        List& list = (*out)[slot->items[j]];
        list.total = page.total_count();
        for (const auto& n : page.neighbors()) {
          list.edges.push_back({n.key().id(), n.time_ms(), n.weight()});
        }
      }
    }
  }
  return absl::OkStatus();
}

// The window counts of every query (the limit is ignored).
absl::Status CountLists(const Router& router, const CallOptions& o,
                        const std::vector<ListQuery>& queries, std::vector<uint64_t>* out) {
  out->assign(queries.size(), 0);
  for (size_t start = 0; start < queries.size(); start += kChunk) {
    Scatter<internal::v1::CountNeighborsRequest, internal::v1::CountNeighborsResponse> counts(
        router.partition_count());
    for (size_t i = start; i < std::min(queries.size(), start + kChunk); ++i) {
      const ListQuery& q = queries[i];
      auto& slot = counts.At(router.PartitionOf(KeyFromProto(q.key)));
      internal::v1::CountQuery* cq = slot.req.add_queries();
      *cq->mutable_key() = q.key;
      cq->set_edge_type(q.type);
      cq->set_direction(q.direction);
      cq->set_min_time_ms(q.since_ms);
      cq->set_max_time_ms(q.until_ms);
      slot.items.push_back(static_cast<int>(i));
    }
    RunAndWait(&counts, router, o, &PartitionClient::CountNeighbors);
    for (auto& slot : counts.slots()) {
      for (size_t j = 0; j < slot->items.size(); ++j) {
        absl::Status error;
        if (!slot->Answered(j, slot->resp.counts_size(), &error)) return error;
        (*out)[slot->items[j]] = slot->resp.counts(static_cast<int>(j));
      }
    }
  }
  return absl::OkStatus();
}

// The entities of `keys` that exist.
absl::Status ReadEntities(const Router& router, const CallOptions& o,
                          const std::vector<v1::EntityKey>& keys, EntityMap* out) {
  for (size_t start = 0; start < keys.size(); start += kChunk) {
    Scatter<internal::v1::GetEntitiesRequest, internal::v1::GetEntitiesResponse> reads(
        router.partition_count());
    for (size_t i = start; i < std::min(keys.size(), start + kChunk); ++i) {
      if (out->contains(Id(keys[i]))) continue;
      auto& slot = reads.At(router.PartitionOf(KeyFromProto(keys[i])));
      *slot.req.add_keys() = keys[i];
      slot.items.push_back(static_cast<int>(i));
    }
    RunAndWait(&reads, router, o, &PartitionClient::GetEntities);
    for (auto& slot : reads.slots()) {
      for (size_t j = 0; j < slot->items.size(); ++j) {
        absl::Status error;
        if (!slot->Answered(j, slot->resp.results_size(), &error)) return error;
        const internal::v1::EncodedEntityResult& r = slot->resp.results(static_cast<int>(j));
        if (!r.found()) continue;
        v1::Entity entity;
        if (!entity.ParseFromString(r.entity())) {
          return absl::InternalError("a partition returned an entity that does not parse");
        }
        (*out)[Id(keys[slot->items[j]])] = std::move(entity);
      }
    }
  }
  return absl::OkStatus();
}

// A key a request names, the type it must have and the field that holds it.
struct NamedKey {
  const v1::EntityKey* key;
  v1::EntityType type;
  std::string field;
};

// INVALID_ARGUMENT naming the field unless every key is a valid key of its type with an
// entity (read in one scatter into *entities).
absl::Status CheckExist(const Router& router, const CallOptions& o,
                        const std::vector<NamedKey>& keys, EntityMap* entities) {
  std::vector<v1::EntityKey> reads;
  for (const NamedKey& k : keys) {
    KG_RETURN_IF_ERROR(ValidateKey(*k.key, k.field));
    if (k.key->type() != k.type) {
      return absl::InvalidArgumentError(absl::StrCat(k.field, ".type: must be ",
                                                     v1::EntityType_Name(k.type), ", got ",
                                                     v1::EntityType_Name(k.key->type())));
    }
    reads.push_back(*k.key);
  }
  KG_RETURN_IF_ERROR(ReadEntities(router, o, reads, entities));
  for (const NamedKey& k : keys) {
    if (!entities->contains(Id(*k.key))) {
      return absl::InvalidArgumentError(absl::StrCat(k.field, ": no ", v1::EntityType_Name(k.type),
                                                     " ", k.key->id(), " in the graph"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckExists(const Router& router, const CallOptions& o, const v1::EntityKey& key,
                         v1::EntityType type, absl::string_view field, EntityMap* entities) {
  return CheckExist(router, o, {{&key, type, std::string(field)}}, entities);
}

// `category` and its descendants (SUBCATEGORY_OF in-edges), breadth first; at most `max`
// (INVALID_ARGUMENT naming `field` beyond).
absl::StatusOr<std::vector<uint64_t>> Descendants(const Router& router, const CallOptions& o,
                                                  uint64_t category, size_t max,
                                                  absl::string_view field) {
  std::vector<uint64_t> all = {category};
  absl::flat_hash_set<uint64_t> seen = {category};
  std::vector<uint64_t> frontier = {category};
  for (int depth = 0; depth < kMaxTaxonomyDepth && !frontier.empty(); ++depth) {
    std::vector<ListQuery> queries;
    for (uint64_t id : frontier) {
      queries.push_back(
          Query(Key(v1::CATEGORY, id), v1::SUBCATEGORY_OF, v1::IN, static_cast<uint32_t>(max + 1)));
    }
    std::vector<List> lists;
    KG_RETURN_IF_ERROR(ReadLists(router, o, queries, &lists));
    frontier.clear();
    for (const List& list : lists) {
      for (const Hit& e : list.edges) {
        if (!seen.insert(e.id).second) continue;
        all.push_back(e.id);
        frontier.push_back(e.id);
        if (all.size() > max) {
          return absl::InvalidArgumentError(
              absl::StrCat(field, ": has more than ", max, " descendant categories"));
        }
      }
    }
  }
  return all;
}

// The platform's buyers per attribute value, summed over the partitions.
absl::StatusOr<insight::BaseRates> ReadBaseRates(const Router& router, const CallOptions& o) {
  Scatter<internal::v1::SegmentCountsRequest, internal::v1::SegmentCountsResponse> scatter(
      router.partition_count());
  for (uint32_t p = 0; p < router.partition_count(); ++p) scatter.At(p);
  RunAndWait(&scatter, router, o, &PartitionClient::SegmentCounts);
  insight::BaseRates base;
  for (auto& slot : scatter.slots()) {
    if (!slot->status.ok()) return slot->status;
    base.buyers += slot->resp.buyers();
    for (const std::string& d : slot->resp.dropped()) base.dropped.insert(d);
    for (const auto& c : slot->resp.counts()) base.counts[{c.dimension(), c.value()}] += c.count();
  }
  for (auto it = base.counts.begin(); it != base.counts.end();) {
    it = base.dropped.count(it->first.first) ? base.counts.erase(it) : std::next(it);
  }
  return base;
}

std::optional<double> OptionalMetric(const v1::Entity* e, const std::string& name) {
  if (e == nullptr) return std::nullopt;
  auto it = e->metrics().find(name);
  if (it == e->metrics().end() || !std::isfinite(it->second)) return std::nullopt;
  return it->second;
}

std::string KeyText(const v1::EntityKey& key) {
  return absl::StrCat(v1::EntityType_Name(key.type()), ":", key.id());
}

// ---- TopProducts page tokens: "v1.<value bits hex>.<id>.<query fingerprint hex>".

uint64_t Fingerprint(const v1::TopProductsRequest& req) {
  v1::TopProductsRequest q = req;
  q.clear_page_token();
  q.clear_limit();
  q.clear_include_entities();
  return knowledge::Fnv1a64(DeterministicBytes(q));
}

std::string EncodeTopToken(const v1::TopProductsRequest& req, const RankedProductId& last) {
  uint64_t bits;
  std::memcpy(&bits, &last.value, sizeof bits);
  return absl::StrCat("v1.", absl::Hex(bits), ".", last.id, ".", absl::Hex(Fingerprint(req)));
}

absl::Status DecodeTopToken(const v1::TopProductsRequest& req, RankedProductId* after) {
  std::vector<std::string> parts = absl::StrSplit(req.page_token(), '.');
  uint64_t bits = 0, id = 0, fp = 0;
  if (parts.size() != 4 || parts[0] != "v1" || !absl::SimpleHexAtoi(parts[1], &bits) ||
      !absl::SimpleAtoi(parts[2], &id) || !absl::SimpleHexAtoi(parts[3], &fp)) {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  if (fp != Fingerprint(req)) {
    return absl::InvalidArgumentError("page_token: belongs to another query");
  }
  std::memcpy(&after->value, &bits, sizeof bits);
  after->id = id;
  return absl::OkStatus();
}

// ---- CompareProducts.

// Facts of `ids` in the window: metrics from the entities, funnel and promotion counts.
absl::Status ReadFacts(const Router& router, const CallOptions& o, const std::vector<uint64_t>& ids,
                       int64_t since, int64_t until, EntityMap* entities,
                       std::map<uint64_t, insight::ProductFacts>* facts) {
  std::vector<uint64_t> todo;
  for (uint64_t id : ids) {
    if (!facts->count(id)) todo.push_back(id);
  }
  std::sort(todo.begin(), todo.end());
  todo.erase(std::unique(todo.begin(), todo.end()), todo.end());
  if (todo.empty()) return absl::OkStatus();
  std::vector<v1::EntityKey> keys;
  std::vector<ListQuery> queries;
  constexpr v1::EdgeType kCounted[] = {v1::VIEWED, v1::PURCHASED, v1::PROMOTES, v1::FEATURES};
  for (uint64_t id : todo) {
    keys.push_back(Key(v1::PRODUCT, id));
    for (v1::EdgeType t : kCounted) {
      queries.push_back(Query(keys.back(), t, v1::IN, 0, since, until));
    }
  }
  KG_RETURN_IF_ERROR(ReadEntities(router, o, keys, entities));
  std::vector<uint64_t> counts;
  KG_RETURN_IF_ERROR(CountLists(router, o, queries, &counts));
  for (size_t i = 0; i < todo.size(); ++i) {
    insight::ProductFacts f;
    f.id = todo[i];
    f.views = static_cast<double>(counts[4 * i]);
    f.purchases = static_cast<double>(counts[4 * i + 1]);
    f.promotions = static_cast<double>(counts[4 * i + 2] + counts[4 * i + 3]);
    auto e = entities->find(Id(keys[i]));
    const v1::Entity* entity = e == entities->end() ? nullptr : &e->second;
    f.price = OptionalMetric(entity, "price");
    f.rating = OptionalMetric(entity, "rating");
    f.review_count = OptionalMetric(entity, "review_count");
    if (entity != nullptr) {
      for (const auto& [k, v] : entity->attributes()) f.attributes.emplace_back(k, v);
      std::sort(f.attributes.begin(), f.attributes.end());
    }
    (*facts)[todo[i]] = f;
  }
  return absl::OkStatus();
}

// A product and the category it was found in.
struct Member {
  uint64_t product = 0;
  uint64_t category = 0;
};

// The newest products (IN_CATEGORY) of `categories`, at most `max`, distinct.
absl::Status ProductsOf(const Router& router, const CallOptions& o,
                        const std::vector<uint64_t>& categories, uint32_t max,
                        std::vector<Member>* out) {
  std::vector<ListQuery> queries;
  for (uint64_t c : categories) {
    queries.push_back(Query(Key(v1::CATEGORY, c), v1::IN_CATEGORY, v1::IN, max));
  }
  std::vector<List> lists;
  KG_RETURN_IF_ERROR(ReadLists(router, o, queries, &lists));
  std::vector<std::pair<Hit, uint64_t>> all;
  for (size_t i = 0; i < lists.size(); ++i) {
    for (const Hit& e : lists[i].edges) all.push_back({e, categories[i]});
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.first.time_ms != b.first.time_ms ? a.first.time_ms > b.first.time_ms
                                              : a.first.id < b.first.id;
  });
  absl::flat_hash_set<uint64_t> seen;
  out->clear();
  for (const auto& [e, category] : all) {
    if (out->size() >= max) break;
    if (seen.insert(e.id).second) out->push_back({e.id, category});
  }
  return absl::OkStatus();
}

std::vector<uint64_t> ProductIds(const std::vector<Member>& members) {
  std::vector<uint64_t> ids;
  for (const Member& m : members) ids.push_back(m.product);
  return ids;
}

// Viewers and buyers sampled per product for the audience fit.
constexpr uint32_t kFitViewers = 20;
constexpr uint32_t kFitBuyers = 5;

// Sets the audience fit of every product of `facts`: its newest kFitViewers viewers in the
// window against the viewers and the newest kFitBuyers buyers of each of `pool` (the
// model's peers), over the buyer attributes that are segments (the base rates').
absl::Status FillAudienceFit(const Router& router, const CallOptions& o,
                             const std::vector<uint64_t>& pool, int64_t since, int64_t until,
                             std::map<uint64_t, insight::ProductFacts>* facts) {
  KG_ASSIGN_OR_RETURN(insight::BaseRates base, ReadBaseRates(router, o));
  std::set<std::string> dims;
  for (const auto& [key, n] : base.counts) dims.insert(key.first);
  std::vector<uint64_t> ids;
  for (const auto& [id, f] : *facts) ids.push_back(id);
  const absl::flat_hash_set<uint64_t> in_pool(pool.begin(), pool.end());
  std::vector<ListQuery> queries;
  for (uint64_t id : ids) {
    queries.push_back(Query(Key(v1::PRODUCT, id), v1::VIEWED, v1::IN, kFitViewers, since, until));
    queries.push_back(Query(Key(v1::PRODUCT, id), v1::PURCHASED, v1::IN,
                            in_pool.contains(id) ? kFitBuyers : 0, since, until));
  }
  std::vector<List> lists;
  KG_RETURN_IF_ERROR(ReadLists(router, o, queries, &lists));
  std::vector<v1::EntityKey> keys;
  absl::flat_hash_set<uint64_t> seen;
  for (const List& l : lists) {
    for (const Hit& e : l.edges) {
      if (seen.insert(e.id).second) keys.push_back(Key(v1::BUYER, e.id));
    }
  }
  std::sort(keys.begin(), keys.end(),
            [](const v1::EntityKey& x, const v1::EntityKey& y) { return x.id() < y.id(); });
  EntityMap buyers;
  KG_RETURN_IF_ERROR(ReadEntities(router, o, keys, &buyers));
  std::map<uint64_t, insight::BuyerSegments> segments;
  for (const auto& [key, entity] : buyers) {
    insight::BuyerSegments& s = segments[key.second];
    for (const auto& [k, v] : entity.attributes()) {
      if (dims.count(k)) s.emplace_back(k, v);
    }
    std::sort(s.begin(), s.end());
  }
  auto sample = [&](const List& l) {
    std::vector<const insight::BuyerSegments*> out;
    for (const Hit& e : l.edges) {
      auto it = segments.find(e.id);
      if (it != segments.end()) out.push_back(&it->second);
    }
    return out;
  };
  std::vector<const insight::BuyerSegments*> viewers, purchasers;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!in_pool.contains(ids[i])) continue;
    for (const auto* s : sample(lists[2 * i])) viewers.push_back(s);
    for (const auto* s : sample(lists[2 * i + 1])) purchasers.push_back(s);
  }
  const insight::AudienceFit fit(viewers, purchasers);
  for (size_t i = 0; i < ids.size(); ++i) {
    facts->at(ids[i]).audience_fit = fit.Fit(sample(lists[2 * i]));
  }
  return absl::OkStatus();
}

void AddDelta(v1::CompareProductsResponse* resp, const std::string& metric, std::optional<double> a,
              std::optional<double> b) {
  if (!a && !b) return;
  v1::MetricDelta* d = resp->add_deltas();
  d->set_metric(metric);
  d->set_product_value(a.value_or(0));
  d->set_other_value(b.value_or(0));
  d->set_delta(a.value_or(0) - b.value_or(0));
  d->set_ratio(b.value_or(0) != 0 ? a.value_or(0) / *b : 0);
}

// ---- ProfileEntity.

// The buyers of an audience with their weights (the largest of their interactions'), and
// how many interactions were read of how many the window holds.
struct Audience {
  absl::flat_hash_map<uint64_t, double> weight;  // buyer id -> weight
  uint64_t sampled = 0;
  uint64_t total = 0;
};

void AddBuyers(const List& list, double weight, Audience* a) {
  a->sampled += list.edges.size();
  a->total += list.total;
  for (const Hit& e : list.edges) {
    double& w = a->weight[e.id];
    w = std::max(w, weight);
  }
}

// The buyers who purchased or viewed `products` in the window, the newest `per_product`
// of each list.
absl::Status ProductBuyers(const Router& router, const CallOptions& o,
                           const std::vector<uint64_t>& products, uint32_t per_product,
                           int64_t since, int64_t until, double purchase_weight, Audience* a) {
  std::vector<ListQuery> queries;
  for (uint64_t p : products) {
    queries.push_back(Query(Key(v1::PRODUCT, p), v1::PURCHASED, v1::IN, per_product, since, until));
    queries.push_back(Query(Key(v1::PRODUCT, p), v1::VIEWED, v1::IN, per_product, since, until));
  }
  std::vector<List> lists;
  KG_RETURN_IF_ERROR(ReadLists(router, o, queries, &lists));
  for (size_t i = 0; i < lists.size(); ++i) {
    AddBuyers(lists[i], i % 2 == 0 ? purchase_weight : 1.0, a);
  }
  return absl::OkStatus();
}

absl::Status FillAudience(const Router& router, const CallOptions& o, const Audience& a,
                          const insight::BaseRates& base, v1::ProfileEntityResponse* resp,
                          std::string* summary) {
  std::vector<v1::EntityKey> keys;
  keys.reserve(a.weight.size());
  for (const auto& [id, w] : a.weight) keys.push_back(Key(v1::BUYER, id));
  std::sort(keys.begin(), keys.end(),
            [](const v1::EntityKey& x, const v1::EntityKey& y) { return x.id() < y.id(); });
  EntityMap buyers;
  KG_RETURN_IF_ERROR(ReadEntities(router, o, keys, &buyers));
  std::vector<insight::BuyerObservation> sample;
  for (const v1::EntityKey& k : keys) {
    auto it = buyers.find(Id(k));
    if (it == buyers.end()) continue;
    insight::BuyerObservation obs;
    obs.weight = a.weight.at(k.id());
    for (const auto& [name, value] : it->second.attributes())
      obs.attributes.emplace_back(name, value);
    sample.push_back(std::move(obs));
  }
  const std::vector<insight::SegmentStat> stats = insight::AudienceSegments(sample, base);
  for (const insight::SegmentStat& s : stats) {
    v1::Segment* out = resp->add_audience();
    out->set_dimension(s.dimension);
    out->set_value(s.value);
    out->set_share(s.share);
    out->set_base_share(s.base_share);
    out->set_lift(s.lift);
    out->set_count(s.count);
    out->set_ci_low(s.ci_low);
    out->set_ci_high(s.ci_high);
  }
  resp->set_buyers(sample.size());
  *summary = insight::AudienceSummary(stats, sample.size());
  return absl::OkStatus();
}

// Category and brand shares of `products` (their IN_CATEGORY and HAS_BRAND out-edges).
absl::Status FillMix(const Router& router, const CallOptions& o,
                     const std::vector<uint64_t>& products, v1::ProfileEntityResponse* resp) {
  if (products.empty()) return absl::OkStatus();
  std::vector<ListQuery> queries;
  for (uint64_t p : products) {
    queries.push_back(Query(Key(v1::PRODUCT, p), v1::IN_CATEGORY, v1::OUT, 1));
    queries.push_back(Query(Key(v1::PRODUCT, p), v1::HAS_BRAND, v1::OUT, 1));
  }
  std::vector<List> lists;
  KG_RETURN_IF_ERROR(ReadLists(router, o, queries, &lists));
  std::map<uint64_t, uint64_t> categories, brands;
  for (size_t i = 0; i < lists.size(); ++i) {
    if (lists[i].edges.empty()) continue;
    ++(i % 2 == 0 ? categories : brands)[lists[i].edges[0].id];
  }
  auto ranked = [](const std::map<uint64_t, uint64_t>& counts) {
    std::vector<std::pair<uint64_t, uint64_t>> v(counts.begin(), counts.end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    if (v.size() > 20) v.resize(20);
    return v;
  };
  const auto top_categories = ranked(categories);
  const auto top_brands = ranked(brands);
  std::vector<v1::EntityKey> keys;
  for (const auto& [id, n] : top_categories) keys.push_back(Key(v1::CATEGORY, id));
  for (const auto& [id, n] : top_brands) keys.push_back(Key(v1::BRAND, id));
  EntityMap names;
  KG_RETURN_IF_ERROR(ReadEntities(router, o, keys, &names));
  const double total = static_cast<double>(products.size());
  for (const auto& [id, n] : top_categories) {
    v1::CategoryShare* c = resp->add_categories();
    *c->mutable_category() = Key(v1::CATEGORY, id);
    auto it = names.find({v1::CATEGORY, id});
    if (it != names.end()) c->set_name(it->second.name());
    c->set_share(static_cast<double>(n) / total);
    c->set_count(n);
  }
  for (const auto& [id, n] : top_brands) {
    v1::BrandShare* b = resp->add_brands();
    *b->mutable_brand() = Key(v1::BRAND, id);
    auto it = names.find({v1::BRAND, id});
    if (it != names.end()) b->set_name(it->second.name());
    b->set_share(static_cast<double>(n) / total);
    b->set_count(n);
  }
  return absl::OkStatus();
}

bool AllLocal(const Router& router) {
  for (uint32_t p = 0; p < router.partition_count(); ++p) {
    if (router.client(p).address() != "in-process") return false;
  }
  return true;
}

}  // namespace

InsightOps::InsightOps(const Router* router)
    : router_(router), all_local_(AllLocal(*router)), queue_(8, 256) {}

void InsightOps::Queue(std::function<absl::Status()> work, Done done) {
  QueueWork(&queue_, std::move(work), std::move(done), "insight");
}

void InsightOps::TopProducts(const CallOptions& o, const v1::TopProductsRequest& req,
                             v1::TopProductsResponse* resp, Done done) {
  // Cheap and, with every partition in this process, never blocking: run here.
  if (all_local_) {
    done(TopProductsNow(o, req, resp));
    return;
  }
  Queue([this, o, &req, resp] { return TopProductsNow(o, req, resp); }, std::move(done));
}

void InsightOps::CompareProducts(const CallOptions& o, const v1::CompareProductsRequest& req,
                                 v1::CompareProductsResponse* resp, Done done) {
  Queue([this, o, &req, resp] { return CompareProductsNow(o, req, resp); }, std::move(done));
}

void InsightOps::ProfileEntity(const CallOptions& o, const v1::ProfileEntityRequest& req,
                               v1::ProfileEntityResponse* resp, Done done) {
  Queue([this, o, &req, resp] { return ProfileEntityNow(o, req, resp); }, std::move(done));
}

absl::StatusOr<std::vector<uint64_t>> InsightOps::Categories(const CallOptions& o,
                                                             const v1::EntityKey& category,
                                                             bool descendants) const {
  const uint64_t key = category.id() * 2 + (descendants ? 1 : 0);
  const auto now = std::chrono::steady_clock::now();
  if (category.type() == v1::CATEGORY) {
    absl::MutexLock lock(&cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.expires > now) return it->second.categories;
  }
  EntityMap entities;
  KG_RETURN_IF_ERROR(CheckExists(*router_, o, category, v1::CATEGORY, "category", &entities));
  std::vector<uint64_t> categories = {category.id()};
  if (descendants) {
    KG_ASSIGN_OR_RETURN(categories,
                        Descendants(*router_, o, category.id(), kMaxTopCategories, "category"));
  }
  absl::MutexLock lock(&cache_mu_);
  if (cache_.size() >= kTaxonomyCacheEntries) cache_.clear();
  cache_[key] = Expansion{now + kTaxonomyCacheTtl, categories};
  return categories;
}

absl::Status InsightOps::TopProductsNow(const CallOptions& o, const v1::TopProductsRequest& req,
                                        v1::TopProductsResponse* resp) const {
  KG_RETURN_IF_ERROR(CheckDeadline(o));
  const Router& router = *router_;
  const std::string metric = req.metric().empty() ? "purchases" : req.metric();
  KG_RETURN_IF_ERROR(insight::CheckWindow(req.since_ms(), req.until_ms()));
  KG_RETURN_IF_ERROR(insight::CheckMetric(metric, req.since_ms(), req.until_ms(), "metric"));
  if (req.limit() < 0 || req.limit() > kMaxTopLimit) {
    return absl::InvalidArgumentError(absl::StrCat("limit: must be 0..", kMaxTopLimit, " (0 means ",
                                                   kDefaultTopLimit, "), got ", req.limit()));
  }
  if (req.brands_size() > kMaxTopBrands) {
    return absl::InvalidArgumentError(absl::StrCat("brands: at most ", kMaxTopBrands));
  }
  if (!(req.min_price() >= 0) || !(req.max_price() >= 0) ||
      (req.max_price() > 0 && req.min_price() > req.max_price())) {
    return absl::InvalidArgumentError(
        "min_price: must be >= 0 and at most max_price (0 = no bound)");
  }
  if (req.min_views() < 0) return absl::InvalidArgumentError("min_views: negative");
  KG_ASSIGN_OR_RETURN(std::vector<uint64_t> categories,
                      Categories(o, req.category(), req.include_descendants()));
  std::vector<NamedKey> filters;
  for (int i = 0; i < req.brands_size(); ++i) {
    filters.push_back({&req.brands(i), v1::BRAND, absl::StrCat("brands[", i, "]")});
  }
  if (req.has_merchant()) filters.push_back({&req.merchant(), v1::MERCHANT, "merchant"});
  EntityMap entities;
  if (!filters.empty()) KG_RETURN_IF_ERROR(CheckExist(router, o, filters, &entities));
  std::optional<RankedProductId> after;
  if (!req.page_token().empty()) {
    RankedProductId cursor;
    KG_RETURN_IF_ERROR(DecodeTopToken(req, &cursor));
    after = cursor;
  }
  const uint32_t limit = req.limit() == 0 ? kDefaultTopLimit : static_cast<uint32_t>(req.limit());
  Scatter<internal::v1::TopProductsRequest, internal::v1::TopProductsResponse> scatter(
      router.partition_count());
  for (uint32_t p = 0; p < router.partition_count(); ++p) {
    internal::v1::TopProductsRequest& r = scatter.At(p).req;
    for (uint64_t c : categories) r.add_categories(c);
    r.set_metric(metric);
    r.set_since_ms(req.since_ms());
    r.set_until_ms(req.until_ms());
    for (const v1::EntityKey& b : req.brands()) r.add_brands(b.id());
    if (req.has_merchant()) r.set_merchant(req.merchant().id());
    r.set_min_price(req.min_price());
    r.set_max_price(req.max_price());
    r.set_limit(limit + 1);
    r.set_min_views(static_cast<uint32_t>(req.min_views()));
    if (after) {
      r.set_has_after(true);
      r.set_after_value(after->value);
      r.set_after_id(after->id);
    }
  }
  RunAndWait(&scatter, router, o, &PartitionClient::TopProducts);
  std::vector<std::vector<RankedProductId>> lists;
  uint64_t candidates = 0;
  bool truncated = false, metric_known = false;
  for (auto& slot : scatter.slots()) {
    if (!slot->status.ok()) {
      return absl::Status(slot->status.code(), absl::StrCat("partition ", slot->partition, ": ",
                                                            slot->status.message()));
    }
    candidates += slot->resp.candidates();
    truncated = truncated || slot->resp.truncated();
    metric_known = metric_known || slot->resp.metric_known();
    std::vector<RankedProductId>& list = lists.emplace_back();
    for (const auto& r : slot->resp.products()) list.push_back({r.value(), r.id()});
  }
  if (insight::ParseEdgeMetric(metric) == insight::EdgeMetric::kStored && !metric_known) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metric: no product has a metric named \"", metric,
        "\" (edge-derived metrics: purchases, views, clicks, add_to_cart, conversion, growth)"));
  }
  std::vector<RankedProductId> merged = insight::MergeRanked(lists, limit + 1);
  const bool more = merged.size() > limit;
  if (more) merged.resize(limit);
  resp->set_candidates(candidates);
  resp->set_truncated(truncated);
  resp->set_categories(static_cast<uint32_t>(categories.size()));
  if (more) resp->set_next_page_token(EncodeTopToken(req, merged.back()));
  EntityMap products;
  if (req.include_entities()) {
    std::vector<v1::EntityKey> keys;
    for (const RankedProductId& r : merged) keys.push_back(Key(v1::PRODUCT, r.id));
    KG_RETURN_IF_ERROR(ReadEntities(router, o, keys, &products));
  }
  for (const RankedProductId& r : merged) {
    v1::RankedProduct* out = resp->add_products();
    *out->mutable_key() = Key(v1::PRODUCT, r.id);
    out->set_value(r.value);
    auto it = products.find({v1::PRODUCT, r.id});
    if (it != products.end()) *out->mutable_entity() = std::move(it->second);
  }
  return absl::OkStatus();
}

absl::Status InsightOps::CompareProductsNow(const CallOptions& o,
                                            const v1::CompareProductsRequest& req,
                                            v1::CompareProductsResponse* resp) const {
  KG_RETURN_IF_ERROR(CheckDeadline(o));
  const Router& router = *router_;
  const bool with_other = req.has_other();
  if (with_other == (req.peers() != v1::PEER_SET_UNSPECIFIED)) {
    return absl::InvalidArgumentError("other: set either other or peers (not both)");
  }
  if (!v1::PeerSet_IsValid(req.peers())) {
    return absl::InvalidArgumentError(absl::StrCat("peers: unknown peer set ", req.peers()));
  }
  const std::string outcome = req.outcome_metric().empty() ? "purchases" : req.outcome_metric();
  if (outcome != "purchases" && outcome != "gmv") {
    return absl::InvalidArgumentError(
        absl::StrCat("outcome_metric: must be purchases or gmv, got \"", outcome, "\""));
  }
  KG_RETURN_IF_ERROR(insight::CheckWindow(req.since_ms(), req.until_ms()));
  if (req.max_peers() < 0 || req.max_peers() > kMaxPeers) {
    return absl::InvalidArgumentError(absl::StrCat("max_peers: must be 0..", kMaxPeers,
                                                   " (0 means ", kDefaultMaxPeers, "), got ",
                                                   req.max_peers()));
  }
  const uint32_t max_peers =
      req.max_peers() == 0 ? kDefaultMaxPeers : static_cast<uint32_t>(req.max_peers());
  std::vector<NamedKey> named = {{&req.product(), v1::PRODUCT, "product"}};
  if (with_other) named.push_back({&req.other(), v1::PRODUCT, "other"});
  EntityMap entities;
  KG_RETURN_IF_ERROR(CheckExist(router, o, named, &entities));
  if (with_other && req.other().id() == req.product().id()) {
    return absl::InvalidArgumentError("other: is the same product as product");
  }
  const uint64_t product = req.product().id();
  const uint64_t other = with_other ? req.other().id() : 0;
  const int64_t since = req.since_ms(), until = req.until_ms();

  // Categories (and the SPU) of the two products.
  std::vector<ListQuery> queries = {Query(req.product(), v1::IN_CATEGORY, v1::OUT, 1),
                                    Query(req.product(), v1::INSTANCE_OF, v1::OUT, 1)};
  if (with_other) queries.push_back(Query(req.other(), v1::IN_CATEGORY, v1::OUT, 1));
  std::vector<List> lists;
  KG_RETURN_IF_ERROR(ReadLists(router, o, queries, &lists));
  const uint64_t leaf_of_product = !lists[0].edges.empty() ? lists[0].edges[0].id : 0;
  const uint64_t leaf_of_other = with_other && !lists[2].edges.empty() ? lists[2].edges[0].id : 0;
  const uint64_t leaf = leaf_of_product != 0 ? leaf_of_product : leaf_of_other;
  const uint64_t spu = !lists[1].edges.empty() ? lists[1].edges[0].id : 0;

  // The model's peers: the leaf category's products, widened to the parent category (with
  // its descendants) while fewer than kWidenPeers.
  std::vector<Member> leaf_members, peer_members;
  uint64_t peer_category = leaf;
  if (leaf != 0) {
    KG_RETURN_IF_ERROR(ProductsOf(router, o, {leaf}, max_peers, &leaf_members));
    peer_members = leaf_members;
    for (int depth = 0; depth < kMaxTaxonomyDepth && peer_members.size() < insight::kWidenPeers;
         ++depth) {
      std::vector<List> parent;
      KG_RETURN_IF_ERROR(ReadLists(
          router, o, {Query(Key(v1::CATEGORY, peer_category), v1::SUBCATEGORY_OF, v1::OUT, 1)},
          &parent));
      if (parent[0].edges.empty()) break;
      peer_category = parent[0].edges[0].id;
      KG_ASSIGN_OR_RETURN(std::vector<uint64_t> family,
                          Descendants(router, o, peer_category, kMaxTopCategories, "product"));
      KG_RETURN_IF_ERROR(ProductsOf(router, o, family, max_peers, &peer_members));
    }
  }
  const std::vector<uint64_t> leaf_products = ProductIds(leaf_members);
  const std::vector<uint64_t> peers = ProductIds(peer_members);
  // With `peers`: the products whose medians are the other side.
  std::vector<uint64_t> group;
  std::string other_name = with_other ? KeyText(req.other()) : "";
  if (!with_other) {
    if (req.peers() == v1::SAME_SPU) {
      if (spu != 0) {
        std::vector<List> members;
        KG_RETURN_IF_ERROR(
            ReadLists(router, o, {Query(Key(v1::SPU, spu), v1::INSTANCE_OF, v1::IN, max_peers + 1)},
                      &members));
        for (const Hit& e : members[0].edges) group.push_back(e.id);
      }
      other_name = absl::StrCat("the other products of SPU:", spu);
    } else {
      group = leaf_products;
      other_name = absl::StrCat("the products of CATEGORY:", leaf);
    }
    group.erase(std::remove(group.begin(), group.end(), product), group.end());
    if (group.size() > max_peers) group.resize(max_peers);
    resp->set_compared_with(group.size());
  }
  std::map<uint64_t, insight::ProductFacts> facts;
  std::vector<uint64_t> wanted = peers;
  wanted.push_back(product);
  if (with_other) wanted.push_back(other);
  wanted.insert(wanted.end(), group.begin(), group.end());
  KG_RETURN_IF_ERROR(ReadFacts(router, o, wanted, since, until, &entities, &facts));
  KG_RETURN_IF_ERROR(FillAudienceFit(router, o, peers, since, until, &facts));
  // Each peer's price is a driver against its own category's median price.
  std::map<uint64_t, std::vector<double>> category_prices;
  for (const Member& m : peer_members) {
    if (facts.at(m.product).price) {
      category_prices[m.category].push_back(*facts.at(m.product).price);
    }
  }
  std::map<uint64_t, double> reference;
  for (auto& [category, prices] : category_prices) {
    reference[category] = insight::Median(std::move(prices));
  }
  auto set_reference = [&](uint64_t id, uint64_t category) {
    auto it = reference.find(category);
    if (it != reference.end()) facts.at(id).reference_price = it->second;
  };
  for (const Member& m : peer_members) set_reference(m.product, m.category);
  set_reference(product, leaf_of_product);
  if (with_other) set_reference(other, leaf_of_other);
  for (uint64_t id : group) {
    if (facts.at(id).reference_price == 0) set_reference(id, leaf_of_product);
  }
  const insight::ProductFacts a = facts.at(product);

  // The other side: a product, or the median of the peers.
  insight::ProductFacts b;
  if (with_other) {
    b = facts.at(other);
  } else {
    if (group.empty()) {
      resp->set_summary(absl::StrCat(
          KeyText(req.product()), " has no peers to compare with (",
          req.peers() == v1::SAME_SPU
              ? (spu == 0 ? "it has no SPU" : "its SPU has no other product")
              : (leaf == 0 ? "it has no category" : "its category has no other product"),
          ")"));
      AddDelta(resp, "views", a.views, std::nullopt);
      AddDelta(resp, "purchases", a.purchases, std::nullopt);
      return absl::OkStatus();
    }
    std::vector<insight::ProductFacts> members;
    for (uint64_t id : group) members.push_back(facts.at(id));
    b = insight::MedianFacts(members);
    other_name = absl::StrCat("the median of ", other_name, " (", group.size(), ")");
  }

  const bool gmv = outcome == "gmv";
  const insight::Decomposition d = insight::Decompose(a, b, gmv);
  resp->set_outcome_log_ratio(d.outcome);
  resp->set_traffic(d.traffic);
  resp->set_conversion(d.conversion);
  resp->set_order_value(d.order_value);
  resp->set_peer_count(peers.size());
  if (peer_category != 0) *resp->mutable_peer_category() = Key(v1::CATEGORY, peer_category);

  std::vector<insight::ProductFacts> peer_facts;
  for (uint64_t id : peers) peer_facts.push_back(facts.at(id));
  std::vector<insight::RankedReason> reasons;
  std::string model_note;
  absl::StatusOr<insight::DriverModel> model = insight::DriverModel::Learn(peer_facts);
  if (model.ok()) {
    double unexplained = 0;
    reasons = insight::DriverReasons(*model, model->Attribute(a, b), d, a, b, &unexplained);
    resp->set_unexplained(unexplained);
  } else {
    reasons = insight::PartReasons(d, a, b);
    resp->set_unexplained(d.traffic + d.conversion);
    model_note = absl::StrCat("; too few peers (", peers.size(), " < ", insight::kMinPeers,
                              ") to attribute drivers");
  }
  for (const insight::RankedReason& r : reasons) {
    v1::Reason* out = resp->add_reasons();
    out->set_factor(r.factor);
    out->set_contribution(r.contribution);
    out->set_evidence(r.evidence);
    out->set_part(r.part);
  }

  // Deltas and attribute differences.
  const double outcome_a = gmv ? a.purchases * a.price.value_or(0) : a.purchases;
  const double outcome_b = gmv ? b.purchases * b.price.value_or(0) : b.purchases;
  AddDelta(resp, "views", a.views, b.views);
  AddDelta(resp, "purchases", a.purchases, b.purchases);
  AddDelta(resp, "conversion", a.views > 0 ? a.purchases / a.views : 0.0,
           b.views > 0 ? b.purchases / b.views : 0.0);
  if (gmv) AddDelta(resp, "gmv", outcome_a, outcome_b);
  AddDelta(resp, "price", a.price, b.price);
  AddDelta(resp, "rating", a.rating, b.rating);
  AddDelta(resp, "review_count", a.review_count, b.review_count);
  AddDelta(resp, "promotions", a.promotions, b.promotions);
  AddDelta(resp, "audience_fit", a.audience_fit, b.audience_fit);
  if (with_other) {
    const v1::Entity& ea = entities.at(Id(req.product()));
    const v1::Entity& eb = entities.at(Id(req.other()));
    std::map<std::string, std::pair<std::string, std::string>> diffs;
    for (const auto& [k, v] : ea.attributes()) diffs[k].first = v;
    for (const auto& [k, v] : eb.attributes()) diffs[k].second = v;
    for (const auto& [k, v] : diffs) {
      if (v.first == v.second) continue;
      v1::AttributeDiff* diff = resp->add_attribute_diffs();
      diff->set_name(k);
      diff->set_product_value(v.first);
      diff->set_other_value(v.second);
    }
  }
  std::string summary =
      absl::StrFormat("%s: %s %.4g vs %.4g for %s (ln ratio %+.3f: traffic %+.3f, conversion %+.3f",
                      KeyText(req.product()), outcome, outcome_a, outcome_b, other_name, d.outcome,
                      d.traffic, d.conversion);
  if (gmv) absl::StrAppend(&summary, absl::StrFormat(", order value %+.3f", d.order_value));
  absl::StrAppend(&summary, ")");
  if (!reasons.empty()) {
    absl::StrAppend(&summary, absl::StrFormat("; first reason: %s (%+.3f)", reasons[0].factor,
                                              reasons[0].contribution));
  }
  absl::StrAppend(&summary, model_note);
  resp->set_summary(summary);
  return absl::OkStatus();
}

absl::Status InsightOps::ProfileEntityNow(const CallOptions& o, const v1::ProfileEntityRequest& req,
                                          v1::ProfileEntityResponse* resp) const {
  KG_RETURN_IF_ERROR(CheckDeadline(o));
  const Router& router = *router_;
  KG_RETURN_IF_ERROR(ValidateKey(req.key(), "key"));
  const v1::EntityType type = req.key().type();
  if (type != v1::PRODUCT && type != v1::MERCHANT && type != v1::INFLUENCER) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key.type: must be PRODUCT, MERCHANT or INFLUENCER, got ", v1::EntityType_Name(type)));
  }
  KG_RETURN_IF_ERROR(insight::CheckWindow(req.since_ms(), req.until_ms()));
  int sample = kDefaultProfileSample;
  KG_RETURN_IF_ERROR(Setting(req.max_sample(), 1, kMaxProfileSample, "max_sample", &sample));
  int min_buyers = kDefaultMinBuyers;
  KG_RETURN_IF_ERROR(Setting(req.min_buyers(), 1, kMaxMinBuyers, "min_buyers", &min_buyers));
  if (!(req.purchase_weight() >= 0 && req.purchase_weight() <= kMaxPurchaseWeight)) {
    return absl::InvalidArgumentError(absl::StrCat("purchase_weight: must be 0..",
                                                   kMaxPurchaseWeight, " (0 means ",
                                                   kDefaultPurchaseWeight, ")"));
  }
  const double purchase_weight =
      req.purchase_weight() == 0 ? kDefaultPurchaseWeight : req.purchase_weight();
  EntityMap entities;
  KG_RETURN_IF_ERROR(CheckExists(router, o, req.key(), type, "key", &entities));
  KG_ASSIGN_OR_RETURN(insight::BaseRates base, ReadBaseRates(router, o));
  resp->set_base_buyers(base.buyers);
  const int64_t since = req.since_ms(), until = req.until_ms();
  const uint32_t per_list = static_cast<uint32_t>(sample);
  Audience audience;
  std::string prefix;
  size_t mix_products = 0;
  if (type == v1::PRODUCT) {
    KG_RETURN_IF_ERROR(ProductBuyers(router, o, {req.key().id()}, per_list, since, until,
                                     purchase_weight, &audience));
    resp->set_sampled(audience.sampled);
    resp->set_total(audience.total);
    if (audience.weight.size() < static_cast<size_t>(min_buyers)) {
      std::vector<List> category;
      KG_RETURN_IF_ERROR(
          ReadLists(router, o, {Query(req.key(), v1::IN_CATEGORY, v1::OUT, 1)}, &category));
      if (category[0].edges.empty()) {
        prefix = absl::StrCat("only ", audience.weight.size(), " buyers (fewer than ", min_buyers,
                              ") and no category to fall back on: ");
      } else {
        const uint64_t c = category[0].edges[0].id;
        std::vector<Member> members;
        KG_RETURN_IF_ERROR(ProductsOf(router, o, {c}, kProfileProducts, &members));
        const std::vector<uint64_t> products = ProductIds(members);
        const uint32_t per_product =
            std::max<uint32_t>(1, per_list / std::max<uint32_t>(1, products.size()));
        prefix = absl::StrCat("only ", audience.weight.size(), " buyers (fewer than ", min_buyers,
                              "): the audience of its category CATEGORY:", c, " instead: ");
        audience = Audience{};
        KG_RETURN_IF_ERROR(ProductBuyers(router, o, products, per_product, since, until,
                                         purchase_weight, &audience));
        *resp->mutable_fallback_category() = Key(v1::CATEGORY, c);
      }
    }
  } else {
    std::vector<uint64_t> products;
    absl::flat_hash_set<uint64_t> seen;
    if (type == v1::MERCHANT) {
      std::vector<List> sold;
      KG_RETURN_IF_ERROR(
          ReadLists(router, o, {Query(req.key(), v1::SOLD_BY, v1::IN, kProfileProducts)}, &sold));
      for (const Hit& e : sold[0].edges) products.push_back(e.id);
      resp->set_sampled(products.size());
      resp->set_total(sold[0].total);
    } else {
      std::vector<List> lists;
      KG_RETURN_IF_ERROR(
          ReadLists(router, o,
                    {Query(req.key(), v1::PROMOTES, v1::OUT, kProfileProducts, since, until),
                     Query(req.key(), v1::POSTED, v1::OUT, kContentRead, since, until),
                     Query(req.key(), v1::FOLLOWS, v1::IN, per_list, since, until)},
                    &lists));
      for (const Hit& e : lists[0].edges) {
        if (seen.insert(e.id).second) products.push_back(e.id);
      }
      std::vector<ListQuery> featured;
      for (const Hit& e : lists[1].edges) {
        featured.push_back(
            Query(Key(v1::CONTENT, e.id), v1::FEATURES, v1::OUT, kFeaturesPerContent));
      }
      std::vector<List> features;
      KG_RETURN_IF_ERROR(ReadLists(router, o, featured, &features));
      for (const List& l : features) {
        for (const Hit& e : l.edges) {
          if (products.size() < static_cast<size_t>(kProfileProducts) && seen.insert(e.id).second) {
            products.push_back(e.id);
          }
        }
      }
      AddBuyers(lists[2], 1.0, &audience);
      resp->set_sampled(audience.sampled);
      resp->set_total(audience.total);
    }
    KG_RETURN_IF_ERROR(FillMix(router, o, products, resp));
    mix_products = products.size();
    if (type == v1::MERCHANT) {
      const uint32_t per_product =
          std::max<uint32_t>(1, per_list / std::max<uint32_t>(1, products.size()));
      KG_RETURN_IF_ERROR(ProductBuyers(router, o, products, per_product, since, until,
                                       purchase_weight, &audience));
    }
  }
  std::string summary;
  KG_RETURN_IF_ERROR(FillAudience(router, o, audience, base, resp, &summary));
  if (!resp->categories().empty()) {
    const v1::CategoryShare& c = resp->categories(0);
    absl::StrAppend(&summary, absl::StrFormat("; mainly %s (%.0f%% of %u products)",
                                              c.name().empty() ? KeyText(c.category()) : c.name(),
                                              100 * c.share(), mix_products));
  }
  resp->set_summary(prefix + summary);
  return absl::OkStatus();
}

}  // namespace kg
