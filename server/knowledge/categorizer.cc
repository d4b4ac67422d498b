#include "server/knowledge/categorizer.h"

#include <fasttext/fasttext.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "server/knowledge/bytes.h"
#include "server/knowledge/learn.h"
#include "server/knowledge/text.h"

namespace kg::knowledge {

// fastText 0.9 reads and writes models through files only: loadModel(filename) checks the
// header (magic and version) and reads the rest from the stream, saveModel(filename) writes
// the header, the arguments, the dictionary and the two matrices. This does the same in
// memory, so loading a bundle needs no temporary files (a read-only file system will do)
// and costs no file system calls. The unit tests check that the bytes are a file fastText
// itself loads and saves identically.
class FastTextModel : public fasttext::FastText {
 public:
  // Throws as loadModel does (std::invalid_argument) on a wrong header.
  void Load(absl::string_view bytes) {
    ViewBuffer buffer(bytes);
    std::istream in(&buffer);
    if (!checkModel(in)) throw std::invalid_argument("not a fastText model of this version");
    loadModel(in);
  }
  std::string Save() {
    std::ostringstream out(std::ios::binary);
    signModel(out);
    args_->save(out);
    dict_->save(out);
    out.write(reinterpret_cast<const char*>(&quant_), sizeof(bool));
    input_->save(out);
    out.write(reinterpret_cast<const char*>(&args_->qout), sizeof(bool));
    output_->save(out);
    return out.str();
  }

 private:
  // An input stream buffer over bytes that stay alive and unchanged meanwhile (no copy).
  class ViewBuffer : public std::streambuf {
   public:
    explicit ViewBuffer(absl::string_view bytes) {
      char* begin = const_cast<char*>(bytes.data());  // only read
      setg(begin, begin, begin + bytes.size());
    }
  };
};

namespace {

constexpr char kLabelPrefix[] = "__label__";
constexpr size_t kMaxDescriptionTokens = 64;
constexpr int kEncodingVersion = 4;  // 3: without the fine weight
constexpr size_t kNeighbors = 10;
// The largest blending weight a decoded categorizer may carry (training picks them from
// small grids in [0, 1]).
constexpr double kMaxWeight = 100;

// A token without spaces for a phrase: "hot wheels" -> "hot_wheels".
std::string Joined(absl::string_view text) {
  return absl::StrReplaceAll(NormalizeText(text), {{" ", "_"}});
}

// A private temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = absl::StrCat(base != nullptr && *base ? base : "/tmp", "/kg_ft.XXXXXX");
    if (::mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  bool ok() const { return !path_.empty(); }
  std::string File(absl::string_view name) const { return absl::StrCat(path_, "/", name); }

 private:
  std::string path_;
};

// Checks a fastText model file (fastText 0.9's format: magic and version, Args, the
// Dictionary, the input and output matrices) against its bytes before fastText reads it.
// fastText trusts the file: it reads a dictionary word up to a NUL byte even past the end
// (growing it without bound), allocates matrices of the sizes written, divides by the
// bucket count and indexes rows by word and label ids. A bundle's checksum only detects
// damage, so the layout is checked here, accepting only what Train writes: a dense,
// unpruned supervised softmax model whose matrices match its dictionary and dimension.
absl::Status CheckTextModel(absl::string_view bytes) {
  auto bad = [](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("categorizer: a text model is damaged: ", what));
  };
  absl::string_view in = bytes;
  auto read = [&in](auto* v) {
    if (in.size() < sizeof(*v)) return false;
    std::memcpy(v, in.data(), sizeof(*v));
    in.remove_prefix(sizeof(*v));
    return true;
  };
  int32_t magic = 0, version = 0;
  if (!read(&magic) || !read(&version) || magic != 793712314 || version < 11 || version > 12) {
    return bad("not a fastText model of a known version");
  }
  // Args: dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn, maxn,
  // lrUpdateRate (int32 each), t (double).
  int32_t args[12];
  double t = 0;
  for (int32_t& a : args) {
    if (!read(&a)) return bad("truncated settings");
  }
  if (!read(&t)) return bad("truncated settings");
  const int32_t dim = args[0], word_ngrams = args[5], loss = args[6], model = args[7];
  const int32_t bucket = args[8], minn = args[9], maxn = args[10];
  // Train writes softmax models (loss 3, read by Softmax here). For the other losses
  // fastText builds structures from the label counts as written: for hierarchical softmax
  // (loss 1) a Huffman tree that assumes sorted counts, and other counts loop it, growing a
  // path until memory runs out (fuzz/corpus/fuzz_bundle/oom-fasttext-hierarchical-softmax).
  if (dim < 1 || dim > 10000 || word_ngrams < 1 || word_ngrams > 100 ||
      loss != static_cast<int32_t>(fasttext::loss_name::softmax) || model != 3 || bucket < 0 ||
      minn < 0 || maxn < minn || maxn > 100 || ((word_ngrams > 1 || maxn > 0) && bucket == 0)) {
    return bad("settings out of range");
  }
  int32_t size = 0, nwords = 0, nlabels = 0;
  int64_t ntokens = 0, pruneidx_size = 0;
  if (!read(&size) || !read(&nwords) || !read(&nlabels) || !read(&ntokens) ||
      !read(&pruneidx_size)) {
    return bad("truncated dictionary");
  }
  if (nwords < 0 || nlabels < 1 || static_cast<int64_t>(nwords) + nlabels != size ||
      (pruneidx_size != -1 && pruneidx_size != 0)) {
    return bad("inconsistent dictionary sizes");
  }
  for (int32_t i = 0; i < size; ++i) {
    const size_t nul = in.find('\0');
    int64_t count = 0;
    int8_t type = 0;
    if (nul == absl::string_view::npos) return bad("truncated dictionary");
    in.remove_prefix(nul + 1);
    if (!read(&count) || !read(&type)) return bad("truncated dictionary");
    if (count < 1 || type != (i < nwords ? 0 : 1)) return bad("bad dictionary entry");
  }
  // Each matrix: a "quantized" flag (must be 0), rows and columns (int64), the floats.
  auto matrix = [&](int64_t rows) {
    uint8_t quantized = 1;
    int64_t m = 0, n = 0;
    if (!read(&quantized) || quantized != 0 || !read(&m) || !read(&n) || m != rows || n != dim ||
        static_cast<uint64_t>(m) * static_cast<uint64_t>(n) > in.size() / sizeof(float)) {
      return false;
    }
    in.remove_prefix(static_cast<size_t>(m * n) * sizeof(float));
    return true;
  };
  if (!matrix(static_cast<int64_t>(nwords) + bucket)) return bad("bad input matrix");
  if (!matrix(nlabels)) return bad("bad output matrix");
  if (!in.empty()) return bad("trailing bytes");
  return absl::OkStatus();
}

}  // namespace

ProductInput StoredProduct(std::string name,
                           std::vector<std::pair<std::string, std::string>> attributes,
                           std::string brand) {
  ProductInput in;
  in.title = std::move(name);
  in.brand = std::move(brand);
  for (auto& [key, value] : attributes) {
    if (key == "description") {
      in.description = std::move(value);
    } else {
      in.attributes.emplace_back(std::move(key), std::move(value));
    }
  }
  std::sort(in.attributes.begin(), in.attributes.end());
  return in;
}

Categorizer::Categorizer() { model_.fasttext = std::make_unique<FastTextModel>(); }
Categorizer::~Categorizer() = default;

Categorizer::Prepared Categorizer::Prepare(const ProductInput& input) {
  Prepared p;
  std::string title = NormalizeText(input.title);
  p.brand = Joined(input.brand);
  p.neighbor_tokens = absl::StrSplit(title, ' ', absl::SkipEmpty());
  if (!p.brand.empty()) p.neighbor_tokens.push_back("__brand__" + p.brand);
  p.line = std::move(title);
  std::vector<std::string> desc = Tokenize(input.description);
  if (desc.size() > kMaxDescriptionTokens) desc.resize(kMaxDescriptionTokens);
  if (!desc.empty()) absl::StrAppend(&p.line, " ", absl::StrJoin(desc, " "));
  if (!p.brand.empty()) absl::StrAppend(&p.line, " __brand__", p.brand);
  for (const auto& [name, value] : input.attributes) {
    std::string n = Joined(name), v = Joined(value);
    if (!n.empty() && !v.empty() && v.size() <= 64) {
      absl::StrAppend(&p.line, " __attr__", n, "__", v);
    }
  }
  return p;
}

absl::Status Categorizer::IndexLabels(const fasttext::FastText& model,
                                      std::vector<uint64_t>* out) const {
  auto dict = model.getDictionary();
  out->assign(dict->nlabels(), 0);
  for (int32_t i = 0; i < dict->nlabels(); ++i) {
    std::string label = dict->getLabel(i);
    uint64_t id = 0;
    if (label.rfind(kLabelPrefix, 0) != 0 ||
        !absl::SimpleAtoi(absl::string_view(label).substr(sizeof kLabelPrefix - 1), &id) ||
        !taxonomy_->Contains(id)) {
      return absl::DataLossError(
          absl::StrCat("categorizer: label \"", label, "\" is not a category of the taxonomy"));
    }
    (*out)[i] = id;
  }
  return absl::OkStatus();
}

void Categorizer::TextModel::Bind() {
  input = fasttext->getInputMatrix();
  output = fasttext->getOutputMatrix();
}

std::vector<int32_t> Categorizer::TextModel::Rows(const std::string& line) const {
  std::istringstream in(line + "\n");
  std::vector<int32_t> rows, unused;
  fasttext->getDictionary()->getLine(in, rows, unused);
  return rows;
}

namespace {

// The inner loops of inference, each compiled twice: for AVX2 and for the baseline x86-64
// (the loader picks one for the machine at start-up). AVX2 without FMA: eight lanes
// instead of four, the same float operations in the same order, lane by lane (no fused
// multiply-add, which rounds differently).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KG_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define KG_VECTOR_CLONES
#endif

// Eight floats, added and multiplied lane by lane (GCC's vector extension: one AVX2
// register or two SSE ones), each lane exactly as a float would be.
typedef float Lanes __attribute__((vector_size(8 * sizeof(float))));

// Adds the products of sixteen floats at `r` with x's two halves to a row's accumulators.
// Always inlined: the accumulators stay in registers in each clone of DotRows.
inline __attribute__((always_inline)) void Accumulate(const float* r, const Lanes& xa,
                                                      const Lanes& xb, Lanes* a, Lanes* b) {
  Lanes ra, rb;
  std::memcpy(&ra, r, sizeof ra);
  std::memcpy(&rb, r + 8, sizeof rb);
  *a += ra * xa;
  *b += rb * xb;
}

// The dot products of matrix rows with a vector: rows `rows[i]` (all of them when `rows` is
// null) into `out[i]`. Sixteen partial sums per row (two groups of eight lanes), four rows
// at a time: independent vector accumulators, so the additions do not wait on each other
// (with one accumulator, the latency of each addition bound the whole softmax). Each row's
// sum is formed in the same order whichever rows go with it and whichever clone runs.
KG_VECTOR_CLONES void DotRows(const float* matrix, int64_t dim, const int* rows, size_t n,
                              const float* x, double* out) {
  constexpr int64_t kLanes = 16;
  const int64_t body = dim - dim % kLanes;
  auto row = [&](size_t i) {
    return matrix + (rows == nullptr ? static_cast<int64_t>(i) : rows[i]) * dim;
  };
  for (size_t i = 0; i < n; i += 4) {
    // A short last group repeats its first row (computed again, not stored).
    const size_t group = std::min<size_t>(4, n - i);
    const float* r[4] = {row(i), row(group > 1 ? i + 1 : i), row(group > 2 ? i + 2 : i),
                         row(group > 3 ? i + 3 : i)};
    Lanes a0{}, b0{}, a1{}, b1{}, a2{}, b2{}, a3{}, b3{};
    for (int64_t j = 0; j < body; j += kLanes) {
      Lanes xa, xb;  // x's two halves
      std::memcpy(&xa, x + j, sizeof xa);
      std::memcpy(&xb, x + j + 8, sizeof xb);
      Accumulate(r[0] + j, xa, xb, &a0, &b0);
      Accumulate(r[1] + j, xa, xb, &a1, &b1);
      Accumulate(r[2] + j, xa, xb, &a2, &b2);
      Accumulate(r[3] + j, xa, xb, &a3, &b3);
    }
    const Lanes a[4] = {a0, a1, a2, a3}, b[4] = {b0, b1, b2, b3};
    for (size_t q = 0; q < group; ++q) {
      float tail = 0;
      for (int64_t j = body; j < dim; ++j) tail += r[q][j] * x[j];
      // Lanes k and k + 4 of each half, then the four sums pairwise.
      float h[4];
      for (int k = 0; k < 4; ++k) h[k] = (a[q][k] + a[q][k + 4]) + (b[q][k] + b[q][k + 4]);
      out[i + q] = ((h[0] + h[1]) + (h[2] + h[3])) + tail;
    }
  }
}

// The sum of matrix rows `rows` into `sum` (`dim` floats, zeroed by the caller).
KG_VECTOR_CLONES void SumRows(const float* matrix, int64_t dim, const int32_t* rows, size_t n,
                              float* sum) {
  for (size_t i = 0; i < n; ++i) {
    const float* r = matrix + static_cast<int64_t>(rows[i]) * dim;
    for (int64_t j = 0; j < dim; ++j) sum[j] += r[j];
  }
}

#undef KG_VECTOR_CLONES

// Softmax of logits, in place. The exponentials in single precision (the logits are
// single-precision dot products; glibc's expf costs a third of exp), the sum in double.
void SoftmaxInPlace(std::vector<double>* z) {
  if (z->empty()) return;
  const double top = *std::max_element(z->begin(), z->end());
  double sum = 0;
  for (double& v : *z) sum += (v = std::exp(static_cast<float>(v - top)));
  for (double& v : *z) v /= sum;
}

}  // namespace

std::vector<float> Categorizer::TextModel::Hidden(const std::vector<int32_t>& rows) const {
  std::vector<float> hidden;
  if (rows.empty()) return hidden;
  const int64_t dim = input->cols();
  hidden.assign(static_cast<size_t>(dim), 0.0f);
  SumRows(input->data(), dim, rows.data(), rows.size(), hidden.data());
  const float scale = 1.0f / static_cast<float>(rows.size());
  for (float& v : hidden) v *= scale;
  return hidden;
}

std::vector<double> Categorizer::TextModel::Softmax(const std::vector<float>& hidden) const {
  std::vector<double> z(static_cast<size_t>(output->rows()));
  DotRows(output->data(), output->cols(), nullptr, z.size(), hidden.data(), z.data());
  SoftmaxInPlace(&z);
  return z;
}

std::vector<double> Categorizer::TextModel::Softmax(const std::vector<float>& hidden,
                                                    const std::vector<int>& subset) const {
  std::vector<double> z(subset.size());
  DotRows(output->data(), output->cols(), subset.data(), z.size(), hidden.data(), z.data());
  SoftmaxInPlace(&z);
  return z;
}

void Categorizer::Index() {
  const Taxonomy& t = *taxonomy_;
  absl::flat_hash_map<uint64_t, int> node_of;
  auto node = [&](uint64_t category) {
    auto [it, added] = node_of.emplace(category, static_cast<int>(node_label_.size()));
    if (added) {
      node_label_.push_back(-1);
      node_children_.emplace_back();
    }
    return it->second;
  };
  std::vector<std::vector<int>> subtree;  // node -> labels, ascending
  for (size_t l = 0; l < label_category_.size(); ++l) {
    int below = -1;
    for (uint64_t a = label_category_[l]; a != 0; a = t.parent(a)) {
      const size_t before = node_label_.size();
      const int n = node(a);
      const bool added = node_label_.size() > before;
      if (a == label_category_[l]) node_label_[n] = static_cast<int>(l);
      if (below >= 0 && std::find(node_children_[n].begin(), node_children_[n].end(), below) ==
                            node_children_[n].end()) {
        node_children_[n].push_back(below);
      }
      if (added && t.parent(a) == 0) root_nodes_.push_back(n);
      if (subtree.size() <= static_cast<size_t>(n)) subtree.resize(n + 1);
      subtree[n].push_back(static_cast<int>(l));
      below = n;
    }
  }
  subtree_start_.assign(1, 0);
  subtree_labels_.clear();
  for (const std::vector<int>& labels : subtree) {
    subtree_labels_.insert(subtree_labels_.end(), labels.begin(), labels.end());
    subtree_start_.push_back(static_cast<int>(subtree_labels_.size()));
  }
  fine_row_.clear();
  if (has_fine()) {
    auto coarse = model_.fasttext->getDictionary(), fine = fine_.fasttext->getDictionary();
    const int64_t words = coarse->nwords();
    if (fine->nwords() == words && fine_.input->rows() == model_.input->rows()) {
      fine_row_.resize(static_cast<size_t>(model_.input->rows()));
      for (int64_t r = 0; r < model_.input->rows(); ++r) {
        fine_row_[r] = r < words ? fine->getId(coarse->getWord(static_cast<int32_t>(r)))
                                 : static_cast<int32_t>(r);  // a bucket: the same row
        if (fine_row_[r] < 0) {  // another vocabulary: each model reads the line
          fine_row_.clear();
          break;
        }
      }
    }
  }
  fine_within_.assign(label_category_.size(), {});
  fine_to_coarse_.assign(fine_category_.size(), -1);
  for (size_t f = 0; f < fine_category_.size(); ++f) {
    for (uint64_t a = fine_category_[f]; a != 0; a = t.parent(a)) {
      auto it = node_of.find(a);
      if (it != node_of.end() && node_label_[it->second] >= 0) {
        fine_within_[node_label_[it->second]].push_back(static_cast<int>(f));
        if (fine_to_coarse_[f] < 0) fine_to_coarse_[f] = node_label_[it->second];
      }
    }
  }
}

std::pair<uint64_t, double> Categorizer::Refine(int label, const std::vector<float>& fine) const {
  const uint64_t category = label_category_[label];
  const std::vector<int>& within = fine_within_[label];
  if (fine.empty() || within.empty()) return {category, 1.0};
  std::vector<double> q = fine_.Softmax(fine, within);
  size_t best = 0;
  for (size_t i = 1; i < q.size(); ++i) {
    if (q[i] > q[best]) best = i;
  }
  return {fine_category_[within[best]], q[best]};
}

std::vector<std::pair<uint64_t, double>> Categorizer::Decide(const Evidence& ev, const Weights& w,
                                                             int top_k) const {
  std::vector<std::pair<uint64_t, double>> out;
  for (const auto& [label, raw] : Rank(Mix(ev, w), w.top_down, top_k)) {
    auto [category, share] = Refine(label, ev.fine);
    out.emplace_back(category, raw * share);
  }
  return out;
}

std::vector<float> Categorizer::Embed(absl::string_view title) const {
  ProductInput input;
  input.title = std::string(title);
  std::vector<float> v = model_.Hidden(model_.Rows(Prepare(input).line));
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  if (norm <= 0) return {};
  const float inverse = static_cast<float>(1 / std::sqrt(norm));
  for (float& x : v) x *= inverse;
  return v;
}

size_t Categorizer::embedding_dim() const { return static_cast<size_t>(model_.input->size(1)); }

Categorizer::Evidence Categorizer::Gather(const ProductInput& input, bool fine_coarse) const {
  Prepared p = Prepare(input);
  Evidence ev;
  std::vector<int32_t> rows = model_.Rows(p.line);
  // Nothing the model knows: the label prior.
  ev.text = rows.empty() ? label_prior_ : model_.Softmax(model_.Hidden(rows));
  ev.near = neighbors_.Query(p.neighbor_tokens, kNeighbors);
  ev.brand = std::move(p.brand);
  if (has_fine()) {
    if (fine_row_.empty()) {
      rows = fine_.Rows(p.line);
    } else {
      for (int32_t& r : rows) r = fine_row_[r];
    }
    ev.fine = fine_.Hidden(rows);
    if (fine_coarse && !ev.fine.empty()) {
      std::vector<double> full = fine_.Softmax(ev.fine);
      ev.fine_coarse.assign(label_category_.size(), 0.0);
      double sum = 0;
      for (size_t f = 0; f < full.size(); ++f) {
        if (fine_to_coarse_[f] < 0) continue;
        ev.fine_coarse[fine_to_coarse_[f]] += full[f];
        sum += full[f];
      }
      if (sum > 0) {
        for (double& v : ev.fine_coarse) v /= sum;
      } else {
        ev.fine_coarse.clear();
      }
    }
  }
  return ev;
}

std::vector<double> Categorizer::Mix(const Evidence& ev, const Weights& w) const {
  const double brand_weight = w.brand, neighbor_weight = w.neighbor;
  const size_t labels = label_category_.size();
  std::vector<double> q = ev.text;
  if (w.fine > 0 && !ev.fine_coarse.empty()) {
    for (size_t l = 0; l < labels; ++l) q[l] = (1 - w.fine) * q[l] + w.fine * ev.fine_coarse[l];
  }
  if (neighbor_weight > 0 && !ev.near.empty()) {
    for (size_t l = 0; l < labels; ++l) {
      q[l] = (1 - neighbor_weight) * q[l] + neighbor_weight * ev.near[l];
    }
  }
  auto brand = brand_weight > 0 ? brand_counts_.find(ev.brand) : brand_counts_.end();
  if (brand != brand_counts_.end()) {
    // p(c | brand) with add-one smoothing towards the label prior.
    double total = 0;
    for (const auto& [label, n] : brand->second) total += n;
    std::vector<double> pb(labels);
    for (size_t l = 0; l < labels; ++l) pb[l] = label_prior_[l] / (total + 1);
    for (const auto& [label, n] : brand->second) pb[label] += n / (total + 1);
    double sum = 0;
    for (size_t l = 0; l < labels; ++l) {
      q[l] *= std::pow(pb[l], brand_weight);
      sum += q[l];
    }
    if (sum > 0) {
      for (double& v : q) v /= sum;
    }
  }
  return q;
}

std::vector<std::pair<int, double>> Categorizer::Rank(const std::vector<double>& q, bool top_down,
                                                      int top_k) const {
  std::vector<int> order(q.size());
  std::iota(order.begin(), order.end(), 0);
  size_t k = std::min<size_t>(static_cast<size_t>(std::max(top_k, 1)), q.size());
  std::partial_sort(order.begin(), order.begin() + std::min(q.size(), k + 1), order.end(),
                    [&q](int a, int b) { return q[a] > q[b] || (q[a] == q[b] && a < b); });
  int best = order.empty() ? -1 : order[0];
  if (top_down && !q.empty()) {
    // Down from the roots along the heaviest subtree (its probability mass), stopping where
    // the category itself outweighs each child. Only the subtrees met on the way are
    // summed: the roots' and the children of each category passed.
    auto mass = [&](int n) {
      double m = 0;
      for (int i = subtree_start_[n]; i < subtree_start_[n + 1]; ++i) m += q[subtree_labels_[i]];
      return m;
    };
    double child_mass = 0;  // the mass of the node heaviest() last picked
    auto heaviest = [&](const std::vector<int>& nodes) {
      int pick = -1;
      for (int n : nodes) {
        const double m = mass(n);
        if (pick < 0 || m > child_mass) {
          pick = n;
          child_mass = m;
        }
      }
      return pick;
    };
    int at = heaviest(root_nodes_);
    while (at >= 0) {
      const int child = heaviest(node_children_[at]);
      const int own = node_label_[at];
      if (child < 0 || (own >= 0 && q[own] >= child_mass)) break;
      at = child;
    }
    if (at >= 0 && node_label_[at] >= 0) best = node_label_[at];
  }
  std::vector<std::pair<int, double>> ranked;
  if (best < 0) return ranked;
  ranked.emplace_back(best, q[best]);
  for (int l : order) {
    if (ranked.size() >= k) break;
    if (l != best) ranked.emplace_back(l, q[l]);
  }
  return ranked;
}

std::vector<double> Categorizer::TitleDistribution(absl::string_view title) const {
  std::vector<int32_t> rows = model_.Rows(NormalizeText(title));
  return rows.empty() ? label_prior_ : model_.Softmax(model_.Hidden(rows));
}

std::vector<CategoryScore> Categorizer::Predict(const ProductInput& input, int top_k) const {
  std::vector<CategoryScore> out;
  for (const auto& [category, raw] : Decide(Gather(input, weights_.fine > 0), weights_, top_k)) {
    out.push_back({category, calibration_(raw)});
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Categorizer>> Categorizer::Train(
    std::shared_ptr<const Taxonomy> taxonomy, const std::vector<LabelledProduct>& examples,
    const CategorizerParams& params, const Progress& progress, ValidationFigures* figures,
    const std::atomic<bool>* cancel) {
  *figures = ValidationFigures();
  std::unique_ptr<Categorizer> c(new Categorizer());
  c->taxonomy_ = std::move(taxonomy);
  const Taxonomy& t = *c->taxonomy_;
  // The split: by a hash of the normalised title, so duplicates stay on one side.
  // Validation counts each distinct title once: listings repeated under one title (often
  // many, in real catalogs) would otherwise dominate the tuning, which is about titles the
  // models have not seen.
  std::vector<const LabelledProduct*> train, validation;
  absl::flat_hash_map<uint64_t, int> categories;
  absl::flat_hash_set<std::string> validation_titles;
  for (const LabelledProduct& e : examples) {
    std::string title = NormalizeText(e.input.title);
    if (!t.Contains(e.category) || title.empty()) {
      ++figures->skipped_examples;
      continue;
    }
    ++categories[e.category];
    bool held_out = (Fnv1a64(title, params.seed) % 10000) <
                    static_cast<uint64_t>(params.validation_share * 10000);
    if (!held_out) {
      train.push_back(&e);
    } else if (validation_titles.insert(std::move(title)).second) {
      validation.push_back(&e);
    }
  }
  if (train.size() + validation.size() < kMinExamples || categories.size() < 2) {
    return absl::FailedPreconditionError(absl::StrCat(
        "categorizer: found ", train.size() + validation.size(),
        " usable labelled products (PRODUCT entities with a name and an IN_CATEGORY edge to a "
        "category of the taxonomy) in ",
        categories.size(), " categories; at least ", kMinExamples, " in 2 categories are needed"));
  }
  if (validation.empty()) {
    validation.push_back(train.back());
    train.pop_back();
  }
  figures->train_examples = train.size();
  figures->validation_examples = validation.size();

  // The label of each training product: the deepest category on its path with enough
  // training products in its subtree.
  absl::flat_hash_map<uint64_t, int> subtree;
  for (const LabelledProduct* e : train) {
    for (uint64_t a = e->category; a != 0; a = t.parent(a)) ++subtree[a];
  }
  // Fine labels: the deepest category with enough products below it. Coarse labels: the
  // category at coarse_depth on the path (or the path's end when it is shallower).
  auto fine_label_of = [&](uint64_t category) {
    std::vector<uint64_t> path = t.PathTo(category);
    uint64_t label = path.front();
    for (size_t d = 0; d < path.size(); ++d) {
      if (params.max_label_depth > 0 && d >= static_cast<size_t>(params.max_label_depth)) break;
      if (subtree[path[d]] >= params.min_label_examples) label = path[d];
    }
    return label;
  };
  auto label_of = [&](uint64_t category) {
    std::vector<uint64_t> path = t.PathTo(category);
    size_t depth = params.coarse_depth > 0 ? static_cast<size_t>(params.coarse_depth) : path.size();
    return path[std::min(path.size(), depth) - 1];
  };
  TempDir tmp;
  if (!tmp.ok()) return absl::InternalError("categorizer: cannot create a temporary directory");
  size_t tokens = 0;
  bool needs_fine = false;
  {
    std::ofstream coarse(tmp.File("coarse.txt")), fine(tmp.File("fine.txt"));
    for (const LabelledProduct* e : train) {
      std::string line = Prepare(e->input).line;
      tokens += static_cast<size_t>(std::count(line.begin(), line.end(), ' ')) + 1;
      uint64_t coarse_label = label_of(e->category), fine_label = fine_label_of(e->category);
      needs_fine |= fine_label != coarse_label && t.IsWithin(fine_label, coarse_label);
      coarse << kLabelPrefix << coarse_label << ' ' << line << '\n';
      fine << kLabelPrefix << fine_label << ' ' << line << '\n';
    }
    if (!coarse || !fine) return absl::InternalError("categorizer: cannot write the training file");
  }
  fasttext::Args args;
  args.output = tmp.File("model");
  args.model = fasttext::model_name::sup;
  args.loss = fasttext::loss_name::softmax;
  args.epoch = params.epoch;
  args.lr = params.learning_rate;
  args.wordNgrams = params.word_ngrams;
  args.dim = params.dim;
  args.minCount = params.min_count;
  args.minn = params.char_ngram_min;
  args.maxn = params.char_ngram_max;
  args.bucket = params.buckets > 0
                    ? params.buckets
                    : static_cast<int>(std::clamp<size_t>(tokens / 2, 10000, 500000));
  args.thread = 1;  // one thread a model: the same model for a seed
  args.seed = static_cast<int>(params.seed);
  args.verbose = 0;
  // Progress: the coarse model's share of the run (and the fine model's), each model's own
  // progress, reported under one lock (the two may train side by side).
  const double share = needs_fine ? 0.45 : 0.9;
  std::mutex progress_mu;
  double coarse_done = 0, fine_done = 0;
  const bool side_by_side = needs_fine && params.threads >= 2;
  auto train_model = [&](TextModel* model, const char* file, double* done,
                         const char* stage) -> absl::Status {
    fasttext::Args a = args;
    a.input = tmp.File(file);
    try {
      model->fasttext->train(a, [&](float p, float, double, double, int64_t) {
        if (cancel != nullptr && cancel->load()) model->fasttext->abort();
        if (!progress) return;
        std::lock_guard<std::mutex> lock(progress_mu);
        *done = p;
        progress(share * coarse_done + 0.45 * fine_done,
                 side_by_side ? "training the coarse and fine text models" : stage);
      });
    } catch (const std::exception& e) {
      if (cancel != nullptr && cancel->load()) {
        return absl::CancelledError("categorizer: training cancelled");
      }
      return absl::InternalError(absl::StrCat("categorizer: fastText: ", e.what()));
    }
    return absl::OkStatus();
  };
  if (needs_fine) c->fine_.fasttext = std::make_unique<FastTextModel>();
  absl::Status fine_trained;
  auto train_fine = [&] {
    fine_trained = train_model(&c->fine_, "fine.txt", &fine_done, "training the fine text model");
  };
  std::thread fine_thread;
  if (side_by_side) fine_thread = std::thread(train_fine);
  absl::Status trained =
      train_model(&c->model_, "coarse.txt", &coarse_done, "training the coarse text model");
  // (A failure of one model does not stop the other: fastText fails at the start, on
  // data both models share, and a cancellation reaches both.)
  if (side_by_side) {
    fine_thread.join();
  } else if (needs_fine && trained.ok()) {
    train_fine();
  }
  if (!trained.ok()) return trained;
  if (!fine_trained.ok()) return fine_trained;
  if (c->has_fine()) {
    absl::Status fine_indexed = c->IndexLabels(*c->fine_.fasttext, &c->fine_category_);
    if (!fine_indexed.ok()) return fine_indexed;
    c->fine_.Bind();
  }
  absl::Status indexed = c->IndexLabels(*c->model_.fasttext, &c->label_category_);
  if (!indexed.ok()) return indexed;
  c->model_.Bind();
  c->Index();
  const size_t labels = c->label_category_.size();
  figures->labels = labels + c->fine_category_.size();
  absl::flat_hash_map<uint64_t, int> label_index;
  for (size_t l = 0; l < labels; ++l) label_index[c->label_category_[l]] = static_cast<int>(l);
  c->label_prior_.assign(labels, 1.0 / static_cast<double>(labels));
  {
    std::vector<double> counts(labels, 1.0);
    double total = static_cast<double>(labels);
    for (const LabelledProduct* e : train) {
      auto it = label_index.find(label_of(e->category));
      if (it == label_index.end()) continue;
      counts[it->second] += 1;
      total += 1;
      std::string brand = Joined(e->input.brand);
      if (brand.empty()) continue;
      auto& list = c->brand_counts_[brand];
      auto found = std::find_if(list.begin(), list.end(),
                                [&](const auto& p) { return p.first == it->second; });
      if (found == list.end()) {
        list.emplace_back(it->second, 1);
      } else {
        ++found->second;
      }
    }
    for (size_t l = 0; l < labels; ++l) c->label_prior_[l] = counts[l] / total;
  }
  {
    std::vector<std::pair<std::vector<std::string>, int>> docs;
    docs.reserve(train.size());
    for (const LabelledProduct* e : train) {
      auto it = label_index.find(label_of(e->category));
      if (it != label_index.end()) docs.emplace_back(Prepare(e->input).neighbor_tokens, it->second);
    }
    c->neighbors_.Build(docs, labels);
  }

  // Tuning on the validation slice: the brand prior's weight and the decoding, by the mean
  // top-1 accuracy over depths 1..3.
  if (progress) progress(0.9, "tuning on the validation slice");
  std::vector<std::vector<uint64_t>> gold_paths;
  for (const LabelledProduct* e : validation) gold_paths.push_back(t.PathTo(e->category));
  struct Choice {
    Weights weights;
    double score = -1;
    double depth[3] = {0, 0, 0};
    double leaf = 0;
  };
  // The evidence of each validation product does not depend on the weights: gathered once.
  std::vector<Evidence> evidence;
  evidence.reserve(validation.size());
  for (const LabelledProduct* e : validation) evidence.push_back(c->Gather(e->input, true));
  Choice best;
  const std::vector<double> fine_weights =
      c->has_fine() ? std::vector<double>{0.0, 0.25, 0.5} : std::vector<double>{0.0};
  for (double fw : fine_weights) {
    for (double w : {0.0, 0.25, 0.5, 1.0}) {
      for (double nw : {0.0, 0.25, 0.5, 0.75}) {
        for (bool top_down : {false, true}) {
          Choice ch;
          ch.weights = Weights{w, nw, fw, top_down};
          for (size_t i = 0; i < validation.size(); ++i) {
            auto decided = c->Decide(evidence[i], ch.weights, 1);
            if (decided.empty()) continue;
            std::vector<uint64_t> path = t.PathTo(decided[0].first);
            for (int d = 0; d < 3; ++d) ch.depth[d] += SameFirstLevels(path, gold_paths[i], d + 1);
            ch.leaf += decided[0].first == validation[i]->category;
          }
          ch.score = ch.depth[0] + ch.depth[1] + ch.depth[2];
          if (ch.score > best.score) best = ch;
        }
      }
    }
  }
  c->weights_ = best.weights;
  const double n = static_cast<double>(validation.size());
  for (int d = 0; d < 3; ++d) figures->accuracy_at_depth[d] = best.depth[d] / n;
  figures->leaf_accuracy = best.leaf / n;
  figures->brand_weight = best.weights.brand;
  figures->neighbor_weight = best.weights.neighbor;
  figures->fine_weight = best.weights.fine;
  figures->top_down = best.weights.top_down;

  // Calibration: every ranked prediction of the validation slice (top 3), raw score against
  // whether it is the product's category.
  if (progress) progress(0.95, "calibrating confidences");
  std::vector<std::pair<double, double>> points;
  for (size_t i = 0; i < validation.size(); ++i) {
    for (const auto& [category, raw] : c->Decide(evidence[i], c->weights_, 3)) {
      // Right: the product is in the predicted category (it, or one of its descendants).
      points.emplace_back(raw, t.IsWithin(validation[i]->category, category) ? 1.0 : 0.0);
    }
  }
  c->calibration_.Fit(std::move(points));
  for (const LabelledProduct* e : validation) {
    std::vector<CategoryScore> p = c->Predict(e->input, 1);
    if (!p.empty() && p[0].confidence >= 0.9) {
      ++figures->confident_predictions;
      figures->confident_accuracy += t.IsWithin(e->category, p[0].category);
    }
  }
  if (figures->confident_predictions > 0) {
    figures->confident_accuracy /= static_cast<double>(figures->confident_predictions);
  }
  if (progress) progress(1.0, "categorizer trained");
  return c;
}

std::string Categorizer::Encode() const {
  ByteWriter w;
  w.Varint(kEncodingVersion);
  auto save = [](FastTextModel* m) { return m == nullptr ? std::string() : m->Save(); };
  w.Bytes(save(model_.fasttext.get()));
  w.Bytes(save(fine_.fasttext.get()));
  w.Double(weights_.brand);
  w.Varint(weights_.top_down ? 1 : 0);
  w.Varint(label_prior_.size());
  for (double p : label_prior_) w.Double(p);
  w.Varint(brand_counts_.size());
  std::vector<const std::string*> brands;
  for (const auto& [brand, counts] : brand_counts_) brands.push_back(&brand);
  std::sort(brands.begin(), brands.end(), [](auto* a, auto* b) { return *a < *b; });
  for (const std::string* brand : brands) {
    w.Bytes(*brand);
    const auto& counts = brand_counts_.at(*brand);
    w.Varint(counts.size());
    for (const auto& [label, count] : counts) {
      w.Varint(static_cast<uint64_t>(label));
      w.Varint(count);
    }
  }
  calibration_.Encode(&w);
  w.Double(weights_.neighbor);
  w.Bytes(neighbors_.Encode());
  w.Double(weights_.fine);
  return std::move(w.str());
}

absl::StatusOr<std::unique_ptr<Categorizer>> Categorizer::Decode(
    absl::string_view bytes, std::shared_ptr<const Taxonomy> taxonomy) {
  auto bad = [](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("categorizer: ", what));
  };
  std::unique_ptr<Categorizer> c(new Categorizer());
  c->taxonomy_ = std::move(taxonomy);
  ByteReader r(bytes);
  uint64_t version = 0, top_down = 0, n = 0;
  absl::string_view model, fine;
  if (!r.Varint(&version) || (version != kEncodingVersion && version != 3)) {
    return bad("unknown encoding version");
  }
  if (!r.Bytes(&model) || model.empty()) return bad("no text model");
  if (!r.Bytes(&fine)) return bad("no fine text model section");
  auto load = [](absl::string_view bytes, FastTextModel* m) -> absl::Status {
    absl::Status checked = CheckTextModel(bytes);
    if (!checked.ok()) return checked;
    try {
      m->Load(bytes);
    } catch (const std::exception& e) {
      return absl::DataLossError(
          absl::StrCat("categorizer: a text model does not load: ", e.what()));
    }
    return absl::OkStatus();
  };
  absl::Status loaded = load(model, c->model_.fasttext.get());
  if (!loaded.ok()) return loaded;
  absl::Status indexed = c->IndexLabels(*c->model_.fasttext, &c->label_category_);
  if (!indexed.ok()) return indexed;
  c->model_.Bind();
  if (!fine.empty()) {
    c->fine_.fasttext = std::make_unique<FastTextModel>();
    loaded = load(fine, c->fine_.fasttext.get());
    if (!loaded.ok()) return loaded;
    indexed = c->IndexLabels(*c->fine_.fasttext, &c->fine_category_);
    if (!indexed.ok()) return indexed;
    c->fine_.Bind();
  }
  c->Index();
  const size_t labels = c->label_category_.size();
  // Weights as training chooses them (a small grid of non-negative values), priors
  // probabilities: nothing a score could turn into NaN.
  if (!r.DoubleIn(&c->weights_.brand, 0, kMaxWeight) || !r.Varint(&top_down) || !r.Varint(&n) ||
      n != labels) {
    return bad("settings");
  }
  c->weights_.top_down = top_down != 0;
  c->label_prior_.resize(labels);
  for (double& p : c->label_prior_) {
    if (!r.Probability(&p)) return bad("label prior");
  }
  if (!r.Varint(&n) || n > bytes.size()) return bad("truncated brand table");
  for (uint64_t b = 0; b < n; ++b) {
    std::string brand;
    uint64_t entries = 0;
    if (!r.String(&brand) || !r.Varint(&entries) || entries > labels) return bad("brand table");
    auto& list = c->brand_counts_[brand];
    for (uint64_t k = 0; k < entries; ++k) {
      uint64_t label = 0, count = 0;
      if (!r.Varint(&label) || !r.Varint(&count) || label >= labels) return bad("brand table");
      list.emplace_back(static_cast<int>(label), static_cast<uint32_t>(count));
    }
  }
  if (!c->calibration_.Decode(&r, bytes.size())) return bad("calibration");
  absl::string_view index;
  if (!r.DoubleIn(&c->weights_.neighbor, 0, kMaxWeight) || !r.Bytes(&index)) {
    return bad("neighbour index");
  }
  absl::StatusOr<NeighborIndex> neighbors = NeighborIndex::Decode(index);
  if (!neighbors.ok()) return neighbors.status();
  c->neighbors_ = std::move(*neighbors);
  if (version >= 4 && !r.DoubleIn(&c->weights_.fine, 0, kMaxWeight)) return bad("fine weight");
  if (!r.done()) return bad("trailing bytes");
  return c;
}

}  // namespace kg::knowledge
