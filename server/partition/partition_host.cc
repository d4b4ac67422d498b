#include "server/partition/partition_host.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/graph/schema.h"
#include "server/graph/status_macros.h"
#include "server/partition/convert.h"
#include "server/partition/status.h"

namespace kg {

absl::StatusOr<std::unique_ptr<PartitionHost>> PartitionHost::Create(uint32_t partition_count,
                                                                     std::vector<uint32_t> hosted) {
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
  return std::unique_ptr<PartitionHost>(new PartitionHost(partition_count, std::move(hosted)));
}

PartitionHost::PartitionHost(uint32_t partition_count, std::vector<uint32_t> hosted)
    : partition_count_(partition_count), hosted_(std::move(hosted)) {
  partitions_.resize(partition_count_);
  for (uint32_t p : hosted_) partitions_[p] = std::make_unique<GraphPartition>();
}

GraphPartition* PartitionHost::partition(uint32_t id) const {
  return id < partitions_.size() ? partitions_[id].get() : nullptr;
}

absl::StatusOr<GraphPartition*> PartitionHost::Resolve(const internal::v1::Target& target) const {
  if (target.partition_count() != partition_count_) {
    return absl::FailedPreconditionError(absl::StrCat("partition count mismatch: request says ",
                                                      target.partition_count(),
                                                      ", this server has ", partition_count_));
  }
  GraphPartition* p = partition(target.partition());
  if (p == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("partition ", target.partition(), " is not hosted by this server"));
  }
  return p;
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

absl::Status PartitionHost::GetEntities(const internal::v1::GetEntitiesRequest& req,
                                        internal::v1::GetEntitiesResponse* resp) const {
  KG_ASSIGN_OR_RETURN(GraphPartition * graph, Resolve(req.target()));
  ReadMask mask;
  KG_RETURN_IF_ERROR(ParseReadMask(req.read_mask(), "read_mask", &mask));
  resp->mutable_results()->Reserve(req.keys_size());
  for (const v1::EntityKey& pkey : req.keys()) {
    v1::EntityResult* result = resp->add_results();
    *result->mutable_key() = pkey;
    EntityKey key = KeyFromProto(pkey);
    bool found = graph->ReadEntity(key, [&](const EntityData& data) {
      EntityToProto(key, data, mask, result->mutable_entity());
    });
    result->set_found(found);
  }
  return absl::OkStatus();
}

absl::Status PartitionHost::UpsertEntities(const internal::v1::UpsertEntitiesRequest& req,
                                           internal::v1::UpsertEntitiesResponse* resp) {
  KG_ASSIGN_OR_RETURN(GraphPartition * graph, Resolve(req.target()));
  int64_t now = NowMs();
  for (int i = 0; i < req.entities_size(); ++i) {
    std::string field = absl::StrCat("entities[", i, "]");
    EntityKey key;
    EntityData data;
    absl::Status s = EntityFromProto(req.entities(i), field, now, &key, &data);
    if (s.ok()) s = CheckOwner(key, req.target().partition(), field);
    if (s.ok()) s = graph->UpsertEntity(key, std::move(data), req.merge());
    SetItemStatus(s, resp->add_results());
  }
  return absl::OkStatus();
}

absl::Status PartitionHost::DeleteEntities(const internal::v1::DeleteEntitiesRequest& req,
                                           internal::v1::DeleteEntitiesResponse* resp) {
  KG_ASSIGN_OR_RETURN(GraphPartition * graph, Resolve(req.target()));
  std::vector<RemovedEdge> removed;
  for (int i = 0; i < req.keys_size(); ++i) {
    internal::v1::DeletedEntity* out = resp->add_results();
    EntityKey key = KeyFromProto(req.keys(i));
    std::string field = absl::StrCat("keys[", i, "]");
    absl::Status s = ValidateKey(key, field);
    if (s.ok()) s = CheckOwner(key, req.target().partition(), field);
    removed.clear();
    if (s.ok()) s = graph->DeleteEntity(key, &removed);
    SetItemStatus(s, out->mutable_status());
    for (const RemovedEdge& r : removed) {
      internal::v1::EdgeCopy* copy = out->add_opposite_copies();
      EntityKey other{NeighborType(r.type, r.direction), r.other_id};
      v1::Edge* edge = copy->mutable_edge();
      KeyToProto(r.direction == Direction::kOut ? key : other, edge->mutable_src());
      KeyToProto(r.direction == Direction::kOut ? other : key, edge->mutable_dst());
      edge->set_type(static_cast<v1::EdgeType>(r.type));
      edge->set_time_ms(r.time_ms);
      edge->set_weight(r.weight);
      copy->set_side(static_cast<v1::Direction>(Opposite(r.direction)));
    }
  }
  return absl::OkStatus();
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

}  // namespace

absl::Status PartitionHost::UpsertEdgeCopies(const internal::v1::UpsertEdgeCopiesRequest& req,
                                             internal::v1::UpsertEdgeCopiesResponse* resp) {
  KG_ASSIGN_OR_RETURN(GraphPartition * graph, Resolve(req.target()));
  int64_t now = NowMs();
  for (int i = 0; i < req.copies_size(); ++i) {
    const internal::v1::EdgeCopy& copy = req.copies(i);
    std::string field = absl::StrCat("copies[", i, "]");
    v1::Edge edge;
    absl::Status s = ValidateSide(copy, field);
    if (s.ok()) s = ValidateEdgeProto(copy.edge(), absl::StrCat(field, ".edge"), now, &edge);
    CopyEnds ends = EndsOf(copy);
    if (s.ok()) s = CheckOwner(ends.owner, req.target().partition(), field);
    if (s.ok()) {
      s = graph->UpsertEdgeCopy(ends.owner, static_cast<EdgeType>(edge.type()),
                                static_cast<Direction>(copy.side()), ends.other_id, edge.time_ms(),
                                static_cast<float>(edge.weight()));
    }
    SetItemStatus(s, resp->add_results());
  }
  return absl::OkStatus();
}

absl::Status PartitionHost::DeleteEdgeCopies(const internal::v1::DeleteEdgeCopiesRequest& req,
                                             internal::v1::DeleteEdgeCopiesResponse* resp) {
  KG_ASSIGN_OR_RETURN(GraphPartition * graph, Resolve(req.target()));
  for (int i = 0; i < req.copies_size(); ++i) {
    const internal::v1::EdgeCopy& copy = req.copies(i);
    std::string field = absl::StrCat("copies[", i, "]");
    absl::Status s = ValidateSide(copy, field);
    if (s.ok()) s = ValidateEdgeProto(copy.edge(), absl::StrCat(field, ".edge"), 0, nullptr);
    CopyEnds ends = EndsOf(copy);
    if (s.ok()) s = CheckOwner(ends.owner, req.target().partition(), field);
    if (s.ok()) {
      s = graph->DeleteEdgeCopy(ends.owner, static_cast<EdgeType>(copy.edge().type()),
                                static_cast<Direction>(copy.side()), ends.other_id);
    }
    SetItemStatus(s, resp->add_results());
  }
  return absl::OkStatus();
}

absl::Status PartitionHost::GetNeighbors(const internal::v1::GetNeighborsRequest& req,
                                         internal::v1::GetNeighborsResponse* resp) const {
  KG_ASSIGN_OR_RETURN(GraphPartition * graph, Resolve(req.target()));
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
    std::string field = absl::StrCat("queries[", i, "]");
    absl::Status s = IsValidEdgeType(pq.edge_type())
                         ? ValidateKey(q.key, absl::StrCat(field, ".key"))
                         : absl::InvalidArgumentError(absl::StrCat(field, ".edge_type: unknown"));
    if (s.ok()) s = graph->GetNeighbors(q, &page);
    SetItemStatus(s, out->mutable_status());
    if (!s.ok()) continue;
    EntityType ntype = NeighborType(q.type, q.direction);
    out->set_total_count(page.total_count);
    out->mutable_neighbors()->Reserve(page.edges.size());
    for (const NeighborEdge& e : page.edges) {
      v1::Neighbor* n = out->add_neighbors();
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
  KG_ASSIGN_OR_RETURN(GraphPartition * graph, Resolve(req.target()));
  for (int i = 0; i < req.queries_size(); ++i) {
    const internal::v1::CountQuery& q = req.queries(i);
    if (!IsValidEdgeType(q.edge_type())) {
      return absl::InvalidArgumentError(absl::StrCat("queries[", i, "].edge_type: unknown"));
    }
    uint64_t count = 0;
    KG_RETURN_IF_ERROR(
        graph->CountNeighbors(KeyFromProto(q.key()), static_cast<EdgeType>(q.edge_type()),
                              q.direction() == v1::IN ? Direction::kIn : Direction::kOut,
                              q.min_time_ms(), q.max_time_ms(), &count));
    resp->add_counts(count);
  }
  return absl::OkStatus();
}

absl::Status PartitionHost::GetPartitionInfo(const internal::v1::GetPartitionInfoRequest& req,
                                             internal::v1::GetPartitionInfoResponse* resp) const {
  KG_ASSIGN_OR_RETURN(GraphPartition * graph, Resolve(req.target()));
  PartitionStats stats = graph->Stats();
  v1::PartitionInfo* info = resp->mutable_info();
  info->set_partition(req.target().partition());
  info->set_entity_count(stats.entity_count);
  info->set_out_edge_count(stats.out_edge_count);
  info->set_in_edge_count(stats.in_edge_count);
  info->set_memory_bytes(stats.memory_bytes);
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
