// kg_redis_compare: issue 4's Redis baseline, speaking RESP2 over plain sockets. --load writes a
// JSONL sample into Redis (entities as hashes, each edge as a member of two sorted sets scored by
// its time; edge weights are not stored) and reports used_memory per logical edge; --run drives
// the recommender's composite query (ZREVRANGE, then 20 pipelined HGETALLs) from epoll loops.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "kg/v1/types.pb.h"
#include "proto/jsonl.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Redis host");
ABSL_FLAG(int, port, 6379, "Redis port");
ABSL_FLAG(std::string, load, "",
          "mode 1: write this JSONL file (one kg.v1.ImportRecord per line) into Redis: entity "
          "e:<TYPE>:<id> as a hash (fields name, update_time_ms, a:<attribute>, m:<metric>), "
          "edge as member <dst id> of sorted set o:<EDGE_TYPE>:<SRC_TYPE>:<src id> and member "
          "<src id> of i:<EDGE_TYPE>:<DST_TYPE>:<dst id>, both scored by time_ms (the weight is "
          "not stored); then report used_memory growth per logical edge");
ABSL_FLAG(bool, edges_only, false,
          "--load: store only the edges (the two sorted sets), no entity hashes");
ABSL_FLAG(bool, flush, false,
          "--load: FLUSHALL first; without it the growth is measured over what Redis holds");
ABSL_FLAG(int, batch, 1000,
          "--load: commands per pipelined write (one batch in flight while the next is built)");
ABSL_FLAG(int, settle_ms, 1000,
          "--load: wait this long before reading used_memory after the load (Redis finishes "
          "incremental rehashing of its tables meanwhile)");
ABSL_FLAG(bool, run, false,
          "mode 2: the composite query, closed loop on every connection: ZREVRANGE "
          "o:<edge_type>:BUYER:<id> 0 <limit-1>, then one HGETALL e:PRODUCT:<pid> per product "
          "returned, all in one write; one query is that whole exchange, every reply fully parsed");
ABSL_FLAG(int, connections, 32, "--run: connections, each with one query in flight");
ABSL_FLAG(int, threads, 1, "--run: threads, each driving its share of the connections by epoll");
ABSL_FLAG(double, duration, 10, "--run: seconds measured (after --warmup)");
ABSL_FLAG(double, warmup, 2, "--run: seconds run before measuring");
ABSL_FLAG(uint64_t, buyers, 0,
          "--run: buyer ids are 1..N, drawn uniformly; 0 reads N from field `buyers` of the hash "
          "kg:meta, which --load writes (the number of BUYER entity records in its file)");
ABSL_FLAG(std::string, edge_type, "PURCHASED",
          "--run: the buyer's list read: PURCHASED, VIEWED, CLICKED or ADDED_TO_CART (BUYER -> "
          "PRODUCT edge types)");
ABSL_FLAG(int, min_products, 0,
          "--run: if > 0, draw only buyers whose list holds at least this many products (found "
          "at start-up by one pipelined ZCARD per buyer id), e.g. 20 for queries that always "
          "return --limit products");
ABSL_FLAG(int, limit, 20, "--run: products per query (ZREVRANGE ... 0 <limit-1>), 1..1000");
ABSL_FLAG(int64_t, timeout_ms, 5000,
          "--run: a query outstanding longer fails (an error) and its connection is reopened");
ABSL_FLAG(int64_t, io_timeout_ms, 300000,
          "--load and set-up: timeout of each blocking socket read and write (FLUSHALL of a large "
          "data set takes seconds)");
ABSL_FLAG(uint64_t, seed, 1, "--run: random seed of the buyer draws");
ABSL_FLAG(bool, json, false, "print one JSON object instead of the table");

namespace kg {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxReplyValues = 1 << 22;     // values in one reply
constexpr int64_t kMaxBulk = 512LL << 20;       // Redis's own limit on a bulk string
constexpr size_t kMaxBuffer = size_t{1} << 30;  // input buffer of one connection

// One value of a parsed reply. Arrays are flattened depth first: an array's `count` elements
// follow it.
struct RespValue {
  char type = 0;          // '+', '-', ':', '$' or '*'
  int64_t count = 0;      // '*': elements, '$': bytes; -1 for a null array or bulk string
  int64_t integer = 0;    // ':'
  absl::string_view str;  // '+', '-', '$': the text, pointing into the parsed buffer
};

// Parses one complete RESP2 reply at the start of `in` into `out` (cleared first). Returns the
// bytes it spans, 0 when `in` holds only part of it, -1 when it is not RESP2. A partial reply is
// parsed again from its start once more bytes arrived (cheap for the small replies used here).
int64_t ParseReply(absl::string_view in, std::vector<RespValue>* out) {
  out->clear();
  size_t pos = 0;
  int64_t pending = 1;  // values still to parse
  while (pending > 0) {
    if (out->size() >= kMaxReplyValues) return -1;
    size_t eol = in.find("\r\n", pos);
    if (eol == absl::string_view::npos) return 0;
    RespValue v;
    v.type = in[pos];
    absl::string_view line = in.substr(pos + 1, eol - pos - 1);
    pos = eol + 2;
    --pending;
    switch (v.type) {
      case '+':
      case '-':
        v.str = line;
        break;
      case ':':
        if (!absl::SimpleAtoi(line, &v.integer)) return -1;
        break;
      case '$':
        if (!absl::SimpleAtoi(line, &v.count) || v.count < -1 || v.count > kMaxBulk) return -1;
        if (v.count >= 0) {
          size_t n = static_cast<size_t>(v.count);
          if (in.size() - pos < n + 2) return 0;
          if (in[pos + n] != '\r' || in[pos + n + 1] != '\n') return -1;
          v.str = in.substr(pos, n);
          pos += n + 2;
        }
        break;
      case '*':
        if (!absl::SimpleAtoi(line, &v.count) || v.count < -1 ||
            v.count > static_cast<int64_t>(kMaxReplyValues)) {
          return -1;
        }
        if (v.count > 0) pending += v.count;
        break;
      default:
        return -1;
    }
    out->push_back(v);
  }
  return static_cast<int64_t>(pos);
}

// Appends one command in RESP2 (an array of bulk strings).
void AppendCommand(std::string* out, absl::Span<const absl::string_view> args) {
  absl::StrAppend(out, "*", args.size(), "\r\n");
  for (absl::string_view a : args) absl::StrAppend(out, "$", a.size(), "\r\n", a, "\r\n");
}

// Shortest text that reads back as the same double.
std::string FormatDouble(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

// Bytes received on one connection and not yet parsed.
class InBuffer {
 public:
  absl::string_view data() const { return {buf_.data() + begin_, end_ - begin_}; }
  // Drops `n` parsed bytes. Views into data() stay valid until the next ReadFrom.
  void Consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void Clear() { begin_ = end_ = 0; }
  // One read(2) into the free space: > 0 bytes read, 0 at end of stream, -1 with errno set.
  ssize_t ReadFrom(int fd) {
    if (buf_.size() - end_ < kMinFree && begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buf_.size() - end_ < kMinFree) {
      if (buf_.size() >= kMaxBuffer) {
        errno = ENOBUFS;
        return -1;
      }
      buf_.resize(buf_.size() * 2);
    }
    ssize_t n = read(fd, buf_.data() + end_, buf_.size() - end_);
    if (n > 0) end_ += static_cast<size_t>(n);
    return n;
  }

 private:
  static constexpr size_t kMinFree = 16 << 10;
  std::vector<char> buf_ = std::vector<char>(64 << 10);
  size_t begin_ = 0, end_ = 0;
};

// A TCP connection (TCP_NODELAY). `io_timeout_ms` bounds connect and each blocking read and
// write; with `nonblocking` the socket is switched to O_NONBLOCK once connected.
absl::StatusOr<int> Connect(const std::string& host, int port, bool nonblocking,
                            int64_t io_timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res);
  if (rc != 0) return absl::UnavailableError(absl::StrCat(host, ": ", gai_strerror(rc)));
  std::string last = "no address";
  int fd = -1;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    timeval tv{};
    tv.tv_sec = io_timeout_ms / 1000;
    tv.tv_usec = (io_timeout_ms % 1000) * 1000;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    last = std::strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return absl::UnavailableError(absl::StrCat(host, ":", port, ": ", last));
  if (nonblocking) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// A blocking connection for loading and set-up: pipelined writes, replies read in order.
class BlockingClient {
 public:
  ~BlockingClient() {
    if (fd_ >= 0) close(fd_);
  }
  absl::Status Open(const std::string& host, int port, int64_t io_timeout_ms) {
    absl::StatusOr<int> fd = Connect(host, port, false, io_timeout_ms);
    if (!fd.ok()) return fd.status();
    fd_ = *fd;
    return absl::OkStatus();
  }

  absl::Status Send(absl::string_view data) {
    size_t off = 0;
    while (off < data.size()) {  // each pass sends bytes or fails (SO_SNDTIMEO bounds a pass)
      ssize_t n = send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
      }
    }
    return absl::OkStatus();
  }

  // Reads `n` replies, calling `on_reply(i, values)` for each (error replies included).
  absl::Status ReadReplies(
      size_t n, const std::function<void(size_t, absl::Span<const RespValue>)>& on_reply) {
    size_t done = 0;
    while (done < n) {  // each pass parses a reply or reads bytes, or fails
      int64_t used = ParseReply(in_.data(), &values_);
      if (used < 0) return absl::DataLossError("reply is not RESP2");
      if (used > 0) {
        in_.Consume(static_cast<size_t>(used));
        on_reply(done++, values_);
        continue;
      }
      ssize_t got = in_.ReadFrom(fd_);
      if (got == 0) return absl::UnavailableError("connection closed by Redis");
      if (got < 0 && errno != EINTR) {
        return absl::UnavailableError(absl::StrCat("read: ", std::strerror(errno)));
      }
    }
    return absl::OkStatus();
  }

  // One command and its reply: a scalar as one string, an array's elements as strings, a null
  // as no strings; an error reply as an error.
  absl::StatusOr<std::vector<std::string>> Call(std::initializer_list<absl::string_view> args) {
    std::string cmd;
    AppendCommand(&cmd, args);
    absl::Status st = Send(cmd);
    if (!st.ok()) return st;
    std::vector<std::string> result;
    std::string error;
    st = ReadReplies(1, [&](size_t, absl::Span<const RespValue> v) {
      for (const RespValue& x : v) {
        if (x.type == '-') error = std::string(x.str);
        if (x.type == ':') result.push_back(std::to_string(x.integer));
        if ((x.type == '$' && x.count >= 0) || x.type == '+') result.emplace_back(x.str);
      }
    });
    if (!st.ok()) return st;
    if (!error.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(*args.begin(), ": ", error));
    }
    return result;
  }

 private:
  int fd_ = -1;
  InBuffer in_;
  std::vector<RespValue> values_;
};

// The value of `name` in an INFO reply ("name:value" lines), or "" when absent.
std::string InfoField(absl::string_view info, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(info, "\r\n")) {
    if (line.size() > name.size() && line[name.size()] == ':' &&
        line.substr(0, name.size()) == name) {
      return std::string(line.substr(name.size() + 1));
    }
  }
  return "";
}

absl::StatusOr<std::string> Info(BlockingClient* c, absl::string_view section,
                                 absl::string_view name) {
  auto r = c->Call({"INFO", section});
  if (!r.ok()) return r.status();
  if (r->empty()) return absl::DataLossError("empty INFO reply");
  std::string value = InfoField((*r)[0], name);
  if (value.empty()) return absl::DataLossError(absl::StrCat("INFO has no ", name));
  return value;
}

absl::StatusOr<int64_t> UsedMemory(BlockingClient* c, const char* field) {
  auto v = Info(c, "memory", field);
  if (!v.ok()) return v.status();
  int64_t bytes = 0;
  if (!absl::SimpleAtoi(*v, &bytes)) return absl::DataLossError(absl::StrCat(field, ": ", *v));
  return bytes;
}

std::string ConfigValue(BlockingClient* c, absl::string_view name) {
  auto r = c->Call({"CONFIG", "GET", name});
  return r.ok() && r->size() == 2 ? (*r)[1] : "?";
}

// ---------------------------------------------------------------------------------------------
// --load

struct LoadCounts {
  uint64_t lines_bad = 0;
  uint64_t entities = 0;
  uint64_t buyers = 0;  // BUYER entity records
  uint64_t edge_records = 0;
  uint64_t out_added = 0;  // new members of the o: sets: the distinct logical edges
  uint64_t in_added = 0;   // new members of the i: sets
  uint64_t commands = 0;
  uint64_t error_replies = 0;
};

// Pipelines commands in batches, one batch in flight while the next is built.
class Loader {
 public:
  Loader(BlockingClient* client, size_t batch, LoadCounts* counts)
      : client_(client), batch_(batch), counts_(counts) {}

  // `kind`: 'o' and 'i' for the two ZADDs of an edge (their replies are counted), else any.
  absl::Status Add(char kind, absl::Span<const absl::string_view> args) {
    AppendCommand(&building_, args);
    building_kinds_.push_back(kind);
    return building_kinds_.size() >= batch_ ? Submit() : absl::OkStatus();
  }

  // Writes the batch being built after reading the replies of the one in flight.
  absl::Status Submit() {
    absl::Status st = Drain();
    if (!st.ok() || building_kinds_.empty()) return st;
    st = client_->Send(building_);
    counts_->commands += building_kinds_.size();
    building_.clear();
    inflight_kinds_.swap(building_kinds_);
    building_kinds_.clear();
    return st;
  }

  // Reads the replies of the batch in flight.
  absl::Status Drain() {
    if (inflight_kinds_.empty()) return absl::OkStatus();
    absl::Status st =
        client_->ReadReplies(inflight_kinds_.size(), [&](size_t i, absl::Span<const RespValue> v) {
          if (v[0].type == '-') {
            if (++counts_->error_replies <= 5) std::cerr << "Redis error: " << v[0].str << "\n";
          } else if (v[0].type == ':' && inflight_kinds_[i] == 'o') {
            counts_->out_added += static_cast<uint64_t>(v[0].integer);
          } else if (v[0].type == ':' && inflight_kinds_[i] == 'i') {
            counts_->in_added += static_cast<uint64_t>(v[0].integer);
          }
        });
    inflight_kinds_.clear();
    return st;
  }

 private:
  BlockingClient* client_;
  size_t batch_;
  LoadCounts* counts_;
  std::string building_;
  std::vector<char> building_kinds_, inflight_kinds_;
};

absl::Status LoadFile(const std::string& path, bool edges_only, Loader* loader,
                      LoadCounts* counts) {
  JsonlReader reader;
  absl::Status st = reader.Open(path);
  if (!st.ok()) return st;
  v1::ImportRecord record;
  absl::Status line_status;
  std::vector<std::string> args;  // owns the texts of an HSET's arguments
  std::vector<absl::string_view> views;
  while (reader.Next(&record, &line_status)) {  // one pass per line of the file
    if (!line_status.ok()) {
      if (++counts->lines_bad <= 5) std::cerr << line_status.message() << "\n";
      continue;
    }
    if (record.has_entity()) {
      const v1::Entity& e = record.entity();
      ++counts->entities;
      if (e.key().type() == v1::BUYER) ++counts->buyers;
      if (edges_only) continue;
      std::string key = absl::StrCat("e:", v1::EntityType_Name(e.key().type()), ":", e.key().id());
      // Replace, as an upsert does: DEL, then one HSET with every field.
      st = loader->Add('d', {"DEL", key});
      if (!st.ok()) return st;
      args.clear();
      args.push_back("HSET");
      args.push_back(key);
      args.push_back("name");
      args.push_back(e.name());
      args.push_back("update_time_ms");
      args.push_back(std::to_string(e.update_time_ms()));
      for (const auto& [k, v] : e.attributes()) {
        args.push_back(absl::StrCat("a:", k));
        args.push_back(v);
      }
      for (const auto& [k, v] : e.metrics()) {
        args.push_back(absl::StrCat("m:", k));
        args.push_back(FormatDouble(v));
      }
      views.assign(args.begin(), args.end());
      st = loader->Add('h', views);
      if (!st.ok()) return st;
      continue;
    }
    const v1::Edge& e = record.edge();
    ++counts->edge_records;
    std::string type = v1::EdgeType_Name(e.type());
    std::string time = std::to_string(e.time_ms());
    std::string src = std::to_string(e.src().id());
    std::string dst = std::to_string(e.dst().id());
    std::string out_key =
        absl::StrCat("o:", type, ":", v1::EntityType_Name(e.src().type()), ":", src);
    std::string in_key =
        absl::StrCat("i:", type, ":", v1::EntityType_Name(e.dst().type()), ":", dst);
    st = loader->Add('o', {"ZADD", out_key, time, dst});
    if (!st.ok()) return st;
    st = loader->Add('i', {"ZADD", in_key, time, src});
    if (!st.ok()) return st;
  }
  st = loader->Submit();
  if (!st.ok()) return st;
  return loader->Drain();
}

int MainLoad(BlockingClient* c, const std::string& version) {
  const std::string path = absl::GetFlag(FLAGS_load);
  const bool edges_only = absl::GetFlag(FLAGS_edges_only);
  const bool json = absl::GetFlag(FLAGS_json);
  if (absl::GetFlag(FLAGS_flush)) {
    auto r = c->Call({"FLUSHALL"});
    if (!r.ok()) {
      std::cerr << r.status().message() << "\n";
      return 1;
    }
  }
  auto before = UsedMemory(c, "used_memory");
  auto rss_before = UsedMemory(c, "used_memory_rss");
  if (!before.ok() || !rss_before.ok()) {
    std::cerr << "INFO memory: " << (before.ok() ? rss_before.status() : before.status()) << "\n";
    return 1;
  }
  LoadCounts counts;
  Loader loader(c, static_cast<size_t>(std::clamp(absl::GetFlag(FLAGS_batch), 1, 100000)), &counts);
  Clock::time_point start = Clock::now();
  absl::Status st = LoadFile(path, edges_only, &loader, &counts);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!st.ok()) {
    std::cerr << "--load " << path << ": " << st.message() << "\n";
    return 1;
  }
  std::this_thread::sleep_for(
      std::chrono::milliseconds(std::max(0, absl::GetFlag(FLAGS_settle_ms))));
  auto after = UsedMemory(c, "used_memory");
  auto rss_after = UsedMemory(c, "used_memory_rss");
  auto keys = c->Call({"DBSIZE"});
  if (!after.ok() || !rss_after.ok() || !keys.ok() || keys->empty()) {
    std::cerr << "INFO memory or DBSIZE failed after the load\n";
    return 1;
  }
  // Written after the measurement, so it is not part of the growth.
  auto meta = c->Call({"HSET", "kg:meta", "buyers", std::to_string(counts.buyers)});
  if (!meta.ok()) std::cerr << "writing kg:meta: " << meta.status().message() << "\n";

  const int64_t growth = *after - *before;
  const int64_t rss_growth = *rss_after - *rss_before;
  const uint64_t edges = counts.out_added;  // distinct logical edges stored
  auto per = [](int64_t bytes, uint64_t n) { return n > 0 ? static_cast<double>(bytes) / n : 0.0; };
  const std::string settings =
      absl::StrCat("zset-max-listpack-entries ", ConfigValue(c, "zset-max-listpack-entries"),
                   ", zset-max-listpack-value ", ConfigValue(c, "zset-max-listpack-value"),
                   ", hash-max-listpack-entries ", ConfigValue(c, "hash-max-listpack-entries"),
                   ", hash-max-listpack-value ", ConfigValue(c, "hash-max-listpack-value"));
  if (json) {
    std::printf(
        "{\"mode\":\"load\",\"file\":\"%s\",\"edges_only\":%s,\"redis_version\":\"%s\","
        "\"seconds\":%.2f,\"commands\":%lu,\"entities\":%lu,\"buyers\":%lu,"
        "\"edge_records\":%lu,\"logical_edges\":%lu,\"set_members_added\":%lu,\"keys\":%s,"
        "\"used_memory_before\":%ld,\"used_memory_after\":%ld,\"growth_bytes\":%ld,"
        "\"bytes_per_logical_edge\":%.1f,\"bytes_per_set_member\":%.1f,\"rss_growth_bytes\":%ld,"
        "\"rss_bytes_per_logical_edge\":%.1f,\"bad_lines\":%lu,\"error_replies\":%lu}\n",
        path.c_str(), edges_only ? "true" : "false", version.c_str(), seconds,
        static_cast<unsigned long>(counts.commands), static_cast<unsigned long>(counts.entities),
        static_cast<unsigned long>(counts.buyers), static_cast<unsigned long>(counts.edge_records),
        static_cast<unsigned long>(edges),
        static_cast<unsigned long>(counts.out_added + counts.in_added), (*keys)[0].c_str(),
        static_cast<long>(*before), static_cast<long>(*after), static_cast<long>(growth),
        per(growth, edges), per(growth, counts.out_added + counts.in_added),
        static_cast<long>(rss_growth), per(rss_growth, edges),
        static_cast<unsigned long>(counts.lines_bad),
        static_cast<unsigned long>(counts.error_replies));
  } else {
    std::printf("kg_redis_compare --load %s into %s:%d (Redis %s), %s\n", path.c_str(),
                absl::GetFlag(FLAGS_host).c_str(), absl::GetFlag(FLAGS_port), version.c_str(),
                edges_only ? "edges only (no entity hashes)" : "entity hashes and edges");
    std::printf("  %-26s %lu commands in %.1f s (%.0f commands/s)\n", "loaded",
                static_cast<unsigned long>(counts.commands), seconds,
                seconds > 0 ? counts.commands / seconds : 0.0);
    std::printf("  %-26s %lu (BUYER %lu)%s\n", "entity records",
                static_cast<unsigned long>(counts.entities),
                static_cast<unsigned long>(counts.buyers), edges_only ? ", not stored" : "");
    std::printf("  %-26s %lu (from %lu edge records; %lu sorted-set members added)\n",
                "logical edges stored", static_cast<unsigned long>(edges),
                static_cast<unsigned long>(counts.edge_records),
                static_cast<unsigned long>(counts.out_added + counts.in_added));
    std::printf("  %-26s %s\n", "keys (DBSIZE)", (*keys)[0].c_str());
    std::printf("  %-26s %ld -> %ld bytes: +%ld (%.1f MiB)\n", "used_memory",
                static_cast<long>(*before), static_cast<long>(*after), static_cast<long>(growth),
                growth / 1048576.0);
    std::printf("  %-26s %.1f%s\n", "bytes per logical edge", per(growth, edges),
                edges_only ? "" : " (entity hashes included)");
    std::printf("  %-26s %.1f\n", "bytes per set member",
                per(growth, counts.out_added + counts.in_added));
    std::printf("  %-26s +%ld (%.1f MiB, %.1f bytes per logical edge)\n", "used_memory_rss",
                static_cast<long>(rss_growth), rss_growth / 1048576.0, per(rss_growth, edges));
    std::printf("  %-26s %lu bad lines, %lu error replies\n", "errors",
                static_cast<unsigned long>(counts.lines_bad),
                static_cast<unsigned long>(counts.error_replies));
    std::printf("  %-26s %s\n", "encodings", settings.c_str());
  }
  return counts.lines_bad > 0 || counts.error_replies > 0 ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// --run

struct RunSettings {
  std::string host;
  std::string range_prefix;        // "o:<EDGE_TYPE>:BUYER:"
  std::vector<uint64_t> eligible;  // buyer ids drawn from; empty: all of 1..buyers
  int port = 0;
  int limit = 20;
  uint64_t buyers = 1;
  int64_t timeout_ms = 5000;
  int64_t io_timeout_ms = 5000;
  Clock::time_point measure_from, end;
};

struct ThreadResult {
  std::vector<uint32_t> latency;  // microseconds of the queries completed in the window
  uint64_t products = 0;          // products returned by them
  uint64_t empty = 0;             // of them, buyers without purchases (no second round trip)
  uint64_t missing = 0;           // HGETALLs that found no hash
  uint64_t errors = 0;            // failed queries, warm-up included
  uint64_t reconnects = 0;
  uint64_t dead = 0;  // connections given up after failing to reconnect
  std::string first_error;
};

// Drives a share of the connections from one epoll loop; each connection is a closed loop.
class Worker {
 public:
  Worker(const RunSettings& s, int connections, uint64_t seed, ThreadResult* r)
      : s_(s),
        conns_(static_cast<size_t>(connections)),
        rng_(seed),
        buyer_(s.eligible.empty() ? 1 : 0, s.eligible.empty() ? s.buyers : s.eligible.size() - 1),
        r_(r) {
    range_stop_ = std::to_string(s.limit - 1);
  }

  void Run() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) {
      Note(absl::StrCat("epoll_create1: ", std::strerror(errno)));
      r_->dead = conns_.size();
      return;
    }
    for (size_t i = 0; i < conns_.size(); ++i) Open(i);
    r_->latency.reserve(1 << 20);
    epoll_event events[64];
    Clock::time_point now = Clock::now(), last_check = now;
    // Bounded by the clock: ends at s_.end, or earlier when every connection is given up.
    while (now < s_.end && r_->dead < conns_.size()) {
      int n = epoll_wait(ep_, events, 64, 10);
      for (int i = 0; i < n; ++i) {
        size_t idx = events[i].data.u32;
        Conn& c = conns_[idx];
        if (c.fd < 0) continue;
        if (events[i].events & EPOLLOUT) {
          if (!Flush(idx)) continue;
        }
        if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) OnReadable(idx);
      }
      now = Clock::now();
      if (now - last_check >= std::chrono::milliseconds(10)) {
        last_check = now;
        for (size_t i = 0; i < conns_.size(); ++i) {
          Conn& c = conns_[i];
          if (c.fd >= 0 && c.state != State::kIdle &&
              now - c.start > std::chrono::milliseconds(s_.timeout_ms)) {
            Fail(i, "query timed out");
          }
        }
      }
    }
    for (Conn& c : conns_) {
      if (c.fd >= 0) close(c.fd);
      c.fd = -1;
    }
    close(ep_);
  }

 private:
  enum class State { kIdle, kRange, kHash };
  struct Conn {
    int fd = -1;
    InBuffer in;
    std::string out;
    size_t out_off = 0;
    bool want_write = false;
    State state = State::kIdle;
    int64_t awaiting = 0;  // HGETALL replies still to come
    int64_t products = 0;
    bool error_reply = false;
    Clock::time_point start;
  };

  void Note(const std::string& error) {
    if (r_->first_error.empty()) r_->first_error = error;
  }

  // Connects connection `i` and starts its first query; gives it up when that fails.
  void Open(size_t i) {
    Conn& c = conns_[i];
    absl::StatusOr<int> fd = Connect(s_.host, s_.port, true, s_.io_timeout_ms);
    if (!fd.ok()) {
      Note(std::string(fd.status().message()));
      ++r_->dead;
      return;
    }
    c.fd = *fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    StartQuery(i);
  }

  // Counts a failed query and reopens the connection (at most kMaxReconnects per thread).
  void Fail(size_t i, const std::string& why) {
    static constexpr uint64_t kMaxReconnects = 100;
    Conn& c = conns_[i];
    ++r_->errors;
    Note(why);
    epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
    c.in.Clear();
    c.out.clear();
    c.out_off = 0;
    c.want_write = false;
    c.state = State::kIdle;
    if (r_->reconnects >= kMaxReconnects || Clock::now() >= s_.end) {
      ++r_->dead;
      return;
    }
    ++r_->reconnects;
    Open(i);
  }

  void StartQuery(size_t i) {
    Conn& c = conns_[i];
    uint64_t draw = buyer_(rng_);
    key_.assign(s_.range_prefix);
    absl::StrAppend(&key_, s_.eligible.empty() ? draw : s_.eligible[draw]);
    c.state = State::kRange;
    c.products = 0;
    c.awaiting = 0;
    c.error_reply = false;
    c.start = Clock::now();
    AppendCommand(&c.out, {"ZREVRANGE", key_, "0", range_stop_});
    Flush(i);
  }

  // Writes what is pending; waits for EPOLLOUT when the socket is full. False if it failed.
  bool Flush(size_t i) {
    Conn& c = conns_[i];
    for (int pass = 0; pass < 64 && c.out_off < c.out.size(); ++pass) {
      ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        Fail(i, absl::StrCat("send: ", std::strerror(errno)));
        return false;
      }
    }
    bool pending = c.out_off < c.out.size();
    if (!pending) {
      c.out.clear();
      c.out_off = 0;
    }
    if (pending != c.want_write) {
      c.want_write = pending;
      epoll_event ev{};
      ev.events = EPOLLIN | (pending ? uint32_t{EPOLLOUT} : uint32_t{0});
      ev.data.u32 = static_cast<uint32_t>(i);
      epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    }
    return true;
  }

  // One read, then every complete reply in the buffer.
  void OnReadable(size_t i) {
    Conn& c = conns_[i];
    ssize_t n = c.in.ReadFrom(c.fd);
    if (n == 0) return Fail(i, "connection closed by Redis");
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      return Fail(i, absl::StrCat("read: ", std::strerror(errno)));
    }
    // Each pass consumes a whole reply (at least 3 bytes) of the buffer, or stops.
    for (;;) {
      int64_t used = ParseReply(c.in.data(), &values_);
      if (used == 0) return;
      if (used < 0) return Fail(i, "reply is not RESP2");
      c.in.Consume(static_cast<size_t>(used));  // values_ stay valid until the next read
      std::string problem = OnReply(i, values_);
      if (!problem.empty()) return Fail(i, problem);
      if (c.fd < 0) return;
    }
  }

  // Advances connection `i` by one reply. Returns a description of a protocol violation (the
  // connection is then reopened), else "".
  std::string OnReply(size_t i, absl::Span<const RespValue> v) {
    Conn& c = conns_[i];
    auto bulk_array = [&v]() {
      if (v[0].type != '*' || v[0].count < 0 || v.size() != static_cast<size_t>(v[0].count) + 1) {
        return false;
      }
      for (size_t k = 1; k < v.size(); ++k) {
        if (v[k].type != '$' || v[k].count < 0) return false;
      }
      return true;
    };
    switch (c.state) {
      case State::kIdle:
        return "reply without a request";
      case State::kRange:
        if (v[0].type == '-') {
          c.error_reply = true;
          Note(absl::StrCat("ZREVRANGE: ", v[0].str));
          Finish(i);
          return "";
        }
        if (!bulk_array()) return "ZREVRANGE: not an array of bulk strings";
        c.products = v[0].count;
        if (c.products == 0) {
          Finish(i);
          return "";
        }
        for (size_t k = 1; k < v.size(); ++k) {
          key_.assign("e:PRODUCT:");
          key_.append(v[k].str.data(), v[k].str.size());
          AppendCommand(&c.out, {"HGETALL", key_});
        }
        c.awaiting = c.products;
        c.state = State::kHash;
        Flush(i);
        return "";
      case State::kHash:
        if (v[0].type == '-') {
          c.error_reply = true;
          Note(absl::StrCat("HGETALL: ", v[0].str));
        } else if (!bulk_array() || v[0].count % 2 != 0) {
          return "HGETALL: not an array of field-value pairs";
        } else if (v[0].count == 0) {
          ++r_->missing;
        }
        if (--c.awaiting == 0) Finish(i);
        return "";
    }
    return "bad state";
  }

  // Ends the query of connection `i` and starts the next one until the run ends.
  void Finish(size_t i) {
    Conn& c = conns_[i];
    Clock::time_point now = Clock::now();
    c.state = State::kIdle;
    if (c.error_reply) {
      ++r_->errors;
    } else if (now >= s_.measure_from && now < s_.end) {
      r_->latency.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now - c.start).count()));
      r_->products += static_cast<uint64_t>(c.products);
      if (c.products == 0) ++r_->empty;
    }
    if (now < s_.end) StartQuery(i);
  }

  const RunSettings& s_;
  std::vector<Conn> conns_;
  std::mt19937_64 rng_;
  std::uniform_int_distribution<uint64_t> buyer_;
  ThreadResult* r_;
  int ep_ = -1;
  std::string key_, range_stop_;
  std::vector<RespValue> values_;
};

int MainRun(BlockingClient* c, const std::string& version) {
  RunSettings s;
  s.host = absl::GetFlag(FLAGS_host);
  s.port = absl::GetFlag(FLAGS_port);
  s.limit = std::clamp(absl::GetFlag(FLAGS_limit), 1, 1000);
  s.timeout_ms = std::max<int64_t>(1, absl::GetFlag(FLAGS_timeout_ms));
  s.io_timeout_ms = std::max<int64_t>(1, absl::GetFlag(FLAGS_io_timeout_ms));
  const int connections = std::clamp(absl::GetFlag(FLAGS_connections), 1, 10000);
  const int threads = std::clamp(absl::GetFlag(FLAGS_threads), 1, connections);
  const double duration = std::max(0.1, absl::GetFlag(FLAGS_duration));
  const double warmup = std::max(0.0, absl::GetFlag(FLAGS_warmup));
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  s.buyers = absl::GetFlag(FLAGS_buyers);
  if (s.buyers == 0) {
    auto r = c->Call({"HGET", "kg:meta", "buyers"});
    if (!r.ok() || r->empty() || !absl::SimpleAtoi((*r)[0], &s.buyers) || s.buyers == 0) {
      std::cerr << "--buyers=0 but kg:meta has no buyer count (run --load first, or pass "
                   "--buyers)\n";
      return 2;
    }
  }
  std::string edge_type = absl::GetFlag(FLAGS_edge_type);
  if (edge_type != "PURCHASED" && edge_type != "VIEWED" && edge_type != "CLICKED" &&
      edge_type != "ADDED_TO_CART") {
    std::cerr << "--edge_type: PURCHASED, VIEWED, CLICKED or ADDED_TO_CART\n";
    return 2;
  }
  s.range_prefix = absl::StrCat("o:", edge_type, ":BUYER:");
  const int min_products = absl::GetFlag(FLAGS_min_products);
  if (min_products > 0) {
    if (s.buyers > (uint64_t{1} << 26)) {
      std::cerr << "--min_products: at most 2^26 buyers\n";
      return 2;
    }
    absl::Status st = absl::OkStatus();
    std::string cmds;
    for (uint64_t first = 1; first <= s.buyers && st.ok(); first += 1000) {  // batches of 1000
      uint64_t last = std::min(s.buyers, first + 999);
      cmds.clear();
      for (uint64_t id = first; id <= last; ++id) {
        AppendCommand(&cmds, {"ZCARD", absl::StrCat(s.range_prefix, id)});
      }
      st = c->Send(cmds);
      if (!st.ok()) break;
      st = c->ReadReplies(last - first + 1, [&](size_t i, absl::Span<const RespValue> v) {
        if (v[0].type == ':' && v[0].integer >= min_products) s.eligible.push_back(first + i);
      });
    }
    if (!st.ok() || s.eligible.empty()) {
      std::cerr << "--min_products: " << (st.ok() ? "no buyer has that many" : st.message())
                << "\n";
      return 1;
    }
  }
  auto seconds = [](double x) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(x));
  };
  s.measure_from = Clock::now() + seconds(warmup);
  s.end = s.measure_from + seconds(duration);

  std::vector<ThreadResult> results(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    int share = connections / threads + (t < connections % threads ? 1 : 0);
    pool.emplace_back([&s, &results, share, t, seed] {
      Worker(s, share, seed * 1000003 + static_cast<uint64_t>(t), &results[t]).Run();
    });
  }
  for (std::thread& th : pool) th.join();

  ThreadResult all;
  for (ThreadResult& r : results) {
    all.latency.insert(all.latency.end(), r.latency.begin(), r.latency.end());
    all.products += r.products;
    all.empty += r.empty;
    all.missing += r.missing;
    all.errors += r.errors;
    all.reconnects += r.reconnects;
    all.dead += r.dead;
    if (all.first_error.empty()) all.first_error = r.first_error;
  }
  std::sort(all.latency.begin(), all.latency.end());
  const uint64_t ok = all.latency.size();
  auto pct = [&all](double p) -> uint32_t {
    if (all.latency.empty()) return 0;
    size_t i =
        std::min(all.latency.size() - 1, static_cast<size_t>(p / 100.0 * all.latency.size()));
    return all.latency[i];
  };
  const uint64_t drawn = s.eligible.empty() ? s.buyers : s.eligible.size();
  const double qps = ok / duration;
  const double per_query = ok > 0 ? static_cast<double>(all.products) / ok : 0.0;
  const double commands_per_s = (ok + all.products) / duration;
  const uint32_t max_us = all.latency.empty() ? 0 : all.latency.back();
  if (absl::GetFlag(FLAGS_json)) {
    std::printf(
        "{\"mode\":\"run\",\"host\":\"%s\",\"port\":%d,\"redis_version\":\"%s\","
        "\"edge_type\":\"%s\",\"min_products\":%d,\"buyers_drawn\":%lu,"
        "\"connections\":%d,\"threads\":%d,\"duration_s\":%g,\"warmup_s\":%g,\"buyers\":%lu,"
        "\"limit\":%d,\"queries\":%lu,\"queries_per_s\":%.1f,\"commands_per_s\":%.1f,"
        "\"products_per_query\":%.2f,\"empty_queries\":%lu,\"missing_products\":%lu,"
        "\"errors\":%lu,\"reconnects\":%lu,\"p50_us\":%u,\"p90_us\":%u,\"p99_us\":%u,"
        "\"p999_us\":%u,\"max_us\":%u}\n",
        s.host.c_str(), s.port, version.c_str(), edge_type.c_str(), min_products,
        static_cast<unsigned long>(drawn), connections, threads, duration, warmup,
        static_cast<unsigned long>(s.buyers), s.limit, static_cast<unsigned long>(ok), qps,
        commands_per_s, per_query, static_cast<unsigned long>(all.empty),
        static_cast<unsigned long>(all.missing), static_cast<unsigned long>(all.errors),
        static_cast<unsigned long>(all.reconnects), pct(50), pct(90), pct(99), pct(99.9), max_us);
  } else {
    std::printf(
        "kg_redis_compare --run %s:%d (Redis %s): ZREVRANGE %s<id> 0 %d, then one HGETALL "
        "e:PRODUCT:<pid> per product in one write; %d connections, %d thread(s), %gs after %gs "
        "warm-up; buyers drawn uniformly from %s\n",
        s.host.c_str(), s.port, version.c_str(), s.range_prefix.c_str(), s.limit - 1, connections,
        threads, duration, warmup,
        min_products > 0 ? absl::StrCat(drawn, " ids with >= ", min_products, " products").c_str()
                         : absl::StrCat("1..", s.buyers).c_str());
    std::printf("%12s %12s %10s %8s %8s %8s %8s %8s %8s %8s %8s\n", "queries/s", "commands/s",
                "products/q", "empty", "errors", "p50us", "p90us", "p99us", "p99.9us", "max_us",
                "queries");
    std::printf("%12.0f %12.0f %10.2f %8lu %8lu %8u %8u %8u %8u %8u %8lu\n", qps, commands_per_s,
                per_query, static_cast<unsigned long>(all.empty),
                static_cast<unsigned long>(all.errors), pct(50), pct(90), pct(99), pct(99.9),
                max_us, static_cast<unsigned long>(ok));
    if (all.missing > 0) std::printf("missing product hashes: %lu\n", all.missing);
  }
  if (!all.first_error.empty()) {
    std::cerr << "first error: " << all.first_error << " (" << all.errors << " failed queries, "
              << all.reconnects << " reconnects, " << all.dead << " connections given up)\n";
  }
  return ok == 0 ? 1 : 0;
}

int Main() {
  const bool load = !absl::GetFlag(FLAGS_load).empty();
  if (load == absl::GetFlag(FLAGS_run)) {
    std::cerr << "give exactly one of --load=FILE and --run (see --help)\n";
    return 2;
  }
  BlockingClient c;
  absl::Status st = c.Open(absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port),
                           std::max<int64_t>(1, absl::GetFlag(FLAGS_io_timeout_ms)));
  if (!st.ok()) {
    std::cerr << st.message() << "\n";
    return 1;
  }
  auto version = Info(&c, "server", "redis_version");
  if (!version.ok()) {
    std::cerr << "INFO server: " << version.status().message() << "\n";
    return 1;
  }
  return load ? MainLoad(&c, *version) : MainRun(&c, *version);
}

}  // namespace
}  // namespace kg

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Issue 4's Redis baseline over plain RESP2 sockets: load the JSONL sample into Redis and "
      "report used_memory per logical edge, or run the recommender's composite query against "
      "it.\n"
      "  kg_redis_compare --port=6390 --load=s1.jsonl --flush            # hashes + edges\n"
      "  kg_redis_compare --port=6390 --load=s1.jsonl --flush --edges_only\n"
      "  kg_redis_compare --port=6390 --run --connections=32 --duration=8 --warmup=2");
  // --help lists the flags of this file (Abseil's default looks for <program name>.cc).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "redis_compare.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);
  return kg::Main();
}
