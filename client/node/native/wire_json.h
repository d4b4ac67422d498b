// WireJson: protobuf wire bytes -> the JSON text of the very object that the Node.js
// client's proto-loader deserializer makes of them (protobuf.js 7 with the client's options
// {keepCase: false, longs: String, enums: String, defaults: true, oneofs: true}), so that
// JSON.parse(text) deep-equals deserialize(bytes). The native transport runs it on gRPC's
// threads: the JavaScript thread then only parses JSON, which V8 does about 2.5 times
// faster than protobuf.js decodes and converts the same reply.
//
// Built from the same .proto files as proto-loader loads (parsed by libprotobuf's own
// parser: proto-loader's synthesized descriptors lack imports and map entries);
// immutable afterwards, so ToJson is thread-safe. Only the messages of proto3 files without
// bytes fields, groups or 64-bit map keys are supported (protobuf.js makes Buffers and hashes
// of those, which JSON cannot carry). ToJson declines (returns false) whenever the object
// could differ from protobuf.js's: malformed bytes, a wire type other than the field's, a
// string that is not UTF-8, a non-finite float, a repeated or map field split by other
// fields, two members of one oneof, a map entry without its key or value, the map key
// "__proto__", nesting deeper than 100. The caller decodes those with proto-loader, which
// then answers (or throws) as it always did.
//
// Uses: libprotobuf's descriptors and .proto parser (libprotoc; no generated code).
#ifndef KG_CLIENT_NODE_NATIVE_WIRE_JSON_H_
#define KG_CLIENT_NODE_NATIVE_WIRE_JSON_H_

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace kg::native {

class WireJson {
 public:
  struct Message;  // a message type's plan (wire_json.cc)

  // `files` (paths relative to one of `include_dirs`, as proto-loader's loadSync takes them)
  // and every file they import; every message type of them is planned. Null with `error`
  // set when a file is not found or does not parse (the message names file and line).
  static std::unique_ptr<WireJson> Create(const std::vector<std::string>& include_dirs,
                                          const std::vector<std::string>& files,
                                          std::string* error);
  ~WireJson();

  // The plan of a message type by its full name ("kg.v1.GetEntitiesResponse"); null when the
  // type is unknown or not supported (see above).
  const Message* Find(const std::string& full_name) const;
  // Whether `full_name` is a message type of the files at all (supported or not).
  bool Knows(const std::string& full_name) const { return known_.count(full_name) > 0; }
  // The plan of the reply type of a method ("/kg.v1.GraphService/GetEntities") of the
  // files' services; null when there is no such method or its reply type is not supported.
  const Message* ReplyOf(const std::string& method_path) const;

  // Appends the JSON of `bytes` (a serialized `type`) to `json`; false (json's content then
  // unspecified) when it declines.
  static bool ToJson(const Message& type, const char* bytes, size_t size, std::string* json);

 private:
  WireJson() = default;
  std::vector<std::unique_ptr<Message>> plans_;
  std::unordered_map<std::string, const Message*> supported_;
  std::unordered_map<std::string, const Message*> reply_of_;  // method path -> reply plan
  std::unordered_set<std::string> known_;
  std::vector<std::unique_ptr<std::unordered_map<int32_t, std::string>>> enum_tables_;
};

}  // namespace kg::native

#endif  // KG_CLIENT_NODE_NATIVE_WIRE_JSON_H_
