#include "client/importer/csv_mapper.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/importer/id_hash.h"
#include "client/importer/record_check.h"
#include "client/importer/time_format.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace kg {
namespace {

absl::StatusOr<std::string> JsonListFirst(const std::string& text) {
  if (text.empty()) return text;
  google::protobuf::ListValue list;
  auto status = google::protobuf::util::JsonStringToMessage(text, &list);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("json_list_first: \"", text.substr(0, 64),
                                                   "\" is not a JSON list of strings"));
  }
  if (list.values_size() == 0) return std::string();
  if (!list.values(0).has_string_value()) {
    return absl::InvalidArgumentError("json_list_first: the first element is not a string");
  }
  return list.values(0).string_value();
}

// A decimal or floating-point number; finite.
absl::StatusOr<double> ParseNumber(const std::string& text, absl::string_view what) {
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || !std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": \"", text.substr(0, 64), "\" is not a finite number"));
  }
  return value;
}

absl::StatusOr<int64_t> ParseTimeValue(const std::string& text, absl::string_view what) {
  absl::StatusOr<int64_t> ms = ParseTimeMs(text, "epoch_ms");
  if (!ms.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": \"", text.substr(0, 64),
                     "\" is not epoch milliseconds (use | parse_time FORMAT)"));
  }
  return *ms;
}

std::string Label(const MappingBlock& block) {
  switch (block.kind) {
    case MappingBlock::Kind::kEntity:
      return absl::StrCat("entity ", v1::EntityType_Name(block.entity_type));
    case MappingBlock::Kind::kEdge:
      return absl::StrCat("edge ", v1::EdgeType_Name(block.edge_type));
    case MappingBlock::Kind::kCategoryPath:
      return "category_path";
  }
  return "";
}

absl::Status Context(const absl::Status& status, absl::string_view prefix) {
  return absl::InvalidArgumentError(absl::StrCat(prefix, ": ", status.message()));
}

}  // namespace

absl::StatusOr<std::string> EvaluateValue(const ValueExpr& value,
                                          const std::vector<std::string>& fields) {
  std::string text;
  if (value.is_constant) {
    text = value.constant;
  } else if (value.column_index >= 0 && value.column_index < static_cast<int>(fields.size())) {
    text = fields[value.column_index];
  } else {
    return absl::InvalidArgumentError(absl::StrCat("column ", value.column, " is not in the row"));
  }
  for (const Step& step : value.steps) {
    switch (step.func) {
      case StepFunc::kTrim:
        text = std::string(TrimSpaces(text));
        break;
      case StepFunc::kLower:
        absl::AsciiStrToLower(&text);
        break;
      case StepFunc::kNormalize:
        text = NormalizeName(text);
        break;
      case StepFunc::kHash:
        if (!text.empty()) text = absl::StrCat(HashId(text));
        break;
      case StepFunc::kParseTime:
        if (!text.empty()) {
          absl::StatusOr<int64_t> ms = ParseTimeMs(text, step.arg);
          if (!ms.ok()) return ms.status();
          text = absl::StrCat(*ms);
        }
        break;
      case StepFunc::kNullIf:
        if (text == step.arg) text.clear();
        break;
      case StepFunc::kStripPrefix:
        if (absl::StartsWith(text, step.arg)) text.erase(0, step.arg.size());
        break;
      case StepFunc::kStripSuffix:
        if (absl::EndsWith(text, step.arg)) text.resize(text.size() - step.arg.size());
        break;
      case StepFunc::kReplace:
        text = absl::StrReplaceAll(text, {{step.arg, step.arg2}});
        break;
      case StepFunc::kJsonListFirst: {
        absl::StatusOr<std::string> first = JsonListFirst(text);
        if (!first.ok()) return first.status();
        text = std::move(*first);
        break;
      }
      case StepFunc::kDefault:
        if (text.empty()) text = step.arg;
        break;
    }
  }
  return text;
}

CsvMapper::CsvMapper(Mapping mapping) : mapping_(std::move(mapping)) {
  seen_.resize(mapping_.blocks.size());
}

absl::Status CsvMapper::Bind(ValueExpr* value, int line) {
  if (value->is_constant) return absl::OkStatus();
  if (mapping_.header) {
    auto it = std::find(columns_.begin(), columns_.end(), value->column);
    if (it != columns_.end()) {
      value->column_index = static_cast<int>(it - columns_.begin());
      return absl::OkStatus();
    }
  }
  int position = 0;
  if (absl::SimpleAtoi(value->column, &position) && position >= 1 &&
      position <= static_cast<int>(columns_.size()) &&
      value->column.find_first_not_of("0123456789") == std::string::npos) {
    value->column_index = position - 1;
    return absl::OkStatus();
  }
  std::string known;
  if (mapping_.header) {
    for (const std::string& c : columns_) absl::StrAppend(&known, known.empty() ? "" : ", ", c);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      mapping_.name, ":", line, ": unknown column \"", value->column, "\"",
      mapping_.header ? absl::StrCat(" (the header has: ", known, ")")
                      : absl::StrCat(" (without a header, columns are 1..", columns_.size(), ")")));
}

absl::Status CsvMapper::BindColumns(const std::vector<std::string>& first_row) {
  columns_ = first_row;
  if (mapping_.header && !columns_.empty()) {
    // A UTF-8 byte order mark is not part of the first column's name.
    if (absl::StartsWith(columns_[0], "\xEF\xBB\xBF")) columns_[0].erase(0, 3);
  }
  if (!mapping_.header) {
    for (size_t i = 0; i < columns_.size(); ++i) columns_[i] = absl::StrCat(i + 1);
  }
  for (RowFilter& filter : mapping_.skip_if) {
    absl::Status s = Bind(&filter.value, filter.line);
    if (!s.ok()) return s;
  }
  for (MappingBlock& b : mapping_.blocks) {
    for (std::optional<ValueExpr>* v : {&b.id, &b.name, &b.time, &b.src, &b.dst, &b.weight, &b.path,
                                        &b.drop_leaf_matching, &b.link_src}) {
      if (v->has_value()) {
        absl::Status s = Bind(&**v, b.line);
        if (!s.ok()) return s;
      }
    }
    for (std::vector<NamedValue>* list : {&b.attributes, &b.metrics}) {
      for (NamedValue& v : *list) {
        absl::Status s = Bind(&v.value, b.line);
        if (!s.ok()) return s;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CsvMapper::MapRow(const std::vector<std::string>& fields,
                               std::vector<v1::ImportRecord>* records, bool* skipped) {
  *skipped = false;
  if (fields.size() != columns_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(fields.size(), " fields, want ", columns_.size(),
                     mapping_.header ? " (as in the header)" : " (as in the first row)"));
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!IsValidUtf8(fields[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("field ", i + 1, " (", columns_[i].substr(0, 64), "): invalid UTF-8"));
    }
  }
  for (const RowFilter& filter : mapping_.skip_if) {
    absl::StatusOr<std::string> value = EvaluateValue(filter.value, fields);
    if (!value.ok()) return Context(value.status(), absl::StrCat("skip_if ", filter.value.text));
    bool hit = false;
    switch (filter.op) {
      case RowFilter::Op::kEmpty:
        hit = value->empty();
        break;
      case RowFilter::Op::kNotEmpty:
        hit = !value->empty();
        break;
      case RowFilter::Op::kEq:
        hit = *value == filter.operand;
        break;
      case RowFilter::Op::kNe:
        hit = *value != filter.operand;
        break;
      case RowFilter::Op::kStartsWith:
        hit = absl::StartsWith(*value, filter.operand);
        break;
      default: {
        absl::StatusOr<double> number =
            ParseNumber(*value, absl::StrCat("skip_if ", filter.value.text));
        if (!number.ok()) return number.status();
        switch (filter.op) {
          case RowFilter::Op::kLt:
            hit = *number < filter.number;
            break;
          case RowFilter::Op::kLe:
            hit = *number <= filter.number;
            break;
          case RowFilter::Op::kGt:
            hit = *number > filter.number;
            break;
          default:
            hit = *number >= filter.number;
            break;
        }
      }
    }
    if (hit) {
      *skipped = true;
      return absl::OkStatus();
    }
  }
  std::vector<v1::ImportRecord> out;
  pending_.clear();
  const uint64_t left_out_before = blocks_left_out_;
  for (size_t i = 0; i < mapping_.blocks.size(); ++i) {
    absl::Status s = MapBlock(mapping_.blocks[i], static_cast<int>(i), fields, &out);
    if (!s.ok()) {
      blocks_left_out_ = left_out_before;
      return s;
    }
  }
  for (const v1::ImportRecord& record : out) {
    absl::Status s = CheckRecord(record);
    if (!s.ok()) {
      blocks_left_out_ = left_out_before;
      return s;
    }
  }
  for (const auto& [block, id] : pending_) {
    (block < 0 ? categories_ : seen_[block]).insert(id);
  }
  for (v1::ImportRecord& record : out) records->push_back(std::move(record));
  return absl::OkStatus();
}

absl::Status CsvMapper::MapBlock(const MappingBlock& block, int index,
                                 const std::vector<std::string>& fields,
                                 std::vector<v1::ImportRecord>* out) {
  const std::string label = Label(block);
  // Evaluates an id: empty -> 0 (the caller decides), else a decimal id.
  auto id_of = [&](const ValueExpr& value, absl::string_view what) -> absl::StatusOr<uint64_t> {
    absl::StatusOr<std::string> text = EvaluateValue(value, fields);
    if (!text.ok()) return Context(text.status(), absl::StrCat(label, " ", what));
    if (text->empty()) return uint64_t{0};
    absl::StatusOr<uint64_t> id = ParseId(*text);
    if (!id.ok())
      return Context(id.status(), absl::StrCat(label, " ", what, " (", value.text, ")"));
    return *id;
  };
  auto empty_id = [&](absl::string_view what, const ValueExpr& value) {
    return absl::InvalidArgumentError(absl::StrCat(label, " ", what, ": empty id (", value.text,
                                                   "); mark the block optional to skip it"));
  };
  auto text_of = [&](const ValueExpr& value,
                     absl::string_view what) -> absl::StatusOr<std::string> {
    absl::StatusOr<std::string> text = EvaluateValue(value, fields);
    if (!text.ok()) return Context(text.status(), absl::StrCat(label, " ", what));
    return text;
  };

  if (block.kind == MappingBlock::Kind::kCategoryPath) return MapCategories(block, fields, out);

  if (block.kind == MappingBlock::Kind::kEntity) {
    absl::StatusOr<uint64_t> id = id_of(*block.id, "id");
    if (!id.ok()) return id.status();
    if (*id == 0) {
      if (block.optional) {
        ++blocks_left_out_;
        return absl::OkStatus();
      }
      return empty_id("id", *block.id);
    }
    if (block.once) {
      if (seen_[index].contains(*id)) return absl::OkStatus();
      pending_.emplace_back(index, *id);
    }
    v1::ImportRecord record;
    v1::Entity* entity = record.mutable_entity();
    entity->mutable_key()->set_type(block.entity_type);
    entity->mutable_key()->set_id(*id);
    if (block.name.has_value()) {
      absl::StatusOr<std::string> name = text_of(*block.name, "name");
      if (!name.ok()) return name.status();
      entity->set_name(std::move(*name));
    }
    for (const NamedValue& attr : block.attributes) {
      absl::StatusOr<std::string> value = text_of(attr.value, absl::StrCat("attr ", attr.name));
      if (!value.ok()) return value.status();
      if (!value->empty()) (*entity->mutable_attributes())[attr.name] = std::move(*value);
    }
    for (const NamedValue& metric : block.metrics) {
      const std::string what = absl::StrCat(label, " metric ", metric.name);
      absl::StatusOr<std::string> value =
          text_of(metric.value, absl::StrCat("metric ", metric.name));
      if (!value.ok()) return value.status();
      if (value->empty()) continue;
      absl::StatusOr<double> number = ParseNumber(*value, what);
      if (!number.ok()) return number.status();
      (*entity->mutable_metrics())[metric.name] = *number;
    }
    if (block.time.has_value()) {
      absl::StatusOr<std::string> value = text_of(*block.time, "time");
      if (!value.ok()) return value.status();
      if (!value->empty()) {
        absl::StatusOr<int64_t> ms = ParseTimeValue(*value, absl::StrCat(label, " time"));
        if (!ms.ok()) return ms.status();
        entity->set_update_time_ms(*ms);
      }
    }
    out->push_back(std::move(record));
    return absl::OkStatus();
  }

  // An edge.
  absl::StatusOr<uint64_t> src = id_of(*block.src, "src");
  if (!src.ok()) return src.status();
  absl::StatusOr<uint64_t> dst = id_of(*block.dst, "dst");
  if (!dst.ok()) return dst.status();
  if (*src == 0 || *dst == 0) {
    if (block.optional) {
      ++blocks_left_out_;
      return absl::OkStatus();
    }
    return *src == 0 ? empty_id("src", *block.src) : empty_id("dst", *block.dst);
  }
  v1::ImportRecord record;
  v1::Edge* edge = record.mutable_edge();
  edge->mutable_src()->set_type(block.src_type);
  edge->mutable_src()->set_id(*src);
  edge->set_type(block.edge_type);
  edge->mutable_dst()->set_type(block.dst_type);
  edge->mutable_dst()->set_id(*dst);
  if (block.time.has_value()) {
    absl::StatusOr<std::string> value = text_of(*block.time, "time");
    if (!value.ok()) return value.status();
    if (!value->empty()) {
      absl::StatusOr<int64_t> ms = ParseTimeValue(*value, absl::StrCat(label, " time"));
      if (!ms.ok()) return ms.status();
      edge->set_time_ms(*ms);
    }
  }
  if (block.weight.has_value()) {
    absl::StatusOr<std::string> value = text_of(*block.weight, "weight");
    if (!value.ok()) return value.status();
    if (!value->empty()) {
      absl::StatusOr<double> number = ParseNumber(*value, absl::StrCat(label, " weight"));
      if (!number.ok()) return number.status();
      edge->set_weight(*number);
    }
  }
  out->push_back(std::move(record));
  return absl::OkStatus();
}

absl::Status CsvMapper::MapCategories(const MappingBlock& block,
                                      const std::vector<std::string>& fields,
                                      std::vector<v1::ImportRecord>* out) {
  absl::StatusOr<std::string> path = EvaluateValue(*block.path, fields);
  if (!path.ok()) return Context(path.status(), "category_path");
  std::vector<std::string> segments;
  if (!TrimSpaces(*path).empty()) {
    for (absl::string_view part : absl::StrSplit(*path, block.separator)) {
      absl::string_view segment = TrimSpaces(part);
      if (segment.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("category_path: empty segment in \"", path->substr(0, 200), "\""));
      }
      segments.emplace_back(segment);
    }
  }
  if (!segments.empty() && block.drop_leaf_matching.has_value()) {
    absl::StatusOr<std::string> match = EvaluateValue(*block.drop_leaf_matching, fields);
    if (!match.ok()) return Context(match.status(), "category_path drop_leaf_matching");
    absl::string_view want = TrimSpaces(*match);
    absl::string_view leaf = segments.back();
    if (absl::ConsumeSuffix(&leaf, "...")) leaf = TrimSpaces(leaf);
    if (!want.empty() && !leaf.empty() &&
        (absl::StartsWith(leaf, want) || absl::StartsWith(want, leaf))) {
      segments.pop_back();
    }
  }
  if (segments.empty()) {
    ++blocks_left_out_;
    return absl::OkStatus();
  }
  auto pending = [&](uint64_t id) {
    if (categories_.contains(id)) return true;
    for (const auto& [b, pid] : pending_) {
      if (b < 0 && pid == id) return true;
    }
    return false;
  };
  uint64_t parent = 0;
  uint64_t id = 0;
  for (size_t depth = 1; depth <= segments.size(); ++depth) {
    id = CategoryPathId(segments, depth);
    if (!pending(id)) {
      pending_.emplace_back(-1, id);
      v1::ImportRecord record;
      v1::Entity* entity = record.mutable_entity();
      entity->mutable_key()->set_type(v1::CATEGORY);
      entity->mutable_key()->set_id(id);
      entity->set_name(segments[depth - 1]);
      (*entity->mutable_attributes())["path"] = CategoryPathText(segments, depth);
      (*entity->mutable_attributes())["level"] = absl::StrCat(depth);
      out->push_back(std::move(record));
      if (parent != 0) {
        v1::ImportRecord link;
        v1::Edge* edge = link.mutable_edge();
        edge->mutable_src()->set_type(v1::CATEGORY);
        edge->mutable_src()->set_id(id);
        edge->set_type(v1::SUBCATEGORY_OF);
        edge->mutable_dst()->set_type(v1::CATEGORY);
        edge->mutable_dst()->set_id(parent);
        out->push_back(std::move(link));
      }
    }
    parent = id;
  }
  if (block.has_link) {
    absl::StatusOr<std::string> text = EvaluateValue(*block.link_src, fields);
    if (!text.ok()) return Context(text.status(), "category_path link");
    if (text->empty()) {
      ++blocks_left_out_;
      return absl::OkStatus();
    }
    absl::StatusOr<uint64_t> src = ParseId(*text);
    if (!src.ok()) {
      return Context(src.status(), absl::StrCat("category_path link (", block.link_src->text, ")"));
    }
    v1::ImportRecord record;
    v1::Edge* edge = record.mutable_edge();
    edge->mutable_src()->set_type(block.link_src_type);
    edge->mutable_src()->set_id(*src);
    edge->set_type(block.link_type);
    edge->mutable_dst()->set_type(v1::CATEGORY);
    edge->mutable_dst()->set_id(id);
    out->push_back(std::move(record));
  }
  return absl::OkStatus();
}

}  // namespace kg
