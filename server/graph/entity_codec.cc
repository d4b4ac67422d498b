#include "server/graph/entity_codec.h"

#include <cstring>

namespace kg {
namespace {

void PutVarint(std::string* s, uint64_t v) {
  while (v >= 0x80) {
    s->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  s->push_back(static_cast<char>(v));
}

bool GetVarint(absl::string_view s, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *pos < s.size(); shift += 7) {
    uint8_t b = static_cast<uint8_t>(s[(*pos)++]);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

void PutString(std::string* s, absl::string_view v) {
  PutVarint(s, v.size());
  s->append(v.data(), v.size());
}

bool GetString(absl::string_view s, size_t* pos, std::string* v) {
  uint64_t n = 0;
  if (!GetVarint(s, pos, &n) || n > s.size() - *pos) return false;
  v->assign(s.data() + *pos, n);
  *pos += n;
  return true;
}

// Protobuf wire types and the tags of kg.v1.Entity's fields (proto/kg/v1/types.proto).
constexpr int kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5;
constexpr uint8_t kNameTag = (2 << 3) | kLength;
constexpr uint8_t kAttributeTag = (3 << 3) | kLength;
constexpr uint8_t kMetricTag = (4 << 3) | kLength;
constexpr uint8_t kUpdateTimeTag = (5 << 3) | kVarint;
// Map entries: key = 1, value = 2.
constexpr uint8_t kEntryKeyTag = (1 << 3) | kLength;
constexpr uint8_t kEntryStringTag = (2 << 3) | kLength;
constexpr uint8_t kEntryDoubleTag = (2 << 3) | kFixed64;

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

size_t StringFieldSize(absl::string_view v) { return 1 + VarintSize(v.size()) + v.size(); }

void PutStringField(std::string* s, uint8_t tag, absl::string_view v) {
  s->push_back(static_cast<char>(tag));
  PutString(s, v);
}

uint64_t GetFixed64(absl::string_view s, size_t pos) {
  uint64_t bits = 0;
  for (int i = 7; i >= 0; --i) bits = (bits << 8) | static_cast<uint8_t>(s[pos + i]);
  return bits;
}

// Skips a field of wire type `wire` at *pos; false when it does not fit.
bool SkipField(absl::string_view s, size_t* pos, int wire) {
  uint64_t n = 0;
  switch (wire) {
    case kVarint:
      return GetVarint(s, pos, &n);
    case kFixed64:
      n = 8;
      break;
    case kFixed32:
      n = 4;
      break;
    case kLength:
      if (!GetVarint(s, pos, &n)) return false;
      break;
    default:
      return false;
  }
  if (n > s.size() - *pos) return false;
  *pos += n;
  return true;
}

// Reads a map entry (key = 1, value = 2: a string, or a double when `str` is null).
bool GetEntry(absl::string_view entry, std::string* key, std::string* str, double* num) {
  key->clear();
  if (str != nullptr) str->clear();
  if (num != nullptr) *num = 0;
  size_t pos = 0;
  while (pos < entry.size()) {
    uint64_t tag = 0;
    if (!GetVarint(entry, &pos, &tag)) return false;
    if (tag == kEntryKeyTag) {
      if (!GetString(entry, &pos, key)) return false;
    } else if (str != nullptr && tag == kEntryStringTag) {
      if (!GetString(entry, &pos, str)) return false;
    } else if (num != nullptr && tag == kEntryDoubleTag) {
      if (entry.size() - pos < 8) return false;
      uint64_t bits = GetFixed64(entry, pos);
      pos += 8;
      std::memcpy(num, &bits, sizeof *num);
    } else if (!SkipField(entry, &pos, static_cast<int>(tag & 7))) {
      return false;
    }
  }
  return true;
}

// The first format (kept readable for data directories written before the change):
//   version(1) name(varint len + bytes) update_time(varint)
//   n_attributes(varint) { key, value }*   n_metrics(varint) { key, double(8, big-endian) }*
absl::Status DecodeVersion1(absl::string_view bytes, EntityData* data) {
  auto bad = [] { return absl::DataLossError("undecodable entity record"); };
  size_t pos = 1;
  uint64_t v = 0, n = 0;
  if (!GetString(bytes, &pos, &data->name) || !GetVarint(bytes, &pos, &v)) return bad();
  data->update_time_ms = static_cast<int64_t>(v);
  if (!GetVarint(bytes, &pos, &n) || n > bytes.size()) return bad();
  data->attributes.resize(n);
  for (auto& [k, val] : data->attributes) {
    if (!GetString(bytes, &pos, &k) || !GetString(bytes, &pos, &val)) return bad();
  }
  if (!GetVarint(bytes, &pos, &n) || n > bytes.size()) return bad();
  data->metrics.resize(n);
  for (auto& [k, val] : data->metrics) {
    if (!GetString(bytes, &pos, &k) || bytes.size() - pos < 8) return bad();
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<uint8_t>(bytes[pos + i]);
    pos += 8;
    std::memcpy(&val, &bits, sizeof val);
  }
  if (pos != bytes.size()) return bad();
  return absl::OkStatus();
}

}  // namespace

std::string EncodeEntity(const EntityData& data) {
  size_t size = data.name.empty() ? 0 : StringFieldSize(data.name);
  for (const auto& [k, v] : data.attributes) {
    size_t entry = StringFieldSize(k) + StringFieldSize(v);
    size += 1 + VarintSize(entry) + entry;
  }
  for (const auto& [k, v] : data.metrics) {
    size_t entry = StringFieldSize(k) + 9;
    size += 1 + VarintSize(entry) + entry;
  }
  if (data.update_time_ms != 0) size += 1 + VarintSize(static_cast<uint64_t>(data.update_time_ms));
  std::string out;
  out.reserve(size);
  if (!data.name.empty()) PutStringField(&out, kNameTag, data.name);
  for (const auto& [k, v] : data.attributes) {
    out.push_back(static_cast<char>(kAttributeTag));
    PutVarint(&out, StringFieldSize(k) + StringFieldSize(v));
    PutStringField(&out, kEntryKeyTag, k);
    PutStringField(&out, kEntryStringTag, v);
  }
  for (const auto& [k, v] : data.metrics) {
    out.push_back(static_cast<char>(kMetricTag));
    PutVarint(&out, StringFieldSize(k) + 9);
    PutStringField(&out, kEntryKeyTag, k);
    out.push_back(static_cast<char>(kEntryDoubleTag));
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((bits >> (i * 8)) & 0xff));
  }
  if (data.update_time_ms != 0) {
    out.push_back(static_cast<char>(kUpdateTimeTag));
    PutVarint(&out, static_cast<uint64_t>(data.update_time_ms));
  }
  return out;
}

absl::Status DecodeEntity(absl::string_view bytes, EntityData* data) {
  if (!bytes.empty() && bytes[0] == 1) return DecodeVersion1(bytes, data);
  auto bad = [] { return absl::DataLossError("undecodable entity record"); };
  data->name.clear();
  data->update_time_ms = 0;
  size_t attributes = 0, metrics = 0;
  size_t pos = 0;
  while (pos < bytes.size()) {
    uint64_t tag = 0, v = 0;
    if (!GetVarint(bytes, &pos, &tag)) return bad();
    if (tag == kNameTag) {
      if (!GetString(bytes, &pos, &data->name)) return bad();
    } else if (tag == kAttributeTag || tag == kMetricTag) {
      uint64_t n = 0;
      if (!GetVarint(bytes, &pos, &n) || n > bytes.size() - pos) return bad();
      absl::string_view entry = bytes.substr(pos, n);
      pos += n;
      bool ok;
      if (tag == kAttributeTag) {
        if (data->attributes.size() <= attributes) data->attributes.resize(attributes + 1);
        auto& [k, val] = data->attributes[attributes++];
        ok = GetEntry(entry, &k, &val, nullptr);
      } else {
        if (data->metrics.size() <= metrics) data->metrics.resize(metrics + 1);
        auto& [k, val] = data->metrics[metrics++];
        ok = GetEntry(entry, &k, nullptr, &val);
      }
      if (!ok) return bad();
    } else if (tag == kUpdateTimeTag) {
      if (!GetVarint(bytes, &pos, &v)) return bad();
      data->update_time_ms = static_cast<int64_t>(v);
    } else if (!SkipField(bytes, &pos, static_cast<int>(tag & 7))) {
      return bad();
    }
  }
  data->attributes.resize(attributes);
  data->metrics.resize(metrics);
  return absl::OkStatus();
}

}  // namespace kg
