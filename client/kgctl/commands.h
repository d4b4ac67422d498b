// The kgctl commands: each takes its positional arguments and the parsed flag values,
// writes one JSON object per line to `out` and diagnostics to `err`, and returns the
// process exit code (0 ok, 1 failure or rejected items, 2 bad usage). main.cc only parses
// flags into CommandOptions. Thread-compatible.
#ifndef KG_CLIENT_KGCTL_COMMANDS_H_
#define KG_CLIENT_KGCTL_COMMANDS_H_

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "client/cpp/client.h"
#include "client/datagen/datagen.h"

namespace kg {

// Flag values; each field's default is the flag's default. See kKgctlUsage.
struct CommandOptions {
  // Global.
  std::string addr = "127.0.0.1:50051";
  int64_t deadline_ms = 10000;
  // Bearer token (--token, else $KG_TOKEN) and TLS: client/cpp/client.h's ClientOptions
  // (its deadline_ms is taken from deadline_ms above).
  ClientOptions connection;
  // token new: the role and the name written into the token-file line.
  std::string role;
  std::string name;
  // get / neighbors / traverse: entity field selection, "name,metrics,attributes.color".
  std::string fields;
  // neighbors: one edge type; count: a comma-separated list.
  std::string type;
  // neighbors: out (default) or in; count: out, in or empty for both.
  std::string dir;
  int32_t limit = 0;
  int64_t since_ms = 0;
  int64_t until_ms = 0;
  std::string page_token;
  bool entities = false;
  bool all_pages = false;
  int32_t max_pages = 1000;
  // traverse.
  std::string hops;
  int32_t hop_limit = 0;
  int32_t max_results = 0;
  int32_t max_frontier = 0;
  bool include_start = false;
  std::string ranking = "paths";
  // upsert.
  bool merge = false;
  // import.
  uint32_t max_errors = 0;
  // jsonl, csv or taxonomy; empty: from the file's extension.
  std::string format;
  // The CSV column mapping (docs/IMPORT.md); required for csv.
  std::string mapping;
  // Parse and check locally, send nothing.
  bool dry_run = false;
  int32_t batch = 1000;
  int64_t import_deadline_ms = int64_t{24} * 3600 * 1000;
  // generate.
  double scale = 1.0;
  uint64_t seed = 42;
  int64_t end_time_ms = datagen::kDefaultEndTimeMs;
  std::string out = "-";
  double unassigned_percent = 0;
  std::string withheld_out;
  // The planted ground truths (datagen::Planted) as JSONL; empty: not written.
  std::string planted_out;
  // train (0: the server's default for each) and categorize / taxonomy.
  int32_t epoch = 0;
  int32_t dim = 0;
  double learning_rate = 0;
  int32_t word_ngrams = 0;
  int32_t min_label_examples = 0;
  int32_t max_label_depth = 0;
  double validation_share = 0;
  uint64_t train_seed = 0;
  int32_t train_threads = 0;
  int64_t train_deadline_ms = int64_t{2} * 3600 * 1000;
  int32_t top_k = 0;
  std::string file;
  std::string brand;
  int32_t depth = 0;
  // profile, top, compare (--limit, --page_token, --entities, --since_ms, --until_ms
  // as above).
  std::string window;
  std::string metric;
  bool descendants = true;
  std::string brands;
  std::string merchant;
  double min_price = 0;
  double max_price = 0;
  int32_t min_views = 0;
  int32_t max_sample = 0;
  std::string peers;
  std::string outcome;
  bool table = false;
  // brands candidates, spu assign.
  bool apply = false;
  double min_confidence = 0;
  int32_t max_candidates = 0;
  double group_min_confidence = 0;
  int32_t min_group_size = 0;
  int32_t max_listed = 0;
  int64_t max_products = 0;
  // Progress lines on stderr when it is a terminal (import, generate, train).
  bool progress = true;
};

// The text of `kgctl help`: every command and flag, with examples.
extern const char kKgctlUsage[];

// Runs `command` with `args` (the positional arguments after it). `in` is read by commands
// that take standard input (upsert without arguments, import -).
int RunCommand(const std::string& command, const std::vector<std::string>& args,
               const CommandOptions& options, std::istream& in, std::ostream& out,
               std::ostream& err);

}  // namespace kg

#endif  // KG_CLIENT_KGCTL_COMMANDS_H_
