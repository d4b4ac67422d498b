// kgctl's entry point: parses the flags into CommandOptions and runs the command. The
// commands and their help text live in client/kgctl/commands.h.
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "client/kgctl/commands.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "Server address, HOST:PORT.");
ABSL_FLAG(int64_t, deadline, 10000, "Deadline of each call, in milliseconds.");
ABSL_FLAG(std::string, token, "", "Bearer token (default: $KG_TOKEN).");
ABSL_FLAG(bool, tls, false, "Connect over TLS (implied by the --tls_* files).");
ABSL_FLAG(std::string, tls_ca, "", "CA (PEM) the server's certificate must chain to.");
ABSL_FLAG(std::string, tls_cert, "", "Client certificate (PEM) for mTLS.");
ABSL_FLAG(std::string, tls_key, "", "Key (PEM) of --tls_cert.");
ABSL_FLAG(std::string, tls_server_name, "", "Name checked in the server's certificate.");
ABSL_FLAG(std::string, role, "", "token new: read, write or admin.");
ABSL_FLAG(std::string, name, "", "token new: whose token it is.");
ABSL_FLAG(std::string, fields, "",
          "get/neighbors/traverse: entity fields to return, e.g. name,metrics.price.");
ABSL_FLAG(std::string, type, "",
          "neighbors: the edge type; count: comma-separated edge types (default all).");
ABSL_FLAG(std::string, dir, "", "neighbors/count: out or in (neighbors default out).");
ABSL_FLAG(int32_t, limit, 0, "neighbors: page size per key (0 = 20, at most 1000).");
ABSL_FLAG(int64_t, since_ms, 0, "Time window start, ms since the epoch (0 = open).");
ABSL_FLAG(int64_t, until_ms, 0, "Time window end, ms since the epoch (0 = open).");
ABSL_FLAG(std::string, page_token, "", "neighbors: continue from a next_page_token.");
ABSL_FLAG(bool, entities, false, "neighbors/traverse: also return the entities.");
ABSL_FLAG(bool, all_pages, false, "neighbors: follow next_page_token to the end (one key).");
ABSL_FLAG(int32_t, max_pages, 1000, "neighbors --all_pages: most pages fetched.");
ABSL_FLAG(std::string, hops, "", "traverse: DIR:TYPE[:LIMIT],... e.g. in:PURCHASED,out:PURCHASED.");
ABSL_FLAG(int32_t, hop_limit, 0, "traverse: edges per node for hops without a limit.");
ABSL_FLAG(int32_t, max_results, 0, "traverse: number of results (0 = 20).");
ABSL_FLAG(int32_t, max_frontier, 0, "traverse: nodes kept per hop (0 = 10000).");
ABSL_FLAG(bool, include_start, false, "traverse: allow start keys in the results.");
ABSL_FLAG(std::string, ranking, "paths", "traverse: paths or weights.");
ABSL_FLAG(bool, merge, false, "upsert: merge attributes and metrics into existing entities.");
ABSL_FLAG(uint32_t, max_errors, 0, "import: rejected records and bad lines tolerated.");
ABSL_FLAG(std::string, format, "", "import: jsonl, csv or taxonomy (default: from the extension).");
ABSL_FLAG(std::string, mapping, "", "import: the CSV column mapping file (docs/IMPORT.md).");
ABSL_FLAG(bool, dry_run, false,
          "import: parse and check locally, send nothing; spu assign: report what would "
          "change, write nothing.");
ABSL_FLAG(int32_t, batch, 1000, "import: records per stream message (1..1000).");
ABSL_FLAG(int64_t, import_deadline, int64_t{24} * 3600 * 1000,
          "import: deadline of the whole stream, in milliseconds.");
ABSL_FLAG(double, scale, 1.0, "generate: size, 1 = about 1M edges.");
ABSL_FLAG(uint64_t, seed, 42, "generate: random seed.");
ABSL_FLAG(int64_t, end_time_ms, 1793491200000, "generate: end of the 90-day event window.");
ABSL_FLAG(std::string, out, "-", "generate: output JSONL file (- = stdout).");
ABSL_FLAG(double, unassigned_percent, 0,
          "generate: withhold this percent of the SPUs and of the other products' INSTANCE_OF "
          "edges (0..50).");
ABSL_FLAG(std::string, withheld_out, "",
          "generate: write the withheld records to this JSONL file.");
ABSL_FLAG(std::string, planted_out, "",
          "generate: write the planted ground truths (audiences, pairs) to this JSONL file.");
ABSL_FLAG(int32_t, epoch, 0, "train: passes over the products (0 = server default 25).");
ABSL_FLAG(int32_t, dim, 0, "train: vector size (0 = server default 64).");
ABSL_FLAG(double, lr, 0, "train: learning rate (0 = server default 0.5).");
ABSL_FLAG(int32_t, word_ngrams, 0, "train: word n-grams (0 = server default 2).");
ABSL_FLAG(int32_t, min_label_examples, 0, "train: products a category needs to be learned.");
ABSL_FLAG(int32_t, max_label_depth, 0, "train: deepest level learned (0 = no limit).");
ABSL_FLAG(double, validation_share, 0, "train: share held out (0 = server default 0.1).");
ABSL_FLAG(uint64_t, train_seed, 0, "train: seed (0 = server default 1).");
ABSL_FLAG(int32_t, train_threads, 0,
          "train: text models trained side by side, 1 or 2 (0 = server default 1).");
ABSL_FLAG(int64_t, train_deadline, int64_t{2} * 3600 * 1000, "train: deadline of the call (ms).");
ABSL_FLAG(int32_t, top_k, 0, "categorize: predictions per item (0 = 3, at most 20).");
ABSL_FLAG(std::string, file, "", "categorize: a file of titles, one per line.");
ABSL_FLAG(std::string, brand, "", "categorize: the brand of the titles given.");
ABSL_FLAG(int32_t, depth, 0, "taxonomy: levels of children (0 = 1, at most 5).");
ABSL_FLAG(bool, apply, false,
          "brands candidates: write HAS_BRAND edges for the recognised known brands.");
ABSL_FLAG(double, min_confidence, 0,
          "brands candidates: least confidence of a brand to count or write (0 = 0.9); spu "
          "match: least score of a candidate (0: all); spu assign: least score to attach a "
          "product to a known SPU (0 = 0.9).");
ABSL_FLAG(double, group_min_confidence, 0,
          "spu assign: least score of a product against a new group's core (0 = 0.9).");
ABSL_FLAG(int32_t, min_group_size, 0, "spu assign: products a new SPU needs (0 = 2).");
ABSL_FLAG(int32_t, max_listed, 0,
          "spu assign: attachments and new groups listed in the reply (0 = 100; -1: none).");
ABSL_FLAG(int64_t, max_products, 0,
          "spu assign: products without an SPU examined at most (0 = 1000000).");
ABSL_FLAG(int32_t, max_candidates, 0, "brands candidates: new-brand candidates listed (0 = 50).");
ABSL_FLAG(
    std::string, window, "",
    "profile/top/compare: the window, e.g. 30d, 12h, 90m, ending at --until_ms (default now).");
ABSL_FLAG(std::string, metric, "", "top: the metric ranked by (default purchases).");
ABSL_FLAG(bool, descendants, true, "top: include the descendant categories.");
ABSL_FLAG(std::string, brands, "", "top: only these brands, BRAND:1,BRAND:2.");
ABSL_FLAG(std::string, merchant, "", "top: only products sold by this MERCHANT:ID.");
ABSL_FLAG(double, min_price, 0, "top: least price (0 = none).");
ABSL_FLAG(double, max_price, 0, "top: most price (0 = none).");
ABSL_FLAG(int32_t, min_views, 0, "top --metric=conversion: views a product needs (0 = 20).");
ABSL_FLAG(int32_t, max_sample, 0, "profile: newest interactions read per list (0 = 2000).");
ABSL_FLAG(std::string, peers, "", "compare: spu or category (instead of a second product).");
ABSL_FLAG(std::string, outcome, "", "compare: purchases (default) or gmv.");
ABSL_FLAG(bool, table, false, "profile/top/compare: print a readable table instead of JSON.");
ABSL_FLAG(bool, progress, true, "import/generate: show progress when stderr is a terminal.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kg::kKgctlUsage);
  absl::FlagsUsageConfig usage_config;
  usage_config.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "kgctl/main.cc");
  };
  usage_config.contains_helpshort_flags = usage_config.contains_help_flags;
  absl::SetFlagsUsageConfig(usage_config);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) {
    std::cerr << "kgctl: " << kg::kKgctlUsage;
    return 2;
  }
  kg::CommandOptions options;
  options.addr = absl::GetFlag(FLAGS_addr);
  options.deadline_ms = absl::GetFlag(FLAGS_deadline);
  options.connection.token = absl::GetFlag(FLAGS_token);
  options.connection.tls = absl::GetFlag(FLAGS_tls);
  options.connection.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  options.connection.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  options.connection.tls_key = absl::GetFlag(FLAGS_tls_key);
  options.connection.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  options.role = absl::GetFlag(FLAGS_role);
  options.name = absl::GetFlag(FLAGS_name);
  options.fields = absl::GetFlag(FLAGS_fields);
  options.type = absl::GetFlag(FLAGS_type);
  options.dir = absl::GetFlag(FLAGS_dir);
  options.limit = absl::GetFlag(FLAGS_limit);
  options.since_ms = absl::GetFlag(FLAGS_since_ms);
  options.until_ms = absl::GetFlag(FLAGS_until_ms);
  options.page_token = absl::GetFlag(FLAGS_page_token);
  options.entities = absl::GetFlag(FLAGS_entities);
  options.all_pages = absl::GetFlag(FLAGS_all_pages);
  options.max_pages = absl::GetFlag(FLAGS_max_pages);
  options.hops = absl::GetFlag(FLAGS_hops);
  options.hop_limit = absl::GetFlag(FLAGS_hop_limit);
  options.max_results = absl::GetFlag(FLAGS_max_results);
  options.max_frontier = absl::GetFlag(FLAGS_max_frontier);
  options.include_start = absl::GetFlag(FLAGS_include_start);
  options.ranking = absl::GetFlag(FLAGS_ranking);
  options.merge = absl::GetFlag(FLAGS_merge);
  options.max_errors = absl::GetFlag(FLAGS_max_errors);
  options.format = absl::GetFlag(FLAGS_format);
  options.mapping = absl::GetFlag(FLAGS_mapping);
  options.dry_run = absl::GetFlag(FLAGS_dry_run);
  options.batch = absl::GetFlag(FLAGS_batch);
  options.import_deadline_ms = absl::GetFlag(FLAGS_import_deadline);
  options.scale = absl::GetFlag(FLAGS_scale);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.unassigned_percent = absl::GetFlag(FLAGS_unassigned_percent);
  options.withheld_out = absl::GetFlag(FLAGS_withheld_out);
  options.planted_out = absl::GetFlag(FLAGS_planted_out);
  options.end_time_ms = absl::GetFlag(FLAGS_end_time_ms);
  options.out = absl::GetFlag(FLAGS_out);
  options.progress = absl::GetFlag(FLAGS_progress);
  options.epoch = absl::GetFlag(FLAGS_epoch);
  options.dim = absl::GetFlag(FLAGS_dim);
  options.learning_rate = absl::GetFlag(FLAGS_lr);
  options.word_ngrams = absl::GetFlag(FLAGS_word_ngrams);
  options.min_label_examples = absl::GetFlag(FLAGS_min_label_examples);
  options.max_label_depth = absl::GetFlag(FLAGS_max_label_depth);
  options.validation_share = absl::GetFlag(FLAGS_validation_share);
  options.train_seed = absl::GetFlag(FLAGS_train_seed);
  options.train_threads = absl::GetFlag(FLAGS_train_threads);
  options.train_deadline_ms = absl::GetFlag(FLAGS_train_deadline);
  options.top_k = absl::GetFlag(FLAGS_top_k);
  options.file = absl::GetFlag(FLAGS_file);
  options.brand = absl::GetFlag(FLAGS_brand);
  options.depth = absl::GetFlag(FLAGS_depth);
  options.apply = absl::GetFlag(FLAGS_apply);
  options.min_confidence = absl::GetFlag(FLAGS_min_confidence);
  options.max_candidates = absl::GetFlag(FLAGS_max_candidates);
  options.group_min_confidence = absl::GetFlag(FLAGS_group_min_confidence);
  options.min_group_size = absl::GetFlag(FLAGS_min_group_size);
  options.max_listed = absl::GetFlag(FLAGS_max_listed);
  options.max_products = absl::GetFlag(FLAGS_max_products);
  options.window = absl::GetFlag(FLAGS_window);
  options.metric = absl::GetFlag(FLAGS_metric);
  options.descendants = absl::GetFlag(FLAGS_descendants);
  options.brands = absl::GetFlag(FLAGS_brands);
  options.merchant = absl::GetFlag(FLAGS_merchant);
  options.min_price = absl::GetFlag(FLAGS_min_price);
  options.max_price = absl::GetFlag(FLAGS_max_price);
  options.min_views = absl::GetFlag(FLAGS_min_views);
  options.max_sample = absl::GetFlag(FLAGS_max_sample);
  options.peers = absl::GetFlag(FLAGS_peers);
  options.outcome = absl::GetFlag(FLAGS_outcome);
  options.table = absl::GetFlag(FLAGS_table);

  std::string command = positional[1];
  std::vector<std::string> args(positional.begin() + 2, positional.end());
  return kg::RunCommand(command, args, options, std::cin, std::cout, std::cerr);
}
