#include "wire_json.h"

#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor_database.h>

#include <algorithm>
#include <charconv>
#include <cmath>
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

// A JSON string of `text` (names from descriptors: ASCII identifiers).
std::string Quoted(const std::string& text) { return "\"" + text + "\""; }

}  // namespace

struct WireJson::Message {
  struct Field {
    Kind kind = Kind::kInt32;
    bool repeated = false;
    int oneof = -1;     // index into oneof_keys; -1: not in a oneof (its default is written)
    std::string key;    // "\"name\":"
    std::string name;   // "\"name\"" (the value of its oneof's virtual field)
    std::string empty;  // the default's JSON
    const Message* message = nullptr;                                 // kMessage, kMap (the entry)
    const std::unordered_map<int32_t, std::string>* names = nullptr;  // kEnum: JSON strings
  };
  std::vector<Field> fields;
  std::vector<int> slot_of;               // field number -> index into fields, -1 none
  std::map<uint32_t, int> slot_of_large;  // numbers >= slot_of.size()
  std::vector<std::string> oneof_keys;    // "\"oneofName\":"
  bool supported = true;

  int Slot(uint32_t number) const {
    if (number < slot_of.size()) return slot_of[number];
    auto it = slot_of_large.find(number);
    return it == slot_of_large.end() ? -1 : it->second;
  }
};

namespace {

using Message = WireJson::Message;
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

// Appends to a string through a raw pointer: the string is grown ahead (to twice its size
// or more) and cut to what was written by Finish.
class Out {
 public:
  explicit Out(std::string* s) : s_(s), used_(s->size()) {
    s_->resize(std::max<size_t>(s_->capacity(), used_ + 256));
    p_ = s_->data() + used_;
    end_ = s_->data() + s_->size();
  }
  void push_back(char c) {
    if (p_ == end_) Grow(1);
    *p_++ = c;
  }
  void append(const char* data, size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) Grow(n);
    std::memcpy(p_, data, n);
    p_ += n;
  }
  void append(const std::string& text) { append(text.data(), text.size()); }
  void append(const char* text) { append(text, std::strlen(text)); }
  void Finish() { s_->resize(p_ - s_->data()); }

 private:
  void Grow(size_t n) {
    const size_t used = p_ - s_->data();
    s_->resize(std::max(s_->size() * 2, used + n + 256));
    p_ = s_->data() + used;
    end_ = s_->data() + s_->size();
  }
  std::string* s_;
  size_t used_;
  char* p_;
  char* end_;
};

void Integer(int64_t v, Out* out) {
  char buffer[24];
  auto r = std::to_chars(buffer, buffer + sizeof buffer, v);
  out->append(buffer, static_cast<size_t>(r.ptr - buffer));
}

void Unsigned(uint64_t v, Out* out) {
  char buffer[24];
  auto r = std::to_chars(buffer, buffer + sizeof buffer, v);
  out->append(buffer, static_cast<size_t>(r.ptr - buffer));
}

// A 64-bit integer as a JSON string (protobuf.js with longs: String).
void QuotedInteger(int64_t v, Out* out) {
  out->push_back('"');
  Integer(v, out);
  out->push_back('"');
}

void QuotedUnsigned(uint64_t v, Out* out) {
  out->push_back('"');
  Unsigned(v, out);
  out->push_back('"');
}

// The shortest text that JSON.parse reads back as exactly `v`; false when not finite.
bool Number(double v, Out* out) {
  if (!std::isfinite(v)) return false;
  char buffer[32];
  auto r = std::to_chars(buffer, buffer + sizeof buffer, v);
  out->append(buffer, static_cast<size_t>(r.ptr - buffer));
  return true;
}

// A JSON string of UTF-8 `s`: '"', '\\' and control characters escaped; false when `s` is
// not well-formed UTF-8 (overlong forms, surrogates and code points above U+10FFFF too).
bool String(const uint8_t* s, const uint8_t* end, Out* out) {
  // Bytes copied as they are: printable ASCII other than '"' and '\\'.
  static const struct Plain {
    bool byte[256];
    Plain() : byte() {
      for (int c = 0x20; c < 0x80; ++c) byte[c] = c != '"' && c != '\\';
    }
  } kPlain;
  out->push_back('"');
  while (s < end) {
    const uint8_t* run = s;
    while (s < end && kPlain.byte[*s]) ++s;
    out->append(reinterpret_cast<const char*>(run), s - run);
    if (s == end) break;
    const uint8_t c = *s;
    if (c < 0x80) {
      static const char kHex[] = "0123456789abcdef";
      if (c == '"' || c == '\\') {
        out->push_back('\\');
        out->push_back(static_cast<char>(c));
      } else {
        const char escaped[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out->append(escaped, 6);
      }
      ++s;
      continue;
    }
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
    out->append(reinterpret_cast<const char*>(s), length);
    s += length;
  }
  out->push_back('"');
  return true;
}

bool Object(const Message& m, Reader r, int depth, Out* out);

// One value of field `f` (its wire type checked by the caller; packed elements read as
// their unpacked wire type).
bool Value(const Message::Field& f, Reader* r, int depth, Out* out) {
  uint64_t v = 0;
  uint32_t w = 0;
  switch (f.kind) {
    case Kind::kInt32:  // protobuf.js: the varint's low 32 bits, signed
      if (!r->Varint32(&w)) return false;
      Integer(static_cast<int32_t>(w), out);
      return true;
    case Kind::kSint32:
      if (!r->Varint32(&w)) return false;
      Integer(static_cast<int32_t>((w >> 1) ^ (0u - (w & 1))), out);
      return true;
    case Kind::kUint32:
      if (!r->Varint32(&w)) return false;
      Unsigned(w, out);
      return true;
    case Kind::kInt64:
      if (!r->Varint(&v)) return false;
      QuotedInteger(static_cast<int64_t>(v), out);
      return true;
    case Kind::kSint64:
      if (!r->Varint(&v)) return false;
      QuotedInteger(static_cast<int64_t>((v >> 1) ^ (0ull - (v & 1))), out);
      return true;
    case Kind::kUint64:
      if (!r->Varint(&v)) return false;
      QuotedUnsigned(v, out);
      return true;
    case Kind::kBool:  // protobuf.js: the varint's low 32 bits != 0
      if (!r->Varint32(&w)) return false;
      out->append(w != 0 ? "true" : "false");
      return true;
    case Kind::kEnum: {
      if (!r->Varint32(&w)) return false;
      const int32_t number = static_cast<int32_t>(w);
      auto it = f.names->find(number);
      if (it == f.names->end()) {
        Integer(number, out);  // an unknown value stays a number
      } else {
        out->append(it->second);
      }
      return true;
    }
    case Kind::kFixed32:
      if (!r->Fixed32(&w)) return false;
      Unsigned(w, out);
      return true;
    case Kind::kSfixed32:
      if (!r->Fixed32(&w)) return false;
      Integer(static_cast<int32_t>(w), out);
      return true;
    case Kind::kFloat: {
      if (!r->Fixed32(&w)) return false;
      float x;
      std::memcpy(&x, &w, sizeof x);
      return Number(static_cast<double>(x), out);
    }
    case Kind::kFixed64:
      if (!r->Fixed64(&v)) return false;
      QuotedUnsigned(v, out);
      return true;
    case Kind::kSfixed64:
      if (!r->Fixed64(&v)) return false;
      QuotedInteger(static_cast<int64_t>(v), out);
      return true;
    case Kind::kDouble: {
      if (!r->Fixed64(&v)) return false;
      double x;
      std::memcpy(&x, &v, sizeof x);
      return Number(x, out);
    }
    case Kind::kString: {
      Reader s{nullptr, nullptr};
      return r->Delimited(&s) && String(s.p, s.end, out);
    }
    case Kind::kMessage: {
      Reader inner{nullptr, nullptr};
      return r->Delimited(&inner) && Object(*f.message, inner, depth + 1, out);
    }
    case Kind::kMap:
      return false;  // entries are written by Entry
  }
  return false;
}

// One map entry "key":value of field `f` (the entry's bytes in `r`).
bool Entry(const Message::Field& f, Reader r, int depth, Out* out) {
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
    if (!String(s.p, s.end, out)) return false;
  } else {
    out->push_back('"');
    if (!Value(k, &key, depth, out)) return false;
    out->push_back('"');
  }
  out->push_back(':');
  return Value(v, &value, depth, out) && !key.more() && !value.more();
}

bool Packable(Kind kind) {
  return kind != Kind::kString && kind != Kind::kMessage && kind != Kind::kMap;
}

bool Object(const Message& m, Reader r, int depth, Out* out) {
  if (depth > kMaxDepth) return false;
  // Per field: 0 not seen, 1 seen. Per oneof: the slot of its member seen, -1 none.
  uint8_t seen_inline[64];
  std::vector<uint8_t> seen_heap;
  uint8_t* seen = seen_inline;
  if (m.fields.size() > sizeof seen_inline) {
    seen_heap.assign(m.fields.size(), 0);
    seen = seen_heap.data();
  } else {
    std::memset(seen_inline, 0, m.fields.size());
  }
  int member_inline[8];
  std::vector<int> member_heap;
  int* member = member_inline;
  if (m.oneof_keys.size() > 8) {
    member_heap.assign(m.oneof_keys.size(), -1);
    member = member_heap.data();
  } else {
    for (size_t i = 0; i < m.oneof_keys.size(); ++i) member_inline[i] = -1;
  }
  out->push_back('{');
  bool first = true;
  auto comma = [&] {
    if (!first) out->push_back(',');
    first = false;
  };
  int open = -1;  // the repeated or map field whose array or object is open
  bool open_empty = true;
  auto close = [&] {
    if (open >= 0) out->push_back(m.fields[open].kind == Kind::kMap ? '}' : ']');
    open = -1;
  };
  while (r.more()) {
    uint32_t tag = 0;
    if (!r.Varint32(&tag) || tag >> 3 == 0) return false;
    const int wire_type = static_cast<int>(tag & 7);
    const int slot = m.Slot(tag >> 3);
    if (slot < 0) {  // unknown: skipped, as protobuf.js does
      if (!r.Skip(wire_type)) return false;
      continue;
    }
    const Message::Field& f = m.fields[slot];
    if (open != slot) close();
    if (f.repeated || f.kind == Kind::kMap) {
      if (open != slot) {
        if (seen[slot]) return false;  // split by another field: one JSON key cannot hold both
        seen[slot] = 1;
        comma();
        out->append(f.key);
        out->push_back(f.kind == Kind::kMap ? '{' : '[');
        open = slot;
        open_empty = true;
      }
      if (f.kind == Kind::kMap) {
        Reader entry{nullptr, nullptr};
        if (wire_type != 2 || !r.Delimited(&entry)) return false;
        if (!open_empty) out->push_back(',');
        open_empty = false;
        if (!Entry(f, entry, depth + 1, out)) return false;
      } else if (wire_type == 2 && Packable(f.kind)) {
        Reader packed{nullptr, nullptr};
        if (!r.Delimited(&packed)) return false;
        while (packed.more()) {
          if (!open_empty) out->push_back(',');
          open_empty = false;
          if (!Value(f, &packed, depth, out)) return false;
        }
      } else {
        if (wire_type != WireType(f.kind)) return false;
        if (!open_empty) out->push_back(',');
        open_empty = false;
        if (!Value(f, &r, depth, out)) return false;
      }
      continue;
    }
    if (wire_type != WireType(f.kind)) return false;
    if (f.oneof >= 0) {
      if (member[f.oneof] >= 0 && member[f.oneof] != slot) return false;  // two members
      member[f.oneof] = slot;
    }
    // A field seen again is written again: JSON.parse keeps the last, as protobuf.js does.
    seen[slot] = 1;
    comma();
    out->append(f.key);
    if (!Value(f, &r, depth, out)) return false;
    if (f.oneof >= 0) {
      out->push_back(',');
      out->append(m.oneof_keys[f.oneof]);
      out->append(f.name);
    }
  }
  close();
  // Defaults of the fields not seen (protobuf.js gives oneof members none).
  for (size_t i = 0; i < m.fields.size(); ++i) {
    const Message::Field& f = m.fields[i];
    if (seen[i] || f.oneof >= 0) continue;
    comma();
    out->append(f.key);
    out->append(f.empty);
  }
  out->push_back('}');
  return true;
}

}  // namespace

WireJson::~WireJson() = default;

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

std::unique_ptr<WireJson> WireJson::Create(const std::vector<std::string>& include_dirs,
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
  std::unique_ptr<WireJson> json(new WireJson());
  std::unordered_map<const pb::Descriptor*, Message*> plan_of;
  for (const pb::Descriptor* d : types) {  // plans_[i] is the plan of types[i]
    json->plans_.push_back(std::make_unique<Message>());
    plan_of[d] = json->plans_.back().get();
  }
  // Enum names by number, JSON-quoted; for aliases the first declared, as protobuf.js keeps.
  // The tables are the WireJson's (the pool goes with this function).
  std::unordered_map<const pb::EnumDescriptor*, const std::unordered_map<int32_t, std::string>*>
      enum_names;
  auto names_of = [&](const pb::EnumDescriptor* e) {
    auto& names = enum_names[e];
    if (names == nullptr) {
      json->enum_tables_.push_back(std::make_unique<std::unordered_map<int32_t, std::string>>());
      for (int i = 0; i < e->value_count(); ++i) {
        json->enum_tables_.back()->emplace(e->value(i)->number(), Quoted(e->value(i)->name()));
      }
      names = json->enum_tables_.back().get();
    }
    return names;
  };
  for (const pb::Descriptor* d : types) {
    Message& m = *plan_of[d];
    m.supported = d->file()->syntax() == pb::FileDescriptor::SYNTAX_PROTO3;
    std::vector<const pb::OneofDescriptor*> oneofs;
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* fd = d->field(i);
      Message::Field f;
      f.repeated = fd->is_repeated() && !fd->is_map();
      f.key = Quoted(CamelCase(fd->name())) + ":";
      f.name = Quoted(CamelCase(fd->name()));
      if (const pb::OneofDescriptor* o = fd->containing_oneof()) {
        auto it = std::find(oneofs.begin(), oneofs.end(), o);
        f.oneof = static_cast<int>(it - oneofs.begin());
        if (it == oneofs.end()) {
          oneofs.push_back(o);
          // A proto3 optional field's synthetic oneof: protobuf.js names it "_" + the
          // field's (camel-cased) name.
          const std::string oneof_name =
              o->is_synthetic() ? "_" + CamelCase(fd->name()) : CamelCase(o->name());
          m.oneof_keys.push_back(Quoted(oneof_name) + ":");
        }
      }
      switch (fd->type()) {
        case pb::FieldDescriptor::TYPE_INT32:
          f.kind = Kind::kInt32, f.empty = "0";
          break;
        case pb::FieldDescriptor::TYPE_SINT32:
          f.kind = Kind::kSint32, f.empty = "0";
          break;
        case pb::FieldDescriptor::TYPE_UINT32:
          f.kind = Kind::kUint32, f.empty = "0";
          break;
        case pb::FieldDescriptor::TYPE_INT64:
          f.kind = Kind::kInt64, f.empty = "\"0\"";
          break;
        case pb::FieldDescriptor::TYPE_SINT64:
          f.kind = Kind::kSint64, f.empty = "\"0\"";
          break;
        case pb::FieldDescriptor::TYPE_UINT64:
          f.kind = Kind::kUint64, f.empty = "\"0\"";
          break;
        case pb::FieldDescriptor::TYPE_BOOL:
          f.kind = Kind::kBool, f.empty = "false";
          break;
        case pb::FieldDescriptor::TYPE_FIXED32:
          f.kind = Kind::kFixed32, f.empty = "0";
          break;
        case pb::FieldDescriptor::TYPE_SFIXED32:
          f.kind = Kind::kSfixed32, f.empty = "0";
          break;
        case pb::FieldDescriptor::TYPE_FLOAT:
          f.kind = Kind::kFloat, f.empty = "0";
          break;
        case pb::FieldDescriptor::TYPE_FIXED64:
          f.kind = Kind::kFixed64, f.empty = "\"0\"";
          break;
        case pb::FieldDescriptor::TYPE_SFIXED64:
          f.kind = Kind::kSfixed64, f.empty = "\"0\"";
          break;
        case pb::FieldDescriptor::TYPE_DOUBLE:
          f.kind = Kind::kDouble, f.empty = "0";
          break;
        case pb::FieldDescriptor::TYPE_STRING:
          f.kind = Kind::kString, f.empty = "\"\"";
          break;
        case pb::FieldDescriptor::TYPE_ENUM:
          f.kind = Kind::kEnum;
          f.names = names_of(fd->enum_type());
          // The default: the first declared value's name (proto3: number 0).
          f.empty = f.names->at(fd->enum_type()->value(0)->number());
          break;
        case pb::FieldDescriptor::TYPE_MESSAGE:
          f.kind = fd->is_map() ? Kind::kMap : Kind::kMessage;
          f.message = plan_of.count(fd->message_type()) ? plan_of[fd->message_type()] : nullptr;
          f.empty = "null";
          if (f.message == nullptr) m.supported = false;
          if (fd->is_map()) {
            const pb::FieldDescriptor* key = fd->message_type()->map_key();
            const auto kt = key->type();
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
      if (f.repeated) f.empty = "[]";
      if (f.kind == Kind::kMap) f.empty = "{}";
      const uint32_t number = static_cast<uint32_t>(fd->number());
      const int slot = static_cast<int>(m.fields.size());
      if (number < 4096) {
        if (m.slot_of.size() <= number) m.slot_of.resize(number + 1, -1);
        m.slot_of[number] = slot;
      } else {
        m.slot_of_large[number] = slot;
      }
      m.fields.push_back(std::move(f));
    }
  }
  // A type is supported when every type it holds is, transitively.
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& plan : json->plans_) {
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
    json->known_.insert(types[i]->full_name());
    if (json->plans_[i]->supported) json->supported_[types[i]->full_name()] = json->plans_[i].get();
  }
  for (const pb::ServiceDescriptor* service : services) {
    for (int i = 0; i < service->method_count(); ++i) {
      const pb::MethodDescriptor* method = service->method(i);
      const Message* reply = json->Find(method->output_type()->full_name());
      if (reply != nullptr)
        json->reply_of_["/" + service->full_name() + "/" + method->name()] = reply;
    }
  }
  return json;
}

const WireJson::Message* WireJson::ReplyOf(const std::string& method_path) const {
  auto it = reply_of_.find(method_path);
  return it == reply_of_.end() ? nullptr : it->second;
}

const WireJson::Message* WireJson::Find(const std::string& full_name) const {
  auto it = supported_.find(full_name);
  return it == supported_.end() ? nullptr : it->second;
}

bool WireJson::ToJson(const Message& type, const char* bytes, size_t size, std::string* json) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes);
  Out out(json);
  const bool ok = Object(type, Reader{p, p + size}, 0, &out);
  out.Finish();
  return ok;
}

}  // namespace kg::native
