#include "client/kgctl/commands.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cpp/client.h"
#include "client/cpp/text.h"
#include "client/datagen/datagen.h"
#include "client/importer/line_index.h"
#include "client/importer/record_reader.h"
#include "client/kgctl/progress.h"
#include "proto/jsonl.h"
#include "server/security/tokens.h"

namespace kg {

const char kKgctlUsage[] = R"(command-line client of the knowledge-graph service (kg.v1).

Usage: kgctl [global flags] COMMAND [ARGS...] [command flags]
Flags may come before or after the command. Each command prints one JSON object per line
on stdout (protobuf's JSON mapping, lowerCamelCase) and errors on stderr. Exit status: 0 ok,
1 failure (or some items rejected), 2 bad usage.
A KEY is TYPE:ID, TYPE one of PRODUCT SPU BRAND CATEGORY MERCHANT INFLUENCER BUYER CONTENT
(any case), ID a decimal number > 0. Edge types: IN_CATEGORY SUBCATEGORY_OF HAS_BRAND
INSTANCE_OF SOLD_BY PROMOTES FEATURES POSTED VIEWED CLICKED ADDED_TO_CART PURCHASED FOLLOWS.

Global flags:
  --addr=HOST:PORT      server address (default 127.0.0.1:50051)
  --deadline=MS         deadline of each call in milliseconds (default 10000)
  --token=T             bearer token for servers started with --auth_tokens (default:
                        the KG_TOKEN environment variable); see `token new`
  --tls                 connect over TLS, trusting the system's CAs (implied by --tls_*)
  --tls_ca=FILE         the CA (PEM) the server's certificate must chain to
  --tls_cert=FILE --tls_key=FILE   client certificate and key (PEM) for mTLS
  --tls_server_name=N   name to check in the server's certificate (default: the host)

Commands:
  get KEY...            look entities up; prints one result per key.
      --fields=LIST     fields to return: name, attributes, metrics, update_time_ms,
                        attributes.NAME, metrics.NAME (comma-separated; default all)
      e.g. kgctl get PRODUCT:1 BRAND:3 --fields=name,metrics.price,attributes.color

  neighbors KEY...      edges of one type and direction, newest first; one line per key
                        (per page with --all_pages).
      --type=EDGE_TYPE  required
      --dir=out|in      out (default): edges leaving KEY; in: edges arriving at it
      --limit=N         page size per key (0 = server default 20, at most 1000)
      --since_ms=MS --until_ms=MS   time window on edge time (inclusive; 0 = open)
      --page_token=T    continue from a previous next_page_token (one KEY)
      --entities        also return the neighbor entities (--fields selects fields)
      --all_pages       follow next_page_token to the end (one KEY), at most
                        --max_pages pages (default 1000)
      e.g. kgctl neighbors BUYER:7 --type=PURCHASED --limit=10
           kgctl neighbors PRODUCT:1 --type=purchased --dir=in --all_pages --limit=1000

  count KEY...          number of edges per type and direction of each key.
      --type=A,B        edge types to count (default: all the schema allows)
      --dir=out|in      one direction (default both)
      --since_ms, --until_ms   time window
      e.g. kgctl count PRODUCT:1 PRODUCT:2 --type=VIEWED,PURCHASED --dir=in

  traverse KEY...       multi-hop walk; prints the ranked TraverseResponse.
      --hops=DIR:TYPE[:LIMIT],...   1..4 hops, e.g. in:PURCHASED,out:PURCHASED
      --hop_limit=N     edges followed per node for hops without :LIMIT (0 = 100)
      --since_ms, --until_ms   time window applied to every hop
      --max_results=N   results (0 = 20)      --max_frontier=N  nodes kept per hop
      --ranking=paths|weights                 --include_start   keep start keys
      --entities        return the result entities (--fields selects fields)
      e.g. kgctl traverse PRODUCT:1 --hops=in:PURCHASED,out:PURCHASED --max_results=10

  upsert [JSON...]      insert or replace entities and edges. Each argument (or, with no
                        argument, each stdin line) is an ImportRecord: {"entity":{...}} or
                        {"edge":{...}}. Sent in batches of at most 1000; prints one status
                        per item.
      --merge           merge attributes and metrics into existing entities
      e.g. kgctl upsert '{"entity":{"key":{"type":"BRAND","id":"1"},"name":"Nimbus"}}'
           kgctl upsert '{"edge":{"src":{"type":"BUYER","id":"1"},"type":"VIEWED",
                          "dst":{"type":"PRODUCT","id":"2"},"timeMs":"1700000000000"}}'

  delete-entity KEY...  delete entities and all their edges.
      e.g. kgctl delete-entity PRODUCT:42

  delete-edge SRC TYPE DST   delete one edge.
      e.g. kgctl delete-edge BUYER:7 PURCHASED PRODUCT:42

  import FILE           load a file through the server's Import RPC (a client stream, --batch
                        records per message); - is stdin. Formats (docs/IMPORT.md): jsonl
                        (one ImportRecord per line), csv (with --mapping), taxonomy (Google
                        Product Taxonomy "ID - A > B > C" lines). Bad lines are reported as
                        FILE:LINE: reason (the first 20), server rejections too; progress
                        (lines, rate, ETA) on a terminal; prints the ImportResponse. Exit 1 if
                        the import stopped or any line or record was rejected. Re-running is
                        idempotent (upserts, deterministic ids).
      --format=F        jsonl, csv or taxonomy (default: from the extension: .jsonl, .csv,
                        .txt)
      --mapping=FILE    csv: the column mapping (docs/IMPORT.md, docs/examples/*.mapping)
      --max_errors=N    bad lines (client side) and rejected records (server side) each
                        tolerated before stopping (default 0: stop at the first)
      --dry_run         parse and check locally (schema, ids, UTF-8); send nothing
      --batch=N         records per stream message, 1..1000 (default 1000)
      --import_deadline=MS   deadline of the whole stream (default 86400000)
      e.g. kgctl import data.jsonl --max_errors=100
           kgctl import retail.csv --mapping=docs/examples/online_retail.mapping --dry_run

  train                 rebuild the knowledge models from the graph and install them on every
                        server (AdminService.TrainModels); progress on a terminal, then the
                        last message: the model version and the validation figures.
      --epoch=N --dim=N --lr=X --word_ngrams=N --min_label_examples=N
      --max_label_depth=N --validation_share=X --train_seed=N   (0 = the server's defaults)
      --train_threads=N     1 (default): one model at a time, on one core; 2: the coarse
                            and fine text models side by side (same models, in about the
                            time of the longer one, a second core taken from serving)
      --train_deadline=MS   deadline of the whole call (default 7200000)
      e.g. kgctl train

  categorize ITEM...    categories of products: each ITEM is a KEY (PRODUCT, MERCHANT,
                        INFLUENCER or CONTENT) or a title; prints the CategorizeResponse
                        (one line per 1000 items).
      --top_k=N         predictions per item (0 = 3, at most 20)
      --file=FILE       also categorize each line of FILE as a title
      --brand=NAME      the brand of the titles given
      e.g. kgctl categorize "Nike Air Zoom running shoes" PRODUCT:12 MERCHANT:3

  brands ITEM...        brands mentioned in titles: each ITEM is a KEY (PRODUCT, SPU or
                        CONTENT) or a title; prints the RecognizeBrandsResponse: mentions
                        with byte offsets and confidence, brand id 0 for a new-brand
                        candidate (one line per 1000 items).
      --file=FILE       also each line of FILE as a title
      e.g. kgctl brands "HotWheels Monster Truck 5-pack" PRODUCT:12

  brands candidates     brand development over the products without a HAS_BRAND edge:
                        the most frequent new-brand candidates (names the graph has no
                        BRAND for) with counts and example titles, and the known brands
                        recognised in their titles; prints the DevelopBrandsResponse.
      --min_confidence=X  least confidence of a known brand to count or write (0 = 0.9)
      --max_candidates=N  candidates listed (0 = 50)
      --apply           write those HAS_BRAND edges (durably); says how many on stderr
      e.g. kgctl brands candidates --apply --min_confidence=0.95

  attributes ITEM...    attributes mined from titles (colour, size, material, measures
                        with units normalised, pack count, target, model number): items as
                        for brands; prints the ExtractAttributesResponse.
      --file=FILE       also each line of FILE as a title
      e.g. kgctl attributes "Samsung 1TB SSD, Pack of 2"

  spu match ITEM...     SPU candidates: each ITEM is a PRODUCT KEY or a title (--brand for
                        the titles); prints the MatchSpuResponse: SPUs with a calibrated
                        score (the probability of the same product) and reasons.
      --top_k=N         candidates per item (0 = 3, at most 20)
      --min_confidence=X  only candidates with at least this score (0..1)
      --file=FILE       also each line of FILE as a title
      e.g. kgctl spu match "Sony PS-LX350H Belt Drive Turntable" PRODUCT:12

  spu assign            SPU development over the products without an INSTANCE_OF edge:
                        attaches each to its best known SPU, groups the rest into new SPUs
                        (a core product and the products that each match it); prints the
                        AssignSpusResponse (attachments and groups with their scores) and
                        a summary on stderr. Writes INSTANCE_OF edges and SPU entities
                        durably; re-running finishes an interrupted run.
      --dry_run         report what would change, write nothing
      --min_confidence=X  least score to attach to a known SPU (0 = 0.9)
      --group_min_confidence=X  least score against a new group's core (0 = 0.9)
      --min_group_size=N  products a new SPU needs (0 = 2; 1: every product left)
      --max_listed=N    attachments and groups listed (0 = 100; -1: none)
      --max_products=N  products without an SPU examined at most (0 = 1000000)
      e.g. kgctl spu assign --dry_run

  taxonomy [CATEGORY]   the taxonomy around a category (CATEGORY:ID, or a path of names
                        "A > B"): the path from its root, its children and product counts;
                        no argument: the roots.
      --depth=N         levels of children (0 = 1, at most 5)
      e.g. kgctl taxonomy CATEGORY:12 --depth=2

  cluster-info          roles, partitions, counts and memory of the cluster.
  checkpoint DIR        a consistent snapshot of every partition under DIR (an absolute
                        path on each server's disk; the servers need --data_dir). Start a
                        server from it with --data_dir=NEW --restore_from=DIR.
      e.g. kgctl checkpoint /backups/kg-2026-11-21
  health [SERVICE]      grpc.health.v1 check; prints {"status":"SERVING"}; exit 1 unless
                        serving.

  token new             make a random bearer token; prints {"token":...,"line":...}: give
                        the token to its user (KG_TOKEN) and add the line to the server's
                        --auth_tokens file (docs/SECURITY.md). Needs no server.
      --role=read|write|admin   required      --name=NAME   whose token (required)
  token hash [TOKEN]    the token-file hash of TOKEN (or of stdin's first line).

  generate              write the sample e-commerce graph as JSONL (deterministic), then
                        print the record counts per entity and edge type.
      --scale=X         size, 1 = about 1M edges (0.001..1000, default 1)
      --seed=N          random seed (default 42)
      --end_time_ms=MS  end of the 90-day event window (default 1793491200000)
      --out=FILE        output file; - (default) is stdout, the counts then go to stderr
      --unassigned_percent=P  withhold P% of the SPUs (entity and INSTANCE_OF edges) and
                        the INSTANCE_OF edge of P% of the other products: the products
                        `spu assign` is for (0..50, default 0)
      --withheld_out=FILE  write the withheld records there (JSONL): the answer key;
                        importing it restores the full graph
      --planted_out=FILE  write the planted ground truths there (JSONL), the answer keys
                        of the insight calls: per product its main buyer segment,
                        {"kind":"audience","product":12,"dimension":"gender","value":"F"}
                        (dimension gender F/M, or age_band for unisex products), and per
                        planted pair of variants of one SPU the winner, the loser and why,
                        {"kind":"pair","winner":34,"loser":35,"cause":"price"} (cause
                        promotion, price or rating; 10% of the SPUs with 2+ variants)
      e.g. kgctl generate --scale=0.1 --out=sample.jsonl && kgctl import sample.jsonl

  profile KEY           who a PRODUCT suits (its buyers' segments against the platform's,
                        with lift and a 95% interval), or a MERCHANT's / INFLUENCER's
                        category mix, brands and audience (KnowledgeService.ProfileEntity).
      --window=30d      the window (also 12h, 90m...) ending at --until_ms (default now);
                        or --since_ms / --until_ms
      --max_sample=N    newest interactions read per list (0 = 2000)
      --table           a readable table instead of JSON
      e.g. kgctl profile PRODUCT:12 --table

  top CATEGORY          the top products of a category and its descendants
                        (InsightService.TopProducts).
      --metric=NAME     a stored metric (sales_30d, gmv_30d, rating, ...) or purchases,
                        views, clicks, add_to_cart, conversion, growth over the window
                        (default purchases)
      --window=30d, --since_ms, --until_ms   the window of the edge-derived metrics
      --descendants=false   the category only
      --brands=BRAND:1,BRAND:2  --merchant=MERCHANT:3  --min_price=X --max_price=Y
      --limit=N (0 = 20)  --page_token=T  --entities  --min_views=N (conversion)
      --table           a readable table
      e.g. kgctl top CATEGORY:1 --metric=purchases --window=30d --until_ms=1793491200000

  compare PRODUCT:A [PRODUCT:B]   why A outperforms (or trails) B, or its peers
                        (InsightService.CompareProducts): the outcome gap split into
                        traffic and conversion, each attributed to drivers.
      --peers=spu|category   compare with the medians of its SPU's or category's products
      --outcome=purchases|gmv  (default purchases)
      --window=30d, --since_ms, --until_ms
      --table           a readable table
      e.g. kgctl compare PRODUCT:34 PRODUCT:35 --table

  help                  this text.
)";

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kMaxBatch = 1000;
constexpr int kMaxNeighborKeys = 100;

// Reports a failed call and returns the failure exit code.
int Fail(std::ostream& err, absl::string_view command, const absl::Status& status) {
  err << "kgctl " << command << ": " << status.ToString() << "\n";
  return kExitFailure;
}

int Usage(std::ostream& err, absl::string_view command, absl::string_view message) {
  err << "kgctl " << command << ": " << message << "\n(see kgctl help)\n";
  return kExitUsage;
}

// Appends the fields of the JSON object `object` (e.g. "{\"a\":1}") after `prefix`
// (e.g. "{\"key\":{...}"), giving one merged object.
std::string MergeJson(std::string prefix, const std::string& object) {
  if (object.size() <= 2) return prefix + "}";
  return absl::StrCat(prefix, ",", object.substr(1));
}

absl::StatusOr<std::vector<v1::EntityKey>> ParseKeys(const std::vector<std::string>& args) {
  std::vector<v1::EntityKey> keys;
  for (const std::string& arg : args) {
    absl::StatusOr<v1::EntityKey> key = ParseEntityKey(arg);
    if (!key.ok()) return key.status();
    keys.push_back(*key);
  }
  return keys;
}

void ParseFieldMask(const std::string& fields, google::protobuf::FieldMask* mask) {
  for (absl::string_view path : absl::StrSplit(fields, ',', absl::SkipWhitespace())) {
    mask->add_paths(std::string(absl::StripAsciiWhitespace(path)));
  }
}

absl::StatusOr<std::unique_ptr<Client>> Connect(const CommandOptions& options) {
  ClientOptions client_options = options.connection;
  client_options.deadline_ms = options.deadline_ms;
  client_options.token = TokenFromFlagOrEnv(client_options.token);
  return Client::Connect(options.addr, client_options);
}

// The command table's signature.
using CommandFn =
    std::function<int(const std::vector<std::string>& args, const CommandOptions& options,
                      std::istream& in, std::ostream& out, std::ostream& err)>;

int Get(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
        std::ostream& out, std::ostream& err) {
  if (args.empty()) return Usage(err, "get", "want at least one KEY");
  absl::StatusOr<std::vector<v1::EntityKey>> keys = ParseKeys(args);
  if (!keys.ok()) return Usage(err, "get", keys.status().message());
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, "get", client.status());
  for (size_t start = 0; start < keys->size(); start += kMaxBatch) {
    v1::GetEntitiesRequest request;
    ParseFieldMask(options.fields, request.mutable_read_mask());
    for (size_t i = start; i < std::min(keys->size(), start + kMaxBatch); ++i) {
      *request.add_keys() = (*keys)[i];
    }
    auto response = (*client)->GetEntities(request);
    if (!response.ok()) return Fail(err, "get", response.status());
    for (const v1::EntityResult& result : response->results()) {
      if (result.found()) {
        out << ToJsonLine(result) << "\n";
      } else {
        out << "{\"key\":" << ToJsonLine(result.key()) << ",\"found\":false}\n";
      }
    }
  }
  return kExitOk;
}

int Neighbors(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
              std::ostream& out, std::ostream& err) {
  if (args.empty()) return Usage(err, "neighbors", "want at least one KEY");
  absl::StatusOr<std::vector<v1::EntityKey>> keys = ParseKeys(args);
  if (!keys.ok()) return Usage(err, "neighbors", keys.status().message());
  if (options.type.empty()) return Usage(err, "neighbors", "--type is required");
  absl::StatusOr<v1::EdgeType> type = ParseEdgeType(options.type);
  if (!type.ok()) return Usage(err, "neighbors", type.status().message());
  absl::StatusOr<v1::Direction> dir = options.dir.empty() ? v1::OUT : ParseDirection(options.dir);
  if (!dir.ok()) return Usage(err, "neighbors", dir.status().message());
  if ((options.all_pages || !options.page_token.empty()) && keys->size() != 1) {
    return Usage(err, "neighbors", "--all_pages and --page_token need exactly one KEY");
  }
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, "neighbors", client.status());

  v1::GetNeighborsRequest base;
  base.set_edge_type(*type);
  base.set_direction(*dir);
  base.set_min_time_ms(options.since_ms);
  base.set_max_time_ms(options.until_ms);
  base.set_limit(options.limit);
  base.set_include_entities(options.entities);
  if (options.entities) ParseFieldMask(options.fields, base.mutable_entity_read_mask());

  int exit_code = kExitOk;
  for (size_t start = 0; start < keys->size(); start += kMaxNeighborKeys) {
    v1::GetNeighborsRequest request = base;
    for (size_t i = start; i < std::min(keys->size(), start + kMaxNeighborKeys); ++i) {
      *request.add_keys() = (*keys)[i];
    }
    request.set_page_token(options.page_token);
    for (int page = 0;; ++page) {
      auto response = (*client)->GetNeighbors(request);
      if (!response.ok()) return Fail(err, "neighbors", response.status());
      std::string next;
      for (const v1::NeighborList& list : response->results()) {
        out << ToJsonLine(list) << "\n";
        if (list.status().code() != 0) exit_code = kExitFailure;
        next = list.next_page_token();
      }
      if (!options.all_pages || next.empty()) break;
      if (page + 1 >= options.max_pages) {
        err << "kgctl neighbors: stopped after --max_pages=" << options.max_pages
            << " pages; continue with --page_token=" << next << "\n";
        break;
      }
      request.set_page_token(next);
    }
  }
  return exit_code;
}

int Count(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
          std::ostream& out, std::ostream& err) {
  if (args.empty()) return Usage(err, "count", "want at least one KEY");
  absl::StatusOr<std::vector<v1::EntityKey>> keys = ParseKeys(args);
  if (!keys.ok()) return Usage(err, "count", keys.status().message());
  v1::CountNeighborsRequest base;
  for (absl::string_view name : absl::StrSplit(options.type, ',', absl::SkipWhitespace())) {
    absl::StatusOr<v1::EdgeType> type = ParseEdgeType(absl::StripAsciiWhitespace(name));
    if (!type.ok()) return Usage(err, "count", type.status().message());
    base.add_edge_types(*type);
  }
  if (!options.dir.empty()) {
    absl::StatusOr<v1::Direction> dir = ParseDirection(options.dir);
    if (!dir.ok()) return Usage(err, "count", dir.status().message());
    base.add_directions(*dir);
  }
  base.set_min_time_ms(options.since_ms);
  base.set_max_time_ms(options.until_ms);
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, "count", client.status());
  int exit_code = kExitOk;
  for (size_t start = 0; start < keys->size(); start += kMaxBatch) {
    v1::CountNeighborsRequest request = base;
    for (size_t i = start; i < std::min(keys->size(), start + kMaxBatch); ++i) {
      *request.add_keys() = (*keys)[i];
    }
    auto response = (*client)->CountNeighbors(request);
    if (!response.ok()) return Fail(err, "count", response.status());
    for (const v1::KeyCounts& counts : response->results()) {
      out << ToJsonLine(counts, /*print_defaults=*/true) << "\n";
      if (counts.status().code() != 0) exit_code = kExitFailure;
    }
  }
  return exit_code;
}

// Parses "in:PURCHASED,out:PURCHASED:50" into hops.
absl::Status ParseHops(const CommandOptions& options, v1::TraverseRequest* request) {
  for (absl::string_view spec : absl::StrSplit(options.hops, ',', absl::SkipWhitespace())) {
    std::vector<absl::string_view> parts = absl::StrSplit(absl::StripAsciiWhitespace(spec), ':');
    if (parts.size() < 2 || parts.size() > 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("--hops: bad hop \"", spec, "\": want DIR:TYPE[:LIMIT]"));
    }
    absl::StatusOr<v1::Direction> dir = ParseDirection(parts[0]);
    if (!dir.ok())
      return absl::InvalidArgumentError(absl::StrCat("--hops: ", dir.status().message()));
    absl::StatusOr<v1::EdgeType> type = ParseEdgeType(parts[1]);
    if (!type.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--hops: ", type.status().message()));
    }
    int32_t limit = options.hop_limit;
    if (parts.size() == 3 && !absl::SimpleAtoi(parts[2], &limit)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--hops: bad limit \"", parts[2], "\" in \"", spec, "\""));
    }
    v1::Hop* hop = request->add_hops();
    hop->set_direction(*dir);
    hop->set_edge_type(*type);
    hop->set_limit(limit);
    hop->set_min_time_ms(options.since_ms);
    hop->set_max_time_ms(options.until_ms);
  }
  if (request->hops().empty()) return absl::InvalidArgumentError("--hops is required");
  return absl::OkStatus();
}

int Traverse(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
             std::ostream& out, std::ostream& err) {
  if (args.empty()) return Usage(err, "traverse", "want at least one start KEY");
  absl::StatusOr<std::vector<v1::EntityKey>> keys = ParseKeys(args);
  if (!keys.ok()) return Usage(err, "traverse", keys.status().message());
  v1::TraverseRequest request;
  for (const v1::EntityKey& key : *keys) *request.add_start() = key;
  absl::Status hops = ParseHops(options, &request);
  if (!hops.ok()) return Usage(err, "traverse", hops.message());
  std::string ranking = absl::AsciiStrToLower(options.ranking);
  if (ranking == "paths" || ranking == "path_count") {
    request.set_ranking(v1::TraverseRequest::PATH_COUNT);
  } else if (ranking == "weights" || ranking == "weight_sum") {
    request.set_ranking(v1::TraverseRequest::WEIGHT_SUM);
  } else {
    return Usage(err, "traverse", "--ranking: want paths or weights");
  }
  request.set_max_results(options.max_results);
  request.set_max_frontier(options.max_frontier);
  request.set_include_start(options.include_start);
  request.set_include_entities(options.entities);
  if (options.entities) ParseFieldMask(options.fields, request.mutable_entity_read_mask());
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, "traverse", client.status());
  auto response = (*client)->Traverse(request);
  if (!response.ok()) return Fail(err, "traverse", response.status());
  out << ToJsonLine(*response) << "\n";
  return kExitOk;
}

// Batches records into UpsertEntities / UpsertEdges calls and prints each item's status.
class Upserter {
 public:
  Upserter(Client* client, bool merge, std::ostream& out, std::ostream& err)
      : client_(client), out_(out), err_(err) {
    entities_.set_merge(merge);
  }

  // Queues a record, sending a full batch. Returns false after a failed call.
  bool Add(v1::ImportRecord record) {
    if (record.has_entity()) {
      *entities_.add_entities() = std::move(*record.mutable_entity());
      if (entities_.entities_size() >= kMaxBatch) return FlushEntities();
    } else {
      *edges_.add_edges() = std::move(*record.mutable_edge());
      if (edges_.edges_size() >= kMaxBatch) return FlushEdges();
    }
    return true;
  }

  bool Flush() { return FlushEntities() && FlushEdges(); }
  bool any_rejected() const { return any_rejected_; }

 private:
  bool FlushEntities() {
    if (entities_.entities().empty()) return true;
    auto response = client_->UpsertEntities(entities_);
    if (!response.ok()) {
      Fail(err_, "upsert", response.status());
      return false;
    }
    for (int i = 0; i < entities_.entities_size(); ++i) {
      const v1::ItemStatus& status =
          i < response->results_size() ? response->results(i) : v1::ItemStatus();
      Print("{\"entity\":" + ToJsonLine(entities_.entities(i).key()), status);
    }
    entities_.clear_entities();
    return true;
  }

  bool FlushEdges() {
    if (edges_.edges().empty()) return true;
    auto response = client_->UpsertEdges(edges_);
    if (!response.ok()) {
      Fail(err_, "upsert", response.status());
      return false;
    }
    for (int i = 0; i < edges_.edges_size(); ++i) {
      const v1::ItemStatus& status =
          i < response->results_size() ? response->results(i) : v1::ItemStatus();
      v1::EdgeKey key;
      *key.mutable_src() = edges_.edges(i).src();
      key.set_type(edges_.edges(i).type());
      *key.mutable_dst() = edges_.edges(i).dst();
      Print("{\"edge\":" + ToJsonLine(key), status);
    }
    edges_.clear_edges();
    return true;
  }

  void Print(std::string prefix, const v1::ItemStatus& status) {
    if (status.code() != 0) any_rejected_ = true;
    out_ << MergeJson(std::move(prefix), ToJsonLine(status, /*print_defaults=*/true)) << "\n";
  }

  Client* client_;
  std::ostream& out_;
  std::ostream& err_;
  v1::UpsertEntitiesRequest entities_;
  v1::UpsertEdgesRequest edges_;
  bool any_rejected_ = false;
};

int Upsert(const std::vector<std::string>& args, const CommandOptions& options, std::istream& in,
           std::ostream& out, std::ostream& err) {
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, "upsert", client.status());
  Upserter upserter(client->get(), options.merge, out, err);
  v1::ImportRecord record;
  auto add = [&](absl::string_view text, const std::string& where) -> int {
    text = absl::StripAsciiWhitespace(text);
    if (text.empty() || text.front() == '#') return kExitOk;
    absl::Status parsed = ParseRecordLine(text, &record);
    if (!parsed.ok()) return Usage(err, "upsert", absl::StrCat(where, ": ", parsed.message()));
    return upserter.Add(std::move(record)) ? kExitOk : kExitFailure;
  };
  if (!args.empty()) {
    // Parse every argument before sending anything.
    for (size_t i = 0; i < args.size(); ++i) {
      absl::Status parsed = ParseRecordLine(absl::StripAsciiWhitespace(args[i]), &record);
      if (!parsed.ok()) {
        return Usage(err, "upsert", absl::StrCat("argument ", i + 1, ": ", parsed.message()));
      }
    }
    for (size_t i = 0; i < args.size(); ++i) {
      int code = add(args[i], absl::StrCat("argument ", i + 1));
      if (code != kExitOk) return code;
    }
  } else {
    std::string line;
    for (int64_t number = 1; std::getline(in, line); ++number) {
      int code = add(line, absl::StrCat("stdin:", number));
      if (code != kExitOk) return code;
    }
  }
  if (!upserter.Flush()) return kExitFailure;
  return upserter.any_rejected() ? kExitFailure : kExitOk;
}

int DeleteEntity(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
                 std::ostream& out, std::ostream& err) {
  if (args.empty()) return Usage(err, "delete-entity", "want at least one KEY");
  absl::StatusOr<std::vector<v1::EntityKey>> keys = ParseKeys(args);
  if (!keys.ok()) return Usage(err, "delete-entity", keys.status().message());
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, "delete-entity", client.status());
  int exit_code = kExitOk;
  for (size_t start = 0; start < keys->size(); start += kMaxBatch) {
    v1::DeleteEntitiesRequest request;
    for (size_t i = start; i < std::min(keys->size(), start + kMaxBatch); ++i) {
      *request.add_keys() = (*keys)[i];
    }
    auto response = (*client)->DeleteEntities(request);
    if (!response.ok()) return Fail(err, "delete-entity", response.status());
    for (int i = 0; i < request.keys_size(); ++i) {
      const v1::DeleteEntityResult& result =
          i < response->results_size() ? response->results(i) : v1::DeleteEntityResult();
      if (result.status().code() != 0) exit_code = kExitFailure;
      out << MergeJson("{\"key\":" + ToJsonLine(request.keys(i)),
                       ToJsonLine(result, /*print_defaults=*/true))
          << "\n";
    }
  }
  return exit_code;
}

int DeleteEdge(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
               std::ostream& out, std::ostream& err) {
  if (args.size() != 3) return Usage(err, "delete-edge", "want SRC TYPE DST");
  absl::StatusOr<v1::EntityKey> src = ParseEntityKey(args[0]);
  if (!src.ok()) return Usage(err, "delete-edge", src.status().message());
  absl::StatusOr<v1::EdgeType> type = ParseEdgeType(args[1]);
  if (!type.ok()) return Usage(err, "delete-edge", type.status().message());
  absl::StatusOr<v1::EntityKey> dst = ParseEntityKey(args[2]);
  if (!dst.ok()) return Usage(err, "delete-edge", dst.status().message());
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, "delete-edge", client.status());
  v1::DeleteEdgesRequest request;
  v1::EdgeKey* key = request.add_edges();
  *key->mutable_src() = *src;
  key->set_type(*type);
  *key->mutable_dst() = *dst;
  auto response = (*client)->DeleteEdges(request);
  if (!response.ok()) return Fail(err, "delete-edge", response.status());
  v1::ItemStatus status = response->results_size() > 0 ? response->results(0) : v1::ItemStatus();
  out << MergeJson("{\"edge\":" + ToJsonLine(*key), ToJsonLine(status, /*print_defaults=*/true))
      << "\n";
  return status.code() == 0 ? kExitOk : kExitFailure;
}

// The most bad lines and rejected records printed by import; the rest are only counted.
constexpr int kMaxReportedErrors = 20;

// Prefixes "record N" in a server message with the file position of record N, e.g. the
// stop message "import stopped: ...; first: record 12: edge.dst.type: ...".
std::string WithLines(std::string message, const std::string& path, const LineIndex& lines) {
  static const std::string kMarker = "first: record ";
  const size_t at = message.find(kMarker);
  if (at == std::string::npos) return message;
  size_t end = at + kMarker.size();
  uint64_t index = 0;
  while (end < message.size() && message[end] >= '0' && message[end] <= '9') ++end;
  if (!absl::SimpleAtoi(message.substr(at + kMarker.size(), end - at - kMarker.size()), &index)) {
    return message;
  }
  const int64_t line = lines.LineOf(index);
  if (line <= 0) return message;
  message.insert(end, absl::StrCat(" (", path, ":", line, ")"));
  return message;
}

int Import(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
           std::ostream& out, std::ostream& err) {
  if (args.size() != 1) return Usage(err, "import", "want exactly one FILE (- for stdin)");
  if (options.batch < 1 || options.batch > kMaxBatch) {
    return Usage(err, "import", "--batch must be in 1..1000");
  }
  ReaderOptions reader_options;
  reader_options.path = args[0];
  reader_options.mapping_path = options.mapping;
  absl::StatusOr<ImportFormat> format =
      options.format.empty() ? FormatFromPath(args[0]) : ParseImportFormat(options.format);
  if (!format.ok()) return Usage(err, "import", format.status().message());
  reader_options.format = *format;
  absl::StatusOr<std::unique_ptr<RecordReader>> reader = OpenRecordReader(reader_options);
  if (!reader.ok()) {
    if (absl::IsInvalidArgument(reader.status())) {
      return Usage(err, "import", reader.status().message());
    }
    return Fail(err, "import", reader.status());
  }

  std::unique_ptr<Client> client;
  std::unique_ptr<ImportWriter> writer;
  if (!options.dry_run) {
    auto connected = Connect(options);
    if (!connected.ok()) return Fail(err, "import", connected.status());
    client = std::move(*connected);
    v1::ImportOptions import_options;
    import_options.set_max_errors(options.max_errors);
    writer = client->StartImport(import_options, options.import_deadline_ms);
  }

  const absl::Time start = absl::Now();
  Progress progress(stderr, options.progress && Progress::StderrIsTerminal());
  LineIndex lines;
  std::vector<v1::ImportRecord> batch;
  batch.reserve(options.batch);
  SourceRow row;
  uint64_t records = 0;
  uint64_t entities = 0;
  uint64_t bad_lines = 0;
  uint64_t skipped_rows = 0;
  uint64_t rows = 0;
  int reported = 0;
  auto report = [&](const std::string& message) {
    if (reported++ < kMaxReportedErrors) {
      progress.Finish();
      err << message << "\n";
    }
  };
  auto flush = [&]() -> absl::Status {
    if (batch.empty() || writer == nullptr) {
      batch.clear();
      return absl::OkStatus();
    }
    absl::Status written = writer->Write(std::move(batch));
    batch.clear();
    return written;
  };
  auto fail_stream = [&](const absl::Status& status) {
    progress.Finish();
    const std::string message(status.message());
    return Fail(err, "import", absl::Status(status.code(), WithLines(message, args[0], lines)));
  };
  while ((*reader)->Next(&row)) {
    ++rows;
    if (!row.status.ok()) {
      report(std::string(row.status.message()));
      if (++bad_lines > options.max_errors) {
        progress.Finish();
        err << "kgctl import: stopped: more than --max_errors=" << options.max_errors
            << " bad lines\n";
        return kExitFailure;  // the writer's destructor cancels the stream
      }
      continue;
    }
    if (row.skipped) {
      ++skipped_rows;
      continue;
    }
    if (row.records.empty()) continue;
    lines.Add(row.line, row.records.size());
    records += row.records.size();
    for (v1::ImportRecord& record : row.records) {
      if (record.has_entity()) ++entities;
      batch.push_back(std::move(record));
    }
    if (static_cast<int32_t>(batch.size()) >= options.batch) {
      absl::Status written = flush();
      if (!written.ok()) return fail_stream(written);
      progress.Update((*reader)->line_number(), records, (*reader)->bytes_read(),
                      (*reader)->file_size());
    }
  }
  absl::Status written = flush();
  if (!written.ok()) return fail_stream(written);
  progress.Update((*reader)->line_number(), records, (*reader)->bytes_read(),
                  (*reader)->file_size());
  progress.Finish();

  uint64_t rejected = 0;
  if (writer != nullptr) {
    absl::StatusOr<v1::ImportResponse> response = writer->Finish();
    if (!response.ok()) return fail_stream(response.status());
    out << ToJsonLine(*response, /*print_defaults=*/true) << "\n";
    rejected = response->records_rejected();
    for (const v1::ImportError& error : response->first_errors()) {
      const int64_t line = lines.LineOf(error.record_index());
      report(absl::StrCat(args[0], ":", line > 0 ? absl::StrCat(line) : std::string("?"),
                          ": rejected by the server (record ", error.record_index(),
                          "): ", error.message()));
    }
  } else {
    out << absl::StrFormat(
               "{\"dryRun\":true,\"rows\":\"%d\",\"records\":\"%d\",\"entities\":\"%d\","
               "\"edges\":\"%d\",\"badLines\":\"%d\",\"skippedRows\":\"%d\"}",
               rows, records, entities, records - entities, bad_lines, skipped_rows)
        << "\n";
  }
  if (reported > kMaxReportedErrors) {
    err << "kgctl import: " << reported - kMaxReportedErrors << " more errors not shown\n";
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  err << absl::StrFormat(
      "kgctl import: %s: %d lines, %d records %s, %d bad lines, %d rows skipped by the "
      "mapping's filters, %d rejected by the server; %.2f s, %.0f records/s\n",
      args[0], (*reader)->line_number(), records, options.dry_run ? "checked" : "sent", bad_lines,
      skipped_rows, rejected, seconds, seconds > 0 ? records / seconds : 0.0);
  return bad_lines > 0 || rejected > 0 ? kExitFailure : kExitOk;
}

int Checkpoint(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
               std::ostream& out, std::ostream& err) {
  if (args.size() != 1) return Usage(err, "checkpoint", "takes one argument: DIR");
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, "checkpoint", client.status());
  v1::CheckpointRequest request;
  request.set_dir(args[0]);
  auto response = (*client)->Checkpoint(request);
  if (!response.ok()) return Fail(err, "checkpoint", response.status());
  out << ToJsonLine(*response) << "\n";
  return kExitOk;
}

int ClusterInfo(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
                std::ostream& out, std::ostream& err) {
  if (!args.empty()) return Usage(err, "cluster-info", "takes no arguments");
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, "cluster-info", client.status());
  auto response = (*client)->GetClusterInfo();
  if (!response.ok()) return Fail(err, "cluster-info", response.status());
  out << ToJsonLine(*response) << "\n";
  return kExitOk;
}

int Train(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
          std::ostream& out, std::ostream& err) {
  if (!args.empty()) return Usage(err, "train", "takes no arguments");
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, "train", client.status());
  v1::TrainModelsRequest request;
  request.set_epoch(options.epoch);
  request.set_dim(options.dim);
  request.set_learning_rate(options.learning_rate);
  request.set_word_ngrams(options.word_ngrams);
  request.set_min_label_examples(options.min_label_examples);
  request.set_max_label_depth(options.max_label_depth);
  request.set_validation_share(options.validation_share);
  request.set_seed(options.train_seed);
  request.set_threads(options.train_threads);
  const bool show = options.progress && Progress::StderrIsTerminal();
  auto last = (*client)->TrainModels(
      request, options.train_deadline_ms, [&](const v1::TrainModelsProgress& m) {
        if (!show || m.done()) return;
        std::fprintf(stderr, "\r%-50s %5.1f%%", m.stage().substr(0, 50).c_str(),
                     100 * m.fraction());
        std::fflush(stderr);
      });
  if (show) std::fprintf(stderr, "\n");
  if (!last.ok()) return Fail(err, "train", last.status());
  out << ToJsonLine(*last) << "\n";
  return kExitOk;
}

// The items of a knowledge command: each argument a KEY or a title, then the lines of
// --file as titles (with --brand).
absl::Status KnowledgeItems(const std::vector<std::string>& args, const CommandOptions& options,
                            std::vector<v1::KnowledgeItem>* items) {
  auto add_title = [&](const std::string& title) {
    v1::KnowledgeItem item;
    item.mutable_text()->set_title(title);
    if (!options.brand.empty()) item.mutable_text()->set_brand(options.brand);
    items->push_back(std::move(item));
  };
  for (const std::string& arg : args) {
    absl::StatusOr<v1::EntityKey> key = ParseEntityKey(arg);
    if (key.ok()) {
      v1::KnowledgeItem item;
      *item.mutable_key() = *key;
      items->push_back(std::move(item));
    } else {
      add_title(arg);
    }
  }
  if (!options.file.empty()) {
    std::ifstream in(options.file);
    if (!in) return absl::NotFoundError(absl::StrCat("--file: cannot open ", options.file));
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) add_title(line);
    }
  }
  return absl::OkStatus();
}

// Sends the items of a knowledge command in requests of 1000 (`prepare` sets a request's
// other fields, `call` sends it) and prints each reply as a JSON line; fails when an item
// failed.
template <typename Req, typename Send>
int SendItems(const char* command, const std::vector<std::string>& args,
              const CommandOptions& options, std::ostream& out, std::ostream& err,
              const std::function<void(Req*)>& prepare, Send send) {
  std::vector<v1::KnowledgeItem> items;
  absl::Status s = KnowledgeItems(args, options, &items);
  if (!s.ok()) return Fail(err, command, s);
  if (items.empty()) return Usage(err, command, "give titles, keys or --file");
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, command, client.status());
  bool item_failed = false;
  for (size_t start = 0; start < items.size(); start += 1000) {
    Req request;
    prepare(&request);
    for (size_t i = start; i < std::min(items.size(), start + 1000); ++i) {
      *request.add_items() = items[i];
    }
    auto response = send(client->get(), request);
    if (!response.ok()) return Fail(err, command, response.status());
    for (const auto& r : response->results()) item_failed |= r.status().code() != 0;
    out << ToJsonLine(*response) << "\n";
  }
  return item_failed ? kExitFailure : kExitOk;
}

int Categorize(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
               std::ostream& out, std::ostream& err) {
  return SendItems<v1::CategorizeRequest>(
      "categorize", args, options, out, err,
      [&options](v1::CategorizeRequest* r) { r->set_top_k(options.top_k); },
      [](Client* c, const v1::CategorizeRequest& r) { return c->Categorize(r); });
}

int Brands(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
           std::ostream& out, std::ostream& err) {
  if (!args.empty() && args[0] == "candidates") {
    if (args.size() > 1) return Usage(err, "brands candidates", "takes no arguments");
    auto client = Connect(options);
    if (!client.ok()) return Fail(err, "brands candidates", client.status());
    v1::DevelopBrandsRequest request;
    request.set_apply(options.apply);
    request.set_min_confidence(options.min_confidence);
    request.set_max_candidates(options.max_candidates);
    auto response = (*client)->DevelopBrands(request, options.train_deadline_ms);
    if (!response.ok()) return Fail(err, "brands candidates", response.status());
    out << ToJsonLine(*response) << "\n";
    if (options.apply) {
      err << "kgctl: wrote " << response->edges_written() << " HAS_BRAND edges ("
          << response->write_failures() << " refused) for " << response->recognized_size()
          << " brands\n";
    }
    return response->write_failures() > 0 ? kExitFailure : kExitOk;
  }
  return SendItems<v1::RecognizeBrandsRequest>(
      "brands", args, options, out, err, [](v1::RecognizeBrandsRequest*) {},
      [](Client* c, const v1::RecognizeBrandsRequest& r) { return c->RecognizeBrands(r); });
}

int Spu(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
        std::ostream& out, std::ostream& err) {
  if (!args.empty() && args[0] == "assign") {
    if (args.size() > 1) return Usage(err, "spu assign", "takes no arguments");
    auto client = Connect(options);
    if (!client.ok()) return Fail(err, "spu assign", client.status());
    v1::AssignSpusRequest request;
    request.set_dry_run(options.dry_run);
    request.set_min_score(options.min_confidence);
    request.set_group_min_score(options.group_min_confidence);
    request.set_min_group_size(options.min_group_size);
    request.set_max_listed(options.max_listed);
    request.set_max_products(options.max_products);
    auto response = (*client)->AssignSpus(request, options.train_deadline_ms);
    if (!response.ok()) return Fail(err, "spu assign", response.status());
    out << ToJsonLine(*response) << "\n";
    err << "kgctl: " << response->products_examined()
        << " products without an SPU examined: " << response->attached()
        << " attached to known SPUs, " << response->grouped_products() << " in "
        << response->new_spus() << " new SPUs, " << response->left_without_spu() << " left";
    if (options.dry_run) {
      err << " (dry run: nothing written)\n";
    } else {
      err << "; wrote " << response->edges_written() << " INSTANCE_OF edges and "
          << response->entities_written() << " SPU entities (" << response->repaired_spus()
          << " repaired), " << response->write_failures() << " refused\n";
    }
    return response->write_failures() > 0 ? kExitFailure : kExitOk;
  }
  if (args.empty() || args[0] != "match") {
    return Usage(err, "spu", "spu match ITEM... | spu assign");
  }
  const std::vector<std::string> items(args.begin() + 1, args.end());
  return SendItems<v1::MatchSpuRequest>(
      "spu match", items, options, out, err,
      [&options](v1::MatchSpuRequest* r) {
        r->set_top_k(options.top_k);
        r->set_min_score(options.min_confidence);
      },
      [](Client* c, const v1::MatchSpuRequest& r) { return c->MatchSpu(r); });
}

int Attributes(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
               std::ostream& out, std::ostream& err) {
  return SendItems<v1::ExtractAttributesRequest>(
      "attributes", args, options, out, err, [](v1::ExtractAttributesRequest*) {},
      [](Client* c, const v1::ExtractAttributesRequest& r) { return c->ExtractAttributes(r); });
}

int Taxonomy(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
             std::ostream& out, std::ostream& err) {
  if (args.size() > 1) return Usage(err, "taxonomy", "takes at most one CATEGORY");
  v1::GetTaxonomyRequest request;
  request.set_child_depth(options.depth);
  if (!args.empty()) {
    absl::StatusOr<v1::EntityKey> key = ParseEntityKey(args[0]);
    if (key.ok()) {
      *request.mutable_category() = *key;
    } else {
      request.set_path(args[0]);
    }
  }
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, "taxonomy", client.status());
  auto response = (*client)->GetTaxonomy(request);
  if (!response.ok()) return Fail(err, "taxonomy", response.status());
  out << ToJsonLine(*response) << "\n";
  return kExitOk;
}

// The time window of the insight commands: --since_ms / --until_ms, or --window (30d, 12h,
// 90m, 3600s) ending at --until_ms (default: now).
absl::Status InsightWindow(const CommandOptions& options, int64_t* since, int64_t* until) {
  *since = options.since_ms;
  *until = options.until_ms;
  if (options.window.empty()) return absl::OkStatus();
  absl::Duration d;
  const std::string& text = options.window;
  int64_t days = 0;
  if (absl::EndsWith(text, "d") && absl::SimpleAtoi(text.substr(0, text.size() - 1), &days) &&
      days > 0) {
    d = absl::Hours(24 * days);
  } else if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--window: expected a duration such as 30d, 12h or 90m");
  }
  if (*until == 0) *until = absl::ToUnixMillis(absl::Now());
  *since = std::max<int64_t>(1, *until - absl::ToInt64Milliseconds(d) + 1);
  return absl::OkStatus();
}

// Prints rows of cells as aligned columns.
void PrintTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

std::string Fixed(double v, int digits = 3) { return absl::StrFormat("%.*f", digits, v); }

int Profile(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
            std::ostream& out, std::ostream& err) {
  if (args.size() != 1) return Usage(err, "profile", "takes one KEY");
  absl::StatusOr<v1::EntityKey> key = ParseEntityKey(args[0]);
  if (!key.ok()) return Usage(err, "profile", key.status().message());
  v1::ProfileEntityRequest request;
  *request.mutable_key() = *key;
  int64_t since = 0, until = 0;
  absl::Status window = InsightWindow(options, &since, &until);
  if (!window.ok()) return Usage(err, "profile", window.message());
  request.set_since_ms(since);
  request.set_until_ms(until);
  request.set_max_sample(options.max_sample);
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, "profile", client.status());
  auto response = (*client)->ProfileEntity(request);
  if (!response.ok()) return Fail(err, "profile", response.status());
  if (!options.table) {
    out << ToJsonLine(*response) << "\n";
    return kExitOk;
  }
  out << response->summary() << "\n(" << response->buyers() << " buyers; " << response->sampled()
      << " of " << response->total() << " read)\n\n";
  std::vector<std::vector<std::string>> rows = {
      {"dimension", "value", "share", "base", "lift", "buyers", "95% interval"}};
  for (const v1::Segment& s : response->audience()) {
    rows.push_back({s.dimension(), s.value(), Fixed(s.share()), Fixed(s.base_share()),
                    Fixed(s.lift(), 2), absl::StrCat(s.count()),
                    absl::StrCat(Fixed(s.ci_low()), "..", Fixed(s.ci_high()))});
  }
  PrintTable(out, rows);
  if (!response->categories().empty() || !response->brands().empty()) {
    std::vector<std::vector<std::string>> mix = {{"kind", "key", "name", "share", "count"}};
    for (const auto& c : response->categories()) {
      mix.push_back({"category", FormatEntityKey(c.category()), c.name(), Fixed(c.share()),
                     absl::StrCat(c.count())});
    }
    for (const auto& b : response->brands()) {
      mix.push_back({"brand", FormatEntityKey(b.brand()), b.name(), Fixed(b.share()),
                     absl::StrCat(b.count())});
    }
    out << "\n";
    PrintTable(out, mix);
  }
  return kExitOk;
}

int Top(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
        std::ostream& out, std::ostream& err) {
  if (args.size() != 1) return Usage(err, "top", "takes one CATEGORY:ID");
  absl::StatusOr<v1::EntityKey> key = ParseEntityKey(args[0]);
  if (!key.ok()) return Usage(err, "top", key.status().message());
  v1::TopProductsRequest request;
  *request.mutable_category() = *key;
  request.set_include_descendants(options.descendants);
  request.set_metric(options.metric);
  int64_t since = 0, until = 0;
  absl::Status window = InsightWindow(options, &since, &until);
  if (!window.ok()) return Usage(err, "top", window.message());
  request.set_since_ms(since);
  request.set_until_ms(until);
  for (absl::string_view text : absl::StrSplit(options.brands, ',', absl::SkipWhitespace())) {
    absl::StatusOr<v1::EntityKey> brand = ParseEntityKey(text);
    if (!brand.ok()) return Usage(err, "top", absl::StrCat("--brands: ", brand.status().message()));
    *request.add_brands() = *brand;
  }
  if (!options.merchant.empty()) {
    absl::StatusOr<v1::EntityKey> merchant = ParseEntityKey(options.merchant);
    if (!merchant.ok()) {
      return Usage(err, "top", absl::StrCat("--merchant: ", merchant.status().message()));
    }
    *request.mutable_merchant() = *merchant;
  }
  request.set_min_price(options.min_price);
  request.set_max_price(options.max_price);
  request.set_limit(options.limit);
  request.set_page_token(options.page_token);
  request.set_include_entities(options.entities || options.table);
  request.set_min_views(options.min_views);
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, "top", client.status());
  auto response = (*client)->TopProducts(request);
  if (!response.ok()) return Fail(err, "top", response.status());
  if (!options.table) {
    out << ToJsonLine(*response) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"#", "product", options.metric.empty() ? "purchases" : options.metric, "name"}};
  int rank = 0;
  for (const v1::RankedProduct& p : response->products()) {
    rows.push_back({absl::StrCat(++rank), FormatEntityKey(p.key()),
                    absl::StrFormat("%.6g", p.value()), p.entity().name()});
  }
  PrintTable(out, rows);
  out << "(" << response->candidates() << " candidates in " << response->categories()
      << " categories" << (response->truncated() ? "; truncated" : "") << ")\n";
  if (!response->next_page_token().empty()) {
    out << "next page: --page_token=" << response->next_page_token() << "\n";
  }
  return kExitOk;
}

int Compare(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
            std::ostream& out, std::ostream& err) {
  if (args.empty() || args.size() > 2) {
    return Usage(err, "compare", "takes PRODUCT:A and PRODUCT:B (or PRODUCT:A --peers=...)");
  }
  v1::CompareProductsRequest request;
  absl::StatusOr<v1::EntityKey> a = ParseEntityKey(args[0]);
  if (!a.ok()) return Usage(err, "compare", a.status().message());
  *request.mutable_product() = *a;
  if (args.size() == 2) {
    absl::StatusOr<v1::EntityKey> b = ParseEntityKey(args[1]);
    if (!b.ok()) return Usage(err, "compare", b.status().message());
    *request.mutable_other() = *b;
  }
  if (options.peers == "spu") {
    request.set_peers(v1::SAME_SPU);
  } else if (options.peers == "category") {
    request.set_peers(v1::SAME_LEAF_CATEGORY);
  } else if (!options.peers.empty()) {
    return Usage(err, "compare", "--peers: spu or category");
  }
  request.set_outcome_metric(options.outcome);
  int64_t since = 0, until = 0;
  absl::Status window = InsightWindow(options, &since, &until);
  if (!window.ok()) return Usage(err, "compare", window.message());
  request.set_since_ms(since);
  request.set_until_ms(until);
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, "compare", client.status());
  auto response = (*client)->CompareProducts(request);
  if (!response.ok()) return Fail(err, "compare", response.status());
  if (!options.table) {
    out << ToJsonLine(*response) << "\n";
    return kExitOk;
  }
  out << response->summary() << "\n\n";
  std::vector<std::vector<std::string>> reasons = {{"reason", "part", "contribution", "evidence"}};
  for (const v1::Reason& r : response->reasons()) {
    reasons.push_back(
        {r.factor(), r.part(), absl::StrFormat("%+.3f", r.contribution()), r.evidence()});
  }
  reasons.push_back({"(unexplained)", "", absl::StrFormat("%+.3f", response->unexplained()), ""});
  PrintTable(out, reasons);
  out << "\n";
  std::vector<std::vector<std::string>> deltas = {{"metric", "product", "other", "ratio"}};
  for (const v1::MetricDelta& d : response->deltas()) {
    deltas.push_back({d.metric(), absl::StrFormat("%.4g", d.product_value()),
                      absl::StrFormat("%.4g", d.other_value()),
                      absl::StrFormat("%.3g", d.ratio())});
  }
  PrintTable(out, deltas);
  if (!response->attribute_diffs().empty()) {
    out << "\n";
    std::vector<std::vector<std::string>> diffs = {{"attribute", "product", "other"}};
    for (const v1::AttributeDiff& d : response->attribute_diffs()) {
      diffs.push_back({d.name(), d.product_value(), d.other_value()});
    }
    PrintTable(out, diffs);
  }
  return kExitOk;
}

int Health(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
           std::ostream& out, std::ostream& err) {
  if (args.size() > 1) return Usage(err, "health", "takes at most one SERVICE");
  auto client = Connect(options);
  if (!client.ok()) return Fail(err, "health", client.status());
  absl::StatusOr<ServingStatus> status = (*client)->CheckHealth(args.empty() ? "" : args[0]);
  if (!status.ok()) return Fail(err, "health", status.status());
  out << "{\"status\":\"" << ServingStatusName(*status) << "\"}\n";
  return *status == ServingStatus::kServing ? kExitOk : kExitFailure;
}

// token new | token hash [TOKEN]: token-file lines (server/security/tokens.h).
int Token(const std::vector<std::string>& args, const CommandOptions& options, std::istream& in,
          std::ostream& out, std::ostream& err) {
  if (args.empty()) return Usage(err, "token", "want new or hash");
  if (args[0] == "hash") {
    if (args.size() > 2) return Usage(err, "token hash", "takes at most one TOKEN");
    std::string token;
    if (args.size() == 2) {
      token = args[1];
    } else {
      std::getline(in, token);
    }
    token = std::string(absl::StripAsciiWhitespace(token));
    if (token.empty()) return Usage(err, "token hash", "empty token");
    out << "{\"hash\":\"sha256:" << Sha256Hex(token) << "\"}\n";
    return kExitOk;
  }
  if (args[0] != "new" || args.size() != 1) return Usage(err, "token", "want new or hash");
  absl::StatusOr<Role> role = ParseRole(options.role, "--role");
  if (!role.ok()) return Usage(err, "token new", role.status().message());
  std::string line =
      absl::StrCat("sha256:", std::string(64, '0'), " ", options.role, " ", options.name);
  absl::Status valid = ParseTokenFile(line, "--name").status();
  if (options.name.empty() || !valid.ok()) {
    return Usage(err, "token new",
                 "--name: required, up to 64 letters, digits and - _ . @ (whose token it is)");
  }
  unsigned char random[32];
  if (RAND_bytes(random, sizeof(random)) != 1) {
    return Fail(err, "token new", absl::UnavailableError("no random bytes from OpenSSL"));
  }
  std::string token = absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(random), sizeof(random)));
  out << "{\"token\":\"" << token << "\",\"line\":\"sha256:" << Sha256Hex(token) << " "
      << options.role << " " << options.name << "\"}\n";
  return kExitOk;
}

// A planted ground truth as one JSON object (its strings need no escaping).
std::string PlantedJson(const datagen::Planted& planted) {
  if (planted.kind == datagen::Planted::kPair) {
    return absl::StrCat("{\"kind\":\"pair\",\"winner\":", planted.product,
                        ",\"loser\":", planted.other, ",\"cause\":\"", planted.cause, "\"}");
  }
  return absl::StrCat("{\"kind\":\"audience\",\"product\":", planted.product, ",\"dimension\":\"",
                      planted.dimension, "\",\"value\":\"", planted.value, "\"}");
}

// {"records":N,"entities":{"PRODUCT":n,...},"edges":{"PURCHASED":n,...},...}
std::string StatsJson(const datagen::Stats& stats, uint64_t bytes, double seconds) {
  std::string json =
      absl::StrCat("{\"records\":", stats.records(), ",\"entities\":", stats.total_entities(),
                   ",\"edges\":", stats.total_edges(), ",\"entitiesByType\":{");
  bool first = true;
  for (int t = 1; t < static_cast<int>(stats.entities.size()); ++t) {
    absl::StrAppend(&json, first ? "" : ",", "\"", v1::EntityType_Name(t),
                    "\":", stats.entities[t]);
    first = false;
  }
  absl::StrAppend(&json, "},\"edgesByType\":{");
  first = true;
  for (int t = 1; t < static_cast<int>(stats.edges.size()); ++t) {
    absl::StrAppend(&json, first ? "" : ",", "\"", v1::EdgeType_Name(t), "\":", stats.edges[t]);
    first = false;
  }
  absl::StrAppend(&json, "},\"withheld\":", stats.withheld,
                  ",\"plantedPairs\":", stats.planted_pairs, ",\"bytes\":", bytes,
                  ",\"seconds\":", absl::StrFormat("%.2f", seconds), "}");
  return json;
}

int Generate(const std::vector<std::string>& args, const CommandOptions& options, std::istream&,
             std::ostream& out, std::ostream& err) {
  if (!args.empty()) return Usage(err, "generate", "takes no arguments (use --out=FILE)");
  datagen::Options generator;
  generator.scale = options.scale;
  generator.seed = options.seed;
  generator.end_time_ms = options.end_time_ms;
  generator.unassigned_percent = options.unassigned_percent;
  absl::Status valid = datagen::ValidateOptions(generator);
  if (!valid.ok()) return Usage(err, "generate", valid.message());
  std::ofstream withheld, planted;
  for (auto [file, path] : {std::make_pair(&withheld, &options.withheld_out),
                            std::make_pair(&planted, &options.planted_out)}) {
    if (path->empty()) continue;
    file->open(*path, std::ios::binary | std::ios::trunc);
    if (!file->is_open()) {
      return Fail(err, "generate", absl::NotFoundError(absl::StrCat("cannot open ", *path)));
    }
  }
  // One line to a side file; DATA_LOSS naming it when the write fails.
  auto write_line = [](std::ofstream& file, std::string line, const std::string& path) {
    line.push_back('\n');
    file.write(line.data(), static_cast<std::streamsize>(line.size()));
    return file ? absl::OkStatus()
                : absl::DataLossError(absl::StrCat("write to ", path, " failed"));
  };
  if (withheld.is_open()) {
    generator.withheld = [&](const v1::ImportRecord& record) {
      return write_line(withheld, FormatRecordLine(record), options.withheld_out);
    };
  }
  if (planted.is_open()) {
    generator.planted = [&](const datagen::Planted& record) {
      return write_line(planted, PlantedJson(record), options.planted_out);
    };
  }

  const bool to_stdout = options.out.empty() || options.out == "-";
  std::ofstream file;
  std::vector<char> buffer(1 << 20);
  if (!to_stdout) {
    file.rdbuf()->pubsetbuf(buffer.data(), buffer.size());
    file.open(options.out, std::ios::binary | std::ios::trunc);
    if (!file.is_open()) {
      return Fail(err, "generate", absl::NotFoundError(absl::StrCat("cannot open ", options.out)));
    }
  }
  std::ostream& sink = to_stdout ? out : file;
  std::ostream& report = to_stdout ? err : out;

  // The estimated record count (about 1.09M per unit of scale) drives the percentage.
  const uint64_t expected = static_cast<uint64_t>(options.scale * 1.09e6) + 1;
  Progress progress(stderr, options.progress && Progress::StderrIsTerminal());
  uint64_t records = 0;
  uint64_t bytes = 0;
  absl::Time start = absl::Now();
  absl::StatusOr<datagen::Stats> stats =
      datagen::Generate(generator, [&](const v1::ImportRecord& record) -> absl::Status {
        // The JSONL format's own formatter: deterministic, so equal seeds give equal files.
        std::string line = FormatRecordLine(record);
        line.push_back('\n');
        sink.write(line.data(), static_cast<std::streamsize>(line.size()));
        bytes += line.size();
        if ((++records & 4095) == 0) {
          if (!sink) return absl::DataLossError(absl::StrCat("write to ", options.out, " failed"));
          progress.Update(-1, records, records, expected);
        }
        return absl::OkStatus();
      });
  sink.flush();
  progress.Finish();
  if (!stats.ok()) return Fail(err, "generate", stats.status());
  if (!sink) {
    return Fail(err, "generate",
                absl::DataLossError(absl::StrCat("write to ", options.out, " failed")));
  }
  if (!to_stdout) {
    file.close();
    if (file.fail()) {
      return Fail(err, "generate",
                  absl::DataLossError(absl::StrCat("closing ", options.out, " failed")));
    }
  }
  if (withheld.is_open()) {
    withheld.close();
    if (withheld.fail()) {
      return Fail(err, "generate",
                  absl::DataLossError(absl::StrCat("closing ", options.withheld_out, " failed")));
    }
  }
  if (planted.is_open()) {
    planted.close();
    if (planted.fail()) {
      return Fail(err, "generate",
                  absl::DataLossError(absl::StrCat("closing ", options.planted_out, " failed")));
    }
  }
  report << StatsJson(*stats, bytes, absl::ToDoubleSeconds(absl::Now() - start)) << "\n";
  return kExitOk;
}

int Help(const std::vector<std::string>&, const CommandOptions&, std::istream&, std::ostream& out,
         std::ostream&) {
  out << "kgctl: " << kKgctlUsage;
  return kExitOk;
}

const std::map<std::string, CommandFn>& Commands() {
  static const auto* commands = new std::map<std::string, CommandFn>{
      {"get", Get},
      {"neighbors", Neighbors},
      {"count", Count},
      {"traverse", Traverse},
      {"upsert", Upsert},
      {"delete-entity", DeleteEntity},
      {"delete-edge", DeleteEdge},
      {"import", Import},
      {"cluster-info", ClusterInfo},
      {"checkpoint", Checkpoint},
      {"train", Train},
      {"categorize", Categorize},
      {"brands", Brands},
      {"attributes", Attributes},
      {"spu", Spu},
      {"taxonomy", Taxonomy},
      {"profile", Profile},
      {"top", Top},
      {"compare", Compare},
      {"health", Health},
      {"token", Token},
      {"generate", Generate},
      {"help", Help},
  };
  return *commands;
}

}  // namespace

int RunCommand(const std::string& command, const std::vector<std::string>& args,
               const CommandOptions& options, std::istream& in, std::ostream& out,
               std::ostream& err) {
  auto it = Commands().find(command);
  if (it == Commands().end()) {
    err << "kgctl: unknown command \"" << command << "\"; see kgctl help\n";
    return kExitUsage;
  }
  return it->second(args, options, in, out, err);
}

}  // namespace kg
