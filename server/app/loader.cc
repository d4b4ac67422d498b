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

}  // namespace

// Per-partition batches of entities and edge copies, stored through the host's normal
// write path.
class HostLoader::Batcher {
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
    KG_RETURN_IF_ERROR(
        WaitFor([&](Done done) { host_->UpsertEntities(s.entities, &resp, std::move(done)); }));
    for (const auto& item : resp.results()) KG_RETURN_IF_ERROR(FromItemStatus(item));
    s.entities.clear_entities();
    return absl::OkStatus();
  }
  absl::Status FlushCopies(uint32_t p) {
    Slot& s = slots_[p];
    if (s.copies.copies_size() == 0) return absl::OkStatus();
    Target(p, s.copies.mutable_target());
    internal::v1::UpsertEdgeCopiesResponse resp;
    KG_RETURN_IF_ERROR(
        WaitFor([&](Done done) { host_->UpsertEdgeCopies(s.copies, &resp, std::move(done)); }));
    for (const auto& item : resp.results()) KG_RETURN_IF_ERROR(FromItemStatus(item));
    s.copies.clear_copies();
    return absl::OkStatus();
  }

  PartitionHost* host_;
  std::vector<Slot> slots_;
};

HostLoader::HostLoader(PartitionHost* host)
    : host_(host), batcher_(std::make_unique<Batcher>(host)) {}

HostLoader::~HostLoader() = default;

absl::Status HostLoader::Add(const v1::ImportRecord& record) {
  ++stats_.lines;
  uint32_t count = host_->partition_count();
  int64_t now = NowMs();
  if (record.has_entity()) {
    EntityKey key;
    EntityData data;
    KG_RETURN_IF_ERROR(EntityFromProto(record.entity(), "entity", now, &key, &data));
    uint32_t p = PartitionOf(key, count);
    if (host_->partition(p) == nullptr) {
      ++stats_.skipped;
      return absl::OkStatus();
    }
    KG_RETURN_IF_ERROR(batcher_->AddEntity(p, record.entity()));
    ++stats_.entities;
    return absl::OkStatus();
  }
  if (!record.has_edge()) return absl::InvalidArgumentError("record: neither entity nor edge");
  v1::Edge e;
  KG_RETURN_IF_ERROR(ValidateEdgeProto(record.edge(), "edge", now, &e));
  bool any = false;
  for (v1::Direction side : {v1::OUT, v1::IN}) {
    uint32_t p = PartitionOf(KeyFromProto(side == v1::OUT ? e.src() : e.dst()), count);
    if (host_->partition(p) == nullptr) continue;
    KG_RETURN_IF_ERROR(batcher_->AddCopy(p, e, side));
    ++stats_.edge_copies;
    any = true;
  }
  if (!any) ++stats_.skipped;
  return absl::OkStatus();
}

absl::Status HostLoader::Flush() { return batcher_->FlushAll(); }

absl::StatusOr<LoadStats> LoadJsonlFile(const std::string& path, PartitionHost* host) {
  JsonlReader reader;
  KG_RETURN_IF_ERROR(reader.Open(path));
  HostLoader loader(host);
  v1::ImportRecord record;
  absl::Status line_status;
  while (reader.Next(&record, &line_status)) {
    KG_RETURN_IF_ERROR(line_status);
    absl::Status s = loader.Add(record);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", reader.line_number(), ": ", s.message()));
    }
  }
  absl::Status s = loader.Flush();
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
  return loader.stats();
}

}  // namespace kg
