// The CSV column mapping: a small line-oriented text spec (docs/IMPORT.md) saying which
// columns make which entities and edges, how ids are derived (decimal or hashed), how times
// are parsed, which rows are skipped, and how category paths become CATEGORY chains.
// ParseMapping is pure and thread-safe; a Mapping is an immutable value once parsed.
#ifndef KG_CLIENT_IMPORTER_MAPPING_H_
#define KG_CLIENT_IMPORTER_MAPPING_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kg/v1/types.pb.h"

namespace kg {

// One transformation of a value (docs/IMPORT.md, "Value expressions").
enum class StepFunc {
  kTrim,           // strip white space at both ends (TrimSpaces: ASCII and U+00A0)
  kLower,          // ASCII lower case
  kNormalize,      // NormalizeName: trim, one space between words, ASCII lower case
  kHash,           // the decimal FNV-1a 64 id of the text (HashId); empty stays empty
  kParseTime,      // ARG: epoch_ms | epoch_s | pattern -> decimal epoch milliseconds
  kNullIf,         // ARG: the value becomes empty when it equals ARG
  kStripPrefix,    // ARG: remove ARG at the start, if present
  kStripSuffix,    // ARG: remove ARG at the end, if present
  kReplace,        // ARG ARG2: replace every ARG by ARG2
  kJsonListFirst,  // the first string of a JSON list such as ["a","b"]
  kDefault,        // ARG: the value becomes ARG when empty
};

struct Step {
  StepFunc func;
  std::string arg;
  std::string arg2;
};

// A value read from a row: a column (by header name, or 1-based position) or a constant,
// passed through steps left to right.
struct ValueExpr {
  bool is_constant = false;
  std::string column;
  std::string constant;
  std::vector<Step> steps;
  // The expression as written, for messages.
  std::string text;
  // Bound by CsvMapper to the column's 0-based index.
  int column_index = -1;
};

// skip_if VALUE OP [OPERAND]: rows for which any filter holds are skipped (counted).
struct RowFilter {
  enum class Op { kEmpty, kNotEmpty, kEq, kNe, kLt, kLe, kGt, kGe, kStartsWith };
  ValueExpr value;
  Op op = Op::kEmpty;
  std::string operand;
  double number = 0;  // the operand of <, <=, >, >=
  int line = 0;
};

struct NamedValue {
  std::string name;
  ValueExpr value;
};

// One `entity`, `edge` or `category_path` block and its property lines.
struct MappingBlock {
  enum class Kind { kEntity, kEdge, kCategoryPath };
  Kind kind = Kind::kEntity;
  int line = 0;
  // entity and edge: skip the block for a row whose id (src, dst) is empty.
  bool optional = false;
  // entity: emit each id once per run (the first row wins).
  bool once = false;

  // entity
  v1::EntityType entity_type = v1::ENTITY_TYPE_UNSPECIFIED;
  std::optional<ValueExpr> id;
  std::optional<ValueExpr> name;
  std::vector<NamedValue> attributes;
  std::vector<NamedValue> metrics;
  // entity: update_time_ms; edge: time_ms. Decimal epoch ms (e.g. from parse_time).
  std::optional<ValueExpr> time;

  // edge
  v1::EdgeType edge_type = v1::EDGE_TYPE_UNSPECIFIED;
  v1::EntityType src_type = v1::ENTITY_TYPE_UNSPECIFIED;
  v1::EntityType dst_type = v1::ENTITY_TYPE_UNSPECIFIED;
  std::optional<ValueExpr> src;
  std::optional<ValueExpr> dst;
  std::optional<ValueExpr> weight;

  // category_path
  std::optional<ValueExpr> path;
  std::string separator = " > ";
  std::optional<ValueExpr> drop_leaf_matching;
  // link EDGE_TYPE TYPE VALUE: an edge from (TYPE, VALUE) to the deepest category.
  bool has_link = false;
  v1::EdgeType link_type = v1::EDGE_TYPE_UNSPECIFIED;
  v1::EntityType link_src_type = v1::ENTITY_TYPE_UNSPECIFIED;
  std::optional<ValueExpr> link_src;
};

struct Mapping {
  // The file name, for messages.
  std::string name;
  char delimiter = ',';
  // true: the first row names the columns; false: columns are referred to as 1, 2, ...
  bool header = true;
  std::vector<RowFilter> skip_if;
  std::vector<MappingBlock> blocks;
};

// Parses a mapping spec. `name` prefixes errors: INVALID_ARGUMENT "NAME:LINE: reason".
// Edge blocks are checked against the schema here.
absl::StatusOr<Mapping> ParseMapping(absl::string_view text, absl::string_view name);

// Reads and parses the file at `path` (NOT_FOUND if it cannot be read).
absl::StatusOr<Mapping> LoadMapping(const std::string& path);

}  // namespace kg

#endif  // KG_CLIENT_IMPORTER_MAPPING_H_
