#include "server/app/loader.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/jsonl.h"
#include "server/graph/status_macros.h"
#include "server/partition/convert.h"
#include "server/partition/status.h"

namespace kg {
namespace {

constexpr int kBatch = 4096;

// Per-partition batches of entities and edge copies, flushed through the host's normal
// write path (so loaded data is validated exactly like an RPC's).
class Batcher {
 public:
  explicit Batcher(PartitionHost* host) : host_(host), slots_(host->partition_count()) {}

  absl::Status AddEntity(uint32_t p, const v1::Entity& e) {
    Slot& s = slots_[p];
    *s.entities.add_entities() = e;
    return s.entities.entities_size() >= kBatch ? FlushEntities(p) : absl::OkStatus();
  }
  absl::Status AddCopy(uint32_t p, const v1::Edge& e, v1::Direction side) {
    Slot& s = slots_[p];
    internal::v1::EdgeCopy* c = s.copies.add_copies();
    *c->mutable_edge() = e;
    c->set_side(side);
    return s.copies.copies_size() >= kBatch ? FlushCopies(p) : absl::OkStatus();
  }
  absl::Status FlushAll() {
    for (uint32_t p = 0; p < slots_.size(); ++p) {
      KG_RETURN_IF_ERROR(FlushEntities(p));
      KG_RETURN_IF_ERROR(FlushCopies(p));
    }
    return absl::OkStatus();
  }

 private:
  struct Slot {
    internal::v1::UpsertEntitiesRequest entities;
    internal::v1::UpsertEdgeCopiesRequest copies;
  };
  void Target(uint32_t p, internal::v1::Target* t) {
    t->set_partition(p);
    t->set_partition_count(host_->partition_count());
  }
  absl::Status FlushEntities(uint32_t p) {
    Slot& s = slots_[p];
    if (s.entities.entities_size() == 0) return absl::OkStatus();
    Target(p, s.entities.mutable_target());
    internal::v1::UpsertEntitiesResponse resp;
    KG_RETURN_IF_ERROR(host_->UpsertEntities(s.entities, &resp));
    for (const auto& item : resp.results()) KG_RETURN_IF_ERROR(FromItemStatus(item));
    s.entities.clear_entities();
    return absl::OkStatus();
  }
  absl::Status FlushCopies(uint32_t p) {
    Slot& s = slots_[p];
    if (s.copies.copies_size() == 0) return absl::OkStatus();
    Target(p, s.copies.mutable_target());
    internal::v1::UpsertEdgeCopiesResponse resp;
    KG_RETURN_IF_ERROR(host_->UpsertEdgeCopies(s.copies, &resp));
    for (const auto& item : resp.results()) KG_RETURN_IF_ERROR(FromItemStatus(item));
    s.copies.clear_copies();
    return absl::OkStatus();
  }

  PartitionHost* host_;
  std::vector<Slot> slots_;
};

}  // namespace

absl::StatusOr<LoadStats> LoadJsonlFile(const std::string& path, PartitionHost* host) {
  JsonlReader reader;
  KG_RETURN_IF_ERROR(reader.Open(path));
  Batcher batcher(host);
  LoadStats stats;
  v1::ImportRecord record;
  absl::Status line_status;
  uint32_t count = host->partition_count();
  while (reader.Next(&record, &line_status)) {
    ++stats.lines;
    KG_RETURN_IF_ERROR(line_status);
    auto fail = [&](const absl::Status& s) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", reader.line_number(), ": ", s.message()));
    };
    // Validate here so that an error names its line, not a batch position.
    int64_t now = NowMs();
    if (record.has_entity()) {
      EntityKey key;
      EntityData data;
      absl::Status valid = EntityFromProto(record.entity(), "entity", now, &key, &data);
      if (!valid.ok()) return fail(valid);
      uint32_t p = PartitionOf(KeyFromProto(record.entity().key()), count);
      if (host->partition(p) == nullptr) {
        ++stats.skipped;
        continue;
      }
      absl::Status s = batcher.AddEntity(p, record.entity());
      if (!s.ok()) return fail(s);
      ++stats.entities;
    } else {
      v1::Edge e;
      absl::Status valid = ValidateEdgeProto(record.edge(), "edge", now, &e);
      if (!valid.ok()) return fail(valid);
      uint32_t ps = PartitionOf(KeyFromProto(e.src()), count);
      uint32_t pd = PartitionOf(KeyFromProto(e.dst()), count);
      bool any = false;
      if (host->partition(ps) != nullptr) {
        absl::Status s = batcher.AddCopy(ps, e, v1::OUT);
        if (!s.ok()) return fail(s);
        ++stats.edge_copies;
        any = true;
      }
      if (host->partition(pd) != nullptr) {
        absl::Status s = batcher.AddCopy(pd, e, v1::IN);
        if (!s.ok()) return fail(s);
        ++stats.edge_copies;
        any = true;
      }
      if (!any) ++stats.skipped;
    }
  }
  absl::Status s = batcher.FlushAll();
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
  return stats;
}

}  // namespace kg
