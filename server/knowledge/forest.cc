#include "server/knowledge/forest.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/knowledge/bytes.h"

namespace kg::knowledge {
namespace {

constexpr uint64_t kForestEncoding = 1;

const char* ObjectiveName(Forest::Objective o) {
  return o == Forest::Objective::kLogistic ? "binary:logistic" : "reg:squarederror";
}

// --- A small JSON reader: numbers keep their text, so floats convert exactly. ---

struct Json {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  std::string text;  // a number's or a string's text
  std::vector<Json> items;
  std::map<std::string, Json> fields;
};

class JsonReader {
 public:
  explicit JsonReader(absl::string_view in) : in_(in) {}
  bool Document(Json* out) {
    if (!Value(out, 0)) return false;
    Space();
    return pos_ == in_.size();
  }

 private:
  static constexpr int kMaxDepth = 32;
  void Space() {
    while (pos_ < in_.size() && absl::ascii_isspace(static_cast<unsigned char>(in_[pos_]))) ++pos_;
  }
  bool Eat(char c) {
    Space();
    if (pos_ < in_.size() && in_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool String(std::string* out) {
    if (!Eat('"')) return false;
    while (pos_ < in_.size() && in_[pos_] != '"') {
      if (in_[pos_] == '\\') return false;  // XGBoost's model has no escapes
      out->push_back(in_[pos_++]);
    }
    return pos_++ < in_.size();
  }
  bool Value(Json* out, int depth) {
    if (depth > kMaxDepth) return false;
    Space();
    if (pos_ >= in_.size()) return false;
    const char c = in_[pos_];
    if (c == '{') {
      ++pos_;
      out->type = Json::Type::kObject;
      if (Eat('}')) return true;
      do {
        std::string key;
        Json value;
        if (!String(&key) || !Eat(':') || !Value(&value, depth + 1)) return false;
        if (!out->fields.emplace(std::move(key), std::move(value)).second) return false;
      } while (Eat(','));
      return Eat('}');
    }
    if (c == '[') {
      ++pos_;
      out->type = Json::Type::kArray;
      if (Eat(']')) return true;
      do {
        out->items.emplace_back();
        if (!Value(&out->items.back(), depth + 1)) return false;
      } while (Eat(','));
      return Eat(']');
    }
    if (c == '"') {
      out->type = Json::Type::kString;
      return String(&out->text);
    }
    for (absl::string_view word : {"true", "false", "null"}) {
      if (in_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        out->type = word == "null" ? Json::Type::kNull : Json::Type::kBool;
        out->text = std::string(word);
        return true;
      }
    }
    const size_t start = pos_;
    while (pos_ < in_.size() && std::strchr("+-0123456789.eE", in_[pos_]) != nullptr) ++pos_;
    if (pos_ == start) return false;
    out->type = Json::Type::kNumber;
    out->text = std::string(in_.substr(start, pos_ - start));
    return true;
  }

  absl::string_view in_;
  size_t pos_ = 0;
};

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("xgboost model: ", what));
}

const Json* Field(const Json& j, const char* name) {
  if (j.type != Json::Type::kObject) return nullptr;
  auto it = j.fields.find(name);
  return it == j.fields.end() ? nullptr : &it->second;
}

// A path of object fields ("learner", "gradient_booster", ...).
const Json* Path(const Json& j, std::initializer_list<const char*> names) {
  const Json* at = &j;
  for (const char* name : names) {
    at = at == nullptr ? nullptr : Field(*at, name);
  }
  return at;
}

// A number, or a string holding one (XGBoost writes its parameters as strings).
bool AsFloat(const Json* j, float* out) {
  return j != nullptr && (j->type == Json::Type::kNumber || j->type == Json::Type::kString) &&
         absl::SimpleAtof(j->text, out);
}
bool AsInt(const Json* j, int64_t* out) {
  return j != nullptr && (j->type == Json::Type::kNumber || j->type == Json::Type::kString) &&
         absl::SimpleAtoi(j->text, out);
}

template <typename T, typename Convert>
absl::Status ReadArray(const Json& tree, const char* name, size_t n, Convert convert,
                       std::vector<T>* out) {
  const Json* a = Field(tree, name);
  if (a == nullptr || a->type != Json::Type::kArray || a->items.size() != n) {
    return Bad(absl::StrCat("tree field ", name, " missing or not ", n, " long"));
  }
  out->resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (!convert(&a->items[i], &(*out)[i])) return Bad(absl::StrCat("tree field ", name));
  }
  return absl::OkStatus();
}

bool ToInt32(const Json* j, int32_t* out) {
  int64_t v = 0;
  if (!AsInt(j, &v) || v < INT32_MIN || v > INT32_MAX) return false;
  *out = static_cast<int32_t>(v);
  return true;
}
bool ToUint32(const Json* j, uint32_t* out) {
  int64_t v = 0;
  if (!AsInt(j, &v) || v < 0 || v > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}
bool ToBit(const Json* j, uint8_t* out) {
  int64_t v = 0;
  if (j != nullptr && j->type == Json::Type::kBool) {
    *out = j->text == "true" ? 1 : 0;
    return true;
  }
  if (!AsInt(j, &v) || (v != 0 && v != 1)) return false;
  *out = static_cast<uint8_t>(v);
  return true;
}

// --- Writing the JSON XGBoost loads. ---

// A float32 with the digits that read back to it, always with a point or an exponent (so
// XGBoost reads a number, not an integer).
void AppendFloat(std::string* out, float f) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(f));
  out->append(buf);
  if (std::strpbrk(buf, ".e") == nullptr) out->append(".0");
}

template <typename T, typename Append>
void AppendArray(std::string* out, const char* name, const std::vector<T>& v, Append append) {
  absl::StrAppend(out, "\"", name, "\":[");
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out->push_back(',');
    append(out, v[i]);
  }
  out->append("],");
}

}  // namespace

float ForestMargin(const Forest& f, const float* row) {
  // XGBoost's ProbToMargin for the logistic objective; the base score itself otherwise.
  float margin = f.objective == Forest::Objective::kLogistic ? -std::log(1.0f / f.base_score - 1.0f)
                                                             : f.base_score;
  for (const ForestTree& tree : f.trees) {
    int32_t node = 0;
    // CheckForest: children come after their parent and are in range, so this ends.
    while (tree.left[node] != -1) {
      const float v = row[tree.split_index[node]];
      if (std::isnan(v)) {
        node = tree.default_left[node] ? tree.left[node] : tree.right[node];
      } else {
        node = v < tree.split_condition[node] ? tree.left[node] : tree.right[node];
      }
    }
    margin += tree.split_condition[node];
  }
  return margin;
}

float ForestPredict(const Forest& f, const float* row) {
  const float margin = ForestMargin(f, row);
  return f.objective == Forest::Objective::kLogistic ? 1.0f / (1.0f + std::exp(-margin)) : margin;
}

absl::Status CheckForest(const Forest& f) {
  if (f.objective != Forest::Objective::kLogistic &&
      f.objective != Forest::Objective::kSquaredError) {
    return Bad("unknown objective");
  }
  if (!std::isfinite(f.base_score) ||
      (f.objective == Forest::Objective::kLogistic && !(f.base_score > 0 && f.base_score < 1))) {
    return Bad("base score out of range");  // logistic: a probability in (0, 1)
  }
  if (f.features == 0 || f.features > kMaxForestFeatures) return Bad("feature count out of range");
  if (f.trees.empty()) return Bad("no trees");
  for (size_t t = 0; t < f.trees.size(); ++t) {
    const ForestTree& tree = f.trees[t];
    const size_t n = tree.left.size();
    auto bad = [t](absl::string_view what) { return Bad(absl::StrCat("tree ", t, ": ", what)); };
    if (n == 0 || n > kMaxTreeNodes) return bad("node count out of range");
    if (tree.right.size() != n || tree.split_index.size() != n ||
        tree.split_condition.size() != n || tree.base_weight.size() != n ||
        tree.loss_change.size() != n || tree.sum_hessian.size() != n ||
        tree.default_left.size() != n) {
      return bad("fields of different lengths");
    }
    // Every node below the root is some node's child exactly once, after it in the order,
    // and the root reaches every node: one tree, no cycle. Depth by node.
    std::vector<uint32_t> depth(n, 0);
    std::vector<uint8_t> has_parent(n, 0);
    for (size_t i = 0; i < n; ++i) {
      const int32_t l = tree.left[i], r = tree.right[i];
      if (!std::isfinite(tree.split_condition[i]) || !std::isfinite(tree.base_weight[i]) ||
          !std::isfinite(tree.loss_change[i]) || !std::isfinite(tree.sum_hessian[i])) {
        return bad("a value is not finite");
      }
      if (tree.default_left[i] > 1) return bad("default_left not 0 or 1");
      if (l == -1 && r == -1) continue;  // a leaf
      if (i > 0 && !has_parent[i]) return bad("a node before its parent");
      if (l <= static_cast<int64_t>(i) || r <= static_cast<int64_t>(i) ||
          l >= static_cast<int64_t>(n) || r >= static_cast<int64_t>(n) || l == r) {
        return bad("children out of order or range");
      }
      if (tree.split_index[i] >= f.features) return bad("split feature out of range");
      for (int32_t c : {l, r}) {
        if (has_parent[c]) return bad("a node with two parents");
        has_parent[c] = 1;
        depth[c] = depth[i] + 1;
        if (depth[c] > kMaxTreeDepth) return bad("deeper than allowed");
      }
    }
    for (size_t i = 1; i < n; ++i) {
      if (!has_parent[i]) return bad("a node not reached from the root");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Forest> FromXgboostJson(absl::string_view text) {
  Json doc;
  if (!JsonReader(text).Document(&doc)) return Bad("not JSON");
  Forest f;
  const Json* objective = Path(doc, {"learner", "objective", "name"});
  if (objective == nullptr || objective->type != Json::Type::kString) return Bad("no objective");
  if (objective->text == "binary:logistic") {
    f.objective = Forest::Objective::kLogistic;
  } else if (objective->text == "reg:squarederror") {
    f.objective = Forest::Objective::kSquaredError;
  } else {
    return Bad(absl::StrCat("objective ", objective->text, " not supported"));
  }
  const Json* param = Path(doc, {"learner", "learner_model_param"});
  int64_t features = 0, num_class = -1, num_target = -1;
  if (!AsFloat(Field(*param, "base_score"), &f.base_score) ||
      !AsInt(Field(*param, "num_feature"), &features) || features <= 0 ||
      features > kMaxForestFeatures || !AsInt(Field(*param, "num_class"), &num_class) ||
      num_class != 0 || !AsInt(Field(*param, "num_target"), &num_target) || num_target != 1) {
    return Bad("learner_model_param");
  }
  f.features = static_cast<uint32_t>(features);
  const Json* booster = Path(doc, {"learner", "gradient_booster"});
  const Json* name = booster == nullptr ? nullptr : Field(*booster, "name");
  const Json* trees = Path(doc, {"learner", "gradient_booster", "model", "trees"});
  if (name == nullptr || name->text != "gbtree" || trees == nullptr ||
      trees->type != Json::Type::kArray) {
    return Bad("not a gbtree model");
  }
  for (const Json& t : trees->items) {
    int64_t nodes = 0, deleted = -1;
    if (!AsInt(Path(t, {"tree_param", "num_nodes"}), &nodes) || nodes <= 0 ||
        nodes > static_cast<int64_t>(kMaxTreeNodes) ||
        !AsInt(Path(t, {"tree_param", "num_deleted"}), &deleted) || deleted != 0) {
      return Bad("tree_param");
    }
    const Json* categories = Field(t, "categories");
    if (categories == nullptr || !categories->items.empty()) return Bad("categorical splits");
    const size_t n = static_cast<size_t>(nodes);
    ForestTree tree;
    std::vector<uint32_t> split_type;
    absl::Status s = ReadArray(t, "left_children", n, ToInt32, &tree.left);
    if (s.ok()) s = ReadArray(t, "right_children", n, ToInt32, &tree.right);
    if (s.ok()) s = ReadArray(t, "split_indices", n, ToUint32, &tree.split_index);
    if (s.ok()) s = ReadArray(t, "split_conditions", n, AsFloat, &tree.split_condition);
    if (s.ok()) s = ReadArray(t, "base_weights", n, AsFloat, &tree.base_weight);
    if (s.ok()) s = ReadArray(t, "loss_changes", n, AsFloat, &tree.loss_change);
    if (s.ok()) s = ReadArray(t, "sum_hessian", n, AsFloat, &tree.sum_hessian);
    if (s.ok()) s = ReadArray(t, "default_left", n, ToBit, &tree.default_left);
    if (s.ok()) s = ReadArray(t, "split_type", n, ToUint32, &split_type);
    if (!s.ok()) return s;
    for (uint32_t type : split_type) {
      if (type != 0) return Bad("categorical splits");
    }
    f.trees.push_back(std::move(tree));
  }
  absl::Status checked = CheckForest(f);
  if (!checked.ok()) return checked;
  return f;
}

std::string ToXgboostJson(const Forest& f) {
  std::string out;
  out.reserve(64 * 1024);
  auto ints = [](std::string* o, int64_t v) { absl::StrAppend(o, v); };
  auto floats = [](std::string* o, float v) { AppendFloat(o, v); };
  absl::StrAppend(&out, R"({"learner":{"attributes":{},"feature_names":[],"feature_types":[],)",
                  R"("gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1",)",
                  R"("num_trees":")", f.trees.size(), R"(","size_leaf_vector":"0"},"tree_info":[)");
  for (size_t t = 0; t < f.trees.size(); ++t) out.append(t == 0 ? "0" : ",0");
  out.append(R"(],"trees":[)");
  for (size_t t = 0; t < f.trees.size(); ++t) {
    const ForestTree& tree = f.trees[t];
    const size_t n = tree.left.size();
    std::vector<int64_t> parents(n, 2147483647);
    for (size_t i = 0; i < n; ++i) {
      if (tree.left[i] >= 0) parents[tree.left[i]] = static_cast<int64_t>(i);
      if (tree.right[i] >= 0) parents[tree.right[i]] = static_cast<int64_t>(i);
    }
    std::vector<int64_t> zeros(n, 0);
    out.append(t == 0 ? "{" : ",{");
    AppendArray(&out, "base_weights", tree.base_weight, floats);
    out.append(R"("categories":[],"categories_nodes":[],"categories_segments":[],)"
               R"("categories_sizes":[],)");
    AppendArray(&out, "default_left", tree.default_left, ints);
    absl::StrAppend(&out, "\"id\":", t, ",");
    AppendArray(&out, "left_children", tree.left, ints);
    AppendArray(&out, "loss_changes", tree.loss_change, floats);
    AppendArray(&out, "parents", parents, ints);
    AppendArray(&out, "right_children", tree.right, ints);
    AppendArray(&out, "split_conditions", tree.split_condition, floats);
    AppendArray(&out, "split_indices", tree.split_index, ints);
    AppendArray(&out, "split_type", zeros, ints);
    AppendArray(&out, "sum_hessian", tree.sum_hessian, floats);
    absl::StrAppend(&out, R"("tree_param":{"num_deleted":"0","num_feature":")", f.features,
                    R"(","num_nodes":")", n, R"(","size_leaf_vector":"0"}})");
  }
  std::string base_score;
  AppendFloat(&base_score, f.base_score);
  absl::StrAppend(&out, R"(]},"name":"gbtree"},"learner_model_param":{"base_score":")", base_score,
                  R"(","boost_from_average":"1","num_class":"0","num_feature":")", f.features,
                  R"(","num_target":"1"},"objective":{"name":")", ObjectiveName(f.objective),
                  R"(","reg_loss_param":{"scale_pos_weight":"1"}}},"version":[1,7,4]})");
  return out;
}

std::string EncodeForest(const Forest& f) {
  ByteWriter w;
  w.Varint(kForestEncoding);
  w.Varint(static_cast<uint64_t>(f.objective));
  w.Float(f.base_score);
  w.Varint(f.features);
  w.Varint(f.trees.size());
  for (const ForestTree& t : f.trees) {
    w.Varint(t.left.size());
    for (size_t i = 0; i < t.left.size(); ++i) {
      // Children as offsets past the node (0 for a leaf): small numbers.
      w.Varint(t.left[i] < 0 ? 0 : static_cast<uint64_t>(t.left[i]) - i);
      w.Varint(t.right[i] < 0 ? 0 : static_cast<uint64_t>(t.right[i]) - i);
      w.Varint(t.split_index[i]);
      w.Varint(t.default_left[i]);
      w.Float(t.split_condition[i]);
      w.Float(t.base_weight[i]);
      w.Float(t.loss_change[i]);
      w.Float(t.sum_hessian[i]);
    }
  }
  return std::move(w.str());
}

absl::StatusOr<Forest> DecodeForest(absl::string_view bytes) {
  auto bad = [](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("boosted trees: ", what));
  };
  ByteReader r(bytes);
  Forest f;
  uint64_t version = 0, objective = 0, features = 0, trees = 0;
  if (!r.Varint(&version) || version != kForestEncoding) return bad("unknown forest encoding");
  if (!r.Varint(&objective) || objective > 1 || !r.Float(&f.base_score) || !r.Varint(&features) ||
      features > kMaxForestFeatures || !r.Varint(&trees) || trees > r.left()) {
    return bad("damaged forest header");
  }
  f.objective = static_cast<Forest::Objective>(objective);
  f.features = static_cast<uint32_t>(features);
  f.trees.resize(trees);
  for (ForestTree& t : f.trees) {
    uint64_t n = 0;
    // A node takes at least 20 bytes.
    if (!r.Varint(&n) || n == 0 || n > kMaxTreeNodes || n > r.left() / 20) {
      return bad("damaged tree");
    }
    t.left.resize(n);
    t.right.resize(n);
    t.split_index.resize(n);
    t.default_left.resize(n);
    t.split_condition.resize(n);
    t.base_weight.resize(n);
    t.loss_change.resize(n);
    t.sum_hessian.resize(n);
    for (size_t i = 0; i < n; ++i) {
      uint64_t l = 0, rr = 0, index = 0, default_left = 0;
      if (!r.Varint(&l) || !r.Varint(&rr) || !r.Varint(&index) || !r.Varint(&default_left) ||
          l >= n || rr >= n || index > UINT32_MAX || default_left > 1 ||
          !r.Float(&t.split_condition[i]) || !r.Float(&t.base_weight[i]) ||
          !r.Float(&t.loss_change[i]) || !r.Float(&t.sum_hessian[i])) {
        return bad("damaged tree node");
      }
      if ((l == 0) != (rr == 0) || l + i >= n || rr + i >= n) return bad("damaged tree node");
      t.left[i] = l == 0 ? -1 : static_cast<int32_t>(i + l);
      t.right[i] = rr == 0 ? -1 : static_cast<int32_t>(i + rr);
      t.split_index[i] = static_cast<uint32_t>(index);
      t.default_left[i] = static_cast<uint8_t>(default_left);
    }
  }
  if (!r.done()) return bad("trailing bytes");
  absl::Status checked = CheckForest(f);
  if (!checked.ok()) return bad(checked.message());
  return f;
}

}  // namespace kg::knowledge
