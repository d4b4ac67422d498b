// WireTape: protobuf wire bytes -> a "tape" from which client/node/tape.js builds the very
// object that the Node.js client's proto-loader deserializer makes of them (protobuf.js 7
// with the client's options {keepCase: false, longs: String, enums: String, defaults: true,
// oneofs: true}), so that read(tape) deep-equals deserialize(bytes). The native transport
// runs it on gRPC's threads: the JavaScript thread then only walks the tape, creating each
// object with one object literal of its type's fields (a fixed shape): for a 100-entity
// reply of the sample, 57-71 us against 295-437 us for JSON.parse of the same object and
// 607-1,008 us for protobuf.js (docs/PERFORMANCE.md, Clients).
//
// The tape (one per message):
//   ops      int32s, a value being one of
//              kNull | kTrue | kFalse | kEmpty ("") | kInt n (an int32) | kNumber (the next
//              of `nums`) | kString n (strings[n]) | kName n (the codec's static names[n]:
//              enum names, "0") | kObject p v1..vk o1..oj (a message of plan p: its k fixed
//              fields' values in the plan's key order, then for each of its j oneofs the
//              index of the member set and its value, or -1) | kArray n v1..vn |
//              kMap n (key value)*n (keys are kStrings)
//   nums     float64s (floats, doubles and 32-bit unsigned values above 2^31-1)
//   strings  the strings' UTF-8 bytes, each distinct short one (<= kMaxSharedBytes bytes: map
//            keys, 64-bit integers, short values) once per tape. The transport hands them
//            to JavaScript so that each is a string of its own (kgclient_native.cc,
//            TapeValue): no string kept from a reply keeps the rest of its text alive.
// layout() gives tape.js each plan's keys and the static names; a plan's key order is
// protobuf.js's: repeated fields, then maps, then the other fields, each by field number.
//
// Built from the same .proto files as proto-loader loads (parsed by libprotobuf's own
// parser: proto-loader's synthesized descriptors lack imports and map entries);
// immutable afterwards, so Decode is thread-safe. Only the messages of proto3 files without
// bytes fields, groups or 64-bit map keys are supported (protobuf.js makes Buffers and hashes
// of those), nor any with a field or oneof named "__proto__" once camel-cased (an object
// literal would set the prototype). Decode declines (returns false) whenever the object could
// differ from protobuf.js's: malformed bytes, a wire type other than the field's, a string that is
// not UTF-8, a singular field given twice, two members of one oneof, a map entry without its key or
// value or with either twice, the map key "__proto__", 6-9 byte varints, nesting deeper than 100.
// The caller decodes those with proto-loader, which then answers (or throws) as it always did.
//
// Uses: libprotobuf's descriptors and .proto parser (libprotoc; no generated code).
#ifndef KG_CLIENT_NODE_NATIVE_WIRE_TAPE_H_
#define KG_CLIENT_NODE_NATIVE_WIRE_TAPE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace kg::native {

// One message's tape (see above); reusable: Decode clears it first.
struct Tape {
  enum Op : int32_t {
    kNull = 0,
    kTrue = 1,
    kFalse = 2,
    kEmpty = 3,
    kInt = 4,
    kNumber = 5,
    kString = 6,
    kName = 7,
    kObject = 8,
    kArray = 9,
    kMap = 10,
  };
  // Strings up to this long are kept once per tape.
  static constexpr size_t kMaxSharedBytes = 24;
  struct Text {
    uint32_t offset;  // into bytes
    uint32_t size;
    bool ascii;
  };

  std::vector<int32_t> ops;
  std::vector<double> nums;
  std::string bytes;          // the strings' UTF-8, one after another
  std::vector<Text> strings;  // kString n: strings[n]

  void Clear();
  // Appends string `s` (UTF-8, validated by the caller; `ascii`: all of it ASCII) as a
  // kString, sharing an earlier equal one when short.
  void AddString(const char* s, size_t size, bool ascii);

 private:
  std::vector<int32_t> index_;  // open addressing over the short strings: n + 1, 0 empty
  size_t shared_ = 0;           // short strings in index_
};

class WireTape {
 public:
  struct Message;  // a message type's plan (wire_tape.cc)

  // What tape.js needs to read tapes: plans[p] = {keys of the fixed fields in order,
  // [(oneof key, member keys)]}; names for kName.
  struct Layout {
    struct Plan {
      std::vector<std::string> keys;
      std::vector<std::pair<std::string, std::vector<std::string>>> oneofs;
    };
    std::vector<Plan> plans;
    std::vector<std::string> names;
  };

  // `files` (paths relative to one of `include_dirs`, as proto-loader's loadSync takes them)
  // and every file they import; every message type of them is planned. Null with `error`
  // set when a file is not found or does not parse (the message names file and line).
  static std::unique_ptr<WireTape> Create(const std::vector<std::string>& include_dirs,
                                          const std::vector<std::string>& files,
                                          std::string* error);
  ~WireTape();

  // The plan of a message type by its full name ("kg.v1.GetEntitiesResponse"); null when the
  // type is unknown or not supported (see above).
  const Message* Find(const std::string& full_name) const;
  // Whether `full_name` is a message type of the files at all (supported or not).
  bool Knows(const std::string& full_name) const { return known_.count(full_name) > 0; }
  // The plan of the reply type of a method ("/kg.v1.GraphService/GetEntities") of the
  // files' services; null when there is no such method or its reply type is not supported.
  const Message* ReplyOf(const std::string& method_path) const;
  const Layout& layout() const { return layout_; }

  // The tape of `bytes` (a serialized `type`) in `tape`; false (tape's content then
  // unspecified) when it declines.
  static bool Decode(const Message& type, const char* bytes, size_t size, Tape* tape);

 private:
  WireTape() = default;
  std::vector<std::unique_ptr<Message>> plans_;
  std::unordered_map<std::string, const Message*> supported_;
  std::unordered_map<std::string, const Message*> reply_of_;  // method path -> reply plan
  std::unordered_set<std::string> known_;
  std::vector<std::unique_ptr<std::unordered_map<int32_t, int32_t>>> enum_tables_;
  Layout layout_;
};

}  // namespace kg::native

#endif  // KG_CLIENT_NODE_NATIVE_WIRE_TAPE_H_
