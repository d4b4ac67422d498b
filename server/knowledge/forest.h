// Forest: gradient-boosted trees as plain data, the form GradientBoosted keeps them in in
// the model bundle. XGBoost's own model loader trusts its input (mutated model bytes make
// it read and write out of bounds), so a bundle never hands XGBoost bytes it read: the
// trees are decoded and checked here (every array its node count long, children after
// their parent forming one tree, feature indices in range, finite values, bounded depth),
// predictions walk the checked trees here (ForestPredict), and XGBoost loads a JSON
// document written from them (ToXgboostJson) only for SHAP contributions.
// FromXgboostJson reads the JSON XGBoost 1.7 writes for a model of ours.
#ifndef KG_SERVER_KNOWLEDGE_FOREST_H_
#define KG_SERVER_KNOWLEDGE_FOREST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kg::knowledge {

struct ForestTree {
  // Per node. A leaf has left = right = -1 and its value in split_condition.
  std::vector<int32_t> left, right;
  std::vector<uint32_t> split_index;
  std::vector<float> split_condition, base_weight, loss_change, sum_hessian;
  std::vector<uint8_t> default_left;  // 0 or 1
};

struct Forest {
  enum class Objective : uint8_t { kLogistic = 0, kSquaredError = 1 };
  Objective objective = Objective::kLogistic;
  float base_score = 0.5f;
  uint32_t features = 0;
  std::vector<ForestTree> trees;
};

// The checks a forest must pass (INVALID_ARGUMENT naming what is wrong).
inline constexpr uint32_t kMaxForestFeatures = 100000;
inline constexpr size_t kMaxTreeNodes = 1 << 20;
inline constexpr size_t kMaxTreeDepth = 64;
absl::Status CheckForest(const Forest& forest);

// The JSON model XGBoost 1.7 writes (XGBoosterSaveModelToBuffer, format "json") of a
// single-target gbtree model with the objectives above; numbers are read as float32
// directly from their text.
absl::StatusOr<Forest> FromXgboostJson(absl::string_view json);
// A JSON model XGBoost 1.7 loads; the forest must pass CheckForest.
std::string ToXgboostJson(const Forest& forest);

// The model's output for one row of `forest.features` values (NaN: missing) as XGBoost
// computes it: from the root, a missing value takes the node's default child, any other
// goes left when below the split condition; the base margin plus each tree's leaf, summed
// in float in tree order; for the logistic objective through the sigmoid (a probability).
// The forest must pass CheckForest.
float ForestMargin(const Forest& forest, const float* row);
float ForestPredict(const Forest& forest, const float* row);

std::string EncodeForest(const Forest& forest);
// DATA_LOSS when the bytes are not an encoded forest or the forest fails CheckForest.
absl::StatusOr<Forest> DecodeForest(absl::string_view bytes);

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_FOREST_H_
