#include "server/partition/convert.h"

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/io/coded_stream.h"
#include "server/graph/schema.h"

namespace kg {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

absl::Status ParseReadMask(const google::protobuf::FieldMask& mask, absl::string_view field,
                           ReadMask* out) {
  *out = ReadMask();
  if (mask.paths_size() == 0) return absl::OkStatus();
  out->name = out->update_time = out->all_attributes = out->all_metrics = false;
  for (int i = 0; i < mask.paths_size(); ++i) {
    const std::string& path = mask.paths(i);
    if (path == "name") {
      out->name = true;
    } else if (path == "update_time_ms" || path == "updateTimeMs") {
      out->update_time = true;
    } else if (path == "attributes") {
      out->all_attributes = true;
    } else if (path == "metrics") {
      out->all_metrics = true;
    } else if (absl::StartsWith(path, "attributes.") && path.size() > 11) {
      out->attributes.insert(path.substr(11));
    } else if (absl::StartsWith(path, "metrics.") && path.size() > 8) {
      out->metrics.insert(path.substr(8));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".paths[", i, "]: unknown path \"", path,
                       "\" (use name, attributes, metrics, update_time_ms, attributes.<name>, "
                       "metrics.<name>)"));
    }
  }
  return absl::OkStatus();
}

EntityKey KeyFromProto(const v1::EntityKey& key) {
  return EntityKey{static_cast<EntityType>(key.type() >= 0 && key.type() < 256 ? key.type() : 255),
                   key.id()};
}

absl::Status ValidateKey(const v1::EntityKey& key, absl::string_view field) {
  if (!IsValidEntityType(key.type())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".type: must be a known entity type, got ", key.type()));
  }
  return ValidateKey(KeyFromProto(key), field);
}

absl::Status ValidateKey(const v1::EntityKey& key, const ItemField& field) {
  absl::Status s = ValidateKey(key, absl::string_view());
  return s.ok() ? s : ValidateKey(key, field.Name());
}

void KeyToProto(const EntityKey& key, v1::EntityKey* out) {
  out->set_type(static_cast<v1::EntityType>(key.type));
  out->set_id(key.id);
}

absl::Status EntityFromProto(const v1::Entity& entity, absl::string_view field, int64_t now_ms,
                             EntityKey* key, EntityData* data) {
  if (!entity.has_key()) return absl::InvalidArgumentError(absl::StrCat(field, ".key: required"));
  if (!IsValidEntityType(entity.key().type())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".key.type: must be a known entity type, got ", entity.key().type()));
  }
  *key = KeyFromProto(entity.key());
  absl::Status s = ValidateKey(*key, absl::StrCat(field, ".key"));
  if (!s.ok()) return s;
  if (entity.name().size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".name: longer than ", kMaxNameBytes, " bytes"));
  }
  if (entity.attributes_size() > static_cast<int>(kMaxMapEntries)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".attributes: more than ", kMaxMapEntries, " entries"));
  }
  if (entity.metrics_size() > static_cast<int>(kMaxMapEntries)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".metrics: more than ", kMaxMapEntries, " entries"));
  }
  if (entity.update_time_ms() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".update_time_ms: must not be negative"));
  }
  *data = EntityData();
  data->name = entity.name();
  data->update_time_ms = entity.update_time_ms() == 0 ? now_ms : entity.update_time_ms();
  data->attributes.reserve(entity.attributes_size());
  for (const auto& [k, v] : entity.attributes()) {
    if (k.empty() || k.size() > kMaxAttributeKeyBytes) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".attributes[", k.substr(0, 64),
                                                     "]: name must be 1..", kMaxAttributeKeyBytes,
                                                     " bytes"));
    }
    if (v.size() > kMaxAttributeValueBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".attributes[", k, "]: value longer than ", kMaxAttributeValueBytes, " bytes"));
    }
    data->attributes.emplace_back(k, v);
  }
  data->metrics.reserve(entity.metrics_size());
  for (const auto& [k, v] : entity.metrics()) {
    if (k.empty() || k.size() > kMaxAttributeKeyBytes) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".metrics[", k.substr(0, 64),
                                                     "]: name must be 1..", kMaxAttributeKeyBytes,
                                                     " bytes"));
    }
    if (!std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".metrics[", k, "]: must be a finite number"));
    }
    data->metrics.emplace_back(k, v);
  }
  NormalizeEntity(data);
  return absl::OkStatus();
}

void EntityToProto(const EntityKey& key, const EntityData& data, const ReadMask& mask,
                   v1::Entity* out) {
  KeyToProto(key, out->mutable_key());
  if (mask.name) out->set_name(data.name);
  if (mask.update_time) out->set_update_time_ms(data.update_time_ms);
  if (mask.all_attributes || !mask.attributes.empty()) {
    auto* attrs = out->mutable_attributes();
    for (const auto& [k, v] : data.attributes) {
      if (mask.all_attributes || mask.attributes.contains(k)) (*attrs)[k] = v;
    }
  }
  if (mask.all_metrics || !mask.metrics.empty()) {
    auto* metrics = out->mutable_metrics();
    for (const auto& [k, v] : data.metrics) {
      if (mask.all_metrics || mask.metrics.contains(k)) (*metrics)[k] = v;
    }
  }
}

void AppendEncodedEntity(const EntityKey& key, absl::string_view encoded, std::string* out) {
  using google::protobuf::io::CodedOutputStream;
  // Field 1 (key, length-delimited): { type = 1 (varint), id = 2 (varint) }.
  uint8_t buf[2 + 1 + 5 + 1 + 10];  // tag, length, two tags and two varints
  uint8_t* body = buf + 2;
  uint8_t* p = body;
  *p++ = (1 << 3) | 0;
  p = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(key.type), p);
  *p++ = (2 << 3) | 0;
  p = CodedOutputStream::WriteVarint64ToArray(key.id, p);
  buf[0] = (1 << 3) | 2;
  buf[1] = static_cast<uint8_t>(p - body);
  out->reserve(out->size() + (p - buf) + encoded.size());
  out->append(reinterpret_cast<const char*>(buf), p - buf);
  out->append(encoded.data(), encoded.size());
}

absl::Status ValidateEdgeProto(const v1::Edge& edge, absl::string_view field, int64_t now_ms,
                               v1::Edge* normalized) {
  if (!edge.has_src()) return absl::InvalidArgumentError(absl::StrCat(field, ".src: required"));
  if (!edge.has_dst()) return absl::InvalidArgumentError(absl::StrCat(field, ".dst: required"));
  if (!IsValidEntityType(edge.src().type())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".src.type: must be a known entity type, got ", edge.src().type()));
  }
  if (!IsValidEntityType(edge.dst().type())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".dst.type: must be a known entity type, got ", edge.dst().type()));
  }
  absl::Status s =
      ValidateEdge(KeyFromProto(edge.src()),
                   static_cast<EdgeType>(IsValidEdgeType(edge.type()) ? edge.type() : 0),
                   KeyFromProto(edge.dst()), edge.time_ms(), field);
  if (!s.ok()) {
    if (!IsValidEdgeType(edge.type())) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".type: must be a known edge type, got ", edge.type()));
    }
    return s;
  }
  // Stored as a 32-bit float: a double beyond its range would become infinite.
  if (!std::isfinite(static_cast<float>(edge.weight()))) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".weight: must be a finite number within the 32-bit float range (|w| < 3.4e38)"));
  }
  if (normalized != nullptr) {
    *normalized = edge;
    if (edge.time_ms() == 0) normalized->set_time_ms(now_ms);
  }
  return absl::OkStatus();
}

}  // namespace kg
