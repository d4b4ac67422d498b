// BlockArena: a protobuf arena whose first block is part of the object, so messages built
// on it cost no allocation until they outgrow the block (later blocks grow to 1 MiB).
// Used for the messages of one call (server raw methods, kg_bench). Thread-safety as
// google::protobuf::Arena's; the messages die with the object.
#ifndef KG_PROTO_ARENA_H_
#define KG_PROTO_ARENA_H_

#include <cstddef>

#include "google/protobuf/arena.h"

namespace kg {

template <size_t kBlockBytes>
class BlockArena {
 public:
  BlockArena() : arena_(Options(block_)) {}
  BlockArena(const BlockArena&) = delete;
  BlockArena& operator=(const BlockArena&) = delete;

  // A new message of type M on the arena (freed with it).
  template <typename M>
  M* Create() {
    return google::protobuf::Arena::CreateMessage<M>(&arena_);
  }

 private:
  static google::protobuf::ArenaOptions Options(char* block) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = kBlockBytes;
    options.max_block_size = 1 << 20;
    return options;
  }

  alignas(16) char block_[kBlockBytes];
  google::protobuf::Arena arena_;
};

}  // namespace kg

#endif  // KG_PROTO_ARENA_H_
