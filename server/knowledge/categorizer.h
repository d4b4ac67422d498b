// Categorizer: a product (title, description, brand, attributes) -> the taxonomy's
// categories, with calibrated confidences. Learned from the graph's labelled products:
//   - fastText text classifiers over normalised title and description tokens, word n-grams,
//     a brand token and attribute tokens: a coarse one over the taxonomy's first levels and
//     a fine one that refines the prediction inside the coarse category's subtree;
//   - the brand's category distribution in the training data, as a prior weighted on the
//     validation slice (0 when it does not help);
//   - the nearest labelled products (TF-IDF over title tokens and brand): their categories,
//     mixed in with a weight chosen on the validation slice;
//   - the taxonomy: a prediction is always a root-to-leaf path; the decoding (flat argmax,
//     or top-down along the subtree with the most probability) is chosen on the
//     validation slice;
//   - confidences calibrated by isotonic regression on the validation slice (products the
//     text model never trained on): of predictions with confidence c, about c are right.
// Plain C++ (fastText, Abseil); knows nothing of partitions or RPCs. Immutable after
// Train/Decode, so Predict is thread-safe.
#ifndef KG_SERVER_KNOWLEDGE_CATEGORIZER_H_
#define KG_SERVER_KNOWLEDGE_CATEGORIZER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/knowledge/learn.h"
#include "server/knowledge/neighbors.h"
#include "server/knowledge/taxonomy.h"

namespace fasttext {
class DenseMatrix;
class FastText;
}  // namespace fasttext

namespace kg::knowledge {

class FastTextModel;  // fasttext::FastText read from and written to memory (categorizer.cc)

// What is known of a product.
struct ProductInput {
  std::string title;
  std::string description;
  std::string brand;
  std::vector<std::pair<std::string, std::string>> attributes;
};

// A product stored in the graph as the models see it, for training and serving alike: its
// name as the title, its "description" attribute, its other attributes (sorted by name) and
// its brand's name.
ProductInput StoredProduct(std::string name,
                           std::vector<std::pair<std::string, std::string>> attributes,
                           std::string brand);

struct LabelledProduct {
  ProductInput input;
  uint64_t category = 0;  // the category the product is IN_CATEGORY of
};

// Training settings. The defaults are the documented defaults of TrainModels.
struct CategorizerParams {
  int epoch = 25;
  double learning_rate = 0.5;
  int word_ngrams = 2;
  int dim = 64;
  int min_count = 1;
  int buckets = 200000;    // hash buckets of word n-grams
  int char_ngram_min = 0;  // 0: no character n-grams
  int char_ngram_max = 0;
  // Two text models: a coarse one places a product in the first `coarse_depth` levels of
  // the taxonomy (where every category has data), a fine one refines below that, learning
  // each product under the deepest category of its path with at least
  // `min_label_examples` training products in its subtree (rare categories back off to
  // their parents), never deeper than `max_label_depth` levels (0: no limit).
  int coarse_depth = 3;
  int min_label_examples = 10;
  int max_label_depth = 0;
  double validation_share = 0.1;  // held out for tuning and calibration
  uint64_t seed = 1;
  // Text models trained side by side: 1 trains the coarse model, then the fine one; 2 both
  // at once (in about the time of the longer one, on a second core). Each model is trained by one
  // thread either way, so a seed gives the same models whatever this is.
  int threads = 1;
};

// Figures measured on the validation slice.
struct ValidationFigures {
  uint64_t train_examples = 0;
  uint64_t validation_examples = 0;
  uint64_t skipped_examples = 0;            // labelled with a category outside the taxonomy
  uint64_t labels = 0;                      // distinct categories learned
  double accuracy_at_depth[3] = {0, 0, 0};  // top-1, first 1/2/3 levels equal
  double leaf_accuracy = 0;                 // top-1, the exact category
  double brand_weight = 0;                  // chosen weight of the brand prior
  double neighbor_weight = 0;               // chosen weight of the nearest products
  double fine_weight = 0;                   // chosen share of the fine model at the coarse level
  bool top_down = false;                    // chosen decoding
  // Of validation predictions with calibrated confidence >= 0.9: how many, and the share
  // that were right.
  uint64_t confident_predictions = 0;
  double confident_accuracy = 0;
};

struct CategoryScore {
  uint64_t category = 0;
  // Calibrated probability that the product belongs to this category (is in it or in one
  // of its descendants).
  double confidence = 0;
};

class Categorizer {
 public:
  // `fraction` in 0..1 and a stage name.
  using Progress = std::function<void(double fraction, absl::string_view stage)>;

  // FAILED_PRECONDITION when fewer than kMinExamples products (or fewer than 2 categories)
  // are usable, saying how many were found; INTERNAL when fastText fails.
  static constexpr size_t kMinExamples = 20;
  // When `cancel` becomes true, training stops within about 100 ms with CANCELLED.
  // `figures` (required) gets the validation figures.
  static absl::StatusOr<std::unique_ptr<Categorizer>> Train(
      std::shared_ptr<const Taxonomy> taxonomy, const std::vector<LabelledProduct>& examples,
      const CategorizerParams& params, const Progress& progress, ValidationFigures* figures,
      const std::atomic<bool>* cancel = nullptr);
  ~Categorizer();

  // The best `top_k` categories, best first (the first is the decoded path's end).
  std::vector<CategoryScore> Predict(const ProductInput& input, int top_k) const;

  const Taxonomy& taxonomy() const { return *taxonomy_; }
  // The coarse text model's probability of each of its labels for a title alone (the
  // label prior when it knows none of its words): context for the other models.
  std::vector<double> TitleDistribution(absl::string_view title) const;
  size_t coarse_labels() const { return label_category_.size(); }
  // A title's vector: the mean of the coarse text model's rows for its words and word
  // n-grams, of unit length (empty when the model knows none of them). Thread-safe.
  std::vector<float> Embed(absl::string_view title) const;
  // The length of Embed's vectors.
  size_t embedding_dim() const;
  const std::vector<double>& label_prior() const { return label_prior_; }

  std::string Encode() const;
  // DATA_LOSS when the bytes are not an encoded categorizer.
  static absl::StatusOr<std::unique_ptr<Categorizer>> Decode(
      absl::string_view bytes, std::shared_ptr<const Taxonomy> taxonomy);

 private:
  Categorizer();
  bool has_fine() const { return fine_.fasttext != nullptr; }
  // A product normalised once: the text models' line (title and description tokens, brand
  // and attribute tokens), the neighbour index's tokens (title and brand), the brand.
  struct Prepared {
    std::string line;
    std::vector<std::string> neighbor_tokens;
    std::string brand;
  };
  static Prepared Prepare(const ProductInput& input);
  // A fastText softmax classifier read directly (its matrices), so that a prediction
  // scores only the labels it needs: the hidden vector of a line (the mean of its word and
  // word n-gram rows), then softmax over all labels or over a subset of them.
  struct TextModel {
    std::unique_ptr<FastTextModel> fasttext;
    std::shared_ptr<const fasttext::DenseMatrix> input, output;  // set by Bind()
    void Bind();
    // The input rows of a line: its known words and its word n-grams' hash buckets.
    std::vector<int32_t> Rows(const std::string& line) const;
    // The mean of the rows (empty for no rows).
    std::vector<float> Hidden(const std::vector<int32_t>& rows) const;
    // p(label) for every label.
    std::vector<double> Softmax(const std::vector<float>& hidden) const;
    // p(label | label in subset) for each label of `subset`, in its order.
    std::vector<double> Softmax(const std::vector<float>& hidden,
                                const std::vector<int>& subset) const;
  };
  // What the models say of a product, before the tuned weights combine it.
  struct Evidence {
    std::vector<double> text;  // coarse text model, per label
    std::vector<double> near;  // nearest products' labels (empty: none)
    std::string brand;         // normalised brand
    std::vector<float> fine;   // fine text model's hidden vector (empty: none)
    // The fine model's probabilities summed per coarse label (empty: not gathered).
    std::vector<double> fine_coarse;
  };
  // How the evidence is combined, chosen on the validation slice.
  struct Weights {
    double brand = 0;     // the brand prior's exponent
    double neighbor = 0;  // the nearest products' share
    double fine = 0;      // the fine model's share at the coarse level
    bool top_down = false;
  };
  // `fine_coarse`: also sum the fine model's full distribution per coarse label.
  Evidence Gather(const ProductInput& input, bool fine_coarse) const;
  // The coarse labels' probabilities with the fine model, the nearest products and the
  // brand prior mixed in.
  std::vector<double> Mix(const Evidence& evidence, const Weights& w) const;

  // The decoded best label and the ranking of the rest.
  std::vector<std::pair<int, double>> Rank(const std::vector<double>& q, bool top_down,
                                           int top_k) const;
  // The deepest category under coarse label `label`'s category the fine model prefers (or
  // that category itself), and its share of the fine model's probability within the
  // subtree.
  std::pair<uint64_t, double> Refine(int label, const std::vector<float>& fine) const;
  // Coarse ranking refined: (category, raw score) best first.
  std::vector<std::pair<uint64_t, double>> Decide(const Evidence& evidence, const Weights& w,
                                                  int top_k) const;
  absl::Status IndexLabels(const fasttext::FastText& model, std::vector<uint64_t>* out) const;
  // Precomputes what prediction needs from the labels and the taxonomy (after training or
  // decoding): the subtree nodes, and the fine labels under each coarse label.
  void Index();

  std::shared_ptr<const Taxonomy> taxonomy_;
  TextModel model_;
  std::vector<uint64_t> label_category_;  // fastText label index -> category id
  TextModel fine_;                        // no fasttext when the coarse labels are the finest
  std::vector<uint64_t> fine_category_;
  // The categories on the coarse labels' paths as dense nodes: the labels in each node's
  // subtree, ascending (for subtree mass; node n's are subtree_labels_[subtree_start_[n] ..
  // subtree_start_[n + 1]), in one array for the per-call loop), each node's children and
  // label (-1: none), the roots.
  std::vector<int> subtree_start_, subtree_labels_;
  std::vector<std::vector<int>> node_children_;
  std::vector<int> node_label_, root_nodes_;
  // Fine label indices within each coarse label's subtree; each fine label's coarse label
  // (-1: a fine label above the coarse levels).
  std::vector<std::vector<int>> fine_within_;
  std::vector<int> fine_to_coarse_;
  // The fine model's input row of each coarse model row, when both models have the same
  // vocabulary and buckets (they are trained on the same lines): a line is then read once.
  std::vector<int32_t> fine_row_;
  // Brand (normalised) -> (label index, count) in the training slice; label totals.
  absl::flat_hash_map<std::string, std::vector<std::pair<int, uint32_t>>> brand_counts_;
  std::vector<double> label_prior_;
  // The nearest labelled training products (by coarse label).
  NeighborIndex neighbors_;
  Weights weights_;
  // Raw score -> calibrated confidence (isotonic, on the validation slice).
  Isotonic calibration_;
};

}  // namespace kg::knowledge

#endif  // KG_SERVER_KNOWLEDGE_CATEGORIZER_H_
