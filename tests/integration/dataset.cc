#include "tests/integration/dataset.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "proto/jsonl.h"

namespace kg {
namespace integration {
namespace {

constexpr int64_t kEntityTimeMs = 1600000000000;
constexpr int kInteractions = 2000;
constexpr int kBatch = 500;

Dataset Build() {
  Dataset d;
  const char* colors[] = {"red", "green", "blue", "black"};
  for (int c = 1; c <= kCategories; ++c) {
    v1::Entity e;
    *e.mutable_key() = Key(v1::CATEGORY, c);
    e.set_name(absl::StrCat("Category ", c));
    (*e.mutable_attributes())["level"] = "1";
    e.set_update_time_ms(kEntityTimeMs + c);
    d.entities.push_back(e);
  }
  for (int p = 1; p <= kProducts; ++p) {
    v1::Entity e;
    *e.mutable_key() = Key(v1::PRODUCT, p);
    e.set_name(absl::StrCat("Product ", p));
    (*e.mutable_attributes())["color"] = colors[p % 4];
    (*e.mutable_attributes())["brand"] = absl::StrCat("B", p % 5);
    (*e.mutable_metrics())["price"] = 10.5 + p;
    (*e.mutable_metrics())["rating"] = 3.0 + (p % 3) * 0.5;
    e.set_update_time_ms(kEntityTimeMs + 1000 + p);
    d.entities.push_back(e);
  }
  for (int b = 1; b <= kBuyers; ++b) {
    v1::Entity e;
    *e.mutable_key() = Key(v1::BUYER, b);
    e.set_name(absl::StrCat("Buyer ", b));
    (*e.mutable_attributes())["gender"] = b % 2 == 0 ? "F" : "M";
    (*e.mutable_metrics())["age"] = 18 + b % 40;
    e.set_update_time_ms(kEntityTimeMs + 2000 + b);
    d.entities.push_back(e);
  }
  for (int p = 1; p <= kProducts; ++p) {
    d.edges.push_back(MakeEdge(Key(v1::PRODUCT, p), v1::IN_CATEGORY,
                               Key(v1::CATEGORY, p % kCategories + 1), 500 + p, 1));
  }
  // Interactions from a fixed linear congruential sequence; (buyer, type, product)
  // triples are kept unique so every edge is distinct. Time grows with the attempt index.
  std::set<std::tuple<uint64_t, int, uint64_t>> seen;
  uint64_t x = 12345;
  int made = 0;
  for (int attempt = 0; attempt < 4 * kInteractions && made < kInteractions; ++attempt) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t r = x >> 24;
    uint64_t buyer = 1 + r % kBuyers;
    uint64_t product = 1 + (r >> 8) % kProducts;
    v1::EdgeType type = (r >> 16) % 3 == 0 ? v1::PURCHASED : v1::VIEWED;
    if (!seen.insert({buyer, type, product}).second) continue;
    double weight = 1 + static_cast<double>((r >> 20) % 5);
    d.edges.push_back(MakeEdge(Key(v1::BUYER, buyer), type, Key(v1::PRODUCT, product),
                               kBaseTimeMs + attempt * 1000, weight));
    ++made;
  }
  // Buyers without entities (edges may precede entities).
  for (int g = 0; g < kGhostBuyers; ++g) {
    for (uint64_t product : {1, 2}) {
      d.edges.push_back(MakeEdge(Key(v1::BUYER, kGhostBuyerFirst + g), v1::PURCHASED,
                                 Key(v1::PRODUCT, product), kBaseTimeMs - 1000 * (g + 1) - product,
                                 2));
    }
  }
  return d;
}

}  // namespace

const Dataset& TestDataset() {
  static const Dataset* data = new Dataset(Build());
  return *data;
}

v1::EntityKey Key(v1::EntityType type, uint64_t id) {
  v1::EntityKey k;
  k.set_type(type);
  k.set_id(id);
  return k;
}

v1::TraverseRequest AlsoBoughtRequest(uint64_t product) {
  v1::TraverseRequest req;
  *req.add_start() = Key(v1::PRODUCT, product);
  for (v1::Direction d : {v1::IN, v1::OUT}) {
    v1::Hop* hop = req.add_hops();
    hop->set_edge_type(v1::PURCHASED);
    hop->set_direction(d);
  }
  return req;
}

v1::Edge MakeEdge(v1::EntityKey src, v1::EdgeType type, v1::EntityKey dst, int64_t time_ms,
                  double weight) {
  v1::Edge e;
  *e.mutable_src() = std::move(src);
  e.set_type(type);
  *e.mutable_dst() = std::move(dst);
  e.set_time_ms(time_ms);
  e.set_weight(weight);
  return e;
}

std::string DatasetJsonl(const Dataset& data) {
  std::string out = "# integration-test dataset\n";
  for (const v1::Entity& e : data.entities) {
    v1::ImportRecord r;
    *r.mutable_entity() = e;
    absl::StrAppend(&out, FormatRecordLine(r), "\n");
  }
  for (const v1::Edge& e : data.edges) {
    v1::ImportRecord r;
    *r.mutable_edge() = e;
    absl::StrAppend(&out, FormatRecordLine(r), "\n");
  }
  return out;
}

absl::Status LoadViaRpc(v1::GraphService::Stub* graph, const Dataset& data) {
  for (size_t i = 0; i < data.entities.size(); i += kBatch) {
    v1::UpsertEntitiesRequest req;
    for (size_t j = i; j < std::min(data.entities.size(), i + kBatch); ++j) {
      *req.add_entities() = data.entities[j];
    }
    v1::UpsertEntitiesResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status s = graph->UpsertEntities(&ctx, req, &resp);
    if (!s.ok()) return absl::InternalError("UpsertEntities: " + s.error_message());
    if (resp.results_size() != req.entities_size()) {
      return absl::InternalError("UpsertEntities: wrong number of results");
    }
    for (const v1::ItemStatus& item : resp.results()) {
      if (item.code() != 0) return absl::InternalError("UpsertEntities item: " + item.message());
    }
  }
  for (size_t i = 0; i < data.edges.size(); i += kBatch) {
    v1::UpsertEdgesRequest req;
    for (size_t j = i; j < std::min(data.edges.size(), i + kBatch); ++j) {
      *req.add_edges() = data.edges[j];
    }
    v1::UpsertEdgesResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status s = graph->UpsertEdges(&ctx, req, &resp);
    if (!s.ok()) return absl::InternalError("UpsertEdges: " + s.error_message());
    if (resp.results_size() != req.edges_size()) {
      return absl::InternalError("UpsertEdges: wrong number of results");
    }
    for (const v1::ItemStatus& item : resp.results()) {
      if (item.code() != 0) return absl::InternalError("UpsertEdges item: " + item.message());
    }
  }
  return absl::OkStatus();
}

GraphModel::GraphModel(const Dataset& data) {
  for (const v1::Entity& e : data.entities) {
    entities_[{e.key().type(), e.key().id()}] = e;
  }
  for (const v1::Edge& e : data.edges) {
    adjacency_[{e.src().type(), e.src().id(), e.type(), v1::OUT}].push_back(
        {e.dst().id(), e.time_ms(), e.weight()});
    adjacency_[{e.dst().type(), e.dst().id(), e.type(), v1::IN}].push_back(
        {e.src().id(), e.time_ms(), e.weight()});
    ++edge_count_;
  }
  for (auto& [k, list] : adjacency_) {
    std::sort(list.begin(), list.end(), [](const Adj& a, const Adj& b) {
      return a.time_ms != b.time_ms ? a.time_ms > b.time_ms : a.other > b.other;
    });
  }
}

std::vector<ExpectedNeighbor> GraphModel::Neighbors(const v1::EntityKey& key, v1::EdgeType type,
                                                    v1::Direction direction, int64_t min_ms,
                                                    int64_t max_ms) const {
  std::vector<ExpectedNeighbor> out;
  auto it = adjacency_.find({key.type(), key.id(), type, direction});
  if (it == adjacency_.end()) return out;
  for (const Adj& a : it->second) {
    if (min_ms != 0 && a.time_ms < min_ms) continue;
    if (max_ms != 0 && a.time_ms > max_ms) continue;
    out.push_back({a.other, a.time_ms, a.weight});
  }
  return out;
}

std::vector<std::pair<uint64_t, uint64_t>> GraphModel::AlsoBought(uint64_t product,
                                                                  size_t* reached_all,
                                                                  size_t* buyers) const {
  constexpr size_t kHopLimit = 100;
  std::map<uint64_t, uint64_t> paths_to_buyer;
  std::vector<ExpectedNeighbor> in = Neighbors(Key(v1::PRODUCT, product), v1::PURCHASED, v1::IN);
  for (size_t i = 0; i < in.size() && i < kHopLimit; ++i) paths_to_buyer[in[i].id] += 1;
  std::map<uint64_t, uint64_t> paths_to_product;
  for (const auto& [buyer, paths] : paths_to_buyer) {
    std::vector<ExpectedNeighbor> out = Neighbors(Key(v1::BUYER, buyer), v1::PURCHASED, v1::OUT);
    for (size_t i = 0; i < out.size() && i < kHopLimit; ++i) paths_to_product[out[i].id] += paths;
  }
  *buyers = paths_to_buyer.size();
  *reached_all = paths_to_product.size();
  std::vector<std::pair<uint64_t, uint64_t>> ranked;
  for (const auto& [id, paths] : paths_to_product) {
    if (id != product) ranked.emplace_back(id, paths);
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return ranked;
}

const v1::Entity* GraphModel::FindEntity(const v1::EntityKey& key) const {
  auto it = entities_.find({key.type(), key.id()});
  return it == entities_.end() ? nullptr : &it->second;
}

}  // namespace integration
}  // namespace kg
