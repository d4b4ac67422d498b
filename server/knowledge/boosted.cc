#include "server/knowledge/boosted.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/knowledge/bytes.h"

namespace kg::knowledge {
namespace {

// 1: XGBoost's own UBJSON model (no longer read: XGBoost's loader is not safe against
// damaged bytes); 2: the trees as data (forest.h).
constexpr uint64_t kEncodingVersion = 2;

absl::Status XgbError(absl::string_view what) {
  return absl::InternalError(absl::StrCat("xgboost: ", what, ": ", XGBGetLastError()));
}

// A dense matrix for XGBoost (rows of `columns` values; NaN is missing), freed on scope
// exit.
class Matrix {
 public:
  Matrix(const std::vector<std::vector<float>>& x, size_t columns) {
    data_.reserve(x.size() * columns);
    for (const auto& row : x) {
      for (size_t j = 0; j < columns; ++j) {
        data_.push_back(j < row.size() ? row[j] : std::numeric_limits<float>::quiet_NaN());
      }
    }
    ok_ = XGDMatrixCreateFromMat(data_.data(), x.size(), columns,
                                 std::numeric_limits<float>::quiet_NaN(), &handle_) == 0;
  }
  ~Matrix() {
    if (ok_) XGDMatrixFree(handle_);
  }
  Matrix(const Matrix&) = delete;
  Matrix& operator=(const Matrix&) = delete;
  bool ok() const { return ok_; }
  DMatrixHandle handle() const { return handle_; }

 private:
  std::vector<float> data_;
  DMatrixHandle handle_ = nullptr;
  bool ok_ = false;
};

}  // namespace

GradientBoosted::~GradientBoosted() {
  if (booster_ != nullptr) XGBoosterFree(booster_);
}

absl::StatusOr<std::unique_ptr<GradientBoosted>> GradientBoosted::Fit(
    const std::vector<std::vector<float>>& x, const std::vector<float>& y, const Params& params,
    const std::atomic<bool>* cancel, const std::vector<float>* weights) {
  if (x.empty() || x.size() != y.size() || x[0].empty()) {
    return absl::InvalidArgumentError("boosted trees: need rows with features and one label each");
  }
  const size_t columns = x[0].size();
  for (const auto& row : x) {
    if (row.size() != columns) {
      return absl::InvalidArgumentError("boosted trees: rows of different lengths");
    }
  }
  Matrix train(x, columns);
  if (!train.ok()) return XgbError("creating the training matrix");
  if (XGDMatrixSetFloatInfo(train.handle(), "label", y.data(), y.size()) != 0) {
    return XgbError("setting labels");
  }
  if (weights != nullptr) {
    if (weights->size() != y.size()) {
      return absl::InvalidArgumentError("boosted trees: one weight per row");
    }
    if (XGDMatrixSetFloatInfo(train.handle(), "weight", weights->data(), weights->size()) != 0) {
      return XgbError("setting weights");
    }
  }
  std::unique_ptr<GradientBoosted> model(new GradientBoosted());
  model->features_ = columns;
  DMatrixHandle dmats[] = {train.handle()};
  if (XGBoosterCreate(dmats, 1, &model->booster_) != 0) return XgbError("creating the booster");
  const std::vector<std::pair<std::string, std::string>> settings = {
      {"objective", params.regression ? "reg:squarederror" : "binary:logistic"},
      {"tree_method", "hist"},
      {"max_depth", absl::StrCat(params.max_depth)},
      {"eta", absl::StrCat(params.eta)},
      {"min_child_weight", absl::StrCat(params.min_child_weight)},
      {"lambda", absl::StrCat(params.lambda)},
      {"seed", absl::StrCat(params.seed)},
      {"nthread", absl::StrCat(params.threads)},
      {"verbosity", "0"},
  };
  for (const auto& [name, value] : settings) {
    if (XGBoosterSetParam(model->booster_, name.c_str(), value.c_str()) != 0) {
      return XgbError(absl::StrCat("setting ", name));
    }
  }
  for (int round = 0; round < params.rounds; ++round) {
    if (cancel != nullptr && cancel->load()) {
      return absl::CancelledError("boosted trees: training cancelled");
    }
    if (XGBoosterUpdateOneIter(model->booster_, round, train.handle()) != 0) {
      return XgbError("training");
    }
  }
  // The trees as data, for Encode: read once here, so that a model XGBoost writes in a
  // way forest.h does not take fails its training, not its installation.
  bst_ulong len = 0;
  const char* json = nullptr;
  if (XGBoosterSaveModelToBuffer(model->booster_, R"({"format": "json"})", &len, &json) != 0) {
    return XgbError("saving the model");
  }
  absl::StatusOr<Forest> forest = FromXgboostJson(absl::string_view(json, len));
  if (!forest.ok()) return absl::InternalError(forest.status().message());
  model->forest_ = std::move(*forest);
  // Predict walks the trees itself (forest.h): it must agree with XGBoost's own
  // prediction, checked here on training rows so that an XGBoost whose trees mean
  // something else fails training, not serving.
  const size_t check = std::min<size_t>(x.size(), 256);
  const std::vector<std::vector<float>> sample(x.begin(), x.begin() + check);
  size_t width = 0;
  const std::vector<float> theirs = model->Run(sample, 0, &width);
  const std::vector<double> ours = model->Predict(sample);
  if (theirs.size() != ours.size()) return XgbError("predicting");
  for (size_t i = 0; i < ours.size(); ++i) {
    if (!(std::fabs(ours[i] - theirs[i]) <= 1e-5 * std::max(1.0, std::fabs(ours[i])))) {
      return absl::InternalError(absl::StrCat("boosted trees: the trees predict ", ours[i],
                                              " for training row ", i, ", XGBoost ", theirs[i]));
    }
  }
  return model;
}

std::vector<float> GradientBoosted::Run(const std::vector<std::vector<float>>& x, int option_mask,
                                        size_t* columns) const {
  std::vector<float> out;
  *columns = 0;
  if (x.empty()) return out;
  Matrix m(x, features_);
  if (!m.ok()) return out;
  std::lock_guard<std::mutex> lock(mu_);
  if (booster_ == nullptr && !Load().ok()) return out;
  bst_ulong len = 0;
  const float* result = nullptr;
  if (XGBoosterPredict(booster_, m.handle(), option_mask, 0, 0, &len, &result) != 0) return out;
  out.assign(result, result + len);
  *columns = len / x.size();
  return out;
}

std::vector<double> GradientBoosted::Predict(const std::vector<std::vector<float>>& x) const {
  std::vector<double> out;
  out.reserve(x.size());
  std::vector<float> row;
  for (const auto& r : x) {
    if (r.size() >= features_) {
      out.push_back(ForestPredict(forest_, r.data()));
      continue;
    }
    // As the matrix XGBoost is given: a short row is padded with missing values.
    row.assign(features_, std::numeric_limits<float>::quiet_NaN());
    std::copy(r.begin(), r.end(), row.begin());
    out.push_back(ForestPredict(forest_, row.data()));
  }
  return out;
}

std::vector<std::vector<double>> GradientBoosted::Contributions(
    const std::vector<std::vector<float>>& x) const {
  size_t columns = 0;
  std::vector<float> raw = Run(x, 4, &columns);
  std::vector<std::vector<double>> out;
  if (columns == 0) return out;
  for (size_t r = 0; r < x.size(); ++r) {
    out.emplace_back(raw.begin() + r * columns, raw.begin() + (r + 1) * columns);
  }
  return out;
}

std::string GradientBoosted::Encode() const {
  ByteWriter w;
  w.Varint(kEncodingVersion);
  w.Varint(features_);
  w.Bytes(EncodeForest(forest_));
  return std::move(w.str());
}

absl::Status GradientBoosted::Load() const {
  const std::string json = ToXgboostJson(forest_);
  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(nullptr, 0, &booster) != 0) return XgbError("creating a booster");
  if (XGBoosterLoadModelFromBuffer(booster, json.data(), json.size()) != 0 ||
      XGBoosterSetParam(booster, "nthread", "1") != 0) {
    XGBoosterFree(booster);
    return XgbError("loading the trees");
  }
  booster_ = booster;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<GradientBoosted>> GradientBoosted::Decode(absl::string_view bytes) {
  auto bad = [](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("boosted trees: ", what));
  };
  ByteReader r(bytes);
  uint64_t version = 0, features = 0;
  absl::string_view forest_bytes;
  if (!r.Varint(&version)) return bad("damaged encoding");
  if (version == 1) {
    return bad(
        "a model of an earlier release, in XGBoost's own format, which is no longer read "
        "(XGBoost's loader is not safe against damaged bytes): run TrainModels again");
  }
  if (version != kEncodingVersion) return bad("unknown encoding version");
  if (!r.Varint(&features) || !r.Bytes(&forest_bytes) || !r.done()) {
    return bad("damaged encoding");
  }
  absl::StatusOr<Forest> forest = DecodeForest(forest_bytes);
  if (!forest.ok()) return forest.status();
  if (forest->features != features) return bad("feature counts differ");
  std::unique_ptr<GradientBoosted> model(new GradientBoosted());
  model->features_ = features;
  model->forest_ = std::move(*forest);
  return model;
}

}  // namespace kg::knowledge
