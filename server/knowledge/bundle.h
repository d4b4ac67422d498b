// ModelBundle: everything TrainModels builds, as one versioned, checksummed file that
// every partition server installs (docs/KNOWLEDGE.md, "The model bundle").
//
//   "KGMODEL\n" | varint format | sections | FNV-1a 64 of all before it (8 bytes, LE)
//   a section: name (varint length + bytes) | payload (varint length + bytes)
//   sections: "meta" (version, created_ms, validation figures), "taxonomy", "categorizer",
//   "brands" (BRAND ids and names, so a partition can name a product's brand locally),
//   "brand_recognizer", "attributes", "spu_matcher" (absent from bundles of earlier
//   versions; the matcher also when the graph had too few SPUs)
#ifndef KG_SERVER_KNOWLEDGE_BUNDLE_H_
#define KG_SERVER_KNOWLEDGE_BUNDLE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/knowledge/attributes.h"
#include "server/knowledge/brands.h"
#include "server/knowledge/categorizer.h"
#include "server/knowledge/spu_matcher.h"
#include "server/knowledge/taxonomy.h"

namespace kg::knowledge {

struct ModelBundle {
  std::string version;  // unique per training run, e.g. "20261130-104512-3f2a9c1e"
  int64_t created_ms = 0;
  ValidationFigures categorizer_figures;
  std::shared_ptr<const Taxonomy> taxonomy;
  std::shared_ptr<const Categorizer> categorizer;
  // BRAND id -> name, as the graph had them at training time.
  absl::flat_hash_map<uint64_t, std::string> brands;
  // Null in bundles written before they existed.
  std::shared_ptr<const BrandRecognizer> brand_recognizer;
  std::shared_ptr<const AttributeExtractor> attributes;
  // Null without SPUs to learn from (and in bundles written before it existed).
  std::shared_ptr<const SpuMatcher> spu_matcher;
};

std::string EncodeBundle(const ModelBundle& bundle);

// DATA_LOSS naming `source` (e.g. the file) when the bytes are damaged (checksum), of
// another format, or do not decode.
absl::StatusOr<ModelBundle> DecodeBundle(absl::string_view bytes, absl::string_view source);

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_BUNDLE_H_
