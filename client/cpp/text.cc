#include "client/cpp/text.h"

#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kg {
namespace {

// All valid names of an enum (without its 0 "unspecified" value), for error messages.
template <typename Descriptor>
std::string ValidNames(const Descriptor* descriptor) {
  std::string names;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    if (descriptor->value(i)->number() == 0) continue;
    absl::StrAppend(&names, names.empty() ? "" : ", ", descriptor->value(i)->name());
  }
  return names;
}

}  // namespace

absl::StatusOr<v1::EntityType> ParseEntityType(absl::string_view text) {
  std::string upper = absl::AsciiStrToUpper(text);
  v1::EntityType type = v1::ENTITY_TYPE_UNSPECIFIED;
  if (!v1::EntityType_Parse(upper, &type) || type == v1::ENTITY_TYPE_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat("unknown entity type \"", text,
                                                   "\"; want one of ",
                                                   ValidNames(v1::EntityType_descriptor())));
  }
  return type;
}

absl::StatusOr<v1::EntityKey> ParseEntityKey(absl::string_view text) {
  size_t colon = text.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad entity key \"", text, "\": want TYPE:ID, e.g. PRODUCT:123"));
  }
  absl::string_view type_text = text.substr(0, colon);
  absl::string_view id_text = text.substr(colon + 1);
  absl::StatusOr<v1::EntityType> type = ParseEntityType(type_text);
  if (!type.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad entity key \"", text, "\": ", type.status().message()));
  }
  uint64_t id = 0;
  bool digits_only =
      !id_text.empty() && id_text.find_first_not_of("0123456789") == absl::string_view::npos;
  if (!digits_only || !absl::SimpleAtoi(id_text, &id) || id == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad entity key \"", text, "\": id \"", id_text,
                     "\" is not a decimal number in 1..18446744073709551615"));
  }
  v1::EntityKey key;
  key.set_type(*type);
  key.set_id(id);
  return key;
}

std::string FormatEntityKey(const v1::EntityKey& key) {
  return absl::StrCat(v1::EntityType_Name(key.type()), ":", key.id());
}

absl::StatusOr<v1::EdgeType> ParseEdgeType(absl::string_view text) {
  std::string upper = absl::AsciiStrToUpper(text);
  for (char& c : upper) {
    if (c == '-') c = '_';
  }
  v1::EdgeType type = v1::EDGE_TYPE_UNSPECIFIED;
  if (!v1::EdgeType_Parse(upper, &type) || type == v1::EDGE_TYPE_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat("unknown edge type \"", text, "\"; want one of ",
                                                   ValidNames(v1::EdgeType_descriptor())));
  }
  return type;
}

absl::StatusOr<v1::Direction> ParseDirection(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "out") return v1::OUT;
  if (lower == "in") return v1::IN;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown direction \"", text, "\"; want out or in"));
}

}  // namespace kg
