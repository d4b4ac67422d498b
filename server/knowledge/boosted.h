// GradientBoosted: gradient-boosted trees for a binary or a real outcome (XGBoost's C API,
// `libxgboost-dev`), for the learned scorers of the knowledge models (the SPU matcher's
// pair scorer, the drivers of a product's performance): fit on dense float features,
// predict probabilities, explain a prediction by per-feature contributions to its log-odds
// (SHAP values, which add up to the prediction's margin), and encode to / decode from
// bytes for the model bundle. Deterministic for a seed with one thread. Predict walks the
// trees itself (forest.h; checked against XGBoost's prediction when training), lock-free;
// Contributions asks XGBoost, loading the trees into a booster on first use, serialised by
// a mutex (XGBoost's prediction buffers belong to the booster). One model may be shared
// by threads.
#ifndef KG_SERVER_KNOWLEDGE_BOOSTED_H_
#define KG_SERVER_KNOWLEDGE_BOOSTED_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/knowledge/forest.h"

namespace kg::knowledge {

class GradientBoosted {
 public:
  struct Params {
    int rounds = 200;  // trees
    int max_depth = 6;
    double eta = 0.1;  // learning rate
    double min_child_weight = 1;
    double lambda = 1;  // L2 on leaf weights
    uint64_t seed = 1;
    int threads = 1;  // 1: deterministic
    // Squared-error regression of a real label instead of binary log-loss: Predict then
    // returns the predicted value and Contributions add up to it.
    bool regression = false;
  };

  // `x`: rows of equal length (at least one feature), `y`: 0 or 1 per row (any value for
  // a regression). INVALID_ARGUMENT
  // for shapes that do not fit, INTERNAL with XGBoost's message when it fails, CANCELLED
  // when `cancel` becomes true (checked between trees).
  // `weights` (optional, one per row) weigh the rows' losses, e.g. by how many
  // observations a row's label averages.
  static absl::StatusOr<std::unique_ptr<GradientBoosted>> Fit(
      const std::vector<std::vector<float>>& x, const std::vector<float>& y, const Params& params,
      const std::atomic<bool>* cancel = nullptr, const std::vector<float>* weights = nullptr);
  ~GradientBoosted();
  GradientBoosted(const GradientBoosted&) = delete;
  GradientBoosted& operator=(const GradientBoosted&) = delete;

  size_t features() const { return features_; }
  // p(y = 1) per row (rows must have features() values; a NaN is a missing value).
  std::vector<double> Predict(const std::vector<std::vector<float>>& x) const;
  // Per row: each feature's contribution to the log-odds, then the bias (features() + 1
  // values, summing to the row's log-odds).
  std::vector<std::vector<double>> Contributions(const std::vector<std::vector<float>>& x) const;

  // The trees as data (forest.h): XGBoost never reads a bundle's bytes, only a model
  // written from trees that passed CheckForest.
  std::string Encode() const;
  // DATA_LOSS when the bytes are not an encoded model (or one of an earlier release, which
  // kept XGBoost's own format: train again).
  static absl::StatusOr<std::unique_ptr<GradientBoosted>> Decode(absl::string_view bytes);

 private:
  GradientBoosted() = default;
  // XGBoost's C API: `option_mask` 0 for probabilities, 4 for contributions; loads the
  // booster first if there is none. Empty when XGBoost fails.
  std::vector<float> Run(const std::vector<std::vector<float>>& x, int option_mask,
                         size_t* columns) const;

  // Loads forest_ (checked) into booster_; mu_ held.
  absl::Status Load() const;

  mutable void* booster_ = nullptr;  // BoosterHandle: trained, or loaded by Run
  size_t features_ = 0;
  Forest forest_;
  mutable std::mutex mu_;
};

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_BOOSTED_H_
