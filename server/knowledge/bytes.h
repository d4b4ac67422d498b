// ByteWriter / ByteReader (and a stable hash): the little binary encoding of the model bundle's
// sections (varints, length-prefixed strings, little-endian floats). The reader never reads past
// its input: every method returns false on truncated or malformed bytes.
#ifndef KG_SERVER_KNOWLEDGE_BYTES_H_
#define KG_SERVER_KNOWLEDGE_BYTES_H_

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace kg::knowledge {

// FNV-1a, 64 bits, with the offset basis mixed with `seed` (0: plain FNV-1a): the bundle's
// checksum and the categorizer's deterministic validation split.
inline uint64_t Fnv1a64(absl::string_view bytes, uint64_t seed = 0) {
  uint64_t h = 1469598103934665603ull ^ (seed * 0x9e3779b97f4a7c15ull);
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

class ByteWriter {
 public:
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void Bytes(absl::string_view s) {
    Varint(s.size());
    out_.append(s.data(), s.size());
  }
  void Double(double d) {
    char b[8];
    std::memcpy(b, &d, 8);
    out_.append(b, 8);
  }
  void Float(float f) {
    char b[4];
    std::memcpy(b, &f, 4);
    out_.append(b, 4);
  }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(absl::string_view in) : in_(in) {}
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      uint8_t b = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Bytes(absl::string_view* s) {
    uint64_t n = 0;
    if (!Varint(&n) || n > in_.size()) return false;
    *s = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool String(std::string* s) {
    absl::string_view v;
    if (!Bytes(&v)) return false;
    s->assign(v.data(), v.size());
    return true;
  }
  bool Double(double* d) {
    if (in_.size() < 8) return false;
    std::memcpy(d, in_.data(), 8);
    in_.remove_prefix(8);
    return true;
  }
  // A double in [lo, hi] (so never NaN); false, having read it, otherwise.
  bool DoubleIn(double* d, double lo, double hi) { return Double(d) && *d >= lo && *d <= hi; }
  bool Probability(double* d) { return DoubleIn(d, 0, 1); }
  bool Float(float* f) {
    if (in_.size() < 4) return false;
    std::memcpy(f, in_.data(), 4);
    in_.remove_prefix(4);
    return true;
  }
  bool done() const { return in_.empty(); }
  size_t left() const { return in_.size(); }

 private:
  absl::string_view in_;
};

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_BYTES_H_
