// kgclient_native: the Python client's optional native transport. A gRPC C++ channel that
// sends serialized requests and returns serialized replies of unary methods (the generic
// stub, so it knows no message types), with Python's interpreter lock released while a call
// is on the wire. `call_many` keeps up to `max_in_flight` calls of one method in flight
// from C++ (the callback API), so a batch of calls costs Python only its serialization and
// parsing. Used by kgclient.KgClient when importable (see client/python/README.md); the
// Python code above it (retries, errors, helpers) is the same for both transports.
//
// The module also carries the generated C++ classes of the public messages (proto/kg/v1,
// the files the stubs are made from in the same build). Python's protobuf in its C++
// implementation (Debian's python3-protobuf) builds a message class from the C++ generated
// pool when a file is there before its _pb2 module loads, and then parses, serializes and
// copies it with the generated code instead of reflection over dynamic messages: the
// `kgclient_proto` package imports this module first for that (when it sits beside it, i.e.
// comes from the same build). Python's other protobuf implementations ignore it.
//
// Uses: CPython's C API, grpc++, the generated kg.v1 messages (no generated stubs) and
// client/native/byte_calls.h.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sys/types.h>
#include <unistd.h>

#include <climits>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "byte_calls.h"
#include "kg/v1/admin.pb.h"
#include "kg/v1/graph.pb.h"
#include "kg/v1/insight.pb.h"
#include "kg/v1/knowledge.pb.h"
#include "kg/v1/types.pb.h"

namespace {

constexpr long kMaxInFlight = 1024;
constexpr double kMaxTimeoutS = 1e9;

// A call's timeout: more than 0 s and finite (ValueError otherwise).
bool CheckTimeout(double timeout_s) {
  if (timeout_s > 0 && timeout_s <= kMaxTimeoutS) return true;
  PyErr_Format(PyExc_ValueError, "timeout_s: must be > 0 and <= %g, got %g", kMaxTimeoutS,
               timeout_s);
  return false;
}

using kg::native::ByteCall;
using kg::native::Metadata;
using kg::native::Transport;

// gRPC C++ does not survive fork(): in a child process a channel made before the fork is
// neither used (calls raise) nor destroyed (it is left to the process's exit).
struct ChannelObject {
  PyObject_HEAD std::shared_ptr<Transport>* transport;  // null when closed
  pid_t pid;                                            // the process that made it
};

// Drops the channel's transport; in a process forked since, leaves it alone.
void Release(ChannelObject* self) {
  if (self->transport != nullptr && self->pid == getpid()) delete self->transport;
  self->transport = nullptr;
}

bool ReadString(PyObject* o, const char* what, std::string* out) {
  Py_ssize_t n = 0;
  const char* s = nullptr;
  if (PyUnicode_Check(o)) {
    s = PyUnicode_AsUTF8AndSize(o, &n);
  } else if (PyBytes_Check(o)) {
    s = PyBytes_AS_STRING(o);
    n = PyBytes_GET_SIZE(o);
  } else {
    PyErr_Format(PyExc_TypeError, "%s: expected str or bytes, got %s", what, Py_TYPE(o)->tp_name);
    return false;
  }
  if (s == nullptr) return false;
  out->assign(s, static_cast<size_t>(n));
  return true;
}

// metadata: a sequence of (key, value) pairs of str.
bool ReadMetadata(PyObject* o, Metadata* out) {
  if (o == nullptr || o == Py_None) return true;
  PyObject* seq = PySequence_Fast(o, "metadata: expected a sequence of (key, value) pairs");
  if (seq == nullptr) return false;
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* pair = PySequence_Fast_GET_ITEM(seq, i);
    std::string k, v;
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
      PyErr_SetString(PyExc_TypeError, "metadata: expected (key, value) pairs");
      Py_DECREF(seq);
      return false;
    }
    if (!ReadString(PyTuple_GET_ITEM(pair, 0), "metadata key", &k) ||
        !ReadString(PyTuple_GET_ITEM(pair, 1), "metadata value", &v)) {
      Py_DECREF(seq);
      return false;
    }
    out->emplace_back(std::move(k), std::move(v));
  }
  Py_DECREF(seq);
  return true;
}

// A bytes-like request copied into the call (while the interpreter lock is held).
bool ReadRequest(PyObject* o, ByteCall* call) {
  Py_buffer view;
  if (PyObject_GetBuffer(o, &view, PyBUF_SIMPLE) != 0) return false;
  call->SetRequest(view.buf, static_cast<size_t>(view.len));
  PyBuffer_Release(&view);
  return true;
}

// (code, details, reply bytes or None).
PyObject* Outcome(const ByteCall& call) {
  PyObject* reply = nullptr;
  if (call.status.ok()) {
    reply = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(call.ReplySize()));
    if (reply == nullptr) return nullptr;
    if (!call.CopyReply(PyBytes_AS_STRING(reply))) {
      Py_DECREF(reply);
      PyErr_SetString(PyExc_RuntimeError, "reply: unreadable buffer");
      return nullptr;
    }
  } else {
    reply = Py_None;
    Py_INCREF(reply);
  }
  const std::string& details = call.status.error_message();
  return Py_BuildValue("(is#N)", static_cast<int>(call.status.error_code()), details.data(),
                       static_cast<Py_ssize_t>(details.size()), reply);
}

// Runs the calls (kg::native::RunCalls) with the interpreter lock released until the last
// has finished; `start_in_background`: the first calls start on byte_calls.h's Background
// thread (one call from each of many Python threads: this thread then only waits, and
// one-key calls from 32 threads ran at about 1.5x the rate in alternated bench.py runs).
void RunReleased(std::shared_ptr<Transport> transport, const char* method,
                 std::vector<ByteCall*> calls, long max_in_flight, double timeout_s,
                 Metadata metadata, bool start_in_background) {
  Py_BEGIN_ALLOW_THREADS;
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  kg::native::RunCalls(
      std::move(transport), method, std::move(calls), static_cast<size_t>(max_in_flight),
      timeout_s * 1000, std::move(metadata),
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        finished = true;
        cv.notify_one();
      },
      start_in_background);
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return finished; });
  Py_END_ALLOW_THREADS;
}

// The channel's transport, held by the caller for the call (nullptr: closed, error set).
std::shared_ptr<Transport> Open(ChannelObject* self) {
  if (self->transport != nullptr && self->pid != getpid()) {
    PyErr_SetString(PyExc_RuntimeError,
                    "the channel was made before this process was forked: gRPC C++ does not "
                    "survive fork(); make the client in the child (kgclient uses grpcio there)");
    return nullptr;
  }
  if (self->transport != nullptr) return *self->transport;
  PyErr_SetString(PyExc_ValueError, "the channel is closed");
  return nullptr;
}

int ChannelInit(ChannelObject* self, PyObject* args, PyObject* kwargs) {
  static const char* kNames[] = {"target",
                                 "tls",
                                 "root_certificates",
                                 "private_key",
                                 "certificate_chain",
                                 "int_options",
                                 "string_options",
                                 nullptr};
  const char* target = nullptr;
  int tls = 0;
  PyObject *roots = Py_None, *key = Py_None, *chain = Py_None, *ints = Py_None, *strings = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|$pOOOOO", const_cast<char**>(kNames), &target,
                                   &tls, &roots, &key, &chain, &ints, &strings)) {
    return -1;
  }
  grpc::ChannelArguments arguments;
  Metadata int_options, string_options;
  if (!ReadMetadata(strings, &string_options)) return -1;
  for (const auto& [k, v] : string_options) arguments.SetString(k, v);
  if (ints != Py_None) {
    PyObject* seq = PySequence_Fast(ints, "int_options: expected a sequence of (name, int)");
    if (seq == nullptr) return -1;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); ++i) {
      PyObject* pair = PySequence_Fast_GET_ITEM(seq, i);
      std::string name;
      if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
          !ReadString(PyTuple_GET_ITEM(pair, 0), "int_options name", &name)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "int_options: expected pairs");
        Py_DECREF(seq);
        return -1;
      }
      long value = PyLong_AsLong(PyTuple_GET_ITEM(pair, 1));
      if ((value == -1 && PyErr_Occurred()) || value < INT_MIN || value > INT_MAX) {
        if (!PyErr_Occurred()) {
          PyErr_Format(PyExc_ValueError, "int_options %s: out of range", name.c_str());
        }
        Py_DECREF(seq);
        return -1;
      }
      arguments.SetInt(name, static_cast<int>(value));
    }
    Py_DECREF(seq);
  }
  grpc::SslCredentialsOptions ssl;
  if (tls && ((roots != Py_None && !ReadString(roots, "root_certificates", &ssl.pem_root_certs)) ||
              (key != Py_None && !ReadString(key, "private_key", &ssl.pem_private_key)) ||
              (chain != Py_None && !ReadString(chain, "certificate_chain", &ssl.pem_cert_chain)))) {
    return -1;
  }
  Release(self);
  self->pid = getpid();
  self->transport = new std::shared_ptr<Transport>(Transport::Open(target, tls, ssl, arguments));
  return 0;
}

void ChannelDealloc(ChannelObject* self) {
  Release(self);
  PyTypeObject* type = Py_TYPE(self);
  auto free_fn = reinterpret_cast<freefunc>(PyType_GetSlot(type, Py_tp_free));
  free_fn(self);
  Py_DECREF(type);  // a heap type's instances hold a reference to it
}

PyObject* ChannelClose(ChannelObject* self, PyObject*) {
  Release(self);
  Py_RETURN_NONE;
}

// call(method, request, timeout_s, metadata=()) -> (code, details, reply or None)
PyObject* ChannelCall(ChannelObject* self, PyObject* args, PyObject* kwargs) {
  static const char* kNames[] = {"method", "request", "timeout_s", "metadata", nullptr};
  const char* method = nullptr;
  PyObject *request = nullptr, *metadata = Py_None;
  double timeout_s = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sOd|O", const_cast<char**>(kNames), &method,
                                   &request, &timeout_s, &metadata)) {
    return nullptr;
  }
  if (!CheckTimeout(timeout_s)) return nullptr;
  std::shared_ptr<Transport> transport = Open(self);
  if (transport == nullptr) return nullptr;
  Metadata md;
  ByteCall call;
  if (!ReadMetadata(metadata, &md) || !ReadRequest(request, &call)) return nullptr;
  RunReleased(std::move(transport), method, {&call}, 1, timeout_s, std::move(md),
              /*start_in_background=*/true);
  return Outcome(call);
}

// call_many(method, requests, timeout_s, metadata=(), max_in_flight=32) -> [(code, details,
// reply or None)], in the order of `requests`; each call has its own deadline of timeout_s.
PyObject* ChannelCallMany(ChannelObject* self, PyObject* args, PyObject* kwargs) {
  static const char* kNames[] = {"method",   "requests",      "timeout_s",
                                 "metadata", "max_in_flight", nullptr};
  const char* method = nullptr;
  PyObject *requests = nullptr, *metadata = Py_None;
  double timeout_s = 0;
  long max_in_flight = 32;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sOd|Ol", const_cast<char**>(kNames), &method,
                                   &requests, &timeout_s, &metadata, &max_in_flight)) {
    return nullptr;
  }
  if (!CheckTimeout(timeout_s)) return nullptr;
  std::shared_ptr<Transport> transport = Open(self);
  if (transport == nullptr) return nullptr;
  if (max_in_flight < 1 || max_in_flight > kMaxInFlight) {
    PyErr_Format(PyExc_ValueError, "max_in_flight: must be 1..%ld, got %ld", kMaxInFlight,
                 max_in_flight);
    return nullptr;
  }
  Metadata md;
  if (!ReadMetadata(metadata, &md)) return nullptr;
  PyObject* seq = PySequence_Fast(requests, "requests: expected a sequence of bytes");
  if (seq == nullptr) return nullptr;
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  std::vector<ByteCall> calls(static_cast<size_t>(n));
  std::vector<ByteCall*> pointers;
  for (Py_ssize_t i = 0; i < n; ++i) {
    if (!ReadRequest(PySequence_Fast_GET_ITEM(seq, i), &calls[i])) {
      Py_DECREF(seq);
      return nullptr;
    }
    pointers.push_back(&calls[i]);
  }
  Py_DECREF(seq);
  // Each deadline starts when its call does, as for calls made one at a time.
  RunReleased(std::move(transport), method, std::move(pointers), max_in_flight, timeout_s,
              std::move(md), /*start_in_background=*/false);
  PyObject* out = PyList_New(n);
  if (out == nullptr) return nullptr;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* outcome = Outcome(calls[i]);
    if (outcome == nullptr) {
      Py_DECREF(out);
      return nullptr;
    }
    PyList_SET_ITEM(out, i, outcome);
  }
  return out;
}

// A method of Channel as CPython stores it (the cast through void(*)() is the sanctioned one).
template <typename Fn>
PyCFunction Method(Fn fn) {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fn));
}

PyMethodDef kChannelMethods[] = {
    {"call", Method(ChannelCall), METH_VARARGS | METH_KEYWORDS,
     "call(method, request, timeout_s, metadata=()) -> (code, details, reply)\n"
     "One unary call of `method` (\"/kg.v1.GraphService/GetEntities\") with a serialized "
     "request; the reply is bytes when code is 0, else None."},
    {"call_many", Method(ChannelCallMany), METH_VARARGS | METH_KEYWORDS,
     "call_many(method, requests, timeout_s, metadata=(), max_in_flight=32) -> list\n"
     "Unary calls of one method, up to max_in_flight (1..1024) at a time; one "
     "(code, details, reply) per request, in order."},
    {"close", Method(ChannelClose), METH_NOARGS,
     "Closes the channel; later calls raise ValueError."},
    {nullptr, nullptr, 0, nullptr}};

char kChannelDoc[] =
    "Channel(target, *, tls=False, root_certificates=None, private_key=None, "
    "certificate_chain=None, int_options=(), string_options=())";

PyType_Slot kChannelSlots[] = {{Py_tp_doc, kChannelDoc},
                               {Py_tp_new, reinterpret_cast<void*>(PyType_GenericNew)},
                               {Py_tp_init, reinterpret_cast<void*>(ChannelInit)},
                               {Py_tp_dealloc, reinterpret_cast<void*>(ChannelDealloc)},
                               {Py_tp_methods, kChannelMethods},
                               {0, nullptr}};

PyType_Spec kChannelSpec = {"kgclient_native.Channel", sizeof(ChannelObject), 0, Py_TPFLAGS_DEFAULT,
                            kChannelSlots};

PyModuleDef kModule = {PyModuleDef_HEAD_INIT,
                       "kgclient_native",
                       "The kg.v1 Python client's native gRPC transport (bytes in, bytes out).",
                       -1,
                       nullptr,
                       nullptr,
                       nullptr,
                       nullptr,
                       nullptr};

}  // namespace

PyMODINIT_FUNC PyInit_kgclient_native() {
  // One message of each public file: the linker keeps the files' generated code (their
  // static initialisers register them), and the descriptors are built into the generated
  // pool before any _pb2 module asks for them.
  const google::protobuf::Descriptor* const linked[] = {
      kg::v1::GetClusterInfoRequest::descriptor(), kg::v1::GetEntitiesResponse::descriptor(),
      kg::v1::TopProductsRequest::descriptor(), kg::v1::CategorizeResponse::descriptor(),
      kg::v1::EntityKey::descriptor()};
  PyObject* m = PyModule_Create(&kModule);
  if (m == nullptr) return nullptr;
  PyObject* files = PyTuple_New(sizeof(linked) / sizeof(linked[0]));
  if (files == nullptr) {
    Py_DECREF(m);
    return nullptr;
  }
  for (size_t i = 0; i < sizeof(linked) / sizeof(linked[0]); ++i) {
    PyObject* name = PyUnicode_FromString(linked[i]->file()->name().c_str());
    if (name == nullptr) {
      Py_DECREF(files);
      Py_DECREF(m);
      return nullptr;
    }
    PyTuple_SET_ITEM(files, i, name);
  }
  if (PyModule_AddObject(m, "MESSAGE_FILES", files) < 0) {  // steals `files` on success
    Py_DECREF(files);
    Py_DECREF(m);
    return nullptr;
  }
  PyObject* type = PyType_FromSpec(&kChannelSpec);
  if (type == nullptr || PyModule_AddObject(m, "Channel", type) < 0) {
    Py_XDECREF(type);
    Py_DECREF(m);
    return nullptr;
  }
  return m;
}
