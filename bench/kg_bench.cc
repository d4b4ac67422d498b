// kg_bench: a load generator for kg_server's public API. Runs phases of one RPC kind each
// (closed loop with N calls in flight, or open loop at a fixed rate) over several channels,
// and reports throughput, errors by status code and latency percentiles, each RPC's
// throughput also as a ratio to a grpc.health.v1.Health/Check phase run with the same
// settings in the same invocation. See `kg_bench --help` and docs/PERFORMANCE.md.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "client/cpp/client.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "kg/internal/v1/encoded.pb.h"
#include "kg/v1/admin.grpc.pb.h"
#include "kg/v1/graph.grpc.pb.h"
#include "kg/v1/insight.pb.h"
#include "kg/v1/knowledge.pb.h"
#include "proto/arena.h"
#include "proto/grpc_status.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "server address");
ABSL_FLAG(std::string, token, "", "bearer token sent with every call (default: $KG_TOKEN)");
ABSL_FLAG(std::string, tls_ca, "",
          "connect over TLS trusting this CA (PEM); also with --tls_cert/--tls_key (mTLS)");
ABSL_FLAG(std::string, tls_cert, "", "client certificate (PEM) for servers requiring mTLS");
ABSL_FLAG(std::string, tls_key, "", "key (PEM) of --tls_cert");
ABSL_FLAG(std::string, tls_server_name, "", "name checked in the server's certificate");
ABSL_FLAG(
    std::string, rpc, "GetEntities,GetNeighbors",
    "comma-separated phases, each one RPC kind: Health, GetEntities, GetNeighbors, "
    "Categorize, RecognizeBrands, ExtractAttributes, MatchSpu (--batch titles per call, product "
    "names read from the server or --titles_file), "
    "GetNeighborsInline (the 20 neighbor entities inline), CountNeighbors, Traverse "
    "(also-bought, 2 hops), UpsertEdges (--batch PURCHASED edges between random buyers "
    "and products, timed now: writes to the server's graph), TopProducts (a random one of "
    "CATEGORY:1..--roots with its descendants, by --top_metric, 20 results), ProfileEntity "
    "(a random product's audience), CompareProducts (a random product against its leaf "
    "category's peers)");
ABSL_FLAG(std::string, mix, "",
          "also run a weighted mix phase, e.g. GetEntities:70,GetNeighbors:25,Traverse:5 "
          "(kinds as in --rpc, integer weights; each call picks its kind at random)");
ABSL_FLAG(bool, baseline, true,
          "run a Health/Check phase first with the same settings and report ratios to it");
ABSL_FLAG(int, concurrency, 32, "calls in flight (closed loop)");
ABSL_FLAG(int, channels, 2, "gRPC channels (separate connections); calls are spread evenly");
ABSL_FLAG(double, duration, 10, "seconds measured per phase (after --warmup)");
ABSL_FLAG(double, warmup, 2, "seconds run before measuring each phase");
ABSL_FLAG(int64_t, requests, 0, "if > 0, stop each phase after this many measured calls");
ABSL_FLAG(double, rate, 0, "if > 0: open loop at this many calls/s (latency from intended start)");
ABSL_FLAG(int, batch, 1, "keys per request (GetEntities, CountNeighbors), edges (UpsertEdges)");
ABSL_FLAG(int, limit, 20, "edges per key (GetNeighbors) and per node per hop (Traverse)");
ABSL_FLAG(std::string, keys, "uniform",
          "key distribution: uniform or zipf (s=1 over the id range)");
ABSL_FLAG(uint64_t, products, 0, "product ids are 1..N; 0 reads N from GetClusterInfo");
ABSL_FLAG(uint64_t, buyers, 0, "buyer ids are 1..N; 0 reads N from GetClusterInfo");
ABSL_FLAG(int64_t, deadline_ms, 5000, "deadline of each call");
ABSL_FLAG(std::string, titles_file, "",
          "Categorize: titles to draw from, one per line (default: names of random products "
          "1..N read from the server)");
ABSL_FLAG(uint64_t, roots, 10, "TopProducts: category ids 1..N (the generator's root categories)");
ABSL_FLAG(std::string, top_metric, "sales_30d", "TopProducts: the metric ranked by");
ABSL_FLAG(bool, json, false, "print one JSON object instead of the table");
ABSL_FLAG(uint64_t, seed, 1, "random seed of the key draws");
ABSL_FLAG(std::string, edge_type, "PURCHASED",
          "GetNeighbors, GetNeighborsInline: the buyer -> product edge type read (PURCHASED, "
          "VIEWED, CLICKED, ADDED_TO_CART)");
ABSL_FLAG(int, min_degree, 0,
          "GetNeighbors, GetNeighborsInline: if > 0, draw only buyers with at least this many "
          "--edge_type edges (found with CountNeighbors before the run), so that every call "
          "returns --limit edges when min_degree >= limit");
ABSL_FLAG(std::string, decode, "encoded",
          "how GetEntities and GetNeighbors replies are parsed: encoded (every field but the "
          "entities, which stay encoded bytes: kg.internal.v1.Encoded* messages, the load "
          "generator's CPU goes to the calls rather than to building maps it never reads) or "
          "full (kg.v1 messages with every entity built, as a typical client does)");

namespace kg {
namespace {

using Clock = std::chrono::steady_clock;

enum class Kind {
  kHealth,
  kGetEntities,
  kGetNeighbors,
  kGetNeighborsInline,
  kCount,
  kTraverse,
  kUpsertEdges,
  kCategorize,
  kRecognizeBrands,
  kExtractAttributes,
  kMatchSpu,
  kTopProducts,
  kProfileEntity,
  kCompareProducts
};

// The kinds that send titles.
bool TakesTitles(Kind k) {
  return k == Kind::kCategorize || k == Kind::kRecognizeBrands || k == Kind::kExtractAttributes ||
         k == Kind::kMatchSpu;
}

struct KindInfo {
  const char* name;
  Kind kind;
};
constexpr KindInfo kKinds[] = {{"Health", Kind::kHealth},
                               {"GetEntities", Kind::kGetEntities},
                               {"GetNeighbors", Kind::kGetNeighbors},
                               {"GetNeighborsInline", Kind::kGetNeighborsInline},
                               {"CountNeighbors", Kind::kCount},
                               {"Traverse", Kind::kTraverse},
                               {"UpsertEdges", Kind::kUpsertEdges},
                               {"Categorize", Kind::kCategorize},
                               {"RecognizeBrands", Kind::kRecognizeBrands},
                               {"ExtractAttributes", Kind::kExtractAttributes},
                               {"MatchSpu", Kind::kMatchSpu},
                               {"TopProducts", Kind::kTopProducts},
                               {"ProfileEntity", Kind::kProfileEntity},
                               {"CompareProducts", Kind::kCompareProducts}};

struct Settings {
  int concurrency, channels, batch, limit;
  double duration, warmup, rate;
  int64_t requests, deadline_ms;
  bool zipf, full_decode;
  uint64_t products, buyers, seed;
  uint64_t roots = 10;
  std::string top_metric;
  v1::EdgeType edge_type;           // of the buyer -> product edges GetNeighbors reads
  std::vector<uint64_t> active;     // with --min_degree: the buyers GetNeighbors draws from
  std::vector<std::string> titles;  // Categorize: product names read from the server
};

// Draws ids in 1..n, uniformly or Zipf-like (s = 1: P(k) ~ 1/k, by inverting the
// continuous CDF ln(k)/ln(n+1)).
class KeyDraw {
 public:
  KeyDraw(bool zipf, uint64_t seed) : zipf_(zipf), rng_(seed) {}
  // Uniform in 0..n-1 (n > 0).
  uint64_t Below(uint64_t n) { return rng_() % n; }
  uint64_t operator()(uint64_t n) {
    double u = std::uniform_real_distribution<double>(0, 1)(rng_);
    uint64_t k = zipf_ ? static_cast<uint64_t>(std::exp(u * std::log(static_cast<double>(n) + 1)))
                       : 1 + static_cast<uint64_t>(u * static_cast<double>(n));
    return std::clamp<uint64_t>(k, 1, n);
  }

 private:
  bool zipf_;
  std::mt19937_64 rng_;
};

// A phase: one kind, or a weighted mix of kinds.
struct Phase {
  std::string name;
  std::vector<std::pair<Kind, uint64_t>> kinds;  // kind, weight
  uint64_t total = 0;
  Kind Pick(KeyDraw& draw) const {
    if (kinds.size() == 1) return kinds[0].first;
    uint64_t r = draw.Below(total);
    for (const auto& [kind, weight] : kinds) {
      if (r < weight) return kind;
      r -= weight;
    }
    return kinds.back().first;
  }
};

// Latencies and outcomes of one phase; Record is thread-safe (striped locks).
class Recorder {
 public:
  void Record(int code, uint32_t micros, uint64_t keys) {
    Stripe& s = stripes_[std::hash<std::thread::id>()(std::this_thread::get_id()) % kStripes];
    std::lock_guard<std::mutex> lock(s.mu);
    if (code == 0) {
      s.latency.push_back(micros);
      s.keys += keys;
    } else {
      ++s.errors[code];
    }
  }
  void Merge(std::vector<uint32_t>* latency, std::map<int, uint64_t>* errors, uint64_t* keys) {
    for (Stripe& s : stripes_) {
      std::lock_guard<std::mutex> lock(s.mu);
      latency->insert(latency->end(), s.latency.begin(), s.latency.end());
      for (auto [c, n] : s.errors) (*errors)[c] += n;
      *keys += s.keys;
    }
  }

 private:
  static constexpr int kStripes = 16;
  struct Stripe {
    std::mutex mu;
    std::vector<uint32_t> latency;
    std::map<int, uint64_t> errors;
    uint64_t keys = 0;
  };
  Stripe stripes_[kStripes];
};

struct PhaseResult {
  std::string name;
  double seconds = 0;
  uint64_t ok = 0;
  uint64_t keys = 0;
  std::map<int, uint64_t> errors;
  std::vector<uint32_t> latency;  // sorted, microseconds
  double Rate() const { return seconds > 0 ? ok / seconds : 0; }
  uint32_t Pct(double p) const {
    if (latency.empty()) return 0;
    size_t i = std::min(latency.size() - 1, static_cast<size_t>(p / 100.0 * latency.size()));
    return latency[i];
  }
};

struct Stubs {
  std::unique_ptr<v1::GraphService::Stub> graph;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
  // For calls whose reply type is chosen by --decode (StartUnary).
  std::shared_ptr<grpc::Channel> channel;
};

// The bearer token of every call ("" for none), set once from --token / $KG_TOKEN.
std::string& Token() {
  static auto* token = new std::string;
  return *token;
}

void Prepare(grpc::ClientContext* ctx, std::chrono::system_clock::time_point deadline) {
  ctx->set_deadline(deadline);
  if (!Token().empty()) ctx->AddMetadata("authorization", "Bearer " + Token());
}

// One asynchronous call of a kind, self-deleting when done. The request and the reply live
// on an arena whose first block comes with the call (one allocation for most calls).
template <typename Req, typename Resp>
struct Call {
  BlockArena<32768> arena;
  grpc::ClientContext ctx;
  Req& req = *arena.Create<Req>();
  Resp& resp = *arena.Create<Resp>();
};

// Starts a unary call of `method` ("/package.Service/Method") whose request fill(&req)
// builds (returning the keys it asks for) and whose reply is parsed as Resp (a kg.v1 reply,
// or its wire-compatible Encoded* form); done(code, keys) runs when it completes.
template <typename Req, typename Resp, typename Fill>
void StartUnary(const std::shared_ptr<grpc::Channel>& channel, const char* method, Fill fill,
                std::chrono::system_clock::time_point deadline,
                const std::function<void(int, uint64_t)>& done) {
  auto* c = new Call<Req, Resp>;
  Prepare(&c->ctx, deadline);
  uint64_t keys = fill(&c->req);
  grpc::TemplatedGenericStub<Req, Resp>(channel).UnaryCall(&c->ctx, method, {}, &c->req, &c->resp,
                                                           [c, keys, done](grpc::Status status) {
                                                             done(status.error_code(), keys);
                                                             delete c;
                                                           });
}

// StartUnary with the reply parsed as Full (the kg.v1 reply) when `full`, else as Encoded
// (its wire-compatible form with entities left as bytes).
template <typename Req, typename Full, typename Encoded, typename Fill>
void StartDecoded(bool full, const std::shared_ptr<grpc::Channel>& channel, const char* method,
                  Fill fill, std::chrono::system_clock::time_point deadline,
                  const std::function<void(int, uint64_t)>& done) {
  if (full) {
    StartUnary<Req, Full>(channel, method, fill, deadline, done);
  } else {
    StartUnary<Req, Encoded>(channel, method, fill, deadline, done);
  }
}

class Runner {
 public:
  Runner(std::vector<Stubs>* stubs, const Settings& s) : stubs_(stubs), s_(s) {}

  // Starts one call of `kind` on channel `ch`; `done(code, keys)` runs on completion.
  void Start(Kind kind, size_t ch, KeyDraw& draw, std::function<void(int, uint64_t)> done) {
    Stubs& st = (*stubs_)[ch % stubs_->size()];
    auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(s_.deadline_ms);
    switch (kind) {
      case Kind::kHealth: {
        auto* c =
            new Call<grpc::health::v1::HealthCheckRequest, grpc::health::v1::HealthCheckResponse>;
        Prepare(&c->ctx, deadline);
        st.health->async()->Check(&c->ctx, &c->req, &c->resp, [c, done](grpc::Status status) {
          done(status.error_code(), 0);
          delete c;
        });
        return;
      }
      case Kind::kGetEntities: {
        auto fill = [&](v1::GetEntitiesRequest* req) {
          for (int i = 0; i < s_.batch; ++i) {
            v1::EntityKey* k = req->add_keys();
            k->set_type(v1::PRODUCT);
            k->set_id(draw(s_.products));
          }
          return static_cast<uint64_t>(s_.batch);
        };
        StartDecoded<v1::GetEntitiesRequest, v1::GetEntitiesResponse,
                     internal::v1::EncodedGetEntitiesResponse>(
            s_.full_decode, st.channel, "/kg.v1.GraphService/GetEntities", fill, deadline, done);
        return;
      }
      case Kind::kGetNeighbors:
      case Kind::kGetNeighborsInline: {
        auto fill = [&](v1::GetNeighborsRequest* req) {
          v1::EntityKey* k = req->add_keys();
          k->set_type(v1::BUYER);
          k->set_id(s_.active.empty() ? draw(s_.buyers) : s_.active[draw(s_.active.size()) - 1]);
          req->set_edge_type(s_.edge_type);
          req->set_limit(s_.limit);
          req->set_include_entities(kind == Kind::kGetNeighborsInline);
          return uint64_t{1};
        };
        StartDecoded<v1::GetNeighborsRequest, v1::GetNeighborsResponse,
                     internal::v1::EncodedGetNeighborsResponse>(
            s_.full_decode, st.channel, "/kg.v1.GraphService/GetNeighbors", fill, deadline, done);
        return;
      }
      case Kind::kCount: {
        auto* c = new Call<v1::CountNeighborsRequest, v1::CountNeighborsResponse>;
        Prepare(&c->ctx, deadline);
        for (int i = 0; i < s_.batch; ++i) {
          v1::EntityKey* k = c->req.add_keys();
          k->set_type(v1::PRODUCT);
          k->set_id(draw(s_.products));
        }
        c->req.add_edge_types(v1::PURCHASED);
        c->req.add_edge_types(v1::VIEWED);
        c->req.add_directions(v1::IN);
        st.graph->async()->CountNeighbors(&c->ctx, &c->req, &c->resp,
                                          [c, done](grpc::Status status) {
                                            done(status.error_code(), c->req.keys_size());
                                            delete c;
                                          });
        return;
      }
      case Kind::kUpsertEdges: {
        auto* c = new Call<v1::UpsertEdgesRequest, v1::UpsertEdgesResponse>;
        Prepare(&c->ctx, deadline);
        int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
        for (int i = 0; i < s_.batch; ++i) {
          v1::Edge* e = c->req.add_edges();
          e->mutable_src()->set_type(v1::BUYER);
          e->mutable_src()->set_id(draw(s_.buyers));
          e->set_type(v1::PURCHASED);
          e->mutable_dst()->set_type(v1::PRODUCT);
          e->mutable_dst()->set_id(draw(s_.products));
          e->set_time_ms(now);
          e->set_weight(1);
        }
        st.graph->async()->UpsertEdges(&c->ctx, &c->req, &c->resp, [c, done](grpc::Status status) {
          int code = status.error_code();
          for (const auto& r : c->resp.results()) {
            if (code == 0 && r.code() != 0) code = r.code();  // an item rejected
          }
          done(code, c->req.edges_size());
          delete c;
        });
        return;
      }
      case Kind::kCategorize: {
        auto fill = [&](v1::CategorizeRequest* req) {
          for (int i = 0; i < s_.batch; ++i) {
            req->add_items()->mutable_text()->set_title(s_.titles[draw.Below(s_.titles.size())]);
          }
          req->set_top_k(1);
          return static_cast<uint64_t>(s_.batch);
        };
        StartUnary<v1::CategorizeRequest, v1::CategorizeResponse>(
            st.channel, "/kg.v1.KnowledgeService/Categorize", fill, deadline, done);
        return;
      }
      case Kind::kRecognizeBrands:
      case Kind::kExtractAttributes:
      case Kind::kMatchSpu: {
        auto fill = [&](auto* req) {
          for (int i = 0; i < s_.batch; ++i) {
            req->add_items()->mutable_text()->set_title(s_.titles[draw.Below(s_.titles.size())]);
          }
          return static_cast<uint64_t>(s_.batch);
        };
        if (kind == Kind::kRecognizeBrands) {
          StartUnary<v1::RecognizeBrandsRequest, v1::RecognizeBrandsResponse>(
              st.channel, "/kg.v1.KnowledgeService/RecognizeBrands", fill, deadline, done);
        } else if (kind == Kind::kMatchSpu) {
          StartUnary<v1::MatchSpuRequest, v1::MatchSpuResponse>(
              st.channel, "/kg.v1.KnowledgeService/MatchSpu", fill, deadline, done);
        } else {
          StartUnary<v1::ExtractAttributesRequest, v1::ExtractAttributesResponse>(
              st.channel, "/kg.v1.KnowledgeService/ExtractAttributes", fill, deadline, done);
        }
        return;
      }
      case Kind::kTopProducts: {
        auto fill = [&](v1::TopProductsRequest* req) {
          req->mutable_category()->set_type(v1::CATEGORY);
          req->mutable_category()->set_id(draw(s_.roots));
          req->set_include_descendants(true);
          req->set_metric(s_.top_metric);
          req->set_limit(20);
          return uint64_t{1};
        };
        StartUnary<v1::TopProductsRequest, v1::TopProductsResponse>(
            st.channel, "/kg.v1.InsightService/TopProducts", fill, deadline, done);
        return;
      }
      case Kind::kProfileEntity: {
        auto fill = [&](v1::ProfileEntityRequest* req) {
          req->mutable_key()->set_type(v1::PRODUCT);
          req->mutable_key()->set_id(draw(s_.products));
          return uint64_t{1};
        };
        StartUnary<v1::ProfileEntityRequest, v1::ProfileEntityResponse>(
            st.channel, "/kg.v1.KnowledgeService/ProfileEntity", fill, deadline, done);
        return;
      }
      case Kind::kCompareProducts: {
        auto fill = [&](v1::CompareProductsRequest* req) {
          req->mutable_product()->set_type(v1::PRODUCT);
          req->mutable_product()->set_id(draw(s_.products));
          req->set_peers(v1::SAME_LEAF_CATEGORY);
          return uint64_t{1};
        };
        StartUnary<v1::CompareProductsRequest, v1::CompareProductsResponse>(
            st.channel, "/kg.v1.InsightService/CompareProducts", fill, deadline, done);
        return;
      }
      case Kind::kTraverse: {
        auto* c = new Call<v1::TraverseRequest, v1::TraverseResponse>;
        Prepare(&c->ctx, deadline);
        v1::EntityKey* k = c->req.add_start();
        k->set_type(v1::PRODUCT);
        k->set_id(draw(s_.products));
        for (v1::Direction d : {v1::IN, v1::OUT}) {
          v1::Hop* h = c->req.add_hops();
          h->set_edge_type(v1::PURCHASED);
          h->set_direction(d);
          h->set_limit(s_.limit);
        }
        c->req.set_max_results(10);
        st.graph->async()->Traverse(&c->ctx, &c->req, &c->resp, [c, done](grpc::Status status) {
          done(status.error_code(), 1);
          delete c;
        });
        return;
      }
    }
  }

  PhaseResult Run(const Phase& phase) {
    PhaseResult result;
    result.name = phase.name;
    Recorder recorder;
    std::atomic<bool> measuring{false};
    std::atomic<bool> stop{false};
    std::atomic<int64_t> measured{0};
    std::atomic<int> outstanding{0};
    std::mutex mu;
    std::condition_variable cv;
    auto start = Clock::now();
    auto measure_from = start + ToDuration(s_.warmup);
    auto end = measure_from + ToDuration(s_.duration);

    if (s_.rate <= 0) {
      // Closed loop: each slot issues its next call when the previous completes.
      std::vector<std::unique_ptr<KeyDraw>> draws;
      for (int i = 0; i < s_.concurrency; ++i) {
        draws.push_back(std::make_unique<KeyDraw>(s_.zipf, s_.seed * 1000003 + i));
      }
      std::function<void(int)> issue = [&](int slot) {
        auto t0 = Clock::now();
        Start(phase.Pick(*draws[slot]), slot, *draws[slot], [&, slot, t0](int code, uint64_t keys) {
          auto now = Clock::now();
          if (measuring.load() && now <= end) {
            recorder.Record(code, Micros(now - t0), keys);
            if (s_.requests > 0 && measured.fetch_add(1) + 1 >= s_.requests) stop = true;
          }
          if (now < end && !stop.load()) {
            issue(slot);
          } else if (outstanding.fetch_sub(1) == 1) {
            std::lock_guard<std::mutex> lock(mu);
            cv.notify_all();
          }
        });
      };
      outstanding = s_.concurrency;
      for (int i = 0; i < s_.concurrency; ++i) issue(i);
      std::this_thread::sleep_until(measure_from);
      measuring = true;
      auto t_measure = Clock::now();
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return outstanding.load() == 0; });
      result.seconds =
          std::chrono::duration<double>(std::min(Clock::now(), end) - t_measure).count();
    } else {
      // Open loop: calls start on a fixed schedule whatever the completions; latency runs
      // from the scheduled start, so queueing delay counts.
      KeyDraw draw(s_.zipf, s_.seed);
      // Wake on time: the default 50 us timer slack would start calls late and in bursts.
      prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
      auto interval = std::chrono::duration<double>(1.0 / s_.rate);
      int64_t n = 0;
      constexpr int kMaxOutstanding = 20000;
      uint64_t dropped = 0;
      for (;; ++n) {
        auto when = start + std::chrono::duration_cast<Clock::duration>(interval * n);
        if (when >= end || stop.load()) break;
        std::this_thread::sleep_until(when);
        if (when >= measure_from && !measuring.load()) measuring = true;
        if (outstanding.load() >= kMaxOutstanding) {
          ++dropped;
          continue;
        }
        ++outstanding;
        bool counted = when >= measure_from;
        Start(phase.Pick(draw), n, draw, [&, when, counted](int code, uint64_t keys) {
          if (counted) {
            recorder.Record(code, Micros(Clock::now() - when), keys);
            if (s_.requests > 0 && measured.fetch_add(1) + 1 >= s_.requests) stop = true;
          }
          if (outstanding.fetch_sub(1) == 1) {
            std::lock_guard<std::mutex> lock(mu);
            cv.notify_all();
          }
        });
      }
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return outstanding.load() == 0; });
      result.seconds =
          std::chrono::duration<double>(std::min(Clock::now(), end) - measure_from).count();
      if (dropped > 0) result.errors[-1] = dropped;  // over the outstanding cap
    }
    recorder.Merge(&result.latency, &result.errors, &result.keys);
    std::sort(result.latency.begin(), result.latency.end());
    result.ok = result.latency.size();
    return result;
  }

 private:
  static Clock::duration ToDuration(double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }
  static uint32_t Micros(Clock::duration d) {
    return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  }

  std::vector<Stubs>* stubs_;
  Settings s_;
};

// The buyers 1..buyers with at least `min` edges of `type`, by CountNeighbors in batches.
absl::StatusOr<std::vector<uint64_t>> BuyersWithDegree(v1::GraphService::Stub* stub,
                                                       uint64_t buyers, v1::EdgeType type,
                                                       int min) {
  std::vector<uint64_t> out;
  constexpr uint64_t kBatch = 1000;
  for (uint64_t first = 1; first <= buyers; first += kBatch) {
    v1::CountNeighborsRequest req;
    for (uint64_t id = first; id < first + kBatch && id <= buyers; ++id) {
      v1::EntityKey* k = req.add_keys();
      k->set_type(v1::BUYER);
      k->set_id(id);
    }
    req.add_edge_types(type);
    req.add_directions(v1::OUT);
    grpc::ClientContext ctx;
    Prepare(&ctx, std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::CountNeighborsResponse resp;
    grpc::Status st = stub->CountNeighbors(&ctx, req, &resp);
    if (!st.ok()) return absl::UnavailableError("CountNeighbors: " + st.error_message());
    for (int i = 0; i < resp.results_size(); ++i) {
      const v1::KeyCounts& r = resp.results(i);
      if (r.counts_size() > 0 && r.counts(0).count() >= static_cast<uint64_t>(min)) {
        out.push_back(r.key().id());
      }
    }
  }
  return out;
}

std::string CodeName(int code) { return code == -1 ? "DROPPED_OVER_CAP" : StatusCodeName(code); }

int Main() {
  Settings s;
  s.concurrency = std::max(1, absl::GetFlag(FLAGS_concurrency));
  s.channels = std::max(1, absl::GetFlag(FLAGS_channels));
  s.batch = std::clamp(absl::GetFlag(FLAGS_batch), 1, 1000);
  s.limit = std::clamp(absl::GetFlag(FLAGS_limit), 1, 1000);
  s.duration = absl::GetFlag(FLAGS_duration);
  s.warmup = absl::GetFlag(FLAGS_warmup);
  s.rate = absl::GetFlag(FLAGS_rate);
  s.requests = absl::GetFlag(FLAGS_requests);
  s.deadline_ms = absl::GetFlag(FLAGS_deadline_ms);
  s.zipf = absl::GetFlag(FLAGS_keys) == "zipf";
  s.full_decode = absl::GetFlag(FLAGS_decode) == "full";
  if (!v1::EdgeType_Parse(absl::GetFlag(FLAGS_edge_type), &s.edge_type) ||
      !(s.edge_type == v1::PURCHASED || s.edge_type == v1::VIEWED || s.edge_type == v1::CLICKED ||
        s.edge_type == v1::ADDED_TO_CART)) {
    std::cerr << "--edge_type: PURCHASED, VIEWED, CLICKED or ADDED_TO_CART\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_decode) != "full" && absl::GetFlag(FLAGS_decode) != "encoded") {
    std::cerr << "--decode: encoded or full\n";
    return 2;
  }
  s.products = absl::GetFlag(FLAGS_products);
  s.buyers = absl::GetFlag(FLAGS_buyers);
  s.seed = absl::GetFlag(FLAGS_seed);
  s.roots = std::max<uint64_t>(1, absl::GetFlag(FLAGS_roots));
  s.top_metric = absl::GetFlag(FLAGS_top_metric);
  if (absl::GetFlag(FLAGS_keys) != "zipf" && absl::GetFlag(FLAGS_keys) != "uniform") {
    std::cerr << "--keys: uniform or zipf\n";
    return 2;
  }
  auto find = [](absl::string_view name) -> const KindInfo* {
    for (const KindInfo& k : kKinds) {
      if (name == k.name) return &k;
    }
    return nullptr;
  };
  auto single = [](const KindInfo& k) { return Phase{k.name, {{k.kind, 1}}, 1}; };
  std::vector<Phase> phases;
  if (absl::GetFlag(FLAGS_baseline)) phases.push_back(single(kKinds[0]));
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_rpc), ',', absl::SkipEmpty())) {
    const KindInfo* found = find(name);
    if (found == nullptr) {
      std::cerr << "--rpc: unknown kind \"" << name << "\"\n";
      return 2;
    }
    if (!(found == &kKinds[0] && absl::GetFlag(FLAGS_baseline))) phases.push_back(single(*found));
  }
  if (!absl::GetFlag(FLAGS_mix).empty()) {
    Phase mix{"mix", {}, 0};
    for (absl::string_view part :
         absl::StrSplit(absl::GetFlag(FLAGS_mix), ',', absl::SkipEmpty())) {
      std::vector<absl::string_view> kv = absl::StrSplit(part, ':');
      uint64_t weight = 0;
      const KindInfo* found = kv.size() == 2 ? find(kv[0]) : nullptr;
      if (found == nullptr || !absl::SimpleAtoi(kv[1], &weight) || weight == 0) {
        std::cerr << "--mix: expected KIND:WEIGHT,..., got \"" << part << "\"\n";
        return 2;
      }
      mix.kinds.emplace_back(found->kind, weight);
      mix.total += weight;
    }
    phases.push_back(mix);
  }

  std::string addr = absl::GetFlag(FLAGS_addr);
  ClientOptions connection;
  connection.token = TokenFromFlagOrEnv(absl::GetFlag(FLAGS_token));
  connection.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  connection.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  connection.tls_key = absl::GetFlag(FLAGS_tls_key);
  connection.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  Token() = connection.token;
  std::vector<Stubs> stubs;
  for (int i = 0; i < s.channels; ++i) {
    connection.channel_tag = i;  // a separate connection each
    absl::StatusOr<std::shared_ptr<grpc::Channel>> made = MakeChannel(addr, connection);
    if (!made.ok()) {
      std::cerr << made.status().message() << "\n";
      return 2;
    }
    std::shared_ptr<grpc::Channel> channel = *made;
    stubs.push_back(
        {v1::GraphService::NewStub(channel), grpc::health::v1::Health::NewStub(channel), channel});
  }
  if (s.products == 0 || s.buyers == 0) {
    auto admin = v1::AdminService::NewStub(stubs[0].channel);
    grpc::ClientContext ctx;
    Prepare(&ctx, std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetClusterInfoResponse info;
    grpc::Status st = admin->GetClusterInfo(&ctx, v1::GetClusterInfoRequest(), &info);
    if (!st.ok()) {
      std::cerr << "GetClusterInfo on " << addr << ": " << st.error_message() << "\n";
      return 1;
    }
    uint64_t products = 0, buyers = 0;
    for (const auto& p : info.partitions()) {
      for (const auto& c : p.entities_by_type()) {
        if (c.type() == v1::PRODUCT) products += c.count();
        if (c.type() == v1::BUYER) buyers += c.count();
      }
    }
    if (s.products == 0) s.products = std::max<uint64_t>(products, 1);
    if (s.buyers == 0) s.buyers = std::max<uint64_t>(buyers, 1);
  }
  if (absl::GetFlag(FLAGS_min_degree) > 0) {
    absl::StatusOr<std::vector<uint64_t>> active = BuyersWithDegree(
        stubs[0].graph.get(), s.buyers, s.edge_type, absl::GetFlag(FLAGS_min_degree));
    if (!active.ok()) {
      std::cerr << "--min_degree: " << active.status().message() << "\n";
      return 1;
    }
    if (active->empty()) {
      std::cerr << "--min_degree: no buyer has " << absl::GetFlag(FLAGS_min_degree) << " "
                << v1::EdgeType_Name(s.edge_type) << " edges\n";
      return 1;
    }
    s.active = std::move(*active);
    if (!absl::GetFlag(FLAGS_json)) {
      std::cerr << s.active.size() << " buyers have at least " << absl::GetFlag(FLAGS_min_degree)
                << " " << v1::EdgeType_Name(s.edge_type) << " edges\n";
    }
  }

  for (const Phase& phase : phases) {
    for (const auto& [kind, weight] : phase.kinds) {
      if (!TakesTitles(kind) || !s.titles.empty()) continue;
      if (!absl::GetFlag(FLAGS_titles_file).empty()) {
        std::ifstream in(absl::GetFlag(FLAGS_titles_file));
        std::string line;
        while (std::getline(in, line)) {
          if (!line.empty()) s.titles.push_back(line);
        }
        if (s.titles.empty()) {
          std::cerr << "--titles_file: no titles in " << absl::GetFlag(FLAGS_titles_file) << "\n";
          return 1;
        }
        continue;
      }
      // Titles to categorize: the names of up to 1000 random products.
      v1::GetEntitiesRequest req;
      KeyDraw draw(false, s.seed);
      for (int i = 0; i < 1000; ++i) {
        v1::EntityKey* k = req.add_keys();
        k->set_type(v1::PRODUCT);
        k->set_id(draw(s.products));
      }
      req.mutable_read_mask()->add_paths("name");
      v1::GetEntitiesResponse resp;
      grpc::ClientContext ctx;
      Prepare(&ctx, std::chrono::system_clock::now() + std::chrono::seconds(10));
      grpc::Status st = stubs[0].graph->GetEntities(&ctx, req, &resp);
      for (const auto& r : resp.results()) {
        if (r.found() && !r.entity().name().empty()) s.titles.push_back(r.entity().name());
      }
      if (!st.ok() || s.titles.empty()) {
        std::cerr << "Categorize: no product names to use as titles\n";
        return 1;
      }
    }
  }

  Runner runner(&stubs, s);
  std::vector<PhaseResult> results;
  for (const Phase& phase : phases) {
    if (!absl::GetFlag(FLAGS_json)) std::cerr << "running " << phase.name << " ...\n";
    results.push_back(runner.Run(phase));
  }
  double base = absl::GetFlag(FLAGS_baseline) ? results[0].Rate() : 0;

  if (absl::GetFlag(FLAGS_json)) {
    std::printf(
        "{\"addr\":\"%s\",\"concurrency\":%d,\"channels\":%d,\"duration_s\":%g,"
        "\"rate\":%g,\"batch\":%d,\"limit\":%d,\"keys\":\"%s\",\"products\":%lu,"
        "\"buyers\":%lu,\"edge_type\":\"%s\",\"buyers_drawn\":%lu,\"decode\":\"%s\","
        "\"phases\":[",
        addr.c_str(), s.concurrency, s.channels, s.duration, s.rate, s.batch, s.limit,
        s.zipf ? "zipf" : "uniform", static_cast<unsigned long>(s.products),
        static_cast<unsigned long>(s.buyers), v1::EdgeType_Name(s.edge_type).c_str(),
        static_cast<unsigned long>(s.active.empty() ? s.buyers : s.active.size()),
        s.full_decode ? "full" : "encoded");
    for (size_t i = 0; i < results.size(); ++i) {
      const PhaseResult& r = results[i];
      std::vector<std::string> errs;
      for (auto [c, n] : r.errors) errs.push_back(absl::StrCat("\"", CodeName(c), "\":", n));
      std::printf(
          "%s{\"rpc\":\"%s\",\"ok\":%lu,\"seconds\":%.3f,\"calls_per_s\":%.1f,"
          "\"keys_per_s\":%.1f,\"ratio_to_health\":%.3f,\"p50_us\":%u,\"p90_us\":%u,"
          "\"p99_us\":%u,\"p999_us\":%u,\"max_us\":%u,\"errors\":{%s}}",
          i ? "," : "", r.name.c_str(), static_cast<unsigned long>(r.ok), r.seconds, r.Rate(),
          r.seconds > 0 ? r.keys / r.seconds : 0.0, base > 0 ? r.Rate() / base : 0.0, r.Pct(50),
          r.Pct(90), r.Pct(99), r.Pct(99.9), r.latency.empty() ? 0 : r.latency.back(),
          absl::StrJoin(errs, ",").c_str());
    }
    std::printf("]}\n");
  } else {
    std::printf(
        "kg_bench %s: %s, concurrency %d, channels %d, %gs per phase, batch %d, "
        "limit %d, keys %s (products 1..%lu, buyers 1..%lu; GetNeighbors: %s of %lu buyers), "
        "replies decoded %s\n",
        addr.c_str(),
        s.rate > 0 ? absl::StrCat("open loop at ", s.rate, "/s").c_str() : "closed loop",
        s.concurrency, s.channels, s.duration, s.batch, s.limit, s.zipf ? "zipf" : "uniform",
        static_cast<unsigned long>(s.products), static_cast<unsigned long>(s.buyers),
        v1::EdgeType_Name(s.edge_type).c_str(),
        static_cast<unsigned long>(s.active.empty() ? s.buyers : s.active.size()),
        s.full_decode ? "fully" : "with entities left encoded");
    std::printf("%-20s %12s %12s %8s %8s %8s %8s %8s %8s  %s\n", "rpc", "calls/s", "keys/s",
                "vs.hlth", "p50us", "p90us", "p99us", "p99.9us", "max_us", "errors");
    for (const PhaseResult& r : results) {
      std::vector<std::string> errs;
      for (auto [c, n] : r.errors) errs.push_back(absl::StrCat(CodeName(c), "=", n));
      std::printf("%-20s %12.0f %12.0f %8.3f %8u %8u %8u %8u %8u  %s\n", r.name.c_str(), r.Rate(),
                  r.seconds > 0 ? r.keys / r.seconds : 0.0, base > 0 ? r.Rate() / base : 0.0,
                  r.Pct(50), r.Pct(90), r.Pct(99), r.Pct(99.9),
                  r.latency.empty() ? 0 : r.latency.back(),
                  errs.empty() ? "-" : absl::StrJoin(errs, " ").c_str());
    }
  }
  for (const PhaseResult& r : results) {
    if (r.ok == 0) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace kg

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Load generator for kg_server. Each --rpc phase runs after a Health/Check baseline phase "
      "with the same settings; throughput is reported also as a ratio to it.\n"
      "  kg_bench --addr=127.0.0.1:50051 --rpc=GetEntities,GetNeighbors --concurrency=32 "
      "--channels=2 --duration=10\n"
      "  kg_bench --rpc=GetEntities --batch=100 --keys=zipf\n"
      "  kg_bench --rpc=GetNeighbors --rate=20000   # open loop");
  absl::ParseCommandLine(argc, argv);
  // Abseil's mutex deadlock detection (on in Debian's build) costs every lock gRPC takes.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return kg::Main();
}
