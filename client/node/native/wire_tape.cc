#include "wire_tape.h"

#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor_database.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>

namespace kg::native {
namespace {

namespace pb = google::protobuf;

enum class Kind : uint8_t {
  kInt32,
  kSint32,
  kUint32,
  kInt64,
  kSint64,
  kUint64,
  kBool,
  kEnum,
  kFixed32,
  kSfixed32,
  kFloat,
  kFixed64,
  kSfixed64,
  kDouble,
  kString,
  kMessage,
  kMap,
};

// The wire type a field of `kind` is written with (unpacked).
int WireType(Kind kind) {
  switch (kind) {
    case Kind::kFixed32:
    case Kind::kSfixed32:
    case Kind::kFloat:
      return 5;
    case Kind::kFixed64:
    case Kind::kSfixed64:
    case Kind::kDouble:
      return 1;
    case Kind::kString:
    case Kind::kMessage:
    case Kind::kMap:
      return 2;
    default:
      return 0;
  }
}

// Whether a field of `kind` is a 64-bit integer (a decimal string in protobuf.js's objects).
bool Is64(Kind kind) {
  return kind == Kind::kInt64 || kind == Kind::kSint64 || kind == Kind::kUint64 ||
         kind == Kind::kFixed64 || kind == Kind::kSfixed64;
}

// protobuf.js's util.camelCase, which proto-loader applies to field and oneof names
// (keepCase: false): the first character kept, then every "_x" with x in a-z made "X".
std::string CamelCase(const std::string& name) {
  std::string out = name.substr(0, 1);
  for (size_t i = 1; i < name.size(); ++i) {
    if (name[i] == '_' && i + 1 < name.size() && name[i + 1] >= 'a' && name[i + 1] <= 'z') {
      out.push_back(static_cast<char>(name[i + 1] - 'a' + 'A'));
      ++i;
    } else {
      out.push_back(name[i]);
    }
  }
  return out;
}

}  // namespace

struct WireTape::Message {
  struct Field {
    Kind kind = Kind::kInt32;
    bool repeated = false;
    uint32_t number = 0;
    int oneof = -1;              // index into oneofs; -1: not in a oneof (its default is written)
    int member = -1;             // its index among its oneof's members
    std::vector<int32_t> empty;  // the default's ops
    const Message* message = nullptr;                             // kMessage, kMap (the entry)
    const std::unordered_map<int32_t, int32_t>* names = nullptr;  // kEnum: number -> name
  };
  std::vector<Field> fields;
  std::vector<int> slot_of;               // field number -> index into fields, -1 none
  std::map<uint32_t, int> slot_of_large;  // numbers >= slot_of.size()
  std::vector<int> order;                 // the fields not in a oneof, in key order
  size_t oneofs = 0;
  int32_t index = 0;  // the plan's number in the tape
  bool supported = true;

  int Slot(uint32_t number) const {
    if (number < slot_of.size()) return slot_of[number];
    auto it = slot_of_large.find(number);
    return it == slot_of_large.end() ? -1 : it->second;
  }
};

namespace {

// A hash of a short string (at most Tape::kMaxSharedBytes): its first, middle and last 8 bytes (or
// all of it) as words, multiplied and folded.
uint32_t Hash(const char* s, size_t size) {
  uint64_t a = 0, b = 0, c = 0;
  if (size >= 8) {
    std::memcpy(&a, s, 8);
    std::memcpy(&b, s + size - 8, 8);
    std::memcpy(&c, s + size / 2 - 4, 8);
  } else {
    std::memcpy(&a, s, size);
  }
  uint64_t h = (a * 0x9e3779b97f4a7c15ull) ^ (b * 0xc2b2ae3d27d4eb4full) ^
               (c * 0x165667b19e3779f9ull) ^ size;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return static_cast<uint32_t>(h >> 32);
}

}  // namespace

void Tape::Clear() {
  ops.clear();
  nums.clear();
  bytes.clear();
  strings.clear();
  shared_ = 0;
  if (index_.size() != 256) {
    index_.assign(256, 0);
  } else {
    std::fill(index_.begin(), index_.end(), 0);
  }
}

void Tape::AddString(const char* s, size_t size, bool ascii) {
  if (size == 0) {
    ops.push_back(kEmpty);
    return;
  }
  size_t at = 0;
  if (size <= kMaxSharedBytes) {
    const size_t mask = index_.size() - 1;
    for (at = Hash(s, size) & mask; index_[at] != 0; at = (at + 1) & mask) {
      const Text& seen = strings[static_cast<size_t>(index_[at] - 1)];
      if (seen.size == size && std::memcmp(bytes.data() + seen.offset, s, size) == 0) {
        ops.push_back(kString);
        ops.push_back(index_[at] - 1);
        return;
      }
    }
  }
  const size_t n = strings.size();
  ops.push_back(kString);
  ops.push_back(static_cast<int32_t>(n));
  strings.push_back(Text{static_cast<uint32_t>(bytes.size()), static_cast<uint32_t>(size), ascii});
  bytes.append(s, size);
  if (size > kMaxSharedBytes) return;
  index_[at] = static_cast<int32_t>(n + 1);
  if (++shared_ * 2 > index_.size()) {  // rehash into twice the slots
    std::vector<int32_t> bigger(index_.size() * 2, 0);
    const size_t wider = bigger.size() - 1;
    for (size_t k = 0; k < strings.size(); ++k) {
      if (strings[k].size > kMaxSharedBytes) continue;
      size_t slot = Hash(bytes.data() + strings[k].offset, strings[k].size) & wider;
      while (bigger[slot] != 0) slot = (slot + 1) & wider;
      bigger[slot] = static_cast<int32_t>(k + 1);
    }
    index_.swap(bigger);
  }
}

namespace {

using Message = WireTape::Message;
constexpr int kMaxDepth = 100;  // protobuf.js's util.recursionLimit

// Reads the wire format; every read checks its bounds (false: malformed).
struct Reader {
  const uint8_t* p;
  const uint8_t* end;

  bool more() const { return p < end; }
  // protobuf.js reads at most ten bytes of a varint.
  bool Varint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p >= end) return false;
      const uint8_t b = *p++;
      if (shift < 64) result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  // protobuf.js's uint32(), which reads tags, lengths and 32-bit values: the low 32 bits
  // of the first five bytes, then five more bytes skipped unread. Varints of six to nine
  // bytes (which no encoder writes) it would misread: declined.
  bool Varint32(uint32_t* v) {
    const uint8_t* start = p;
    uint64_t wide = 0;
    if (!Varint(&wide)) return false;
    const ptrdiff_t length = p - start;
    if (length > 5 && length != 10) return false;
    *v = static_cast<uint32_t>(wide);
    return true;
  }
  bool Fixed32(uint32_t* v) {
    if (end - p < 4) return false;
    std::memcpy(v, p, 4);  // little-endian machines only (x86-64, arm64)
    p += 4;
    return true;
  }
  bool Fixed64(uint64_t* v) {
    if (end - p < 8) return false;
    std::memcpy(v, p, 8);
    p += 8;
    return true;
  }
  bool Delimited(Reader* inner) {
    uint32_t n = 0;
    if (!Varint32(&n) || n > static_cast<uint64_t>(end - p)) return false;
    *inner = Reader{p, p + n};
    p += n;
    return true;
  }
  bool Skip(int wire_type) {
    uint64_t v = 0;
    Reader ignored{nullptr, nullptr};
    switch (wire_type) {
      case 0:  // protobuf.js skips varints by their continuation bits
        return Varint(&v);
      case 1:
        return Fixed64(&v);
      case 2:
        return Delimited(&ignored);
      case 5: {
        uint32_t w = 0;
        return Fixed32(&w);
      }
      default:  // groups (3, 4) and invalid types
        return false;
    }
  }
};

// Whether `s` is well-formed UTF-8 (overlong forms, surrogates and code points above
// U+10FFFF are not); *ascii: whether it is all ASCII.
bool Utf8(const uint8_t* s, const uint8_t* end, bool* ascii) {
  *ascii = true;
  while (s < end) {
    const uint8_t c = *s;
    if (c < 0x80) {
      ++s;
      continue;
    }
    *ascii = false;
    int length = 0;
    uint32_t lowest = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2, lowest = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3, lowest = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4, lowest = 0x10000;
    } else {
      return false;
    }
    if (end - s < length) return false;
    uint32_t cp = c & (0xff >> (length + 1));
    for (int i = 1; i < length; ++i) {
      if ((s[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < lowest || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    s += length;
  }
  return true;
}

// A validated UTF-8 string as a tape value.
bool String(const uint8_t* s, const uint8_t* end, Tape* tape) {
  bool ascii = true;
  if (!Utf8(s, end, &ascii)) return false;
  tape->AddString(reinterpret_cast<const char*>(s), static_cast<size_t>(end - s), ascii);
  return true;
}

// An integer as a decimal string (protobuf.js with longs: String; map keys).
template <typename T>
void Decimal(T v, Tape* tape) {
  char buffer[24];
  auto r = std::to_chars(buffer, buffer + sizeof buffer, v);
  const size_t n = static_cast<size_t>(r.ptr - buffer);
  tape->AddString(buffer, n, /*ascii=*/true);
}

void Int(int32_t v, Tape* tape) {
  tape->ops.push_back(Tape::kInt);
  tape->ops.push_back(v);
}

void Unsigned32(uint32_t v, Tape* tape) {
  if (v <= 0x7fffffffu) return Int(static_cast<int32_t>(v), tape);
  tape->ops.push_back(Tape::kNumber);
  tape->nums.push_back(static_cast<double>(v));
}

void Double(double v, Tape* tape) {
  tape->ops.push_back(Tape::kNumber);
  tape->nums.push_back(v);
}

bool Object(const Message& m, Reader r, int depth, Tape* tape);

// A 32-bit integer, enum or bool field's value as protobuf.js reads it (the low 32 bits of
// a varint, signed or zigzag or unsigned by kind; bools as 0 or 1); false for other kinds
// or malformed bytes.
bool Read32(Kind kind, Reader* r, int64_t* out) {
  uint32_t w = 0;
  switch (kind) {
    case Kind::kInt32:
    case Kind::kEnum:
      if (!r->Varint32(&w)) return false;
      *out = static_cast<int32_t>(w);
      return true;
    case Kind::kSint32:
      if (!r->Varint32(&w)) return false;
      *out = static_cast<int32_t>((w >> 1) ^ (0u - (w & 1)));
      return true;
    case Kind::kUint32:
      if (!r->Varint32(&w)) return false;
      *out = w;
      return true;
    case Kind::kBool:
      if (!r->Varint32(&w)) return false;
      *out = w != 0;
      return true;
    case Kind::kFixed32:
      if (!r->Fixed32(&w)) return false;
      *out = w;
      return true;
    case Kind::kSfixed32:
      if (!r->Fixed32(&w)) return false;
      *out = static_cast<int32_t>(w);
      return true;
    default:
      return false;
  }
}

// One value of field `f` (its wire type checked by the caller; packed elements read as
// their unpacked wire type).
bool Value(const Message::Field& f, Reader* r, int depth, Tape* tape) {
  uint64_t v = 0;
  int64_t n = 0;
  switch (f.kind) {
    case Kind::kInt32:
    case Kind::kSint32:
    case Kind::kSfixed32:
      if (!Read32(f.kind, r, &n)) return false;
      Int(static_cast<int32_t>(n), tape);
      return true;
    case Kind::kUint32:
    case Kind::kFixed32:
      if (!Read32(f.kind, r, &n)) return false;
      Unsigned32(static_cast<uint32_t>(n), tape);
      return true;
    case Kind::kBool:
      if (!Read32(f.kind, r, &n)) return false;
      tape->ops.push_back(n != 0 ? Tape::kTrue : Tape::kFalse);
      return true;
    case Kind::kEnum: {
      if (!Read32(f.kind, r, &n)) return false;
      auto it = f.names->find(static_cast<int32_t>(n));
      if (it == f.names->end()) {
        Int(static_cast<int32_t>(n), tape);  // an unknown value stays a number
      } else {
        tape->ops.push_back(Tape::kName);
        tape->ops.push_back(it->second);
      }
      return true;
    }
    case Kind::kInt64:
      if (!r->Varint(&v)) return false;
      Decimal(static_cast<int64_t>(v), tape);
      return true;
    case Kind::kSint64:
      if (!r->Varint(&v)) return false;
      Decimal(static_cast<int64_t>((v >> 1) ^ (0ull - (v & 1))), tape);
      return true;
    case Kind::kUint64:
      if (!r->Varint(&v)) return false;
      Decimal(v, tape);
      return true;
    case Kind::kFloat: {
      uint32_t w = 0;
      if (!r->Fixed32(&w)) return false;
      float x;
      std::memcpy(&x, &w, sizeof x);
      Double(static_cast<double>(x), tape);
      return true;
    }
    case Kind::kFixed64:
      if (!r->Fixed64(&v)) return false;
      Decimal(v, tape);
      return true;
    case Kind::kSfixed64:
      if (!r->Fixed64(&v)) return false;
      Decimal(static_cast<int64_t>(v), tape);
      return true;
    case Kind::kDouble: {
      if (!r->Fixed64(&v)) return false;
      double x;
      std::memcpy(&x, &v, sizeof x);
      Double(x, tape);
      return true;
    }
    case Kind::kString: {
      Reader s{nullptr, nullptr};
      return r->Delimited(&s) && String(s.p, s.end, tape);
    }
    case Kind::kMessage: {
      Reader inner{nullptr, nullptr};
      return r->Delimited(&inner) && Object(*f.message, inner, depth + 1, tape);
    }
    case Kind::kMap:
      return false;  // entries are written by Entry
  }
  return false;
}

// A map key that is not a string, as the property name protobuf.js gives it: the decimal
// integer, or "true" / "false" (64-bit keys are not supported: plans refuse them).
bool KeyText(const Message::Field& k, Reader* r, Tape* tape) {
  int64_t n = 0;
  if (!Read32(k.kind, r, &n)) return false;
  if (k.kind == Kind::kBool) {
    tape->AddString(n != 0 ? "true" : "false", n != 0 ? 4 : 5, /*ascii=*/true);
  } else {
    Decimal(n, tape);
  }
  return true;
}

// One map entry, key then value, of field `f` (the entry's bytes in `r`).
bool Entry(const Message::Field& f, Reader r, int depth, Tape* tape) {
  const Message& entry = *f.message;
  const Message::Field& k = entry.fields[entry.Slot(1)];
  const Message::Field& v = entry.fields[entry.Slot(2)];
  Reader key{nullptr, nullptr}, value{nullptr, nullptr};
  bool has_key = false, has_value = false;
  while (r.more()) {
    uint32_t tag = 0;
    if (!r.Varint32(&tag)) return false;
    const int wire_type = static_cast<int>(tag & 7);
    const uint32_t number = tag >> 3;
    const uint8_t* at = r.p;
    if (!r.Skip(wire_type)) return false;
    // protobuf.js decodes every occurrence by the field's type, whatever its wire type, and
    // keeps the last: only one of each (as encoders write them) is vouched for.
    if (number == 1) {
      if (has_key || wire_type != WireType(k.kind)) return false;
      key = Reader{at, r.p}, has_key = true;
    } else if (number == 2) {
      if (has_value || wire_type != WireType(v.kind)) return false;
      value = Reader{at, r.p}, has_value = true;
    }
  }
  // protobuf.js fills a missing key or value with a default (null for a message, which its
  // conversion then fails on): only complete entries, as every encoder writes them.
  if (!has_key || !has_value) return false;
  if (k.kind == Kind::kString) {
    Reader s{nullptr, nullptr};
    if (!key.Delimited(&s)) return false;
    static const char kProto[] = "__proto__";  // protobuf.js sets the prototype instead
    if (s.end - s.p == 9 && std::memcmp(s.p, kProto, 9) == 0) return false;
    if (!String(s.p, s.end, tape)) return false;
  } else if (!KeyText(k, &key, tape)) {
    return false;
  }
  return Value(v, &value, depth, tape) && !key.more() && !value.more();
}

bool Packable(Kind kind) {
  return kind != Kind::kString && kind != Kind::kMessage && kind != Kind::kMap;
}

// Where a field's bytes are: a singular field's value; a repeated or map field's tags and
// values from its first to its last occurrence (other fields may lie between).
struct Span {
  const uint8_t* begin;  // null: not seen
  const uint8_t* end;
};

// The values of repeated or map field `f` in `span`: the element count written.
bool Elements(const Message::Field& f, Span span, int depth, Tape* tape, int32_t* count) {
  Reader r{span.begin, span.end};
  int32_t n = 0;
  while (r.more()) {
    uint32_t tag = 0;
    if (!r.Varint32(&tag)) return false;
    const int wire_type = static_cast<int>(tag & 7);
    if (tag >> 3 != f.number) {  // another field's (written in its own place)
      if (!r.Skip(wire_type)) return false;
      continue;
    }
    if (f.kind == Kind::kMap) {
      Reader entry{nullptr, nullptr};
      if (!r.Delimited(&entry) || !Entry(f, entry, depth + 1, tape)) return false;
      ++n;
    } else if (wire_type == 2 && Packable(f.kind)) {
      Reader packed{nullptr, nullptr};
      if (!r.Delimited(&packed)) return false;
      while (packed.more()) {
        if (!Value(f, &packed, depth, tape)) return false;
        ++n;
      }
    } else {
      if (!Value(f, &r, depth, tape)) return false;
      ++n;
    }
  }
  *count = n;
  return true;
}

bool Object(const Message& m, Reader r, int depth, Tape* tape) {
  if (depth > kMaxDepth) return false;
  Span spans_inline[32];  // only the first m.fields.size() are set
  std::vector<Span> spans_heap;
  Span* spans = spans_inline;
  if (m.fields.size() > 32) {
    spans_heap.resize(m.fields.size());
    spans = spans_heap.data();
  }
  std::fill(spans, spans + m.fields.size(), Span{nullptr, nullptr});
  int member_inline[8];
  std::vector<int> member_heap;
  int* member = member_inline;  // per oneof: the slot of its member seen, -1 none
  if (m.oneofs > 8) {
    member_heap.assign(m.oneofs, -1);
    member = member_heap.data();
  } else {
    std::fill(member_inline, member_inline + m.oneofs, -1);
  }
  // Where each field is, and whether the bytes frame and type-check.
  while (r.more()) {
    const uint8_t* tag_at = r.p;
    uint32_t tag = 0;
    if (!r.Varint32(&tag) || tag >> 3 == 0) return false;
    const int wire_type = static_cast<int>(tag & 7);
    const int slot = m.Slot(tag >> 3);
    const uint8_t* value_at = r.p;
    if (!r.Skip(wire_type)) return false;
    if (slot < 0) continue;  // unknown: skipped, as protobuf.js does
    const Message::Field& f = m.fields[slot];
    Span& span = spans[slot];
    if (f.repeated || f.kind == Kind::kMap) {
      const bool packed = f.repeated && wire_type == 2 && Packable(f.kind);
      if (!packed && wire_type != WireType(f.kind)) return false;
      if (span.begin == nullptr) span.begin = tag_at;
      span.end = r.p;
      continue;
    }
    // A singular field twice: protobuf.js keeps the last without merging; not vouched for.
    if (wire_type != WireType(f.kind) || span.begin != nullptr) return false;
    span = Span{value_at, r.p};
    if (f.oneof >= 0) {
      if (member[f.oneof] >= 0) return false;  // two members
      member[f.oneof] = slot;
    }
  }
  tape->ops.push_back(Tape::kObject);
  tape->ops.push_back(m.index);
  for (int slot : m.order) {
    const Message::Field& f = m.fields[slot];
    const Span span = spans[slot];
    if (span.begin == nullptr) {
      tape->ops.insert(tape->ops.end(), f.empty.begin(), f.empty.end());
    } else if (f.repeated || f.kind == Kind::kMap) {
      tape->ops.push_back(f.kind == Kind::kMap ? Tape::kMap : Tape::kArray);
      const size_t count_at = tape->ops.size();
      tape->ops.push_back(0);
      int32_t count = 0;
      if (!Elements(f, span, depth, tape, &count)) return false;
      tape->ops[count_at] = count;
    } else {
      Reader value{span.begin, span.end};
      if (!Value(f, &value, depth, tape) || value.more()) return false;
    }
  }
  for (size_t o = 0; o < m.oneofs; ++o) {
    if (member[o] < 0) {
      tape->ops.push_back(-1);
      continue;
    }
    const Message::Field& f = m.fields[member[o]];
    tape->ops.push_back(f.member);
    Reader value{spans[member[o]].begin, spans[member[o]].end};
    if (!Value(f, &value, depth, tape) || value.more()) return false;
  }
  return true;
}

}  // namespace

WireTape::~WireTape() = default;

namespace {

// Collects the parser's errors into one message.
class Errors : public pb::compiler::MultiFileErrorCollector {
 public:
  void AddError(const std::string& file, int line, int column,
                const std::string& message) override {
    if (!text.empty()) text += "; ";
    text +=
        file + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
  }
  std::string text;
};

}  // namespace

std::unique_ptr<WireTape> WireTape::Create(const std::vector<std::string>& include_dirs,
                                           const std::vector<std::string>& files,
                                           std::string* error) {
  pb::compiler::DiskSourceTree tree;
  for (const std::string& dir : include_dirs) tree.MapPath("", dir);
  Errors errors;
  pb::compiler::SourceTreeDescriptorDatabase source(&tree);
  source.RecordErrorsTo(&errors);
  // Imports not under the directories (google/protobuf/*.proto, which proto-loader takes from
  // protobuf.js's copies) from libprotobuf's own.
  pb::DescriptorPoolDatabase builtin(*pb::DescriptorPool::generated_pool());
  pb::MergedDescriptorDatabase merged(&source, &builtin);
  pb::DescriptorPool pool(&merged, source.GetValidationErrorCollector());
  std::vector<const pb::FileDescriptor*> pending;
  for (const std::string& name : files) {
    const pb::FileDescriptor* file = pool.FindFileByName(name);
    if (file == nullptr) {
      *error = name + ": " + (errors.text.empty() ? "not found" : errors.text);
      return nullptr;
    }
    pending.push_back(file);
  }
  // The files and everything they import.
  std::vector<const pb::Descriptor*> types, stack;
  std::vector<const pb::ServiceDescriptor*> services;
  std::set<const pb::FileDescriptor*> done;
  while (!pending.empty()) {
    const pb::FileDescriptor* file = pending.back();
    pending.pop_back();
    if (!done.insert(file).second) continue;
    for (int i = 0; i < file->dependency_count(); ++i) pending.push_back(file->dependency(i));
    for (int i = 0; i < file->message_type_count(); ++i) stack.push_back(file->message_type(i));
    for (int i = 0; i < file->service_count(); ++i) services.push_back(file->service(i));
  }
  while (!stack.empty()) {
    const pb::Descriptor* d = stack.back();
    stack.pop_back();
    types.push_back(d);
    for (int i = 0; i < d->nested_type_count(); ++i) stack.push_back(d->nested_type(i));
  }
  std::unique_ptr<WireTape> codec(new WireTape());
  std::unordered_map<const pb::Descriptor*, Message*> plan_of;
  for (const pb::Descriptor* d : types) {  // plans_[i] is the plan of types[i]
    codec->plans_.push_back(std::make_unique<Message>());
    codec->plans_.back()->index = static_cast<int32_t>(codec->plans_.size() - 1);
    plan_of[d] = codec->plans_.back().get();
  }
  std::vector<std::string>& names = codec->layout_.names;
  std::unordered_map<std::string, int32_t> name_ids;
  auto name_id = [&](const std::string& name) {
    auto [it, added] = name_ids.emplace(name, static_cast<int32_t>(names.size()));
    if (added) names.push_back(name);
    return it->second;
  };
  const int32_t zero = name_id("0");  // a 64-bit integer's default
  // Enum names by number; for aliases the first declared, as protobuf.js keeps. The tables
  // are the WireTape's (the pool goes with this function).
  std::unordered_map<const pb::EnumDescriptor*, const std::unordered_map<int32_t, int32_t>*>
      enum_names;
  auto names_of = [&](const pb::EnumDescriptor* e) {
    auto& table = enum_names[e];
    if (table == nullptr) {
      codec->enum_tables_.push_back(std::make_unique<std::unordered_map<int32_t, int32_t>>());
      for (int i = 0; i < e->value_count(); ++i) {
        codec->enum_tables_.back()->emplace(e->value(i)->number(), name_id(e->value(i)->name()));
      }
      table = codec->enum_tables_.back().get();
    }
    return table;
  };
  codec->layout_.plans.resize(types.size());
  for (size_t t = 0; t < types.size(); ++t) {
    const pb::Descriptor* d = types[t];
    Message& m = *plan_of[d];
    Layout::Plan& layout = codec->layout_.plans[t];
    m.supported = d->file()->syntax() == pb::FileDescriptor::SYNTAX_PROTO3;
    std::vector<const pb::OneofDescriptor*> oneofs;
    std::vector<const pb::FieldDescriptor*> by_number;
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* fd = d->field(i);
      Message::Field f;
      f.repeated = fd->is_repeated() && !fd->is_map();
      f.number = static_cast<uint32_t>(fd->number());
      const std::string key = CamelCase(fd->name());
      // An object literal would set the prototype instead.
      if (key == "__proto__") m.supported = false;
      if (const pb::OneofDescriptor* o = fd->containing_oneof()) {
        auto it = std::find(oneofs.begin(), oneofs.end(), o);
        f.oneof = static_cast<int>(it - oneofs.begin());
        if (it == oneofs.end()) {
          oneofs.push_back(o);
          // A proto3 optional field's synthetic oneof: protobuf.js names it "_" + the
          // field's (camel-cased) name.
          layout.oneofs.emplace_back(
              o->is_synthetic() ? "_" + CamelCase(fd->name()) : CamelCase(o->name()),
              std::vector<std::string>());
          if (layout.oneofs.back().first == "__proto__") m.supported = false;
        }
        f.member = static_cast<int>(layout.oneofs[f.oneof].second.size());
        layout.oneofs[f.oneof].second.push_back(key);
      } else {
        by_number.push_back(fd);
      }
      switch (fd->type()) {
        case pb::FieldDescriptor::TYPE_INT32:
          f.kind = Kind::kInt32;
          break;
        case pb::FieldDescriptor::TYPE_SINT32:
          f.kind = Kind::kSint32;
          break;
        case pb::FieldDescriptor::TYPE_UINT32:
          f.kind = Kind::kUint32;
          break;
        case pb::FieldDescriptor::TYPE_INT64:
          f.kind = Kind::kInt64;
          break;
        case pb::FieldDescriptor::TYPE_SINT64:
          f.kind = Kind::kSint64;
          break;
        case pb::FieldDescriptor::TYPE_UINT64:
          f.kind = Kind::kUint64;
          break;
        case pb::FieldDescriptor::TYPE_BOOL:
          f.kind = Kind::kBool;
          break;
        case pb::FieldDescriptor::TYPE_FIXED32:
          f.kind = Kind::kFixed32;
          break;
        case pb::FieldDescriptor::TYPE_SFIXED32:
          f.kind = Kind::kSfixed32;
          break;
        case pb::FieldDescriptor::TYPE_FLOAT:
          f.kind = Kind::kFloat;
          break;
        case pb::FieldDescriptor::TYPE_FIXED64:
          f.kind = Kind::kFixed64;
          break;
        case pb::FieldDescriptor::TYPE_SFIXED64:
          f.kind = Kind::kSfixed64;
          break;
        case pb::FieldDescriptor::TYPE_DOUBLE:
          f.kind = Kind::kDouble;
          break;
        case pb::FieldDescriptor::TYPE_STRING:
          f.kind = Kind::kString;
          break;
        case pb::FieldDescriptor::TYPE_ENUM:
          f.kind = Kind::kEnum;
          f.names = names_of(fd->enum_type());
          break;
        case pb::FieldDescriptor::TYPE_MESSAGE:
          f.kind = fd->is_map() ? Kind::kMap : Kind::kMessage;
          f.message = plan_of.count(fd->message_type()) ? plan_of[fd->message_type()] : nullptr;
          if (f.message == nullptr) m.supported = false;
          if (fd->is_map()) {
            const pb::FieldDescriptor* key_field = fd->message_type()->map_key();
            const auto kt = key_field->type();
            // protobuf.js keys 64-bit integers by an 8-byte hash string.
            if (kt == pb::FieldDescriptor::TYPE_INT64 || kt == pb::FieldDescriptor::TYPE_UINT64 ||
                kt == pb::FieldDescriptor::TYPE_SINT64 || kt == pb::FieldDescriptor::TYPE_FIXED64 ||
                kt == pb::FieldDescriptor::TYPE_SFIXED64) {
              m.supported = false;
            }
          }
          break;
        default:  // bytes (Buffers) and groups
          m.supported = false;
          break;
      }
      // The default protobuf.js gives a field not on the wire.
      if (f.repeated) {
        f.empty = {Tape::kArray, 0};
      } else if (f.kind == Kind::kMap) {
        f.empty = {Tape::kMap, 0};
      } else if (f.kind == Kind::kMessage) {
        f.empty = {Tape::kNull};
      } else if (f.kind == Kind::kString) {
        f.empty = {Tape::kEmpty};
      } else if (f.kind == Kind::kBool) {
        f.empty = {Tape::kFalse};
      } else if (f.kind == Kind::kEnum) {  // the first declared value's name (proto3: 0)
        f.empty = {Tape::kName, f.names->at(fd->enum_type()->value(0)->number())};
      } else if (Is64(f.kind)) {
        f.empty = {Tape::kName, zero};
      } else {  // 32-bit integers, floats, doubles
        f.empty = {Tape::kInt, 0};
      }
      const uint32_t number = f.number;
      const int slot = static_cast<int>(m.fields.size());
      if (number < 4096) {
        if (m.slot_of.size() <= number) m.slot_of.resize(number + 1, -1);
        m.slot_of[number] = slot;
      } else {
        m.slot_of_large[number] = slot;
      }
      m.fields.push_back(std::move(f));
    }
    m.oneofs = oneofs.size();
    // protobuf.js's toObject makes the repeated fields first, then the maps, then the
    // others, each group by field number.
    auto group = [](const pb::FieldDescriptor* fd) {
      return fd->is_map() ? 1 : fd->is_repeated() ? 0 : 2;
    };
    std::stable_sort(by_number.begin(), by_number.end(),
                     [&](const pb::FieldDescriptor* a, const pb::FieldDescriptor* b) {
                       if (group(a) != group(b)) return group(a) < group(b);
                       return a->number() < b->number();
                     });
    for (const pb::FieldDescriptor* fd : by_number) {
      m.order.push_back(m.Slot(static_cast<uint32_t>(fd->number())));
      layout.keys.push_back(CamelCase(fd->name()));
    }
  }
  // A type is supported when every type it holds is, transitively.
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& plan : codec->plans_) {
      if (!plan->supported) continue;
      for (const Message::Field& f : plan->fields) {
        if (f.message != nullptr && !f.message->supported) {
          plan->supported = false;
          changed = true;
          break;
        }
      }
    }
  }
  for (size_t i = 0; i < types.size(); ++i) {
    codec->known_.insert(types[i]->full_name());
    if (codec->plans_[i]->supported) {
      codec->supported_[types[i]->full_name()] = codec->plans_[i].get();
    }
  }
  for (const pb::ServiceDescriptor* service : services) {
    for (int i = 0; i < service->method_count(); ++i) {
      const pb::MethodDescriptor* method = service->method(i);
      const Message* reply = codec->Find(method->output_type()->full_name());
      if (reply != nullptr)
        codec->reply_of_["/" + service->full_name() + "/" + method->name()] = reply;
    }
  }
  return codec;
}

const WireTape::Message* WireTape::ReplyOf(const std::string& method_path) const {
  auto it = reply_of_.find(method_path);
  return it == reply_of_.end() ? nullptr : it->second;
}

const WireTape::Message* WireTape::Find(const std::string& full_name) const {
  auto it = supported_.find(full_name);
  return it == supported_.end() ? nullptr : it->second;
}

bool WireTape::Decode(const Message& type, const char* bytes, size_t size, Tape* tape) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes);
  tape->Clear();
  // About one op per 4.5 bytes of a typical reply, strings about its size; a hint only,
  // bounded (a reply of one long string needs few ops).
  constexpr size_t kMaxReserve = size_t{1} << 20;
  tape->ops.reserve(std::min(size / 3, kMaxReserve) + 16);
  tape->bytes.reserve(std::min(size, kMaxReserve));
  return Object(type, Reader{p, p + size}, 0, tape);
}

}  // namespace kg::native
