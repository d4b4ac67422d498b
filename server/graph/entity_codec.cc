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

}  // namespace

std::string EncodeEntity(const EntityData& data) {
  std::string out;
  out.push_back(1);  // format version
  PutString(&out, data.name);
  PutVarint(&out, static_cast<uint64_t>(data.update_time_ms));
  PutVarint(&out, data.attributes.size());
  for (const auto& [k, v] : data.attributes) {
    PutString(&out, k);
    PutString(&out, v);
  }
  PutVarint(&out, data.metrics.size());
  for (const auto& [k, v] : data.metrics) {
    PutString(&out, k);
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((bits >> (i * 8)) & 0xff));
  }
  return out;
}

absl::Status DecodeEntity(absl::string_view bytes, EntityData* data) {
  auto bad = [] { return absl::DataLossError("undecodable entity record"); };
  if (bytes.empty() || bytes[0] != 1) return bad();
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

}  // namespace kg
