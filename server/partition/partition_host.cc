#include "server/partition/partition_host.h"

#include <algorithm>
#include <filesystem>
#include <future>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/graph/schema.h"
#include "server/graph/status_macros.h"
#include "server/partition/convert.h"
#include "server/partition/status.h"
#include "server/security/confine.h"
#include "server/storage/data_dir.h"

namespace kg {

struct PartitionHost::Part {
  GraphPartition graph;
  std::unique_ptr<PartitionStore> store;  // null in memory-only mode
  absl::Mutex write_mu;
  struct PendingIntent {
    int64_t recorded_ms;  // 0 for intents recovered at start-up
    internal::v1::Intent intent;
  };
  std::map<uint64_t, PendingIntent> intents ABSL_GUARDED_BY(write_mu);
};

absl::Status WaitFor(const std::function<void(Done)>& start) {
  std::promise<absl::Status> result;
  start([&result](absl::Status s) { result.set_value(std::move(s)); });
  return result.get_future().get();
}

absl::StatusOr<std::unique_ptr<PartitionHost>> PartitionHost::Create(uint32_t partition_count,
                                                                     std::vector<uint32_t> hosted,
                                                                     const std::string& data_dir,
                                                                     WalRecovery wal_recovery) {
  if (partition_count == 0) return absl::InvalidArgumentError("partition count must be > 0");
  std::sort(hosted.begin(), hosted.end());
  for (size_t i = 0; i < hosted.size(); ++i) {
    if (hosted[i] >= partition_count) {
      return absl::InvalidArgumentError(
          absl::StrCat("partition ", hosted[i], " out of range 0..", partition_count - 1));
    }
    if (i > 0 && hosted[i] == hosted[i - 1]) {
      return absl::InvalidArgumentError(absl::StrCat("partition ", hosted[i], " listed twice"));
    }
  }
  std::unique_ptr<PartitionHost> host(
      new PartitionHost(partition_count, hosted, !data_dir.empty()));
  if (!data_dir.empty()) {
    KG_ASSIGN_OR_RETURN(bool created, PrepareDataDir(data_dir, partition_count, hosted));
    host->data_dir_ = data_dir;
    host->models_ = std::make_unique<ModelHost>(data_dir + "/models");
    for (uint32_t p : hosted) {
      KG_ASSIGN_OR_RETURN(host->parts_[p]->store,
                          PartitionStore::Open(PartitionStorePath(data_dir, p), p, partition_count,
                                               created, wal_recovery));
    }
  }
  if (host->models_ == nullptr) host->models_ = std::make_unique<ModelHost>("");
  KG_RETURN_IF_ERROR(host->models_->Load());
  return host;
}

PartitionHost::PartitionHost(uint32_t partition_count, std::vector<uint32_t> hosted, bool durable)
    : partition_count_(partition_count), hosted_(std::move(hosted)), durable_(durable) {
  parts_.resize(partition_count_);
  for (uint32_t p : hosted_) parts_[p] = std::make_unique<Part>();
}

PartitionHost::~PartitionHost() = default;

std::vector<std::string> PartitionHost::RecoveryNotes() const {
  std::vector<std::string> notes;
  for (uint32_t p : hosted_) {
    if (parts_[p]->store == nullptr) continue;
    const std::vector<std::string>& n = parts_[p]->store->recovery_notes();
    notes.insert(notes.end(), n.begin(), n.end());
  }
  return notes;
}

GraphPartition* PartitionHost::partition(uint32_t id) const {
  return id < parts_.size() && parts_[id] ? &parts_[id]->graph : nullptr;
}

absl::StatusOr<RecoveryStats> PartitionHost::Recover() {
  RecoveryStats stats;
  for (uint32_t p : hosted_) {
    Part* part = parts_[p].get();
    if (part->store == nullptr) continue;
    uint64_t entities = 0, copies = 0;
    KG_ASSIGN_OR_RETURN(std::vector<LoadedIntent> intents,
                        part->store->Load(&part->graph, &entities, &copies));
    stats.entities += entities;
    stats.edge_copies += copies;
    absl::MutexLock lock(&part->write_mu);
    for (LoadedIntent& loaded : intents) {
      internal::v1::Intent intent;
      if (!intent.ParseFromString(loaded.payload)) {
        return absl::DataLossError(
            absl::StrCat("store ", part->store->path(), ": intent ", loaded.id, " is undecodable"));
      }
      intent.set_id(loaded.id);
      part->intents[loaded.id] = {0, std::move(intent)};
      ++stats.intents;
    }
  }
  return stats;
}

absl::StatusOr<PartitionHost::Part*> PartitionHost::Resolve(
    const internal::v1::Target& target) const {
  if (target.partition_count() != partition_count_) {
    return absl::FailedPreconditionError(absl::StrCat("partition count mismatch: request says ",
                                                      target.partition_count(),
                                                      ", this server has ", partition_count_));
  }
  if (target.partition() >= parts_.size() || parts_[target.partition()] == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("partition ", target.partition(), " is not hosted by this server"));
  }
  return parts_[target.partition()].get();
}

absl::Status PartitionHost::CheckOwner(const EntityKey& key, uint32_t partition,
                                       absl::string_view field) const {
  if (PartitionOf(key, partition_count_) != partition) {
    return absl::FailedPreconditionError(absl::StrCat(field, ": key belongs to partition ",
                                                      PartitionOf(key, partition_count_), ", not ",
                                                      partition));
  }
  return absl::OkStatus();
}

template <typename Body>
void PartitionHost::Write(const internal::v1::Target& target, Done done, Body body) {
  absl::StatusOr<Part*> resolved = Resolve(target);
  if (!resolved.ok()) return done(resolved.status());
  Part* part = *resolved;
  {
    absl::MutexLock lock(&part->write_mu);
    StoreBatch batch;
    body(part, &batch);
    if (part->store != nullptr) {
      part->store->Commit(std::move(batch), [done = std::move(done)]() { done(absl::OkStatus()); });
      return;
    }
  }
  done(absl::OkStatus());  // memory only: outside the lock, as `done` may write again
}

uint64_t PartitionHost::AddIntentLocked(Part* part, internal::v1::Intent intent,
                                        StoreBatch* batch) {
  uint64_t id = part->store->NextIntentId();
  intent.set_id(id);
  batch->PutIntent(id, intent.SerializeAsString());
  part->intents[id] = {NowMs(), std::move(intent)};
  return id;
}

absl::Status PartitionHost::GetEntities(const internal::v1::GetEntitiesRequest& req,
                                        internal::v1::GetEntitiesResponse* resp) const {
  KG_ASSIGN_OR_RETURN(Part * part, Resolve(req.target()));
  ReadMask mask;
  KG_RETURN_IF_ERROR(ParseReadMask(req.read_mask(), "read_mask", &mask));
  resp->mutable_results()->Reserve(req.keys_size());
  std::vector<EntityKey> keys;
  keys.reserve(req.keys_size());
  for (const v1::EntityKey& pkey : req.keys()) {
    *resp->add_results()->mutable_key() = pkey;
    keys.push_back(KeyFromProto(pkey));
  }
  if (mask.SelectsAll()) {
    part->graph.ReadEncodedEntities(keys, [&](size_t i, absl::string_view encoded) {
      internal::v1::EncodedEntityResult* result = resp->mutable_results(static_cast<int>(i));
      result->set_found(true);
      AppendEncodedEntity(keys[i], encoded, result->mutable_entity());
    });
    return absl::OkStatus();
  }
  v1::Entity masked;
  for (size_t i = 0; i < keys.size(); ++i) {
    internal::v1::EncodedEntityResult* result = resp->mutable_results(static_cast<int>(i));
    result->set_found(part->graph.ReadEntity(keys[i], [&](const EntityData& data) {
      masked.Clear();
      EntityToProto(keys[i], data, mask, &masked);
      masked.AppendToString(result->mutable_entity());
    }));
  }
  return absl::OkStatus();
}

void PartitionHost::UpsertEntities(const internal::v1::UpsertEntitiesRequest& req,
                                   internal::v1::UpsertEntitiesResponse* resp, Done done) {
  int64_t now = NowMs();
  Write(req.target(), std::move(done), [&](Part* part, StoreBatch* batch) {
    for (int i = 0; i < req.entities_size(); ++i) {
      std::string field = absl::StrCat("entities[", i, "]");
      EntityKey key;
      EntityData data;
      absl::Status s = EntityFromProto(req.entities(i), field, now, &key, &data);
      if (s.ok()) s = CheckOwner(key, req.target().partition(), field);
      if (s.ok()) s = part->graph.UpsertEntity(key, std::move(data), req.merge());
      if (s.ok() && part->store) {
        part->graph.ReadEntity(key,
                               [&](const EntityData& stored) { batch->PutEntity(key, stored); });
      }
      SetItemStatus(s, resp->add_results());
    }
  });
}

void PartitionHost::DeleteEntities(const internal::v1::DeleteEntitiesRequest& req,
                                   internal::v1::DeleteEntitiesResponse* resp, Done done) {
  std::vector<RemovedEdge> removed;
  Write(req.target(), std::move(done), [&](Part* part, StoreBatch* batch) {
    for (int i = 0; i < req.keys_size(); ++i) {
      internal::v1::DeletedEntity* out = resp->add_results();
      EntityKey key = KeyFromProto(req.keys(i));
      std::string field = absl::StrCat("keys[", i, "]");
      absl::Status s = ValidateKey(key, field);
      if (s.ok()) s = CheckOwner(key, req.target().partition(), field);
      removed.clear();
      if (s.ok()) s = part->graph.DeleteEntity(key, &removed);
      SetItemStatus(s, out->mutable_status());
      if (!s.ok()) continue;
      internal::v1::Intent intent;
      if (part->store) batch->DeleteEntity(key);
      for (const RemovedEdge& r : removed) {
        EntityKey other{NeighborType(r.type, r.direction), r.other_id};
        if (part->store) batch->DeleteEdge(key, r.type, r.direction, r.other_id);
        internal::v1::EdgeCopy* copy = out->add_opposite_copies();
        v1::Edge* edge = copy->mutable_edge();
        KeyToProto(r.direction == Direction::kOut ? key : other, edge->mutable_src());
        KeyToProto(r.direction == Direction::kOut ? other : key, edge->mutable_dst());
        edge->set_type(static_cast<v1::EdgeType>(r.type));
        edge->set_time_ms(r.time_ms);
        edge->set_weight(r.weight);
        copy->set_side(static_cast<v1::Direction>(Opposite(r.direction)));
        if (part->store) {
          internal::v1::IntentOp* op = intent.add_ops();
          *op->mutable_copy() = *copy;
          op->set_delete_(true);
        }
      }
      if (intent.ops_size() > 0)
        out->set_intent_id(AddIntentLocked(part, std::move(intent), batch));
    }
  });
}

namespace {

// The owner key and the other end's id of a stored copy.
struct CopyEnds {
  EntityKey owner;
  uint64_t other_id;
};

CopyEnds EndsOf(const internal::v1::EdgeCopy& copy) {
  if (copy.side() == v1::IN) return {KeyFromProto(copy.edge().dst()), copy.edge().src().id()};
  return {KeyFromProto(copy.edge().src()), copy.edge().dst().id()};
}

absl::Status ValidateSide(const internal::v1::EdgeCopy& copy, absl::string_view field) {
  if (copy.side() != v1::OUT && copy.side() != v1::IN) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".side: must be OUT or IN"));
  }
  return absl::OkStatus();
}

// The intent "the IN copy of `edge` must mirror its OUT copy".
internal::v1::Intent MirrorIntent(const v1::Edge& edge) {
  internal::v1::Intent intent;
  internal::v1::IntentOp* op = intent.add_ops();
  *op->mutable_copy()->mutable_edge() = edge;
  op->mutable_copy()->set_side(v1::IN);
  return intent;
}

}  // namespace

void PartitionHost::UpsertEdgeCopies(const internal::v1::UpsertEdgeCopiesRequest& req,
                                     internal::v1::UpsertEdgeCopiesResponse* resp, Done done) {
  int64_t now = NowMs();
  Write(req.target(), std::move(done), [&](Part* part, StoreBatch* batch) {
    for (int i = 0; i < req.copies_size(); ++i) {
      const internal::v1::EdgeCopy& copy = req.copies(i);
      std::string field = absl::StrCat("copies[", i, "]");
      v1::Edge edge;
      absl::Status s = ValidateSide(copy, field);
      if (s.ok()) s = ValidateEdgeProto(copy.edge(), absl::StrCat(field, ".edge"), now, &edge);
      CopyEnds ends = EndsOf(copy);
      if (s.ok()) s = CheckOwner(ends.owner, req.target().partition(), field);
      EdgeType type = static_cast<EdgeType>(edge.type());
      Direction dir = static_cast<Direction>(copy.side());
      float weight = static_cast<float>(edge.weight());
      if (s.ok()) {
        s = part->graph.UpsertEdgeCopy(ends.owner, type, dir, ends.other_id, edge.time_ms(),
                                       weight);
      }
      uint64_t intent_id = 0;
      if (s.ok() && part->store) {
        batch->PutEdge(ends.owner, type, dir, ends.other_id, edge.time_ms(), weight);
        if (copy.record_intent() && copy.side() == v1::OUT) {
          intent_id = AddIntentLocked(part, MirrorIntent(edge), batch);
        }
      }
      SetItemStatus(s, resp->add_results());
      resp->add_intent_ids(intent_id);
    }
  });
}

void PartitionHost::DeleteEdgeCopies(const internal::v1::DeleteEdgeCopiesRequest& req,
                                     internal::v1::DeleteEdgeCopiesResponse* resp, Done done) {
  Write(req.target(), std::move(done), [&](Part* part, StoreBatch* batch) {
    for (int i = 0; i < req.copies_size(); ++i) {
      const internal::v1::EdgeCopy& copy = req.copies(i);
      std::string field = absl::StrCat("copies[", i, "]");
      absl::Status s = ValidateSide(copy, field);
      if (s.ok()) s = ValidateEdgeProto(copy.edge(), absl::StrCat(field, ".edge"), 0, nullptr);
      CopyEnds ends = EndsOf(copy);
      if (s.ok()) s = CheckOwner(ends.owner, req.target().partition(), field);
      EdgeType type = static_cast<EdgeType>(copy.edge().type());
      Direction dir = static_cast<Direction>(copy.side());
      if (s.ok()) s = part->graph.DeleteEdgeCopy(ends.owner, type, dir, ends.other_id);
      uint64_t intent_id = 0;
      if (part->store && (s.ok() || absl::IsNotFound(s))) {
        if (s.ok()) batch->DeleteEdge(ends.owner, type, dir, ends.other_id);
        // Even when this copy was already gone, its IN copy must follow.
        if (copy.record_intent() && copy.side() == v1::OUT) {
          intent_id = AddIntentLocked(part, MirrorIntent(copy.edge()), batch);
        }
      }
      SetItemStatus(s, resp->add_results());
      resp->add_intent_ids(intent_id);
    }
  });
}

absl::Status PartitionHost::ListIntents(const internal::v1::ListIntentsRequest& req,
                                        internal::v1::ListIntentsResponse* resp) const {
  KG_ASSIGN_OR_RETURN(Part * part, Resolve(req.target()));
  uint32_t limit = req.limit() == 0 ? 1000 : req.limit();
  int64_t cutoff = NowMs() - req.min_age_ms();
  absl::MutexLock lock(&part->write_mu);
  for (const auto& [id, pending] : part->intents) {
    if (resp->intents_size() >= static_cast<int>(limit)) break;
    if (pending.recorded_ms > cutoff) continue;
    internal::v1::Intent* out = resp->add_intents();
    *out = pending.intent;
    for (internal::v1::IntentOp& op : *out->mutable_ops()) {
      if (op.delete_()) continue;
      // A mirror: the IN copy becomes what the OUT copy (kept here) is now.
      const v1::Edge& e = op.copy().edge();
      NeighborEdge current;
      bool exists = part->graph.FindEdge(KeyFromProto(e.src()), static_cast<EdgeType>(e.type()),
                                         Direction::kOut, e.dst().id(), &current);
      op.set_delete_(!exists);
      if (exists) {
        op.mutable_copy()->mutable_edge()->set_time_ms(current.time_ms);
        op.mutable_copy()->mutable_edge()->set_weight(current.weight);
      }
    }
  }
  return absl::OkStatus();
}

void PartitionHost::ClearIntents(const internal::v1::ClearIntentsRequest& req,
                                 internal::v1::ClearIntentsResponse* resp, Done done) {
  Write(req.target(), std::move(done), [&](Part* part, StoreBatch* batch) {
    for (uint64_t id : req.ids()) {
      if (part->intents.erase(id) > 0) batch->DeleteIntent(id);
    }
  });
}

absl::Status PartitionHost::Checkpoint(const internal::v1::CheckpointRequest& req,
                                       internal::v1::CheckpointResponse* resp) const {
  KG_ASSIGN_OR_RETURN(Part * part, Resolve(req.target()));
  if (part->store == nullptr) {
    return absl::FailedPreconditionError(
        "checkpoint: this server keeps no store (start it with --data_dir)");
  }
  if (req.dir().empty()) return absl::InvalidArgumentError("dir: required");
  namespace fs = std::filesystem;
  KG_ASSIGN_OR_RETURN(std::string live_dir,
                      ConfineDirectory("", fs::absolute(data_dir_).string(), "--data_dir"));
  std::string root =
      checkpoint_root_.empty() ? fs::path(live_dir).parent_path().string() : checkpoint_root_;
  KG_ASSIGN_OR_RETURN(std::string resolved, ConfineDirectory(root, req.dir(), "dir"));
  fs::path dir(resolved);
  fs::path live(live_dir);
  std::error_code ec;
  auto [live_end, dir_it] = std::mismatch(live.begin(), live.end(), dir.begin(), dir.end());
  if (live_end == live.end()) {
    return absl::InvalidArgumentError(absl::StrCat("dir: ", req.dir(),
                                                   " is inside the live data directory ", data_dir_,
                                                   "; write checkpoints elsewhere"));
  }
  std::string store_dir = PartitionStorePath(req.dir(), req.target().partition());
  if (fs::exists(store_dir, ec)) {
    return absl::AlreadyExistsError(absl::StrCat("dir: ", req.dir(),
                                                 " already holds a checkpoint (", store_dir,
                                                 "); choose a new directory"));
  }
  // The checkpoint is itself a data directory for the partitions of this server.
  absl::StatusOr<bool> prepared = PrepareDataDir(req.dir(), partition_count_, hosted_, "dir:");
  if (!prepared.ok() && !absl::IsDataLoss(prepared.status())) {
    return absl::InvalidArgumentError(prepared.status().message());
  }
  return part->store->Checkpoint(store_dir);
}

absl::Status PartitionHost::GetNeighbors(const internal::v1::GetNeighborsRequest& req,
                                         internal::v1::GetNeighborsResponse* resp) const {
  KG_ASSIGN_OR_RETURN(Part * part, Resolve(req.target()));
  NeighborPage page;
  resp->mutable_pages()->Reserve(req.queries_size());
  for (int i = 0; i < req.queries_size(); ++i) {
    const internal::v1::NeighborQuery& pq = req.queries(i);
    internal::v1::NeighborPage* out = resp->add_pages();
    NeighborQuery q;
    q.key = KeyFromProto(pq.key());
    q.type = static_cast<EdgeType>(IsValidEdgeType(pq.edge_type()) ? pq.edge_type() : 0);
    q.direction = pq.direction() == v1::IN ? Direction::kIn : Direction::kOut;
    q.min_time_ms = pq.min_time_ms();
    q.max_time_ms = pq.max_time_ms();
    q.limit = pq.limit();
    if (pq.has_after()) q.after = Cursor{pq.after().time_ms(), pq.after().id()};
    absl::Status s =
        IsValidEdgeType(pq.edge_type())
            ? ValidateKey(q.key, ItemField{"queries", i, ".key"})
            : absl::InvalidArgumentError(absl::StrCat("queries[", i, "].edge_type: unknown"));
    if (s.ok()) s = part->graph.GetNeighbors(q, &page);
    if (!s.ok()) {
      SetItemStatus(s, out->mutable_status());
      continue;
    }
    EntityType ntype = NeighborType(q.type, q.direction);
    out->set_total_count(page.total_count);
    out->mutable_neighbors()->Reserve(page.edges.size());
    for (const NeighborEdge& e : page.edges) {
      internal::v1::EncodedNeighbor* n = out->add_neighbors();
      n->mutable_key()->set_type(static_cast<v1::EntityType>(ntype));
      n->mutable_key()->set_id(e.id);
      n->set_time_ms(e.time_ms);
      n->set_weight(e.weight);
    }
    if (page.next.has_value()) {
      out->mutable_next()->set_time_ms(page.next->time_ms);
      out->mutable_next()->set_id(page.next->id);
    }
  }
  return absl::OkStatus();
}

absl::Status PartitionHost::CountNeighbors(const internal::v1::CountNeighborsRequest& req,
                                           internal::v1::CountNeighborsResponse* resp) const {
  KG_ASSIGN_OR_RETURN(Part * part, Resolve(req.target()));
  for (int i = 0; i < req.queries_size(); ++i) {
    const internal::v1::CountQuery& q = req.queries(i);
    if (!IsValidEdgeType(q.edge_type())) {
      return absl::InvalidArgumentError(absl::StrCat("queries[", i, "].edge_type: unknown"));
    }
    uint64_t count = 0;
    KG_RETURN_IF_ERROR(
        part->graph.CountNeighbors(KeyFromProto(q.key()), static_cast<EdgeType>(q.edge_type()),
                                   q.direction() == v1::IN ? Direction::kIn : Direction::kOut,
                                   q.min_time_ms(), q.max_time_ms(), &count));
    resp->add_counts(count);
  }
  return absl::OkStatus();
}

absl::Status PartitionHost::GetPartitionInfo(const internal::v1::GetPartitionInfoRequest& req,
                                             internal::v1::GetPartitionInfoResponse* resp) const {
  KG_ASSIGN_OR_RETURN(Part * part, Resolve(req.target()));
  PartitionStats stats = part->graph.Stats();
  v1::PartitionInfo* info = resp->mutable_info();
  info->set_partition(req.target().partition());
  info->set_entity_count(stats.entity_count);
  info->set_out_edge_count(stats.out_edge_count);
  info->set_in_edge_count(stats.in_edge_count);
  info->set_memory_bytes(stats.memory_bytes);
  info->set_durable(part->store != nullptr);
  info->set_model_version(models_->version());
  {
    absl::MutexLock lock(&part->write_mu);
    info->set_pending_intents(part->intents.size());
  }
  for (int t = 1; t < kEntityTypeCount; ++t) {
    if (stats.entities_by_type[t] == 0) continue;
    v1::EntityTypeCount* c = info->add_entities_by_type();
    c->set_type(static_cast<v1::EntityType>(t));
    c->set_count(stats.entities_by_type[t]);
  }
  for (int t = 1; t < kEdgeTypeCount; ++t) {
    for (int d = 0; d < 2; ++d) {
      if (stats.edges_by_type[t][d] == 0) continue;
      v1::EdgeTypeCount* c = info->add_edges_by_type();
      c->set_type(static_cast<v1::EdgeType>(t));
      c->set_direction(static_cast<v1::Direction>(d));
      c->set_count(stats.edges_by_type[t][d]);
    }
  }
  return absl::OkStatus();
}

}  // namespace kg

namespace kg {
namespace {

constexpr uint32_t kMaxScanPage = 10000;
constexpr uint32_t kMaxScanEdges = 1000;
constexpr int kMaxTopK = 20;

// The ids of `key`'s newest `limit` edges of (type, dir).
std::vector<uint64_t> FirstNeighbors(const GraphPartition& graph, const EntityKey& key,
                                     EdgeType type, Direction dir, uint32_t limit) {
  NeighborQuery q;
  q.key = key;
  q.type = type;
  q.direction = dir;
  q.limit = limit;
  NeighborPage page;
  std::vector<uint64_t> ids;
  if (graph.GetNeighbors(q, &page).ok()) {
    for (const NeighborEdge& e : page.edges) ids.push_back(e.id);
  }
  return ids;
}

// Brand mentions returned per item.
constexpr size_t kMaxMentions = 5;
constexpr int kMaxPairListings = 20000;  // partition.proto: PairListings

// The name of a product's HAS_BRAND brand, as the bundle knows it (empty: none).
std::string BrandName(const GraphPartition& graph, const EntityKey& product,
                      const knowledge::ModelBundle& bundle) {
  std::vector<uint64_t> brand =
      FirstNeighbors(graph, product, EdgeType::kHasBrand, Direction::kOut, 1);
  if (brand.empty()) return "";
  auto name = bundle.brands.find(brand[0]);
  return name == bundle.brands.end() ? "" : name->second;
}

void AddPrediction(const knowledge::Taxonomy& taxonomy, uint64_t category, double confidence,
                   v1::CategorizeResult* out) {
  v1::CategoryPrediction* p = out->add_predictions();
  p->mutable_category()->set_type(v1::CATEGORY);
  p->mutable_category()->set_id(category);
  for (uint64_t c : taxonomy.PathTo(category)) p->add_path(taxonomy.name(c));
  p->set_confidence(confidence);
}

}  // namespace

absl::Status PartitionHost::ScanEntities(const internal::v1::ScanEntitiesRequest& req,
                                         internal::v1::ScanEntitiesResponse* resp) const {
  KG_ASSIGN_OR_RETURN(Part * part, Resolve(req.target()));
  if (!IsValidEntityType(req.type())) return absl::InvalidArgumentError("type: unknown");
  if (req.limit() == 0 || req.limit() > kMaxScanPage) {
    return absl::InvalidArgumentError(absl::StrCat("limit: must be 1..", kMaxScanPage));
  }
  const EntityType type = static_cast<EntityType>(req.type());
  for (int e = 0; e < req.edges_size(); ++e) {
    const internal::v1::ScanEdgeSpec& spec = req.edges(e);
    if (!IsValidEdgeType(spec.edge_type()) || spec.limit() > kMaxScanEdges ||
        OwnerType(static_cast<EdgeType>(spec.edge_type()),
                  spec.direction() == v1::IN ? Direction::kIn : Direction::kOut) != type) {
      return absl::InvalidArgumentError(absl::StrCat(
          "edges[", e, "]: not an edge list of the scanned type (limit 0..", kMaxScanEdges, ")"));
    }
  }
  const GraphPartition& graph = part->graph;
  uint32_t stripe = req.stripe();
  uint64_t after = req.after_id();
  std::vector<uint64_t> ids;
  bool more = false;
  while (stripe < graph.stripe_count() && ids.size() < req.limit()) {
    more = graph.ScanEntityIds(type, stripe, after, req.limit() - ids.size(), &ids);
    if (more) {
      after = ids.back();
      break;
    }
    ++stripe;
    after = 0;
  }
  for (uint64_t id : ids) {
    EntityKey key{type, id};
    internal::v1::ScannedEntity* out = resp->add_entities();
    bool found = graph.ReadEntity(key, [&](const EntityData& data) {
      EntityToProto(key, data, ReadMask(), out->mutable_entity());
    });
    if (!found) {  // deleted since the id scan
      resp->mutable_entities()->RemoveLast();
      continue;
    }
    for (const internal::v1::ScanEdgeSpec& spec : req.edges()) {
      std::vector<uint64_t> n = FirstNeighbors(
          graph, key, static_cast<EdgeType>(spec.edge_type()),
          spec.direction() == v1::IN ? Direction::kIn : Direction::kOut, spec.limit());
      out->add_edges()->mutable_ids()->Add(n.begin(), n.end());
    }
  }
  resp->set_next_stripe(stripe);
  resp->set_next_after_id(more ? after : 0);
  resp->set_done(stripe >= graph.stripe_count());
  return absl::OkStatus();
}

absl::Status PartitionHost::InstallBundle(const internal::v1::InstallBundleRequest& req,
                                          internal::v1::InstallBundleResponse* resp) {
  KG_RETURN_IF_ERROR(Resolve(req.target()).status());
  return models_->InstallChunk(req, resp);
}

absl::Status PartitionHost::Categorize(const internal::v1::CategorizeRequest& req,
                                       internal::v1::CategorizeResponse* resp) const {
  KG_ASSIGN_OR_RETURN(Part * part, Resolve(req.target()));
  std::shared_ptr<const knowledge::ModelBundle> bundle = models_->current();
  if (bundle == nullptr) {
    return absl::FailedPreconditionError(
        "no model yet: train one with AdminService.TrainModels (kgctl train)");
  }
  resp->set_model_version(bundle->version);
  const knowledge::Taxonomy& taxonomy = *bundle->taxonomy;
  const int top_k = std::clamp(req.top_k() == 0 ? 3 : req.top_k(), 1, kMaxTopK);
  for (int i = 0; i < req.items_size(); ++i) {
    const v1::KnowledgeItem& item = req.items(i);
    v1::CategorizeResult* out = resp->add_results();
    knowledge::ProductInput input;
    if (item.has_key()) {
      absl::StatusOr<EntityKey> read =
          ReadItemEntity(part->graph, req.target().partition(), item, i, {EntityType::kProduct},
                         "PRODUCT", [&](const EntityData& data) {
                           input = knowledge::StoredProduct(data.name, data.attributes, "");
                         });
      if (!read.ok()) {
        SetItemStatus(read.status(), out->mutable_status());
        continue;
      }
      const EntityKey key = *read;
      if (req.prefer_stored()) {
        std::vector<uint64_t> stored =
            FirstNeighbors(part->graph, key, EdgeType::kInCategory, Direction::kOut, 1);
        if (!stored.empty() && taxonomy.Contains(stored[0])) {
          AddPrediction(taxonomy, stored[0], 1.0, out);
          continue;
        }
      }
      input.brand = BrandName(part->graph, key, *bundle);
    } else {
      const v1::ProductText& text = item.text();
      input.title = text.title();
      input.description = text.description();
      input.brand = text.brand();
      for (const auto& [name, value] : text.attributes())
        input.attributes.emplace_back(name, value);
      std::sort(input.attributes.begin(), input.attributes.end());
    }
    for (const knowledge::CategoryScore& p : bundle->categorizer->Predict(input, top_k)) {
      AddPrediction(taxonomy, p.category, p.confidence, out);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PartitionHost::ItemTitle(const GraphPartition& graph,
                                                     uint32_t partition,
                                                     const v1::KnowledgeItem& item, int i) const {
  if (!item.has_key()) return item.text().title();
  std::string title;
  KG_RETURN_IF_ERROR(ReadItemEntity(graph, partition, item, i,
                                    {EntityType::kProduct, EntityType::kSpu, EntityType::kContent},
                                    "PRODUCT, SPU or CONTENT (an entity with a title)",
                                    [&title](const EntityData& data) { title = data.name; })
                         .status());
  return title;
}

absl::StatusOr<EntityKey> PartitionHost::ReadItemEntity(
    const GraphPartition& graph, uint32_t partition, const v1::KnowledgeItem& item, int i,
    std::initializer_list<EntityType> types, absl::string_view expected,
    absl::FunctionRef<void(const EntityData&)> read) const {
  std::string field = absl::StrCat("items[", i, "].key");
  EntityKey key = KeyFromProto(item.key());
  KG_RETURN_IF_ERROR(ValidateKey(item.key(), field));
  if (std::find(types.begin(), types.end(), key.type) == types.end()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".type: must be ", expected));
  }
  KG_RETURN_IF_ERROR(CheckOwner(key, partition, field));
  if (!graph.ReadEntity(key, read)) {
    return absl::NotFoundError(absl::StrCat(field, ": ", v1::EntityType_Name(item.key().type()),
                                            ":", key.id, " not found"));
  }
  return key;
}

absl::Status PartitionHost::RecognizeBrands(const internal::v1::RecognizeBrandsRequest& req,
                                            internal::v1::RecognizeBrandsResponse* resp) const {
  KG_ASSIGN_OR_RETURN(Part * part, Resolve(req.target()));
  std::shared_ptr<const knowledge::ModelBundle> bundle = models_->current();
  if (bundle == nullptr || bundle->brand_recognizer == nullptr) {
    return absl::FailedPreconditionError(
        "no brand recognizer yet: train the models with AdminService.TrainModels (kgctl "
        "train)");
  }
  resp->set_model_version(bundle->version);
  for (int i = 0; i < req.items_size(); ++i) {
    v1::RecognizeBrandsResult* out = resp->add_results();
    absl::StatusOr<std::string> title =
        ItemTitle(part->graph, req.target().partition(), req.items(i), i);
    if (!title.ok()) {
      SetItemStatus(title.status(), out->mutable_status());
      continue;
    }
    for (const knowledge::BrandMention& m :
         bundle->brand_recognizer->Recognize(*title, bundle->categorizer.get(), kMaxMentions)) {
      v1::BrandMention* b = out->add_mentions();
      b->mutable_brand()->set_type(v1::BRAND);
      b->mutable_brand()->set_id(m.brand);
      b->set_name(m.name);
      b->set_start(static_cast<int32_t>(m.start));
      b->set_end(static_cast<int32_t>(m.end));
      b->set_confidence(m.confidence);
    }
  }
  return absl::OkStatus();
}

absl::Status PartitionHost::ExtractAttributes(const internal::v1::ExtractAttributesRequest& req,
                                              internal::v1::ExtractAttributesResponse* resp) const {
  KG_ASSIGN_OR_RETURN(Part * part, Resolve(req.target()));
  std::shared_ptr<const knowledge::ModelBundle> bundle = models_->current();
  if (bundle == nullptr || bundle->attributes == nullptr) {
    return absl::FailedPreconditionError(
        "no attribute extractor yet: train the models with AdminService.TrainModels (kgctl "
        "train)");
  }
  resp->set_model_version(bundle->version);
  for (int i = 0; i < req.items_size(); ++i) {
    v1::ExtractAttributesResult* out = resp->add_results();
    absl::StatusOr<std::string> title =
        ItemTitle(part->graph, req.target().partition(), req.items(i), i);
    if (!title.ok()) {
      SetItemStatus(title.status(), out->mutable_status());
      continue;
    }
    for (const knowledge::ExtractedAttribute& a : bundle->attributes->Extract(*title)) {
      v1::ExtractedAttribute* x = out->add_attributes();
      x->set_name(a.name);
      x->set_value(a.value);
      x->set_normalized_value(a.normalized_value);
      x->set_unit(a.unit);
      x->set_start(static_cast<int32_t>(a.start));
      x->set_end(static_cast<int32_t>(a.end));
      x->set_confidence(a.confidence);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const knowledge::ModelBundle>> PartitionHost::SpuMatcherBundle()
    const {
  std::shared_ptr<const knowledge::ModelBundle> bundle = models_->current();
  if (bundle == nullptr || bundle->spu_matcher == nullptr) {
    return absl::FailedPreconditionError(
        "no SPU matcher: train the models (AdminService.TrainModels, kgctl train) on a graph "
        "with at least 10 SPUs that have member products (INSTANCE_OF)");
  }
  return bundle;
}

absl::Status PartitionHost::MatchSpu(const internal::v1::MatchSpuRequest& req,
                                     internal::v1::MatchSpuResponse* resp) const {
  KG_ASSIGN_OR_RETURN(Part * part, Resolve(req.target()));
  KG_ASSIGN_OR_RETURN(std::shared_ptr<const knowledge::ModelBundle> bundle, SpuMatcherBundle());
  resp->set_model_version(bundle->version);
  const size_t top_k =
      static_cast<size_t>(std::clamp(req.top_k() == 0 ? 3 : req.top_k(), 1, kMaxTopK));
  const GraphPartition& graph = part->graph;
  for (int i = 0; i < req.items_size(); ++i) {
    const v1::KnowledgeItem& item = req.items(i);
    v1::MatchSpuResult* out = resp->add_results();
    knowledge::MatchSide listing;
    if (item.has_key()) {
      absl::StatusOr<EntityKey> read =
          ReadItemEntity(graph, req.target().partition(), item, i, {EntityType::kProduct},
                         "PRODUCT", [&](const EntityData& data) {
                           listing.title = data.name;
                           for (const auto& [name, value] : data.metrics) {
                             if (name == "price") listing.price = value;
                           }
                         });
      if (!read.ok()) {
        SetItemStatus(read.status(), out->mutable_status());
        if (req.describe()) resp->add_listings();
        continue;
      }
      const EntityKey key = *read;
      listing.brand = BrandName(graph, key, *bundle);
      std::vector<uint64_t> category =
          FirstNeighbors(graph, key, EdgeType::kInCategory, Direction::kOut, 1);
      if (!category.empty()) listing.category = category[0];
    } else {
      const v1::ProductText& text = item.text();
      listing.title = text.title();
      listing.brand = text.brand();
      auto price = text.attributes().find("price");
      if (price != text.attributes().end() && !absl::SimpleAtod(price->second, &listing.price)) {
        SetItemStatus(absl::InvalidArgumentError(
                          absl::StrCat("items[", i, "].text.attributes[\"price\"]: not a number")),
                      out->mutable_status());
        if (req.describe()) resp->add_listings();
        continue;
      }
    }
    if (req.describe()) {
      internal::v1::Listing* l = resp->add_listings();
      l->set_title(listing.title);
      l->set_brand(listing.brand);
      l->set_price(listing.price);
      l->set_category(listing.category);
    }
    for (const knowledge::SpuCandidate& c :
         bundle->spu_matcher->Match(listing, top_k, req.min_score())) {
      v1::SpuCandidate* x = out->add_candidates();
      x->mutable_spu()->set_type(v1::SPU);
      x->mutable_spu()->set_id(c.spu);
      x->set_name(c.name);
      x->set_score(c.score);
      for (const std::string& r : c.reasons) x->add_reasons(r);
    }
  }
  return absl::OkStatus();
}

absl::Status PartitionHost::PairListings(const internal::v1::PairListingsRequest& req,
                                         internal::v1::PairListingsResponse* resp) const {
  KG_RETURN_IF_ERROR(Resolve(req.target()).status());
  if (req.listings_size() < 2 || req.listings_size() > kMaxPairListings) {
    return absl::InvalidArgumentError(absl::StrCat("listings: must be 2..", kMaxPairListings,
                                                   " listings, got ", req.listings_size()));
  }
  if (!(req.min_score() >= 0.5 && req.min_score() <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_score: must be 0.5..1, got ", req.min_score()));
  }
  KG_ASSIGN_OR_RETURN(std::shared_ptr<const knowledge::ModelBundle> bundle, SpuMatcherBundle());
  resp->set_model_version(bundle->version);
  std::vector<knowledge::MatchSide> listings;
  listings.reserve(req.listings_size());
  for (const internal::v1::Listing& l : req.listings()) {
    listings.push_back({l.title(), l.brand(), l.price(), l.category()});
  }
  for (const knowledge::ListingPair& p :
       bundle->spu_matcher->PairListings(listings, req.min_score())) {
    internal::v1::ListingPair* out = resp->add_pairs();
    out->set_a(p.a);
    out->set_b(p.b);
    out->set_score(p.score);
  }
  return absl::OkStatus();
}

}  // namespace kg
