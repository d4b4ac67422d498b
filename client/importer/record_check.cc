#include "client/importer/record_check.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"

namespace kg {
namespace {

constexpr size_t kMaxNameBytes = 4096;
constexpr size_t kMaxMapEntries = 256;
constexpr size_t kMaxMapKeyBytes = 128;
constexpr size_t kMaxAttributeValueBytes = 4096;

absl::Status Bad(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::Status CheckKey(const v1::EntityKey& key, absl::string_view field) {
  if (key.type() == v1::ENTITY_TYPE_UNSPECIFIED || !v1::EntityType_IsValid(key.type())) {
    return Bad(absl::StrCat(field, ".type"),
               absl::StrCat("must be a known entity type, got ", static_cast<int>(key.type())));
  }
  if (key.id() == 0) return Bad(absl::StrCat(field, ".id"), "must not be 0");
  return absl::OkStatus();
}

absl::Status CheckText(absl::string_view text, absl::string_view field) {
  if (!IsValidUtf8(text)) return Bad(field, "invalid UTF-8");
  return absl::OkStatus();
}

absl::Status CheckEntity(const v1::Entity& entity) {
  if (!entity.has_key()) return Bad("entity.key", "required");
  absl::Status s = CheckKey(entity.key(), "entity.key");
  if (!s.ok()) return s;
  if (entity.name().size() > kMaxNameBytes) {
    return Bad("entity.name", absl::StrCat(entity.name().size(), " bytes, at most 4096"));
  }
  s = CheckText(entity.name(), "entity.name");
  if (!s.ok()) return s;
  if (entity.update_time_ms() < 0) return Bad("entity.update_time_ms", "must not be negative");
  if (entity.attributes_size() > static_cast<int>(kMaxMapEntries)) {
    return Bad("entity.attributes", "more than 256 entries");
  }
  if (entity.metrics_size() > static_cast<int>(kMaxMapEntries)) {
    return Bad("entity.metrics", "more than 256 entries");
  }
  for (const auto& [k, v] : entity.attributes()) {
    const std::string field = absl::StrCat("entity.attributes[", k.substr(0, 64), "]");
    if (k.empty() || k.size() > kMaxMapKeyBytes) return Bad(field, "name must be 1..128 bytes");
    if (v.size() > kMaxAttributeValueBytes) return Bad(field, "value longer than 4096 bytes");
    s = CheckText(k, field);
    if (s.ok()) s = CheckText(v, field);
    if (!s.ok()) return s;
  }
  for (const auto& [k, v] : entity.metrics()) {
    const std::string field = absl::StrCat("entity.metrics[", k.substr(0, 64), "]");
    if (k.empty() || k.size() > kMaxMapKeyBytes) return Bad(field, "name must be 1..128 bytes");
    if (!std::isfinite(v)) return Bad(field, "must be a finite number");
    s = CheckText(k, field);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CheckEdge(const v1::Edge& edge) {
  EdgeEnds ends;
  if (!EdgeSchemaOf(edge.type(), &ends)) {
    return Bad("edge.type",
               absl::StrCat("must be a known edge type, got ", static_cast<int>(edge.type())));
  }
  if (!edge.has_src()) return Bad("edge.src", "required");
  if (!edge.has_dst()) return Bad("edge.dst", "required");
  absl::Status s = CheckKey(edge.src(), "edge.src");
  if (s.ok()) s = CheckKey(edge.dst(), "edge.dst");
  if (!s.ok()) return s;
  const std::string& type = v1::EdgeType_Name(edge.type());
  if (edge.src().type() != ends.src) {
    return Bad("edge.src.type",
               absl::StrCat(type, " edges start at ", v1::EntityType_Name(ends.src), ", got ",
                            v1::EntityType_Name(edge.src().type())));
  }
  if (edge.dst().type() != ends.dst) {
    return Bad("edge.dst.type", absl::StrCat(type, " edges end at ", v1::EntityType_Name(ends.dst),
                                             ", got ", v1::EntityType_Name(edge.dst().type())));
  }
  if (edge.src().type() == edge.dst().type() && edge.src().id() == edge.dst().id()) {
    return Bad("edge.dst", "an edge cannot loop to its source");
  }
  if (edge.time_ms() < 0) return Bad("edge.time_ms", "must not be negative");
  // The server stores weights as 32-bit floats and refuses what would become infinite.
  if (!std::isfinite(static_cast<float>(edge.weight()))) {
    return Bad("edge.weight",
               "must be a finite number within the 32-bit float range (|w| < 3.4e38)");
  }
  return absl::OkStatus();
}

}  // namespace

bool EdgeSchemaOf(v1::EdgeType type, EdgeEnds* ends) {
  using v1::EntityType;
  switch (type) {
    case v1::IN_CATEGORY:
      *ends = {v1::PRODUCT, v1::CATEGORY};
      return true;
    case v1::SUBCATEGORY_OF:
      *ends = {v1::CATEGORY, v1::CATEGORY};
      return true;
    case v1::HAS_BRAND:
      *ends = {v1::PRODUCT, v1::BRAND};
      return true;
    case v1::INSTANCE_OF:
      *ends = {v1::PRODUCT, v1::SPU};
      return true;
    case v1::SOLD_BY:
      *ends = {v1::PRODUCT, v1::MERCHANT};
      return true;
    case v1::PROMOTES:
      *ends = {v1::INFLUENCER, v1::PRODUCT};
      return true;
    case v1::FEATURES:
      *ends = {v1::CONTENT, v1::PRODUCT};
      return true;
    case v1::POSTED:
      *ends = {v1::INFLUENCER, v1::CONTENT};
      return true;
    case v1::VIEWED:
    case v1::CLICKED:
    case v1::ADDED_TO_CART:
    case v1::PURCHASED:
      *ends = {v1::BUYER, v1::PRODUCT};
      return true;
    case v1::FOLLOWS:
      *ends = {v1::BUYER, v1::INFLUENCER};
      return true;
    default:
      return false;
  }
}

bool IsValidUtf8(absl::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= extra) return false;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += extra + 1;
  }
  return true;
}

absl::Status CheckRecord(const v1::ImportRecord& record) {
  switch (record.record_case()) {
    case v1::ImportRecord::kEntity:
      return CheckEntity(record.entity());
    case v1::ImportRecord::kEdge:
      return CheckEdge(record.edge());
    default:
      return Bad("record", "neither entity nor edge is set");
  }
}

}  // namespace kg
