// kg::native: unary gRPC calls of serialized messages through the generic stub, for the
// native transports of the Python and Node.js clients (client/python/native,
// client/node/native), which encode and decode in their own language. Header-only, so each
// binding builds it with its own tool (CMake, pip).
//
// RunCalls keeps up to `max_in_flight` calls in flight: each completion starts the next
// call from gRPC's own thread (as a C++ client's callbacks do), so the binding's thread
// starts at most the first ones (none when it asks the Background thread to) and is told
// once, when the last has finished.
//
// Uses: grpc++ only.
#ifndef KG_CLIENT_NATIVE_BYTE_CALLS_H_
#define KG_CLIENT_NATIVE_BYTE_CALLS_H_

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace kg::native {

using Metadata = std::vector<std::pair<std::string, std::string>>;

// A channel and its stub, shared by the calls in flight, so closing the binding's object
// never frees them under a call.
struct Transport {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;

  // `ssl` is used when `tls`.
  static std::shared_ptr<Transport> Open(const std::string& target, bool tls,
                                         const grpc::SslCredentialsOptions& ssl,
                                         const grpc::ChannelArguments& arguments) {
    auto t = std::make_shared<Transport>();
    t->channel = grpc::CreateCustomChannel(
        target, tls ? grpc::SslCredentials(ssl) : grpc::InsecureChannelCredentials(), arguments);
    t->stub = std::make_unique<grpc::GenericStub>(t->channel);
    return t;
  }
};

// One thread of the library's own, for work that must not run on gRPC's threads or that a
// binding wants off its language's thread: dropping a finished batch's reference to its
// transport (when it is the last one, the binding's object closed or collected meanwhile,
// the channel would otherwise be destroyed on one of its own callback threads, which gRPC
// does not allow) and, on request, starting a batch's first calls.
class Background {
 public:
  static void Post(std::function<void()> task) {
    static Background* background = new Background();  // never destroyed: see Run
    background->Push(std::move(task));
  }

 private:
  Background() {
    std::thread([this] { Run(); }).detach();
  }

  void Push(std::function<void()> task) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(std::move(task));
    if (pending_.size() == 1) cv_.notify_one();
  }

  // Runs until the process exits (a detached thread: exit() never waits for it).
  void Run() {
    std::vector<std::function<void()>> batch;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !pending_.empty(); });
        batch.swap(pending_);
      }
      for (auto& task : batch) task();
      batch.clear();  // tasks' captures (a transport's last reference) go here
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::function<void()>> pending_;
};

// One call: its serialized request, then its status and serialized reply.
struct ByteCall {
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer reply;
  grpc::Status status;

  void SetRequest(const void* data, size_t size) {
    grpc::Slice slice(data, size);
    grpc::ByteBuffer buffer(&slice, 1);
    request.Swap(&buffer);
  }
  size_t ReplySize() const { return reply.Length(); }
  // Copies the reply into `out` (ReplySize() bytes); false when it cannot be read.
  bool CopyReply(char* out) const {
    std::vector<grpc::Slice> slices;
    if (!reply.Dump(&slices).ok()) return false;
    for (const grpc::Slice& s : slices) {
      std::memcpy(out, s.begin(), s.size());
      out += s.size();
    }
    return true;
  }
};

// Runs every call of `calls` (the caller keeps them alive until `done`), at most
// `max_in_flight` (>= 1) at once, each with a deadline of `timeout_ms` from its start and
// `metadata`; `done` runs once, after the last call finished, on a gRPC thread (or on the
// caller's when there are no calls). The first calls start on the caller's thread, or on
// the Background thread with `start_in_background` (the caller's thread then only queues).
// `finished`, when set, runs for each call on the gRPC thread that finished it, after the
// next call was started (the replies are then worked on while the other calls run).
inline void RunCalls(std::shared_ptr<Transport> transport, std::string method,
                     std::vector<ByteCall*> calls, size_t max_in_flight, double timeout_ms,
                     Metadata metadata, std::function<void()> done,
                     bool start_in_background = false,
                     std::function<void(ByteCall*)> finished = nullptr) {
  struct Run {
    std::shared_ptr<Transport> transport;
    std::string method;
    std::vector<ByteCall*> calls;
    double timeout_ms;
    Metadata metadata;
    std::function<void()> done;
    std::function<void(ByteCall*)> finished;
    std::atomic<size_t> next{0};
    std::atomic<size_t> left{0};  // calls not finished, plus one while the first are started

    void Release() {
      if (left.fetch_sub(1) == 1) {
        std::function<void()> finish = std::move(done);
        std::shared_ptr<Transport> t = std::move(transport);
        delete this;
        finish();
        Background::Post([t = std::move(t)] {});
      }
    }

    void StartNext() {
      const size_t i = next.fetch_add(1);
      if (i >= calls.size()) return;
      ByteCall* call = calls[i];
      call->context.set_deadline(
          std::chrono::system_clock::now() +
          std::chrono::microseconds(static_cast<int64_t>(timeout_ms * 1000)));
      for (const auto& [k, v] : metadata) call->context.AddMetadata(k, v);
      transport->stub->UnaryCall(&call->context, method, grpc::StubOptions(), &call->request,
                                 &call->reply, [this, call](grpc::Status status) {
                                   call->status = std::move(status);
                                   StartNext();
                                   if (finished) finished(call);
                                   Release();
                                 });
    }
  };
  if (calls.empty()) {
    done();
    return;
  }
  auto* run = new Run{std::move(transport), std::move(method), std::move(calls),   timeout_ms,
                      std::move(metadata),  std::move(done),   std::move(finished)};
  run->left = run->calls.size() + 1;
  const size_t first = std::min(std::max<size_t>(max_in_flight, 1), run->calls.size());
  auto start = [run, first] {
    for (size_t k = 0; k < first; ++k) run->StartNext();
    run->Release();
  };
  if (start_in_background) {
    Background::Post(start);
  } else {
    start();
  }
}

}  // namespace kg::native

#endif  // KG_CLIENT_NATIVE_BYTE_CALLS_H_
