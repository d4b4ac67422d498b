// Request validation and handling of every public RPC, in process: the first input byte
// picks a method of kg.v1.GraphService, AdminService, KnowledgeService or InsightService
// (enumerated from their descriptors: a method without a handler here stops the target at
// start, so a new RPC cannot be forgotten), the rest is parsed as its request (inputs that
// do not parse are skipped) and passed to the front end's operations (GraphOps,
// KnowledgeOps, InsightOps), wired as kg_server --role=all wires them: an in-memory
// PartitionHost of 2 partitions behind local partition clients and a Router, over a small
// graph. Every call must complete (its callback run exactly once) well within 30 s.
//
// Import: the rest is a sequence of length-delimited ImportRequest messages, applied as
// one stream (stopping where the server's reactor stops: a message that does not parse, a
// failed batch, too many rejected records). TrainModels: the request is passed on unless
// it would pass validation and ask for a large model (the text model's matrix is buckets x
// dim floats); over this small graph training is refused or quick.
//
// Writes change the graph: it is built anew every kRebuildEvery inputs, so memory stays
// bounded over any number of runs.
//
// KG_FUZZ_WRITE_SEEDS=DIR fuzz_requests writes a valid request of every method to DIR.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz/fuzz_util.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "kg/v1/admin.pb.h"
#include "kg/v1/graph.pb.h"
#include "kg/v1/insight.pb.h"
#include "kg/v1/knowledge.pb.h"
#include "server/frontend/graph_ops.h"
#include "server/frontend/insight_ops.h"
#include "server/frontend/knowledge_ops.h"
#include "server/security/access.h"

namespace kg {
namespace {

constexpr int kRebuildEvery = 2000;
constexpr int kMaxImportMessages = 16;
constexpr auto kCallDeadline = std::chrono::seconds(2);
constexpr auto kReplyWait = std::chrono::seconds(30);
// Largest text model TrainModels may be asked for here: buckets x dim floats (16 MB).
constexpr int64_t kMaxTrainingFloats = 4 << 20;

// The graph every run starts from.
constexpr char kSeedEntities[] = R"(
  entities {
    key { type: CATEGORY id: 1 }
    name: "Shoes"
  }
  entities {
    key { type: CATEGORY id: 2 }
    name: "Trail"
  }
  entities {
    key { type: BRAND id: 1 }
    name: "Acme"
    attributes { key: "aliases" value: "ACME Co" }
  }
  entities {
    key { type: PRODUCT id: 1 }
    name: "Acme trail runner 42 red"
    attributes { key: "colour" value: "red" }
    metrics { key: "price" value: 80 }
  }
  entities {
    key { type: PRODUCT id: 2 }
    name: "Nimbus road shoe"
    metrics { key: "price" value: 60 }
  }
  entities {
    key { type: SPU id: 1 }
    name: "Acme trail runner"
  }
  entities {
    key { type: MERCHANT id: 1 }
    name: "Shop"
  }
  entities {
    key { type: INFLUENCER id: 1 }
    name: "Runner"
  }
  entities {
    key { type: CONTENT id: 1 }
    name: "Review"
  }
  entities {
    key { type: BUYER id: 1 }
    attributes { key: "country" value: "UK" }
  }
  entities {
    key { type: BUYER id: 2 }
    attributes { key: "country" value: "FR" }
  }
)";
struct SeedEdge {
  v1::EntityType src_type;
  uint64_t src;
  v1::EdgeType type;
  v1::EntityType dst_type;
  uint64_t dst;
  int64_t time_ms;  // 0: now
};
constexpr SeedEdge kSeedEdges[] = {
    {v1::CATEGORY, 2, v1::SUBCATEGORY_OF, v1::CATEGORY, 1, 0},
    {v1::PRODUCT, 1, v1::IN_CATEGORY, v1::CATEGORY, 2, 0},
    {v1::PRODUCT, 2, v1::IN_CATEGORY, v1::CATEGORY, 1, 0},
    {v1::PRODUCT, 1, v1::HAS_BRAND, v1::BRAND, 1, 0},
    {v1::PRODUCT, 1, v1::INSTANCE_OF, v1::SPU, 1, 0},
    {v1::PRODUCT, 1, v1::SOLD_BY, v1::MERCHANT, 1, 0},
    {v1::INFLUENCER, 1, v1::POSTED, v1::CONTENT, 1, 0},
    {v1::CONTENT, 1, v1::FEATURES, v1::PRODUCT, 1, 0},
    {v1::BUYER, 1, v1::FOLLOWS, v1::INFLUENCER, 1, 0},
    {v1::BUYER, 1, v1::PURCHASED, v1::PRODUCT, 1, 1700000000000},
    {v1::BUYER, 2, v1::VIEWED, v1::PRODUCT, 2, 1700000001000},
    {v1::BUYER, 2, v1::PURCHASED, v1::PRODUCT, 1, 1700000002000},
};

// A valid request of each method, for the seed corpus (methods not listed: an empty one).
const std::map<std::string, std::string>& SeedRequests() {
  static const auto* seeds = new std::map<std::string, std::string>{
      {"GetEntities", R"(keys { type: PRODUCT id: 1 }
                           keys { type: BUYER id: 9 }
                           read_mask { paths: "name" paths: "metrics.price" })"},
      {"UpsertEntities", R"(entities {
                                key { type: BRAND id: 7 }
                                name: "Nimbus"
                              }
                              merge: true)"},
      {"DeleteEntities", R"(keys { type: BUYER id: 2 })"},
      {"UpsertEdges", R"(edges {
                             src { type: BUYER id: 1 }
                             type: VIEWED
                             dst { type: PRODUCT id: 2 }
                             time_ms: 1700000003000
                             weight: 1
                           })"},
      {"DeleteEdges", R"(edges {
                             src { type: PRODUCT id: 1 }
                             type: HAS_BRAND
                             dst { type: BRAND id: 1 }
                           })"},
      {"GetNeighbors", R"(keys { type: PRODUCT id: 1 }
                            edge_type: PURCHASED
                            direction: IN
                            limit: 1
                            include_entities: true)"},
      {"CountNeighbors", R"(keys { type: BUYER id: 1 }
                              edge_types: PURCHASED
                              directions: OUT)"},
      {"Traverse", R"(start { type: PRODUCT id: 1 }
                        hops { edge_type: PURCHASED direction: IN limit: 10 }
                        hops { edge_type: PURCHASED direction: OUT limit: 10 }
                        max_results: 5
                        ranking: WEIGHT_SUM)"},
      {"Import", R"(records {
                        entity {
                          key { type: PRODUCT id: 3 }
                          name: "Acme sock"
                        }
                      }
                      records {
                        edge {
                          src { type: PRODUCT id: 3 }
                          type: HAS_BRAND
                          dst { type: BRAND id: 1 }
                        }
                      }
                      options { max_errors: 1 })"},
      {"Checkpoint", R"(dir: "fuzz-checkpoint")"},
      {"TrainModels", R"(epoch: 2 dim: 8 buckets: 1000 min_label_examples: 1)"},
      {"DevelopBrands", R"(max_candidates: 5 examples: 2)"},
      {"AssignSpus", R"(dry_run: true)"},
      {"Categorize", R"(items { key { type: PRODUCT id: 1 } }
                          items { text { title: "Acme trail runner" brand: "Acme" } }
                          top_k: 2)"},
      {"GetTaxonomy", R"(path: "Shoes" child_depth: 2)"},
      {"RecognizeBrands", R"(items { text { title: "ACME Co trail runner" } })"},
      {"ExtractAttributes", R"(items { text { title: "Samsung 1TB SSD, Pack of 2, red" } })"},
      {"MatchSpu", R"(items { key { type: PRODUCT id: 2 } }
                        top_k: 3
                        min_score: 0.5)"},
      {"ProfileEntity", R"(key { type: PRODUCT id: 1 }
                             min_buyers: 1)"},
      {"TopProducts", R"(category { type: CATEGORY id: 1 }
                           include_descendants: true
                           metric: "purchases"
                           limit: 5)"},
      {"CompareProducts", R"(product { type: PRODUCT id: 1 }
                               other { type: PRODUCT id: 2 })"},
  };
  return *seeds;
}

// The front end over an in-memory cluster of two partitions, as BuildRouter wires role "all".
struct Frontend {
  std::unique_ptr<PartitionHost> host;
  ServingGate gate;
  std::unique_ptr<Router> router;
  std::unique_ptr<GraphOps> graph;
  std::unique_ptr<KnowledgeOps> knowledge;
  std::unique_ptr<InsightOps> insight;

  Frontend() {
    absl::StatusOr<std::unique_ptr<PartitionHost>> made = PartitionHost::Create(2, {0, 1});
    KG_FUZZ_CHECK(made.ok(), "cannot create the partition host");
    host = std::move(*made);
    gate.Open();
    std::vector<std::unique_ptr<PartitionClient>> clients;
    for (int p = 0; p < 2; ++p) clients.push_back(NewLocalPartitionClient(host.get(), &gate));
    router = std::make_unique<Router>(std::move(clients));
    graph = std::make_unique<GraphOps>(router.get(), "all", "fuzz");
    knowledge = std::make_unique<KnowledgeOps>(router.get(), graph.get());
    insight = std::make_unique<InsightOps>(router.get());
  }
};

// Runs `call` (which starts an operation completing with `done`) and waits for it.
absl::Status Wait(const std::function<void(const CallOptions&, Done)>& call) {
  auto result = std::make_shared<std::promise<absl::Status>>();
  auto calls = std::make_shared<std::atomic<int>>(0);
  CallOptions o;
  o.deadline = std::chrono::system_clock::now() + kCallDeadline;
  std::future<absl::Status> reply = result->get_future();
  call(o, [result, calls](absl::Status s) {
    KG_FUZZ_CHECK(calls->fetch_add(1) == 0, "an operation completed twice");
    result->set_value(std::move(s));
  });
  KG_FUZZ_CHECK(reply.wait_for(kReplyWait) == std::future_status::ready,
                "an operation did not complete within 30 s");
  return reply.get();
}

template <typename Request>
bool Parse(absl::string_view bytes, Request* req) {
  return req->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

using Handler = std::function<void(Frontend&, absl::string_view)>;

// A unary method: parses the request, runs `call` (the operation) and waits for it. A
// reply must fit in a message the server can send (64 MiB).
template <typename Request, typename Response, typename Call>
Handler Unary(Call call) {
  return [call](Frontend& f, absl::string_view bytes) {
    Request req;
    if (!Parse(bytes, &req)) return;
    Response resp;
    absl::Status s =
        Wait([&](const CallOptions& o, Done done) { call(f, o, req, &resp, std::move(done)); });
    if (s.ok()) KG_FUZZ_CHECK(resp.ByteSizeLong() <= (64u << 20), "a reply over 64 MiB");
  };
}

// {"METHOD", handler calling f.OPS->METHOD}.
#define KG_UNARY(OPS, METHOD, RESPONSE)                                                  \
  std::make_pair(std::string(#METHOD),                                                   \
                 Unary<v1::METHOD##Request, RESPONSE>(                                   \
                     [](Frontend& f, const CallOptions& o, const v1::METHOD##Request& r, \
                        RESPONSE* out, Done done) { f.OPS->METHOD(o, r, out, std::move(done)); }))

void Import(Frontend& f, absl::string_view bytes) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  v1::ImportResponse totals;
  uint64_t next_index = 0, max_errors = 0;
  for (int m = 0; m < kMaxImportMessages && in.BytesUntilLimit() != 0; ++m) {
    v1::ImportRequest batch;
    bool clean_eof = false;
    if (!google::protobuf::util::ParseDelimitedFromCodedStream(&batch, &in, &clean_eof)) return;
    if (m == 0) max_errors = batch.options().max_errors();
    const uint64_t first = next_index;
    next_index += batch.records_size();
    absl::Status s = Wait([&](const CallOptions& o, Done done) {
      f.graph->ImportBatch(o, batch, first, &totals, std::move(done));
    });
    KG_FUZZ_CHECK(totals.records_received() >= totals.records_rejected(),
                  "more records rejected than received");
    if (!s.ok() || totals.records_rejected() > max_errors) return;
  }
}

// Within its range (else refused before any training): the value or its default.
int64_t Setting(int64_t value, int64_t lo, int64_t hi, int64_t fallback, bool* valid) {
  if (value == 0) return fallback;
  if (value < lo || value > hi) *valid = false;
  return value;
}

void TrainModels(Frontend& f, absl::string_view bytes) {
  v1::TrainModelsRequest req;
  if (!Parse(bytes, &req)) return;
  // The ranges of TrainModelsRequest (admin.proto); the default buckets follow the training
  // tokens, at least 10000.
  bool valid = true;
  const int64_t buckets = Setting(req.buckets(), 1000, 10000000, 10000, &valid);
  const int64_t dim = Setting(req.dim(), 8, 300, 64, &valid);
  if (valid && buckets * dim > kMaxTrainingFloats) return;
  // Any status will do (too few labelled products, a setting out of range): it must finish.
  (void)Wait([&](const CallOptions&, Done done) {
    f.knowledge->TrainModels(
        req, [](const v1::TrainModelsProgress& m) {}, std::move(done));
  });
}

// Every public method's handler, by method name.
const std::map<std::string, Handler>& Handlers() {
  static const auto* handlers = new std::map<std::string, Handler>{
      KG_UNARY(graph, GetEntities, internal::v1::EncodedGetEntitiesResponse),
      KG_UNARY(graph, UpsertEntities, v1::UpsertEntitiesResponse),
      KG_UNARY(graph, DeleteEntities, v1::DeleteEntitiesResponse),
      KG_UNARY(graph, UpsertEdges, v1::UpsertEdgesResponse),
      KG_UNARY(graph, DeleteEdges, v1::DeleteEdgesResponse),
      KG_UNARY(graph, GetNeighbors, internal::v1::EncodedGetNeighborsResponse),
      KG_UNARY(graph, CountNeighbors, v1::CountNeighborsResponse),
      KG_UNARY(graph, Traverse, v1::TraverseResponse),
      std::make_pair(std::string("Import"), Handler(Import)),
      KG_UNARY(graph, GetClusterInfo, v1::GetClusterInfoResponse),
      KG_UNARY(graph, Checkpoint, v1::CheckpointResponse),
      std::make_pair(std::string("TrainModels"), Handler(TrainModels)),
      KG_UNARY(knowledge, DevelopBrands, v1::DevelopBrandsResponse),
      KG_UNARY(knowledge, AssignSpus, v1::AssignSpusResponse),
      KG_UNARY(knowledge, Categorize, v1::CategorizeResponse),
      KG_UNARY(knowledge, GetTaxonomy, v1::GetTaxonomyResponse),
      KG_UNARY(knowledge, RecognizeBrands, v1::RecognizeBrandsResponse),
      KG_UNARY(knowledge, ExtractAttributes, v1::ExtractAttributesResponse),
      KG_UNARY(knowledge, MatchSpu, v1::MatchSpuResponse),
      KG_UNARY(insight, ProfileEntity, v1::ProfileEntityResponse),
      KG_UNARY(insight, TopProducts, v1::TopProductsResponse),
      KG_UNARY(insight, CompareProducts, v1::CompareProductsResponse),
  };
  return *handlers;
}

#undef KG_UNARY

// The public methods in a fixed order (services as listed, methods as declared), each with
// its handler. Stops the target when one has none.
std::vector<std::pair<const google::protobuf::MethodDescriptor*, Handler>> Methods() {
  std::vector<std::pair<const google::protobuf::MethodDescriptor*, Handler>> methods;
  // The services the server checks its access rules against (server/security/access.h).
  for (const google::protobuf::ServiceDescriptor* service : PublicServices()) {
    KG_FUZZ_CHECK(service != nullptr, "a public service is missing from the descriptor pool");
    for (int m = 0; m < service->method_count(); ++m) {
      const google::protobuf::MethodDescriptor* method = service->method(m);
      auto it = Handlers().find(method->name());
      KG_FUZZ_CHECK(it != Handlers().end(),
                    absl::StrCat(method->full_name(), " has no handler in fuzz_requests.cc"));
      methods.emplace_back(method, it->second);
    }
  }
  return methods;
}

const std::vector<std::pair<const google::protobuf::MethodDescriptor*, Handler>>& AllMethods() {
  static const auto* methods = new auto(Methods());
  return *methods;
}

// Builds the front end and loads the seed graph.
std::unique_ptr<Frontend> NewFrontend() {
  auto f = std::make_unique<Frontend>();
  v1::UpsertEntitiesRequest entities;
  v1::UpsertEdgesRequest edges;
  KG_FUZZ_CHECK(google::protobuf::TextFormat::ParseFromString(kSeedEntities, &entities),
                "bad seed entities");
  for (const SeedEdge& e : kSeedEdges) {
    v1::Edge* edge = edges.add_edges();
    edge->mutable_src()->set_type(e.src_type);
    edge->mutable_src()->set_id(e.src);
    edge->set_type(e.type);
    edge->mutable_dst()->set_type(e.dst_type);
    edge->mutable_dst()->set_id(e.dst);
    edge->set_time_ms(e.time_ms);
  }
  v1::UpsertEntitiesResponse entities_resp;
  v1::UpsertEdgesResponse edges_resp;
  absl::Status s = Wait([&](const CallOptions& o, Done done) {
    f->graph->UpsertEntities(o, entities, &entities_resp, std::move(done));
  });
  if (s.ok()) {
    s = Wait([&](const CallOptions& o, Done done) {
      f->graph->UpsertEdges(o, edges, &edges_resp, std::move(done));
    });
  }
  KG_FUZZ_CHECK(s.ok(), "loading the seed graph: " + std::string(s.message()));
  for (const auto& r : entities_resp.results()) KG_FUZZ_CHECK(r.code() == 0, r.message());
  for (const auto& r : edges_resp.results()) KG_FUZZ_CHECK(r.code() == 0, r.message());
  return f;
}

void WriteSeeds(const std::string& dir) {
  const auto& methods = AllMethods();
  for (size_t i = 0; i < methods.size(); ++i) {
    const google::protobuf::MethodDescriptor* method = methods[i].first;
    std::unique_ptr<google::protobuf::Message> req(
        google::protobuf::MessageFactory::generated_factory()
            ->GetPrototype(method->input_type())
            ->New());
    auto text = SeedRequests().find(method->name());
    if (text != SeedRequests().end()) {
      KG_FUZZ_CHECK(google::protobuf::TextFormat::ParseFromString(text->second, req.get()),
                    "bad seed request of " + method->name());
    }
    std::string bytes(1, static_cast<char>(i));
    if (method->name() == "Import") {
      // A stream of two messages.
      google::protobuf::io::StringOutputStream out(&bytes);
      google::protobuf::util::SerializeDelimitedToZeroCopyStream(*req, &out);
      google::protobuf::util::SerializeDelimitedToZeroCopyStream(*req, &out);
    } else {
      bytes += req->SerializeAsString();
    }
    std::ofstream(absl::StrCat(dir, "/", method->name()), std::ios::binary) << bytes;
  }
}

}  // namespace
}  // namespace kg

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (const char* dir = std::getenv("KG_FUZZ_WRITE_SEEDS")) {
    kg::WriteSeeds(dir);
    std::exit(0);
  }
  (void)kg::AllMethods();  // checks every method has a handler
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<kg::Frontend> frontend;
  static int runs = 0;
  if (size == 0) return 0;
  if (frontend == nullptr || ++runs % kg::kRebuildEvery == 0) {
    frontend.reset();  // waits for a training in progress
    frontend = kg::NewFrontend();
  }
  const auto& methods = kg::AllMethods();
  const auto& [method, handler] = methods[data[0] % methods.size()];
  handler(*frontend, absl::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  return 0;
}
