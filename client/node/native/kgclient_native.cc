// kgclient_native.node: the Node.js client's optional native transport. A gRPC C++ channel
// that sends serialized requests of unary methods and resolves a promise with the
// serialized replies (the generic stub, so it knows no message types): calls are started by
// byte_calls.h's Background thread (the JavaScript thread only queues them; callMany starts
// each next call from the completion of the last), run on gRPC's threads, and complete on
// the JavaScript thread through a thread-safe function.
// Used by KgClient when it loads (see client/node/README.md); the JavaScript above it
// (retries, errors, helpers) is the same for both transports.
//
// A Codec (wire_tape.h), given to a Channel, turns the replies of the methods of its files'
// services into tapes of proto-loader's objects on gRPC's threads (the reply type taken
// from the method's descriptor): the JavaScript thread then only walks the tape with
// tape.js (a reply it declines stays bytes, for proto-loader).
//
// Uses: Node-API (node_api.h), grpc++ and libprotobuf's descriptors (no generated code),
// client/native/byte_calls.h.
#include <node_api.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "byte_calls.h"
#include "wire_tape.h"

namespace {

using kg::native::ByteCall;
using kg::native::Metadata;
using kg::native::Tape;
using kg::native::Transport;
using kg::native::WireTape;

// Where gRPC's threads deliver finished jobs: the thread-safe function while it lives.
// Node frees the function when its environment goes (a worker terminated, node exiting),
// calls in flight or not; the calls' completions hold the sink, never the function.
struct Sink {
  std::mutex mu;
  napi_threadsafe_function done = nullptr;  // null once finalized

  // Queues `job` for the JavaScript thread; false when the function is gone.
  bool Deliver(void* job) {
    std::lock_guard<std::mutex> lock(mu);
    return done != nullptr &&
           napi_call_threadsafe_function(done, job, napi_tsfn_nonblocking) == napi_ok;
  }
};

// Owned by the JavaScript object and by its thread-safe function, which node may finalize
// in either order (at exit, the function first): freed when both are gone.
struct Wrap {
  napi_ref self = nullptr;                  // weak while idle; strong while calls are in flight
  napi_threadsafe_function done = nullptr;  // completions, back on the JavaScript thread
  std::shared_ptr<Sink> sink = std::make_shared<Sink>();
  std::shared_ptr<Transport> transport;   // null once closed
  std::shared_ptr<const WireTape> codec;  // null: replies stay bytes
  uint32_t in_flight = 0;
  int owners = 2;
};

void Drop(Wrap* w) {
  if (--w->owners == 0) delete w;
}

// The calls of one call() or callMany(), resolved together.
struct Job {
  explicit Job(size_t n) : calls(n), tapes(n), has_tape(n, 0) {}
  std::vector<ByteCall> calls;
  // The replies' tapes where the codec made them (on gRPC's thread, before delivery).
  std::shared_ptr<const WireTape> codec;
  const WireTape::Message* reply_type = nullptr;
  std::vector<Tape> tapes;
  std::vector<uint8_t> has_tape;
  bool many = false;  // resolve with an array of outcomes
  napi_deferred deferred = nullptr;
  Wrap* wrap = nullptr;
};

constexpr uint32_t kMaxInFlight = 1024;
constexpr double kMaxTimeoutMs = 1e12;

// Throws a TypeError (when nothing is pending) and returns null, for `return Fail(...)`.
napi_value Fail(napi_env env, const std::string& message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_type_error(env, nullptr, message.c_str());
  return nullptr;
}

bool ReadString(napi_env env, napi_value v, std::string* out) {
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &n) != napi_ok) return false;
  out->resize(n + 1);
  if (napi_get_value_string_utf8(env, v, out->data(), n + 1, &n) != napi_ok) return false;
  out->resize(n);
  return true;
}

// A Buffer, a Uint8Array or a string, as bytes.
bool ReadBytes(napi_env env, napi_value v, std::string* out) {
  bool is = false;
  void* data = nullptr;
  size_t n = 0;
  if (napi_is_buffer(env, v, &is) == napi_ok && is) {
    if (napi_get_buffer_info(env, v, &data, &n) != napi_ok) return false;
    out->assign(static_cast<const char*>(data), n);
    return true;
  }
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    napi_value buffer;
    size_t offset = 0;
    if (napi_get_typedarray_info(env, v, &type, &n, &data, &buffer, &offset) != napi_ok ||
        type != napi_uint8_array) {
      return false;
    }
    out->assign(static_cast<const char*>(data), n);
    return true;
  }
  return ReadString(env, v, out);
}

// obj[name] when present and neither undefined nor null.
bool Property(napi_env env, napi_value obj, const char* name, napi_value* out) {
  bool has = false;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return false;
  if (napi_get_named_property(env, obj, name, out) != napi_ok) return false;
  napi_valuetype t;
  napi_typeof(env, *out, &t);
  return t != napi_undefined && t != napi_null;
}

// The JavaScript object was collected (never with calls in flight: they hold it).
void Finalize(napi_env env, void* data, void*) {
  auto* w = static_cast<Wrap*>(data);
  if (w->done != nullptr) napi_release_threadsafe_function(w->done, napi_tsfn_release);
  if (w->self != nullptr) napi_delete_reference(env, w->self);
  w->self = nullptr;
  Drop(w);
}

// The thread-safe function is going (released by Finalize, or its environment is): no
// completion is delivered to it from now on.
void FinalizeDone(napi_env, void* data, void*) {
  auto* w = static_cast<Wrap*>(data);
  {
    std::lock_guard<std::mutex> lock(w->sink->mu);
    w->sink->done = nullptr;
  }
  w->done = nullptr;
  Drop(w);
}

// Makes the tape of `call`'s reply (one of `job`'s) when it succeeded and the codec does not
// decline it; on the gRPC thread that finished the call.
void Transcode(Job* job, const ByteCall* call) {
  const size_t i = static_cast<size_t>(call - job->calls.data());
  if (job->reply_type == nullptr || !call->status.ok()) return;
  // The reply's bytes: its one slice where it has one (the usual case), else a copy.
  grpc::Slice single;
  std::string copy;
  const char* bytes = nullptr;
  size_t size = 0;
  if (call->reply.TrySingleSlice(&single).ok()) {
    bytes = reinterpret_cast<const char*>(single.begin());
    size = single.size();
  } else {
    copy.resize(call->ReplySize());
    if (!call->CopyReply(copy.data())) return;
    bytes = copy.data();
    size = copy.size();
  }
  job->has_tape[i] = WireTape::Decode(*job->reply_type, bytes, size, &job->tapes[i]);
  if (!job->has_tape[i]) job->tapes[i] = Tape();
}

// Strings JavaScript copies when it slices them out of a longer one (V8 makes slices of 13
// characters or more views of the whole): ASCII strings up to 12 bytes.
constexpr uint32_t kMaxPooledBytes = 12;

// The tape as tape.js reads it: [ArrayBuffer, pool, strings]. The ArrayBuffer holds int32s:
// the number of ops, of nums and of the tape's strings; per string of the tape, its start
// and end in `pool` (a short ASCII one, which JavaScript copies out of it), or -1 - its
// index in `strings` (each made a JavaScript string of its own) and 0; the ops. Then from
// the next multiple of 8 bytes the nums (float64s). So no string of a reply keeps the rest
// of the reply's text alive. Null when V8 cannot make them.
napi_value TapeValue(napi_env env, const Tape& tape) {
  const size_t ints = 3 + 2 * tape.strings.size() + tape.ops.size();
  const size_t nums_at = (ints * sizeof(int32_t) + 7) / 8 * 8;
  const size_t size = nums_at + tape.nums.size() * sizeof(double);
  void* data = nullptr;
  napi_value buffer, strings, pool, result;
  if (napi_create_arraybuffer(env, size, &data, &buffer) != napi_ok ||
      napi_create_array(env, &strings) != napi_ok ||
      napi_create_array_with_length(env, 3, &result) != napi_ok) {
    return nullptr;
  }
  auto* p = static_cast<int32_t*>(data);
  p[0] = static_cast<int32_t>(tape.ops.size());
  p[1] = static_cast<int32_t>(tape.nums.size());
  p[2] = static_cast<int32_t>(tape.strings.size());
  std::string pooled;
  uint32_t separate = 0;
  int32_t* table = p + 3;
  for (const Tape::Text& t : tape.strings) {
    const char* text = tape.bytes.data() + t.offset;
    if (t.ascii && t.size <= kMaxPooledBytes) {
      *table++ = static_cast<int32_t>(pooled.size());
      pooled.append(text, t.size);
      *table++ = static_cast<int32_t>(pooled.size());
      continue;
    }
    napi_value s;
    if ((t.ascii ? napi_create_string_latin1(env, text, t.size, &s)
                 : napi_create_string_utf8(env, text, t.size, &s)) != napi_ok ||
        napi_set_element(env, strings, separate, s) != napi_ok) {
      return nullptr;
    }
    *table++ = -1 - static_cast<int32_t>(separate++);
    *table++ = 0;
  }
  std::memcpy(table, tape.ops.data(), tape.ops.size() * sizeof(int32_t));
  std::memcpy(static_cast<char*>(data) + nums_at, tape.nums.data(),
              tape.nums.size() * sizeof(double));
  if (napi_create_string_latin1(env, pooled.data(), pooled.size(), &pool) != napi_ok) {
    return nullptr;
  }
  napi_set_element(env, result, 0, buffer);
  napi_set_element(env, result, 1, pool);
  napi_set_element(env, result, 2, strings);
  return result;
}

// [code, details, reply] of a finished call: the reply's tape where the codec made it,
// else its bytes (a Buffer); null when the call failed.
napi_value Outcome(napi_env env, const Job& job, size_t i) {
  const ByteCall& call = job.calls[i];
  napi_value code, details, result, reply = nullptr;
  napi_create_int32(env, static_cast<int32_t>(call.status.error_code()), &code);
  const std::string& message = call.status.error_message();
  napi_create_string_utf8(env, message.data(), message.size(), &details);
  if (call.status.ok() && job.has_tape[i]) reply = TapeValue(env, job.tapes[i]);
  if (call.status.ok() && reply == nullptr) {  // declined, or a tape V8 could not take
    void* p = nullptr;
    if (napi_create_buffer(env, call.ReplySize(), &p, &reply) != napi_ok ||
        !call.CopyReply(static_cast<char*>(p))) {
      reply = nullptr;
    }
  }
  if (reply == nullptr) napi_get_null(env, &reply);
  napi_create_array_with_length(env, 3, &result);
  napi_set_element(env, result, 0, code);
  napi_set_element(env, result, 1, details);
  napi_set_element(env, result, 2, reply);
  return result;
}

// On the JavaScript thread: resolves the job's promise with its outcome(s).
void Complete(napi_env env, napi_value, void*, void* data) {
  std::unique_ptr<Job> job(static_cast<Job*>(data));
  if (env == nullptr) return;  // the environment is going away
  napi_value result;
  if (job->many) {
    napi_create_array_with_length(env, job->calls.size(), &result);
    for (size_t i = 0; i < job->calls.size(); ++i) {
      napi_set_element(env, result, static_cast<uint32_t>(i), Outcome(env, *job, i));
    }
  } else {
    result = Outcome(env, *job, 0);
  }
  napi_resolve_deferred(env, job->deferred, result);
  Wrap* w = job->wrap;
  if (--w->in_flight == 0) {
    napi_unref_threadsafe_function(env, w->done);
    uint32_t count = 0;
    napi_reference_unref(env, w->self, &count);
  }
}

// Codec objects: a WireTape, tagged so that a Channel can tell one from any other object.
struct CodecWrap {
  std::shared_ptr<const WireTape> tape;
};
constexpr napi_type_tag kCodecTag = {0x6b67636f64656321ull, 0x776972656a736f6eull};
constexpr napi_type_tag kChannelTag = {0x6b676368616e6e65ull, 0x6c6e61746976652eull};

void FinalizeCodec(napi_env, void* data, void*) { delete static_cast<CodecWrap*>(data); }

// The WireTape of a Codec object, or null.
std::shared_ptr<const WireTape> CodecOf(napi_env env, napi_value v) {
  bool tagged = false;
  void* data = nullptr;
  if (napi_check_object_type_tag(env, v, &kCodecTag, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, v, &data) != napi_ok) {
    return nullptr;
  }
  return static_cast<CodecWrap*>(data)->tape;
}

// An array of strings, or false with a TypeError pending that names `what`.
bool ReadStrings(napi_env env, napi_value v, const char* what, std::vector<std::string>* out) {
  bool is_array = false;
  napi_is_array(env, v, &is_array);
  uint32_t n = 0;
  if (!is_array || napi_get_array_length(env, v, &n) != napi_ok) {
    Fail(env, std::string(what) + ": expected an array of strings");
    return false;
  }
  out->resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    napi_value e;
    napi_get_element(env, v, i, &e);
    if (!ReadString(env, e, &(*out)[i])) {
      Fail(env, std::string(what) + "[" + std::to_string(i) + "]: expected a string");
      return false;
    }
  }
  return true;
}

// new Codec(includeDirs, files): the .proto files (and their imports) as proto-loader's
// loadSync(files, {includeDirs}) loads them.
napi_value ConstructCodec(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  napi_get_cb_info(env, info, &argc, argv, &self, nullptr);
  std::vector<std::string> dirs, files;
  if (argc < 2) return Fail(env, "new Codec(includeDirs, files): expected two arrays");
  if (!ReadStrings(env, argv[0], "includeDirs", &dirs) ||
      !ReadStrings(env, argv[1], "files", &files)) {
    return nullptr;
  }
  std::string error;
  std::shared_ptr<const WireTape> tape = WireTape::Create(dirs, files, &error);
  if (tape == nullptr) return Fail(env, "files: " + error);
  auto* wrap = new CodecWrap{std::move(tape)};
  if (napi_wrap(env, self, wrap, FinalizeCodec, nullptr, nullptr) != napi_ok ||
      napi_type_tag_object(env, self, &kCodecTag) != napi_ok) {
    return Fail(env, "could not wrap the codec");
  }
  return self;
}

// The codec of a Codec method's `this` with up to *argc arguments; null with a TypeError
// pending when `this` is not a Codec.
const WireTape* CodecThis(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  napi_value self;
  napi_get_cb_info(env, info, argc, argv, &self, nullptr);
  std::shared_ptr<const WireTape> codec = CodecOf(env, self);
  if (codec == nullptr) Fail(env, "not a Codec");
  return codec.get();  // the object (and so the codec) lives through the call
}

// codec.decode(type, bytes) -> the tape ([ArrayBuffer, pool, strings], TapeValue) of
// proto-loader's
// object of `bytes`, or null when the type is not supported or the bytes are declined
// (wire_tape.h).
napi_value DecodeMethod(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  const WireTape* codec = CodecThis(env, info, &argc, argv);
  if (codec == nullptr) return nullptr;
  std::string name, bytes;
  if (argc < 1 || !ReadString(env, argv[0], &name) || name.empty()) {
    return Fail(env, "type: expected a message type's full name");
  }
  if (!codec->Knows(name)) {
    return Fail(env, "type: \"" + name + "\" is not a message type of the codec");
  }
  const WireTape::Message* type = codec->Find(name);
  if (argc < 2 || !ReadBytes(env, argv[1], &bytes)) {
    return Fail(env, "bytes: expected a Uint8Array");
  }
  Tape tape;
  napi_value result = nullptr;
  if (type != nullptr && WireTape::Decode(*type, bytes.data(), bytes.size(), &tape)) {
    result = TapeValue(env, tape);
  }
  if (result == nullptr) napi_get_null(env, &result);
  return result;
}

napi_value Strings(napi_env env, const std::vector<std::string>& strings) {
  napi_value array;
  napi_create_array_with_length(env, strings.size(), &array);
  for (size_t i = 0; i < strings.size(); ++i) {
    napi_value s;
    napi_create_string_utf8(env, strings[i].data(), strings[i].size(), &s);
    napi_set_element(env, array, static_cast<uint32_t>(i), s);
  }
  return array;
}

// codec.layout() -> {plans: [[keys, [[oneofKey, memberKeys], ...]], ...], names}: what
// tape.js needs to read the codec's tapes (wire_tape.h).
napi_value LayoutMethod(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  const WireTape* codec = CodecThis(env, info, &argc, nullptr);
  if (codec == nullptr) return nullptr;
  const WireTape::Layout& layout = codec->layout();
  napi_value result, plans;
  napi_create_object(env, &result);
  napi_create_array_with_length(env, layout.plans.size(), &plans);
  for (size_t p = 0; p < layout.plans.size(); ++p) {
    napi_value plan, oneofs;
    napi_create_array_with_length(env, 2, &plan);
    napi_set_element(env, plan, 0, Strings(env, layout.plans[p].keys));
    napi_create_array_with_length(env, layout.plans[p].oneofs.size(), &oneofs);
    for (size_t o = 0; o < layout.plans[p].oneofs.size(); ++o) {
      napi_value oneof, key;
      const auto& [name, members] = layout.plans[p].oneofs[o];
      napi_create_array_with_length(env, 2, &oneof);
      napi_create_string_utf8(env, name.data(), name.size(), &key);
      napi_set_element(env, oneof, 0, key);
      napi_set_element(env, oneof, 1, Strings(env, members));
      napi_set_element(env, oneofs, static_cast<uint32_t>(o), oneof);
    }
    napi_set_element(env, plan, 1, oneofs);
    napi_set_element(env, plans, static_cast<uint32_t>(p), plan);
  }
  napi_set_named_property(env, result, "plans", plans);
  napi_set_named_property(env, result, "names", Strings(env, layout.names));
  return result;
}

// A Codec method of one string argument (`what`) answering `test(codec, argument)`.
napi_value CodecPredicate(napi_env env, napi_callback_info info, const char* what,
                          bool (*test)(const WireTape&, const std::string&)) {
  size_t argc = 1;
  napi_value argv[1];
  const WireTape* codec = CodecThis(env, info, &argc, argv);
  if (codec == nullptr) return nullptr;
  std::string text;
  if (argc < 1 || !ReadString(env, argv[0], &text)) {
    return Fail(env, std::string(what) + ": expected a string");
  }
  napi_value result;
  napi_get_boolean(env, test(*codec, text), &result);
  return result;
}

// codec.supports(type) -> whether messages of `type` can be made tapes (wire_tape.h).
napi_value SupportsMethod(napi_env env, napi_callback_info info) {
  return CodecPredicate(env, info, "type", [](const WireTape& c, const std::string& name) {
    return c.Find(name) != nullptr;
  });
}

// codec.decodesReplies(method) -> whether a Channel with this codec makes the replies of
// `method` ("/package.Service/Method") tapes: a method of the files whose reply type it
// supports.
napi_value DecodesRepliesMethod(napi_env env, napi_callback_info info) {
  return CodecPredicate(env, info, "method", [](const WireTape& c, const std::string& method) {
    return c.ReplyOf(method) != nullptr;
  });
}

// new Channel(target, {tls, rootCertificates, privateKey, certificateChain, channelArgs, codec})
napi_value Construct(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  napi_get_cb_info(env, info, &argc, argv, &self, nullptr);
  std::string target;
  if (argc < 1 || !ReadString(env, argv[0], &target) || target.empty()) {
    return Fail(env, "target: expected \"HOST:PORT\"");
  }
  bool tls = false;
  std::shared_ptr<const WireTape> codec;
  grpc::SslCredentialsOptions ssl;
  grpc::ChannelArguments arguments;
  napi_valuetype t = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &t);
  if (t == napi_object) {
    napi_value v;
    if (Property(env, argv[1], "tls", &v)) napi_get_value_bool(env, v, &tls);
    if (Property(env, argv[1], "codec", &v) && (codec = CodecOf(env, v)) == nullptr) {
      return Fail(env, "codec: expected a Codec");
    }
    const std::pair<const char*, std::string*> pems[] = {{"rootCertificates", &ssl.pem_root_certs},
                                                         {"privateKey", &ssl.pem_private_key},
                                                         {"certificateChain", &ssl.pem_cert_chain}};
    for (const auto& [name, field] : pems) {
      if (Property(env, argv[1], name, &v) && !ReadBytes(env, v, field)) {
        return Fail(env, std::string(name) + ": expected a Buffer or a string");
      }
    }
    if (Property(env, argv[1], "channelArgs", &v)) {
      napi_value names;
      uint32_t n = 0;
      if (napi_get_property_names(env, v, &names) != napi_ok ||
          napi_get_array_length(env, names, &n) != napi_ok) {
        return Fail(env, "channelArgs: expected an object");
      }
      for (uint32_t i = 0; i < n; ++i) {
        napi_value key, value;
        std::string name, text;
        napi_get_element(env, names, i, &key);
        napi_get_property(env, v, key, &value);
        ReadString(env, key, &name);
        napi_valuetype vt;
        napi_typeof(env, value, &vt);
        if (vt == napi_number) {
          int32_t number = 0;
          napi_get_value_int32(env, value, &number);
          arguments.SetInt(name, number);
        } else if (vt == napi_string && ReadString(env, value, &text)) {
          arguments.SetString(name, text);
        } else {
          return Fail(env, "channelArgs." + name + ": expected a number or a string");
        }
      }
    }
  } else if (t != napi_undefined && t != napi_null) {
    return Fail(env, "options: expected an object");
  }
  auto w = std::make_unique<Wrap>();
  w->transport = Transport::Open(target, tls, ssl, arguments);
  w->codec = std::move(codec);
  napi_value name;
  napi_create_string_utf8(env, "kgclient_native", NAPI_AUTO_LENGTH, &name);
  Wrap* raw = w.release();
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, raw, FinalizeDone, nullptr,
                                      Complete, &raw->done) != napi_ok) {
    delete raw;
    return Fail(env, "could not create the completion queue");
  }
  raw->sink->done = raw->done;
  napi_unref_threadsafe_function(env, raw->done);  // idle channels do not keep node running
  if (napi_wrap(env, self, raw, Finalize, nullptr, &raw->self) != napi_ok) {
    Finalize(env, raw, nullptr);
    return Fail(env, "could not wrap the channel");
  }
  napi_type_tag_object(env, self, &kChannelTag);
  return self;
}

Wrap* Unwrap(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  napi_value self;
  void* data = nullptr;
  napi_get_cb_info(env, info, argc, argv, &self, nullptr);
  bool tagged = false;
  if (napi_check_object_type_tag(env, self, &kChannelTag, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, self, &data) != napi_ok) {
    return nullptr;
  }
  return static_cast<Wrap*>(data);
}

// Starts `job` (its requests set) and returns its promise.
napi_value Start(napi_env env, Wrap* w, std::unique_ptr<Job> job, const std::string& method,
                 double timeout_ms, Metadata metadata, uint32_t max_in_flight) {
  napi_value promise;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok) {
    return Fail(env, "could not create a promise");
  }
  if (w->in_flight++ == 0) {  // keep node running and the channel alive until the last reply
    napi_ref_threadsafe_function(env, w->done);
    uint32_t count = 0;
    napi_reference_ref(env, w->self, &count);
  }
  job->wrap = w;
  if (w->codec != nullptr) {  // replies of a type the codec knows are made tapes
    job->reply_type = w->codec->ReplyOf(method);
    job->codec = w->codec;
  }
  std::vector<ByteCall*> calls;
  for (ByteCall& c : job->calls) calls.push_back(&c);
  Job* raw = job.release();
  kg::native::RunCalls(
      w->transport, method, std::move(calls), max_in_flight, timeout_ms, std::move(metadata),
      [raw, sink = w->sink] {
        if (!sink->Deliver(raw)) delete raw;  // its environment is gone
      },
      /*start_in_background=*/true,
      raw->reply_type == nullptr ? nullptr : std::function<void(ByteCall*)>([raw](ByteCall* call) {
        Transcode(raw, call);
      }));
  return promise;
}

// The arguments every call takes: method, timeoutMs (at argv[2]) and metadata (argv[3]).
bool CallArguments(napi_env env, size_t argc, napi_value* argv, std::string* method,
                   double* timeout_ms, Metadata* metadata) {
  if (argc < 3 || !ReadString(env, argv[0], method) || method->empty()) {
    Fail(env, "method: expected \"/package.Service/Method\"");
    return false;
  }
  if (napi_get_value_double(env, argv[2], timeout_ms) != napi_ok || !(*timeout_ms > 0) ||
      *timeout_ms > kMaxTimeoutMs) {
    Fail(env, "timeoutMs: expected a number of milliseconds > 0");
    return false;
  }
  bool is_array = false;
  if (argc >= 4) napi_is_array(env, argv[3], &is_array);
  if (!is_array) return true;
  uint32_t n = 0;
  napi_get_array_length(env, argv[3], &n);
  for (uint32_t i = 0; i < n; ++i) {
    napi_value pair, k, v;
    std::string key, value;
    bool pair_ok = false;
    napi_get_element(env, argv[3], i, &pair);
    napi_is_array(env, pair, &pair_ok);
    if (!pair_ok || napi_get_element(env, pair, 0, &k) != napi_ok ||
        napi_get_element(env, pair, 1, &v) != napi_ok || !ReadString(env, k, &key) ||
        !ReadString(env, v, &value)) {
      Fail(env, "metadata: expected [key, value] pairs of strings");
      return false;
    }
    metadata->emplace_back(std::move(key), std::move(value));
  }
  return true;
}

Wrap* OpenWrap(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  Wrap* w = Unwrap(env, info, argc, argv);
  if (w == nullptr) {
    Fail(env, "not a Channel");
  } else if (w->transport == nullptr) {
    napi_throw_error(env, nullptr, "the channel is closed");
    w = nullptr;
  }
  return w;
}

// channel.call(method, request, timeoutMs, metadata = [])
//   -> Promise<[code, details, reply]>; reply: the tape the channel's codec made of it
//   (a method whose reply type it supports, and bytes it does not decline), else a Buffer
napi_value CallMethod(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  Wrap* w = OpenWrap(env, info, &argc, argv);
  std::string method, request;
  double timeout_ms = 0;
  Metadata metadata;
  if (w == nullptr || !CallArguments(env, argc, argv, &method, &timeout_ms, &metadata)) {
    return nullptr;
  }
  if (!ReadBytes(env, argv[1], &request)) return Fail(env, "request: expected a Uint8Array");
  auto job = std::make_unique<Job>(1);
  job->calls[0].SetRequest(request.data(), request.size());
  return Start(env, w, std::move(job), method, timeout_ms, std::move(metadata), 1);
}

// channel.callMany(method, requests, timeoutMs, metadata = [], maxInFlight = 32)
//   -> Promise<[[code, details, reply], ...]>, in the order of `requests` (reply as in call)
napi_value CallManyMethod(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  Wrap* w = OpenWrap(env, info, &argc, argv);
  std::string method;
  double timeout_ms = 0;
  Metadata metadata;
  if (w == nullptr || !CallArguments(env, argc, argv, &method, &timeout_ms, &metadata)) {
    return nullptr;
  }
  uint32_t max_in_flight = 32;
  napi_valuetype t = napi_undefined;
  if (argc >= 5) napi_typeof(env, argv[4], &t);
  if (t != napi_undefined) {
    double v = 0;
    if (napi_get_value_double(env, argv[4], &v) != napi_ok || !(v >= 1) || v > kMaxInFlight) {
      return Fail(env, "maxInFlight: expected 1..1024");
    }
    max_in_flight = static_cast<uint32_t>(v);
  }
  bool is_array = false;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) return Fail(env, "requests: expected an array of Uint8Array");
  uint32_t n = 0;
  napi_get_array_length(env, argv[1], &n);
  auto job = std::make_unique<Job>(n);
  job->many = true;
  std::string request;
  for (uint32_t i = 0; i < n; ++i) {
    napi_value v;
    napi_get_element(env, argv[1], i, &v);
    if (!ReadBytes(env, v, &request)) {
      return Fail(env, "requests[" + std::to_string(i) + "]: expected a Uint8Array");
    }
    job->calls[i].SetRequest(request.data(), request.size());
  }
  return Start(env, w, std::move(job), method, timeout_ms, std::move(metadata), max_in_flight);
}

napi_value CloseMethod(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Wrap* w = Unwrap(env, info, &argc, nullptr);
  if (w == nullptr) return Fail(env, "close: not a Channel");
  w->transport.reset();
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor methods[] = {
      {"call", nullptr, CallMethod, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"callMany", nullptr, CallManyMethod, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, CloseMethod, nullptr, nullptr, nullptr, napi_default, nullptr}};
  const napi_property_descriptor codec_methods[] = {
      {"decode", nullptr, DecodeMethod, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"layout", nullptr, LayoutMethod, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"supports", nullptr, SupportsMethod, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"decodesReplies", nullptr, DecodesRepliesMethod, nullptr, nullptr, nullptr, napi_default,
       nullptr}};
  napi_value cls, codec;
  if (napi_define_class(env, "Channel", NAPI_AUTO_LENGTH, Construct, nullptr, 3, methods, &cls) !=
          napi_ok ||
      napi_set_named_property(env, exports, "Channel", cls) != napi_ok ||
      napi_define_class(env, "Codec", NAPI_AUTO_LENGTH, ConstructCodec, nullptr, 4, codec_methods,
                        &codec) != napi_ok ||
      napi_set_named_property(env, exports, "Codec", codec) != napi_ok) {
    return nullptr;
  }
  return exports;
}

}  // namespace

NAPI_MODULE(kgclient_native, Init)
