// The Google Product Taxonomy reader (client/importer/taxonomy.h), line by line as kgctl
// import reads a taxonomy file. Every record it yields must pass the importer's check and
// the server's validation; the category tree built from them (server/knowledge/taxonomy.h,
// as training builds it from the graph) has each category at the depth of its `level`
// attribute, and survives its encoding (decode(encode(t)) encodes the same).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "client/importer/taxonomy.h"
#include "fuzz/fuzz_util.h"
#include "server/knowledge/taxonomy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  kg::TaxonomyParser parser;
  std::vector<kg::v1::ImportRecord> all;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<kg::v1::ImportRecord> records;
    if (!parser.ParseLine(line, &records).ok()) {
      KG_FUZZ_CHECK(records.empty(), "a refused line yielded records");
      continue;
    }
    kg::fuzz::CheckImportable(records, "the taxonomy reader");
    all.insert(all.end(), records.begin(), records.end());
  }

  // The tree: names and levels from the entities, parents from the edges.
  std::vector<kg::knowledge::CategoryRecord> categories;
  absl::flat_hash_map<uint64_t, uint64_t> parent;
  absl::flat_hash_map<uint64_t, int> level;
  for (const kg::v1::ImportRecord& r : all) {
    if (r.has_edge()) {
      KG_FUZZ_CHECK(r.edge().type() == kg::v1::SUBCATEGORY_OF, "not a SUBCATEGORY_OF edge");
      KG_FUZZ_CHECK(parent.emplace(r.edge().src().id(), r.edge().dst().id()).second,
                    "a category with two parents");
      continue;
    }
    auto it = r.entity().attributes().find("level");
    int depth = 0;
    KG_FUZZ_CHECK(it != r.entity().attributes().end() && absl::SimpleAtoi(it->second, &depth),
                  "a category without a numeric level");
    level[r.entity().key().id()] = depth;
    categories.push_back({r.entity().key().id(), r.entity().name(), 0});
  }
  for (auto& c : categories) {
    auto it = parent.find(c.id);
    if (it != parent.end()) c.parent = it->second;
  }
  const kg::knowledge::Taxonomy tree = kg::knowledge::Taxonomy::Build(categories);
  KG_FUZZ_CHECK(tree.size() == categories.size(), "categories lost in the tree");
  KG_FUZZ_CHECK(tree.cut_cycles() == 0, "the reader made a cycle");
  for (const auto& [id, depth] : level) {
    KG_FUZZ_CHECK(tree.depth(id) == depth, "a category's depth is not its level");
  }
  const std::string bytes = tree.Encode();
  absl::StatusOr<kg::knowledge::Taxonomy> decoded = kg::knowledge::Taxonomy::Decode(bytes);
  KG_FUZZ_CHECK(decoded.ok(), "an encoded taxonomy does not decode");
  KG_FUZZ_CHECK(decoded->Encode() == bytes, "the taxonomy encoding is not a round trip");
  return 0;
}
