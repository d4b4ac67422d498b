#include "client/importer/taxonomy.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/importer/id_hash.h"
#include "client/importer/record_check.h"

namespace kg {

absl::Status TaxonomyParser::ParseLine(absl::string_view line,
                                       std::vector<v1::ImportRecord>* records) {
  ++lines_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (absl::StripAsciiWhitespace(line).empty() || line[0] == '#') return absl::OkStatus();
  if (!IsValidUtf8(line)) return absl::InvalidArgumentError("invalid UTF-8");
  const size_t dash = line.find(" - ");
  if (dash == absl::string_view::npos) {
    return absl::InvalidArgumentError("want \"ID - Level1 > Level2 > ...\"");
  }
  absl::StatusOr<uint64_t> id = ParseId(line.substr(0, dash));
  if (!id.ok()) return id.status();
  std::vector<std::string> segments;
  for (absl::string_view part : absl::StrSplit(line.substr(dash + 3), " > ")) {
    absl::string_view segment = TrimSpaces(part);
    if (segment.empty()) return absl::InvalidArgumentError("empty segment in the category path");
    segments.emplace_back(segment);
  }
  const std::string path = CategoryPathText(segments, segments.size());
  if (auto it = line_by_id_.find(*id); it != line_by_id_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("id ", *id, " is already used on line ", it->second));
  }
  if (id_by_path_.contains(path)) {
    return absl::InvalidArgumentError(absl::StrCat("path \"", path, "\" is listed twice"));
  }
  uint64_t parent = 0;
  if (segments.size() > 1) {
    const std::string parent_path = CategoryPathText(segments, segments.size() - 1);
    auto it = id_by_path_.find(parent_path);
    if (it == id_by_path_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("parent \"", parent_path, "\" is not defined on an earlier line"));
    }
    parent = it->second;
  }
  id_by_path_[path] = *id;
  line_by_id_[*id] = lines_;
  v1::ImportRecord record;
  v1::Entity* entity = record.mutable_entity();
  entity->mutable_key()->set_type(v1::CATEGORY);
  entity->mutable_key()->set_id(*id);
  entity->set_name(segments.back());
  (*entity->mutable_attributes())["path"] = path;
  (*entity->mutable_attributes())["level"] = absl::StrCat(segments.size());
  records->push_back(std::move(record));
  if (parent != 0) {
    v1::ImportRecord link;
    v1::Edge* edge = link.mutable_edge();
    edge->mutable_src()->set_type(v1::CATEGORY);
    edge->mutable_src()->set_id(*id);
    edge->set_type(v1::SUBCATEGORY_OF);
    edge->mutable_dst()->set_type(v1::CATEGORY);
    edge->mutable_dst()->set_id(parent);
    records->push_back(std::move(link));
  }
  return absl::OkStatus();
}

}  // namespace kg
