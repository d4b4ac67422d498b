#include "client/importer/mapping.h"

#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/cpp/text.h"
#include "client/importer/record_check.h"
#include "client/importer/time_format.h"

namespace kg {
namespace {

struct Token {
  std::string text;
  bool quoted = false;
  bool Is(absl::string_view word) const { return !quoted && text == word; }
};

// Splits one line into tokens: bare words, "quoted strings" (escapes \" \\ \t \n) and '|'.
// A '#' outside quotes at the start of a token begins a comment.
absl::Status Tokenize(absl::string_view line, std::vector<Token>* tokens) {
  size_t i = 0;
  while (i < line.size()) {
    const char c = line[i];
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '#') {
      break;
    } else if (c == '|') {
      tokens->push_back({"|", false});
      ++i;
    } else if (c == '"') {
      Token token{"", true};
      ++i;
      bool closed = false;
      while (i < line.size()) {
        char d = line[i++];
        if (d == '"') {
          closed = true;
          break;
        }
        if (d == '\\') {
          if (i >= line.size()) break;
          d = line[i++];
          switch (d) {
            case '"':
            case '\\':
              token.text.push_back(d);
              break;
            case 't':
              token.text.push_back('\t');
              break;
            case 'n':
              token.text.push_back('\n');
              break;
            default:
              return absl::InvalidArgumentError(
                  absl::StrCat("unknown escape \\", std::string(1, d), " (use \\\" \\\\ \\t \\n)"));
          }
          continue;
        }
        token.text.push_back(d);
      }
      if (!closed) return absl::InvalidArgumentError("unterminated quoted string");
      tokens->push_back(std::move(token));
    } else {
      size_t j = i;
      while (j < line.size() && !absl::ascii_isspace(static_cast<unsigned char>(line[j])) &&
             line[j] != '|' && line[j] != '"') {
        ++j;
      }
      tokens->push_back({std::string(line.substr(i, j - i)), false});
      i = j;
    }
  }
  return absl::OkStatus();
}

struct FuncInfo {
  StepFunc func;
  int arity;
};

const std::map<std::string, FuncInfo>& Funcs() {
  static const auto* funcs = new std::map<std::string, FuncInfo>{
      {"trim", {StepFunc::kTrim, 0}},
      {"lower", {StepFunc::kLower, 0}},
      {"normalize", {StepFunc::kNormalize, 0}},
      {"hash", {StepFunc::kHash, 0}},
      {"parse_time", {StepFunc::kParseTime, 1}},
      {"null_if", {StepFunc::kNullIf, 1}},
      {"strip_prefix", {StepFunc::kStripPrefix, 1}},
      {"strip_suffix", {StepFunc::kStripSuffix, 1}},
      {"replace", {StepFunc::kReplace, 2}},
      {"json_list_first", {StepFunc::kJsonListFirst, 0}},
      {"default", {StepFunc::kDefault, 1}},
  };
  return *funcs;
}

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// Reads tokens line by line for one mapping file.
class Parser {
 public:
  explicit Parser(std::string name) { mapping_.name = std::move(name); }

  absl::StatusOr<Mapping> Parse(absl::string_view text) {
    int line_number = 0;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      ++line_number;
      line_ = line_number;
      tokens_.clear();
      pos_ = 0;
      absl::Status s = Tokenize(line, &tokens_);
      if (s.ok() && !tokens_.empty()) s = ParseLine();
      if (!s.ok()) return Error(s.message());
    }
    absl::Status s = FinishBlock();
    if (!s.ok()) return Error(s.message());
    if (mapping_.blocks.empty()) {
      line_ = line_number;
      return Error("no entity, edge or category_path block: nothing would be imported");
    }
    return std::move(mapping_);
  }

 private:
  absl::Status Error(absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(mapping_.name, ":", line_, ": ", message));
  }
  static absl::Status Bad(absl::string_view message) { return absl::InvalidArgumentError(message); }

  bool AtEnd() const { return pos_ >= tokens_.size(); }
  const Token* Peek() const { return AtEnd() ? nullptr : &tokens_[pos_]; }

  absl::StatusOr<std::string> Word(absl::string_view what) {
    if (AtEnd()) return Bad(absl::StrCat("missing ", what));
    return tokens_[pos_++].text;
  }

  absl::Status ExpectEnd() {
    if (AtEnd()) return absl::OkStatus();
    return Bad(absl::StrCat("unexpected \"", tokens_[pos_].text, "\" at the end of the line"));
  }

  absl::StatusOr<v1::EntityType> EntityTypeWord() {
    absl::StatusOr<std::string> word = Word("an entity type (PRODUCT, BRAND, ...)");
    if (!word.ok()) return word.status();
    return ParseEntityType(*word);
  }

  absl::StatusOr<v1::EdgeType> EdgeTypeWord() {
    absl::StatusOr<std::string> word = Word("an edge type (PURCHASED, IN_CATEGORY, ...)");
    if (!word.ok()) return word.status();
    return ParseEdgeType(*word);
  }

  // VALUE := COLUMN | const TEXT, then ('|' FUNC ARGS...)*.
  absl::StatusOr<ValueExpr> Value() {
    ValueExpr value;
    if (AtEnd()) return Bad("missing value (a column name, or const TEXT)");
    const Token first = tokens_[pos_++];
    if (first.Is("|")) return Bad("missing column before \"|\"");
    if (first.Is("const")) {
      if (AtEnd()) return Bad("const needs a value");
      value.is_constant = true;
      value.constant = tokens_[pos_++].text;
      value.text = absl::StrCat("const ", Quote(value.constant));
    } else {
      value.column = first.text;
      value.text = first.quoted ? Quote(first.text) : first.text;
    }
    while (!AtEnd() && tokens_[pos_].Is("|")) {
      ++pos_;
      if (AtEnd()) return Bad("missing function after \"|\"");
      const std::string name = tokens_[pos_++].text;
      auto it = Funcs().find(name);
      if (it == Funcs().end()) {
        std::vector<std::string> names;
        for (const auto& entry : Funcs()) names.push_back(entry.first);
        return Bad(
            absl::StrCat("unknown function \"", name, "\"; known: ", absl::StrJoin(names, ", ")));
      }
      Step step{it->second.func, "", ""};
      absl::StrAppend(&value.text, " | ", name);
      for (int a = 0; a < it->second.arity; ++a) {
        if (AtEnd() || tokens_[pos_].Is("|")) {
          return Bad(absl::StrCat(name, " takes ", it->second.arity, " argument",
                                  it->second.arity == 1 ? "" : "s"));
        }
        std::string& arg = a == 0 ? step.arg : step.arg2;
        arg = tokens_[pos_++].text;
        absl::StrAppend(&value.text, " ", Quote(arg));
      }
      if (step.func == StepFunc::kParseTime) {
        absl::Status valid = ValidateTimeFormat(step.arg);
        if (!valid.ok()) return valid;
      }
      if ((step.func == StepFunc::kStripPrefix || step.func == StepFunc::kStripSuffix ||
           step.func == StepFunc::kReplace) &&
          step.arg.empty()) {
        return Bad(absl::StrCat(name, ": the text to remove or replace must not be empty"));
      }
      value.steps.push_back(std::move(step));
    }
    return value;
  }

  absl::Status SetOnce(std::optional<ValueExpr>* slot, absl::string_view property) {
    if (slot->has_value()) return Bad(absl::StrCat(property, " is given twice in this block"));
    absl::StatusOr<ValueExpr> value = Value();
    if (!value.ok()) return value.status();
    *slot = std::move(*value);
    return ExpectEnd();
  }

  absl::Status ParseLine() {
    const Token& head = tokens_[pos_++];
    if (head.quoted)
      return Bad(absl::StrCat("a line starts with a keyword, not \"", head.text, "\""));
    const std::string& word = head.text;
    if (word == "delimiter") {
      absl::StatusOr<std::string> d = Word("the delimiter, e.g. \",\" or \"\\t\"");
      if (!d.ok()) return d.status();
      if (d->size() != 1 || *d == "\"" || *d == "\n" || *d == "\r") {
        return Bad("delimiter must be one byte, not a quote or line break");
      }
      mapping_.delimiter = (*d)[0];
      return ExpectEnd();
    }
    if (word == "header") {
      absl::StatusOr<std::string> v = Word("true or false");
      if (!v.ok()) return v.status();
      if (*v != "true" && *v != "false") return Bad("header: want true or false");
      mapping_.header = *v == "true";
      return ExpectEnd();
    }
    if (word == "skip_if") return SkipIf();
    if (word == "entity" || word == "edge" || word == "category_path") {
      absl::Status s = FinishBlock();
      if (!s.ok()) return s;
      return StartBlock(word);
    }
    if (!block_.has_value()) {
      return Bad(absl::StrCat("unknown directive \"", word,
                              "\" (want delimiter, header, skip_if, entity, edge or "
                              "category_path; properties such as id go inside a block)"));
    }
    return Property(word);
  }

  absl::Status SkipIf() {
    RowFilter filter;
    filter.line = line_;
    absl::StatusOr<ValueExpr> value = Value();
    if (!value.ok()) return value.status();
    filter.value = std::move(*value);
    absl::StatusOr<std::string> op =
        Word("a condition: empty, not_empty, ==, !=, <, <=, >, >=, starts_with");
    if (!op.ok()) return op.status();
    static const auto* ops =
        new std::map<std::string, RowFilter::Op>{{"empty", RowFilter::Op::kEmpty},
                                                 {"not_empty", RowFilter::Op::kNotEmpty},
                                                 {"==", RowFilter::Op::kEq},
                                                 {"!=", RowFilter::Op::kNe},
                                                 {"<", RowFilter::Op::kLt},
                                                 {"<=", RowFilter::Op::kLe},
                                                 {">", RowFilter::Op::kGt},
                                                 {">=", RowFilter::Op::kGe},
                                                 {"starts_with", RowFilter::Op::kStartsWith}};
    auto it = ops->find(*op);
    if (it == ops->end()) {
      return Bad(absl::StrCat("skip_if: unknown condition \"", *op,
                              "\" (want empty, not_empty, ==, !=, <, <=, >, >=, starts_with)"));
    }
    filter.op = it->second;
    if (filter.op != RowFilter::Op::kEmpty && filter.op != RowFilter::Op::kNotEmpty) {
      absl::StatusOr<std::string> operand = Word(absl::StrCat("the operand of ", *op));
      if (!operand.ok()) return operand.status();
      filter.operand = *operand;
      if (filter.op == RowFilter::Op::kLt || filter.op == RowFilter::Op::kLe ||
          filter.op == RowFilter::Op::kGt || filter.op == RowFilter::Op::kGe) {
        if (!absl::SimpleAtod(filter.operand, &filter.number)) {
          return Bad(
              absl::StrCat("skip_if: ", *op, " needs a number, got \"", filter.operand, "\""));
        }
      }
    }
    mapping_.skip_if.push_back(std::move(filter));
    return ExpectEnd();
  }

  absl::Status StartBlock(const std::string& kind) {
    MappingBlock block;
    block.line = line_;
    if (kind == "entity") {
      block.kind = MappingBlock::Kind::kEntity;
      absl::StatusOr<v1::EntityType> type = EntityTypeWord();
      if (!type.ok()) return type.status();
      block.entity_type = *type;
    } else if (kind == "edge") {
      block.kind = MappingBlock::Kind::kEdge;
      absl::StatusOr<v1::EdgeType> type = EdgeTypeWord();
      if (!type.ok()) return type.status();
      block.edge_type = *type;
    } else {
      block.kind = MappingBlock::Kind::kCategoryPath;
      absl::StatusOr<ValueExpr> path = Value();
      if (!path.ok()) return path.status();
      block.path = std::move(*path);
      block_ = std::move(block);
      return ExpectEnd();
    }
    while (!AtEnd()) {
      const std::string flag = tokens_[pos_++].text;
      if (flag == "optional") {
        block.optional = true;
      } else if (flag == "once" && block.kind == MappingBlock::Kind::kEntity) {
        block.once = true;
      } else {
        return Bad(absl::StrCat("unknown flag \"", flag, "\" (want optional",
                                block.kind == MappingBlock::Kind::kEntity ? " or once)" : ")"));
      }
    }
    block_ = std::move(block);
    return absl::OkStatus();
  }

  absl::Status Property(const std::string& word) {
    MappingBlock& b = *block_;
    switch (b.kind) {
      case MappingBlock::Kind::kEntity:
        if (word == "id") return SetOnce(&b.id, "id");
        if (word == "name") return SetOnce(&b.name, "name");
        if (word == "time") return SetOnce(&b.time, "time");
        if (word == "attr" || word == "metric") {
          absl::StatusOr<std::string> key = Word(absl::StrCat("the ", word, " name"));
          if (!key.ok()) return key.status();
          if (key->empty() || key->size() > 128) return Bad("names are 1..128 bytes");
          std::vector<NamedValue>& list = word == "attr" ? b.attributes : b.metrics;
          for (const NamedValue& v : list) {
            if (v.name == *key) return Bad(absl::StrCat(word, " ", *key, " is given twice"));
          }
          absl::StatusOr<ValueExpr> value = Value();
          if (!value.ok()) return value.status();
          list.push_back({*key, std::move(*value)});
          return ExpectEnd();
        }
        return Bad(absl::StrCat("unknown entity property \"", word,
                                "\" (want id, name, attr, metric, time)"));
      case MappingBlock::Kind::kEdge:
        if (word == "src" || word == "dst") {
          absl::StatusOr<v1::EntityType> type = EntityTypeWord();
          if (!type.ok()) return type.status();
          (word == "src" ? b.src_type : b.dst_type) = *type;
          return SetOnce(word == "src" ? &b.src : &b.dst, word);
        }
        if (word == "time") return SetOnce(&b.time, "time");
        if (word == "weight") return SetOnce(&b.weight, "weight");
        return Bad(
            absl::StrCat("unknown edge property \"", word, "\" (want src, dst, time, weight)"));
      case MappingBlock::Kind::kCategoryPath:
        if (word == "separator") {
          absl::StatusOr<std::string> sep = Word("the separator, e.g. \" >> \"");
          if (!sep.ok()) return sep.status();
          if (sep->empty()) return Bad("separator must not be empty");
          b.separator = *sep;
          return ExpectEnd();
        }
        if (word == "drop_leaf_matching") {
          return SetOnce(&b.drop_leaf_matching, "drop_leaf_matching");
        }
        if (word == "link") {
          if (b.has_link) return Bad("link is given twice in this block");
          absl::StatusOr<v1::EdgeType> type = EdgeTypeWord();
          if (!type.ok()) return type.status();
          absl::StatusOr<v1::EntityType> src = EntityTypeWord();
          if (!src.ok()) return src.status();
          b.has_link = true;
          b.link_type = *type;
          b.link_src_type = *src;
          return SetOnce(&b.link_src, "link");
        }
        return Bad(absl::StrCat("unknown category_path property \"", word,
                                "\" (want separator, drop_leaf_matching, link)"));
    }
    return Bad("unreachable");
  }

  // Checks the open block and appends it to the mapping.
  absl::Status FinishBlock() {
    if (!block_.has_value()) return absl::OkStatus();
    MappingBlock b = std::move(*block_);
    block_.reset();
    const int saved_line = line_;
    line_ = b.line;
    auto fail = [&](absl::string_view why) {
      return Bad(why);  // reported at the block's first line
    };
    EdgeEnds ends;
    switch (b.kind) {
      case MappingBlock::Kind::kEntity:
        if (!b.id.has_value()) return fail("entity block without an id line");
        break;
      case MappingBlock::Kind::kEdge: {
        const std::string type = v1::EdgeType_Name(b.edge_type);
        if (!b.src.has_value() || !b.dst.has_value()) {
          return fail(absl::StrCat("edge ", type, " needs src and dst lines"));
        }
        EdgeSchemaOf(b.edge_type, &ends);
        if (b.src_type != ends.src) {
          return fail(absl::StrCat(type, " edges start at ", v1::EntityType_Name(ends.src),
                                   ", but src is ", v1::EntityType_Name(b.src_type)));
        }
        if (b.dst_type != ends.dst) {
          return fail(absl::StrCat(type, " edges end at ", v1::EntityType_Name(ends.dst),
                                   ", but dst is ", v1::EntityType_Name(b.dst_type)));
        }
        break;
      }
      case MappingBlock::Kind::kCategoryPath:
        if (b.has_link) {
          EdgeSchemaOf(b.link_type, &ends);
          const std::string type = v1::EdgeType_Name(b.link_type);
          if (ends.dst != v1::CATEGORY || ends.src != b.link_src_type) {
            return fail(absl::StrCat("link ", type, " goes ", v1::EntityType_Name(ends.src), " -> ",
                                     v1::EntityType_Name(ends.dst), ", but link needs ",
                                     v1::EntityType_Name(b.link_src_type), " -> CATEGORY"));
          }
        }
        break;
    }
    line_ = saved_line;
    mapping_.blocks.push_back(std::move(b));
    return absl::OkStatus();
  }

  Mapping mapping_;
  std::optional<MappingBlock> block_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int line_ = 0;
};

}  // namespace

absl::StatusOr<Mapping> ParseMapping(absl::string_view text, absl::string_view name) {
  return Parser(std::string(name)).Parse(text);
}

absl::StatusOr<Mapping> LoadMapping(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file.is_open()) return absl::NotFoundError(absl::StrCat("cannot open mapping ", path));
  std::stringstream text;
  text << file.rdbuf();
  return ParseMapping(text.str(), path);
}

}  // namespace kg
