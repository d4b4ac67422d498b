// Parses Google Product Taxonomy files (lines "ID - A > B > C" after a
// "# Google_Product_Taxonomy_Version" comment) into CATEGORY entities (id, name = last
// segment, attributes path and level) and SUBCATEGORY_OF edges child -> parent. Parents
// must come before their children, as in Google's files. Thread-compatible.
#ifndef KG_CLIENT_IMPORTER_TAXONOMY_H_
#define KG_CLIENT_IMPORTER_TAXONOMY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kg/v1/types.pb.h"

namespace kg {

class TaxonomyParser {
 public:
  // Parses one line (without its line break). Blank lines and '#' comments give no record.
  // Returns INVALID_ARGUMENT (the reason) for a malformed line, a bad or repeated id, a
  // repeated path, or a parent path not defined on an earlier line; nothing is appended then.
  absl::Status ParseLine(absl::string_view line, std::vector<v1::ImportRecord>* records);

 private:
  absl::flat_hash_map<std::string, uint64_t> id_by_path_;
  absl::flat_hash_map<uint64_t, int64_t> line_by_id_;
  int64_t lines_ = 0;
};

}  // namespace kg

#endif  // KG_CLIENT_IMPORTER_TAXONOMY_H_
