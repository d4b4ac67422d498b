// Scatter-gather over partitions: items of a request grouped into one internal request per
// partition, all sent at once (remote calls run concurrently; local ones complete inline),
// and a continuation run once every reply is in. Not thread-safe itself: one per RPC.
#ifndef KG_SERVER_FRONTEND_FANOUT_H_
#define KG_SERVER_FRONTEND_FANOUT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/arena.h"
#include "server/frontend/cluster.h"
#include "server/frontend/partition_client.h"

namespace kg {

template <typename Req, typename Resp>
class Scatter {
 public:
  struct Slot {
    // The messages live on `arena` when the Scatter has one, else on the heap.
    Slot(uint32_t p, google::protobuf::Arena* arena)
        : partition(p),
          req(*google::protobuf::Arena::CreateMessage<Req>(arena)),
          resp(*google::protobuf::Arena::CreateMessage<Resp>(arena)),
          owned(arena == nullptr) {}
    ~Slot() {
      if (owned) {
        delete &req;
        delete &resp;
      }
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

    uint32_t partition;
    Req& req;
    Resp& resp;
    bool owned;
    std::vector<int> items;  // caller's item index of each entry added to req
    absl::Status status;

    // Whether entry `j` of the request was answered, given the reply's entry count; if
    // not, *error is the call's error (or INTERNAL for a reply shorter than the request).
    bool Answered(size_t j, int reply_entries, absl::Status* error) const {
      if (!status.ok()) {
        *error = status;
        return false;
      }
      if (static_cast<int>(j) >= reply_entries) {
        *error = absl::InternalError("partition reply has fewer entries than the request");
        return false;
      }
      return true;
    }
  };

  // With an `arena`, requests and replies are allocated on it (cheap to build, free to
  // destroy, and swapped into a reply on the same arena without copying); the arena must
  // outlive the Scatter.
  explicit Scatter(uint32_t partition_count, google::protobuf::Arena* arena = nullptr)
      : slot_of_(partition_count, -1), arena_(arena) {}

  // The request for `partition`, created with its target on first use.
  Slot& At(uint32_t partition) {
    int& index = slot_of_[partition];
    if (index < 0) {
      index = static_cast<int>(slots_.size());
      slots_.push_back(std::make_unique<Slot>(partition, arena_));
      slots_.back()->req.mutable_target()->set_partition(partition);
      slots_.back()->req.mutable_target()->set_partition_count(
          static_cast<uint32_t>(slot_of_.size()));
    }
    return *slots_[index];
  }

  std::vector<std::unique_ptr<Slot>>& slots() { return slots_; }

  // Sends every slot's request through `method` in parallel; runs `then` once, after the
  // last reply, on the thread that delivered it (inline when every partition is local).
  // The Scatter must stay alive until `then` has run.
  void Run(const Router& router, const CallOptions& options,
           void (PartitionClient::*method)(const CallOptions&, const Req*, Resp*, Done),
           std::function<void()> then) {
    struct Join {
      std::atomic<int> remaining;
      std::function<void()> then;
    };
    auto join = std::make_shared<Join>();
    join->remaining.store(static_cast<int>(slots_.size()) + 1);
    join->then = std::move(then);
    auto arrive = [](const std::shared_ptr<Join>& j) {
      if (j->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) j->then();
    };
    for (auto& slot : slots_) {
      Slot* s = slot.get();
      (router.client(s->partition).*method)(options, &s->req, &s->resp,
                                            [s, join, arrive](absl::Status status) {
                                              s->status = std::move(status);
                                              arrive(join);
                                            });
    }
    arrive(join);
  }

 private:
  std::vector<int> slot_of_;
  google::protobuf::Arena* arena_;
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace kg

#endif  // KG_SERVER_FRONTEND_FANOUT_H_
