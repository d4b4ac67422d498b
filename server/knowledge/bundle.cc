#include "server/knowledge/bundle.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/knowledge/bytes.h"

namespace kg::knowledge {
namespace {

constexpr absl::string_view kMagic = "KGMODEL\n";
constexpr uint64_t kFormat = 1;

std::string EncodeMeta(const ModelBundle& b) {
  ByteWriter w;
  w.Bytes(b.version);
  w.Varint(static_cast<uint64_t>(b.created_ms));
  const ValidationFigures& f = b.categorizer_figures;
  for (uint64_t v : {f.train_examples, f.validation_examples, f.skipped_examples, f.labels,
                     f.confident_predictions, static_cast<uint64_t>(f.top_down)}) {
    w.Varint(v);
  }
  for (double v : {f.accuracy_at_depth[0], f.accuracy_at_depth[1], f.accuracy_at_depth[2],
                   f.leaf_accuracy, f.brand_weight, f.confident_accuracy, f.neighbor_weight}) {
    w.Double(v);
  }
  return std::move(w.str());
}

bool DecodeMeta(absl::string_view bytes, ModelBundle* b) {
  ByteReader r(bytes);
  uint64_t created = 0, top_down = 0;
  ValidationFigures& f = b->categorizer_figures;
  return r.String(&b->version) && r.Varint(&created) && r.Varint(&f.train_examples) &&
         r.Varint(&f.validation_examples) && r.Varint(&f.skipped_examples) && r.Varint(&f.labels) &&
         r.Varint(&f.confident_predictions) && r.Varint(&top_down) &&
         r.Double(&f.accuracy_at_depth[0]) && r.Double(&f.accuracy_at_depth[1]) &&
         r.Double(&f.accuracy_at_depth[2]) && r.Double(&f.leaf_accuracy) &&
         r.Double(&f.brand_weight) && r.Double(&f.confident_accuracy) &&
         r.Double(&f.neighbor_weight) && r.done() &&
         (b->created_ms = static_cast<int64_t>(created), f.top_down = top_down != 0, true);
}

}  // namespace

std::string EncodeBundle(const ModelBundle& bundle) {
  ByteWriter w;
  w.str().append(kMagic.data(), kMagic.size());
  w.Varint(kFormat);
  w.Bytes("meta");
  w.Bytes(EncodeMeta(bundle));
  w.Bytes("taxonomy");
  w.Bytes(bundle.taxonomy->Encode());
  w.Bytes("categorizer");
  w.Bytes(bundle.categorizer->Encode());
  ByteWriter brands;
  std::vector<std::pair<uint64_t, const std::string*>> sorted;
  for (const auto& [id, name] : bundle.brands) sorted.emplace_back(id, &name);
  std::sort(sorted.begin(), sorted.end());
  brands.Varint(sorted.size());
  for (const auto& [id, name] : sorted) {
    brands.Varint(id);
    brands.Bytes(*name);
  }
  w.Bytes("brands");
  w.Bytes(brands.str());
  if (bundle.brand_recognizer != nullptr) {
    w.Bytes("brand_recognizer");
    w.Bytes(bundle.brand_recognizer->Encode());
  }
  if (bundle.attributes != nullptr) {
    w.Bytes("attributes");
    w.Bytes(bundle.attributes->Encode());
  }
  if (bundle.spu_matcher != nullptr) {
    w.Bytes("spu_matcher");
    w.Bytes(bundle.spu_matcher->Encode());
  }
  uint64_t sum = Fnv1a64(w.str());
  char tail[8];
  std::memcpy(tail, &sum, 8);
  w.str().append(tail, 8);
  return std::move(w.str());
}

absl::StatusOr<ModelBundle> DecodeBundle(absl::string_view bytes, absl::string_view source) {
  auto bad = [source](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("model bundle ", source, ": ", what));
  };
  if (bytes.size() < kMagic.size() + 8 || bytes.substr(0, kMagic.size()) != kMagic) {
    return bad("not a model bundle (no KGMODEL header)");
  }
  uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  absl::string_view body = bytes.substr(0, bytes.size() - 8);
  if (Fnv1a64(body) != stored) return bad("checksum mismatch (the file is damaged)");
  ByteReader r(body.substr(kMagic.size()));
  uint64_t format = 0;
  if (!r.Varint(&format) || format != kFormat) {
    return bad(
        absl::StrCat("unknown format ", format, " (this server reads format ", kFormat, ")"));
  }
  ModelBundle b;
  absl::string_view meta, taxonomy, categorizer, brands, recognizer, attributes;
  absl::string_view matcher;
  bool has_recognizer = false, has_attributes = false, has_matcher = false;
  while (!r.done()) {
    absl::string_view name, payload;
    if (!r.Bytes(&name) || !r.Bytes(&payload)) return bad("truncated section");
    if (name == "meta") meta = payload;
    if (name == "taxonomy") taxonomy = payload;
    if (name == "categorizer") categorizer = payload;
    if (name == "brands") brands = payload;
    if (name == "brand_recognizer") recognizer = payload, has_recognizer = true;
    if (name == "attributes") attributes = payload, has_attributes = true;
    if (name == "spu_matcher") matcher = payload, has_matcher = true;
  }
  if (meta.empty() || !DecodeMeta(meta, &b)) return bad("missing or damaged meta section");
  absl::StatusOr<Taxonomy> t = Taxonomy::Decode(taxonomy);
  if (!t.ok()) return bad(t.status().message());
  b.taxonomy = std::make_shared<const Taxonomy>(std::move(*t));
  absl::StatusOr<std::unique_ptr<Categorizer>> c = Categorizer::Decode(categorizer, b.taxonomy);
  if (!c.ok()) return bad(c.status().message());
  b.categorizer = std::move(*c);
  ByteReader br(brands);
  uint64_t count = 0;
  if (!br.Varint(&count) || count > brands.size()) return bad("missing or damaged brands section");
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t id = 0;
    std::string name;
    if (!br.Varint(&id) || !br.String(&name)) return bad("damaged brands section");
    b.brands[id] = std::move(name);
  }
  // Bundles of earlier trainings may lack these two sections: their RPCs then say so.
  if (has_recognizer) {
    absl::StatusOr<std::unique_ptr<BrandRecognizer>> br = BrandRecognizer::Decode(recognizer);
    if (!br.ok()) return bad(br.status().message());
    b.brand_recognizer = std::move(*br);
  }
  if (has_attributes) {
    absl::StatusOr<std::unique_ptr<AttributeExtractor>> ax = AttributeExtractor::Decode(attributes);
    if (!ax.ok()) return bad(ax.status().message());
    b.attributes = std::move(*ax);
  }
  if (has_matcher) {
    absl::StatusOr<std::unique_ptr<SpuMatcher>> m =
        SpuMatcher::Decode(matcher, b.attributes, b.categorizer.get());
    if (!m.ok()) return bad(m.status().message());
    b.spu_matcher = std::move(*m);
  }
  return b;
}

}  // namespace kg::knowledge
