// kg_eval: scores Categorize on a real catalog through the public API, with a plain
// fastText baseline measured in the same run (docs/KNOWLEDGE.md, "Evaluation").
//
//   kg_server --partition_count=4 --metrics_port=-1 --port=50700 &      # a fresh server
//   kg_eval --addr=127.0.0.1:50700 --csv=products.csv
//   --mapping=docs/examples/flipkart_products.mapping
//
// 1. Reads the CSV through the import mapping (the same code as kgctl import).
// 2. Splits the products: test = those whose md5(id) mod 5 is 0 (id: the PRODUCT's
//    --id_attribute, else its key id); a test product whose normalised title also occurs
//    in the training part moves to it.
// 3. Imports everything but the test products (and their edges): the taxonomy, brands and
//    the labelled training products.
// 4. Runs TrainModels, then categorizes the test products as texts (title, brand,
//    attributes) through KnowledgeService.Categorize, once.
// 5. Trains a plain fastText model on the training titles alone (the same library, its
//    usual supervised settings, the deepest category as the label) and predicts the test
//    titles: the baseline.
// 6. Prints, for both: top-1 accuracy at depths 1..3 (the first k levels of the predicted
//    path equal the gold's), the exact-category accuracy and weighted F1, and for the
//    service a reliability table of its confidences.
#include <fasttext/fasttext.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cpp/client.h"
#include "client/importer/record_reader.h"
#include "google/protobuf/text_format.h"
#include "server/knowledge/taxonomy.h"
#include "server/knowledge/text.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "a kg_server with an empty graph");
ABSL_FLAG(std::string, csv, "", "the catalog (CSV)");
ABSL_FLAG(std::string, mapping, "", "its import mapping (docs/IMPORT.md)");
ABSL_FLAG(std::string, id_attribute, "uniq_id",
          "PRODUCT attribute hashed for the split (the key id when absent)");
ABSL_FLAG(int32_t, baseline_epoch, 25, "baseline fastText: epochs");
ABSL_FLAG(double, baseline_lr, 0.5, "baseline fastText: learning rate");
ABSL_FLAG(int32_t, baseline_word_ngrams, 2, "baseline fastText: word n-grams");
ABSL_FLAG(bool, skip_import, false, "the server already holds the training part (re-scoring)");
ABSL_FLAG(std::string, train_request, "",
          "TrainModels settings in protobuf text format, e.g. \"epoch: 30 dim: 100\" (default: "
          "the service's defaults)");
ABSL_FLAG(bool, validation_only, false,
          "tuning: import and train, print the validation figures TrainModels reports (its "
          "held-out slice of the training part), never touch the test part");

namespace kg {
namespace {

struct Product {
  uint64_t id = 0;
  std::string split_id;
  std::string title;
  std::string brand;
  uint64_t brand_id = 0;
  std::vector<std::pair<std::string, std::string>> attributes;
  uint64_t category = 0;
  bool test = false;
  std::vector<v1::ImportRecord> records;  // the product and its edges
};

int Md5Mod5(const std::string& id) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(id.data(), id.size(), digest, &len, EVP_md5(), nullptr);
  // The digest as a 128-bit big-endian number, mod 5.
  int r = 0;
  for (unsigned int i = 0; i < len; ++i) r = (r * 256 + digest[i]) % 5;
  return r;
}

struct Scores {
  double depth[3] = {0, 0, 0};
  double exact = 0;
  double weighted_f1 = 0;
};

// Top-1 accuracy at depths 1..3, exact accuracy and support-weighted F1 over categories.
Scores Score(const std::vector<uint64_t>& gold, const std::vector<uint64_t>& predicted,
             const knowledge::Taxonomy& tree) {
  Scores s;
  std::map<uint64_t, double> tp, fp, fn, support;
  for (size_t i = 0; i < gold.size(); ++i) {
    std::vector<uint64_t> g = tree.PathTo(gold[i]), p = tree.PathTo(predicted[i]);
    for (int d = 0; d < 3; ++d) s.depth[d] += knowledge::SameFirstLevels(g, p, d + 1);
    support[gold[i]] += 1;
    if (gold[i] == predicted[i]) {
      s.exact += 1;
      tp[gold[i]] += 1;
    } else {
      fn[gold[i]] += 1;
      fp[predicted[i]] += 1;
    }
  }
  const double n = static_cast<double>(gold.size());
  for (double& d : s.depth) d /= n;
  s.exact /= n;
  for (const auto& [c, count] : support) {
    double precision = tp[c] + fp[c] > 0 ? tp[c] / (tp[c] + fp[c]) : 0;
    double recall = tp[c] / count;
    double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
    s.weighted_f1 += f1 * count / n;
  }
  return s;
}

int Fail(const std::string& what, const absl::Status& status) {
  std::cerr << "kg_eval: " << what << ": " << status << "\n";
  return 1;
}

// A brand name compared across spellings: normalised, without spaces.
std::string BrandKey(absl::string_view name) {
  return absl::StrReplaceAll(knowledge::NormalizeText(name), {{" ", ""}});
}

// The gender / age target of a category path (gold for ExtractAttributes' "target"):
// the first of Women's, Men's, Girls', Boys', Kids', Baby on it.
std::string PathTarget(const std::vector<std::string>& names) {
  static const std::vector<std::pair<std::string, std::string>> kWords = {
      {"women", "women"}, {"men", "men"},   {"girls", "girls"},
      {"boys", "boys"},   {"kids", "kids"}, {"baby", "baby"}};
  for (const std::string& name : names) {
    for (const std::string& token : knowledge::Tokenize(name)) {
      for (const auto& [word, target] : kWords) {
        if (token == word) return target;
      }
    }
  }
  return "";
}

// Brands (RecognizeBrands' top mention against the brand column; a mention on a product
// without a brand counts against precision) with the dictionary baseline (the longest
// whole-word match of the training part's brand names), and the gender / age target
// (ExtractAttributes against the category path), on the test products.
int ScoreBrandsAndTargets(Client* client, const std::vector<Product>& products,
                          const std::vector<const Product*>& tests, const knowledge::Taxonomy& tree,
                          const absl::flat_hash_map<uint64_t, std::string>& category_names) {
  absl::flat_hash_set<std::string> lexicon;  // training brands, normalised tokens
  size_t longest = 1;
  for (const Product& p : products) {
    if (p.test || p.brand.empty()) continue;
    std::string n = knowledge::NormalizeText(p.brand);
    if (n.empty()) continue;
    longest = std::max<size_t>(longest, knowledge::Tokenize(n).size());
    lexicon.insert(n);
  }
  std::vector<std::string> service, baseline, targets;
  absl::Time start = absl::Now();
  for (size_t i = 0; i < tests.size(); i += 100) {
    v1::RecognizeBrandsRequest req;
    v1::ExtractAttributesRequest attrs;
    for (size_t j = i; j < std::min(tests.size(), i + 100); ++j) {
      req.add_items()->mutable_text()->set_title(tests[j]->title);
      attrs.add_items()->mutable_text()->set_title(tests[j]->title);
    }
    auto resp = client->RecognizeBrands(req);
    if (!resp.ok()) return Fail("RecognizeBrands", resp.status());
    for (const auto& r : resp->results()) {
      service.push_back(r.mentions_size() > 0 ? r.mentions(0).name() : "");
    }
    auto extracted = client->ExtractAttributes(attrs);
    if (!extracted.ok()) return Fail("ExtractAttributes", extracted.status());
    for (const auto& r : extracted->results()) {
      std::string target;
      for (const auto& a : r.attributes()) {
        if (a.name() == "target" && target.empty()) target = a.normalized_value();
      }
      targets.push_back(target);
    }
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  for (const Product* p : tests) {
    std::vector<std::string> tokens = knowledge::Tokenize(p->title);
    std::string best;
    size_t best_len = 0;
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string key;
      for (size_t j = i; j < tokens.size() && j < i + longest; ++j) {
        key += (j > i ? " " : "") + tokens[j];
        if (j - i + 1 > best_len && lexicon.contains(key)) {
          best = key;
          best_len = j - i + 1;
        }
      }
    }
    baseline.push_back(best);
  }
  auto score = [&](const std::vector<std::string>& predicted, double* precision, double* recall) {
    double answered = 0, right = 0, with_brand = 0;
    for (size_t i = 0; i < tests.size(); ++i) {
      const bool has_gold = !BrandKey(tests[i]->brand).empty();
      with_brand += has_gold;
      if (BrandKey(predicted[i]).empty()) continue;
      ++answered;
      right += has_gold && BrandKey(predicted[i]) == BrandKey(tests[i]->brand);
    }
    *precision = answered > 0 ? right / answered : 0;
    *recall = with_brand > 0 ? right / with_brand : 0;
  };
  double sp, sr, bp, br;
  score(service, &sp, &sr);
  score(baseline, &bp, &br);
  size_t with_brand = 0, unseen = 0, unseen_right = 0;
  for (size_t i = 0; i < tests.size(); ++i) {
    if (BrandKey(tests[i]->brand).empty()) continue;
    ++with_brand;
    if (lexicon.contains(knowledge::NormalizeText(tests[i]->brand))) continue;
    ++unseen;
    unseen_right += BrandKey(service[i]) == BrandKey(tests[i]->brand);
  }
  std::printf(
      "\nbrands (top mention against the brand column; %zu of the %zu test products have a "
      "brand, %zu of them one no training product has)\n%-28s %9s %9s %9s\n",
      with_brand, tests.size(), unseen, "", "precision", "recall", "F1");
  for (const auto& [name, p, r] : {std::make_tuple("KnowledgeService.RecognizeBrands", sp, sr),
                                   std::make_tuple("longest train-brand match", bp, br)}) {
    std::printf("%-32s %9.4f %9.4f %9.4f\n", name, p, r, p + r > 0 ? 2 * p * r / (p + r) : 0.0);
  }
  std::printf("brands unknown to the graph found as new-brand candidates: %zu of %zu\n",
              unseen_right, unseen);
  // The target: gold from the category path where it names one.
  double gold_n = 0, answered = 0, right = 0;
  for (size_t i = 0; i < tests.size(); ++i) {
    std::vector<std::string> names;
    for (uint64_t c : tree.PathTo(tests[i]->category)) names.push_back(tree.name(c));
    const std::string gold = PathTarget(names);
    if (gold.empty()) continue;
    ++gold_n;
    if (targets[i].empty()) continue;
    ++answered;
    right += targets[i] == gold;
  }
  std::printf(
      "target (ExtractAttributes \"target\" against Women's/Men's/Girls'/Boys'/Kids'/Baby in "
      "the category path; %.0f test products have one): precision %.4f, recall %.4f\n",
      gold_n, answered > 0 ? right / answered : 0.0, gold_n > 0 ? right / gold_n : 0.0);
  std::printf(
      "RecognizeBrands + ExtractAttributes: %.0f titles/s (batches of 100, one call at a time)\n",
      tests.size() / std::max(seconds, 1e-9));
  (void)category_names;
  return 0;
}

int Run() {
  ReaderOptions options;
  options.path = absl::GetFlag(FLAGS_csv);
  options.format = ImportFormat::kCsv;
  options.mapping_path = absl::GetFlag(FLAGS_mapping);
  absl::StatusOr<std::unique_ptr<RecordReader>> reader = OpenRecordReader(options);
  if (!reader.ok()) return Fail("opening the catalog", reader.status());

  // 1. Rows: other records (taxonomy, brands) and products with their own records.
  std::vector<v1::ImportRecord> shared;
  std::vector<Product> products;
  absl::flat_hash_map<uint64_t, uint64_t> parent;
  absl::flat_hash_map<uint64_t, std::string> category_names;
  absl::flat_hash_map<uint64_t, std::string> brand_names;
  // BRAND entities: imported only when a training product has them (the test part's own
  // brands stay unknown to the service, as new brands would be).
  absl::flat_hash_map<uint64_t, v1::ImportRecord> brand_records;
  SourceRow row;
  uint64_t bad_rows = 0;
  while ((*reader)->Next(&row)) {
    if (!row.status.ok()) {
      ++bad_rows;
      continue;
    }
    Product p;
    uint64_t brand_id = 0;
    for (v1::ImportRecord& r : row.records) {
      if (r.has_entity() && r.entity().key().type() == v1::PRODUCT) {
        p.id = r.entity().key().id();
        p.title = r.entity().name();
        auto attr = r.entity().attributes().find(absl::GetFlag(FLAGS_id_attribute));
        p.split_id = attr != r.entity().attributes().end() ? attr->second : absl::StrCat(p.id);
        for (const auto& [k, v] : r.entity().attributes()) p.attributes.emplace_back(k, v);
        std::sort(p.attributes.begin(), p.attributes.end());
        p.records.push_back(std::move(r));
      } else if (r.has_edge() && r.edge().src().type() == v1::PRODUCT) {
        if (r.edge().type() == v1::IN_CATEGORY) p.category = r.edge().dst().id();
        if (r.edge().type() == v1::HAS_BRAND) brand_id = r.edge().dst().id();
        p.records.push_back(std::move(r));
      } else {
        if (r.has_edge() && r.edge().type() == v1::SUBCATEGORY_OF) {
          parent[r.edge().src().id()] = r.edge().dst().id();
        }
        if (r.has_entity() && r.entity().key().type() == v1::CATEGORY) {
          category_names[r.entity().key().id()] = r.entity().name();
        }
        if (r.has_entity() && r.entity().key().type() == v1::BRAND) {
          brand_names[r.entity().key().id()] = r.entity().name();
          brand_records[r.entity().key().id()] = std::move(r);
          continue;
        }
        shared.push_back(std::move(r));
      }
    }
    if (p.id == 0 || p.category == 0) continue;  // not a labelled product
    p.brand = brand_id != 0 ? absl::StrCat(brand_id) : "";
    p.brand_id = brand_id;
    products.push_back(std::move(p));
  }
  for (Product& p : products) {
    uint64_t brand_id = 0;
    if (!p.brand.empty() && absl::SimpleAtoi(p.brand, &brand_id)) p.brand = brand_names[brand_id];
  }

  // 2. The split.
  absl::flat_hash_set<std::string> train_titles;
  for (Product& p : products) {
    p.test = Md5Mod5(p.split_id) == 0;
    if (!p.test) train_titles.insert(knowledge::NormalizeText(p.title));
  }
  size_t moved = 0, test_count = 0;
  for (Product& p : products) {
    if (p.test && train_titles.contains(knowledge::NormalizeText(p.title))) {
      p.test = false;
      ++moved;
    }
    test_count += p.test;
  }
  std::fprintf(stderr,
               "kg_eval: %zu labelled products (%llu bad rows): %zu train, %zu test (%zu test "
               "rows moved to train: their title is also in train)\n",
               products.size(), static_cast<unsigned long long>(bad_rows),
               products.size() - test_count, test_count, moved);

  ClientOptions client_options;
  client_options.deadline_ms = 120000;
  auto client = Client::Connect(absl::GetFlag(FLAGS_addr), client_options);
  if (!client.ok()) return Fail("connecting", client.status());

  // 3. Import the taxonomy, brands and training products.
  if (!absl::GetFlag(FLAGS_skip_import)) {
    auto info = (*client)->GetClusterInfo();
    if (!info.ok()) return Fail("GetClusterInfo", info.status());
    if (info->entity_count() > 0) {
      std::fprintf(stderr, "kg_eval: warning: the server already holds %llu entities\n",
                   static_cast<unsigned long long>(info->entity_count()));
    }
    std::unique_ptr<ImportWriter> writer = (*client)->StartImport(v1::ImportOptions(), 3600000);
    std::vector<v1::ImportRecord> batch;
    auto send = [&](v1::ImportRecord r) -> absl::Status {
      batch.push_back(std::move(r));
      if (batch.size() < 1000) return absl::OkStatus();
      return writer->Write(std::exchange(batch, {}));
    };
    absl::Status s;
    absl::flat_hash_set<uint64_t> train_brands;
    for (const Product& p : products) {
      if (!p.test && p.brand_id != 0) train_brands.insert(p.brand_id);
    }
    for (auto& [id, r] : brand_records) {
      if (s.ok() && train_brands.contains(id)) s = send(r);
    }
    for (v1::ImportRecord& r : shared) {
      if (s.ok()) s = send(r);
    }
    for (Product& p : products) {
      if (p.test) continue;
      for (v1::ImportRecord& r : p.records) {
        if (s.ok()) s = send(r);
      }
    }
    if (s.ok() && !batch.empty()) s = writer->Write(std::move(batch));
    if (!s.ok()) return Fail("import", s);
    auto imported = writer->Finish();
    if (!imported.ok()) return Fail("import", imported.status());
    std::fprintf(stderr, "kg_eval: imported %llu records\n",
                 static_cast<unsigned long long>(imported->records_received()));
  }

  // 4. Train, then categorize the test products through the API.
  absl::Time start = absl::Now();
  double last_fraction = -1;
  v1::TrainModelsRequest train_request;
  if (!google::protobuf::TextFormat::ParseFromString(absl::GetFlag(FLAGS_train_request),
                                                     &train_request)) {
    return Fail("--train_request", absl::InvalidArgumentError("not a kg.v1.TrainModelsRequest"));
  }
  auto trained =
      (*client)->TrainModels(train_request, 7200000, [&](const v1::TrainModelsProgress& m) {
        if (m.fraction() >= last_fraction + 0.1 || m.done()) {
          std::fprintf(stderr, "kg_eval: train %3.0f%% %s\n", 100 * m.fraction(),
                       m.stage().c_str());
          last_fraction = m.fraction();
        }
      });
  if (!trained.ok()) return Fail("TrainModels", trained.status());
  const double train_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (absl::GetFlag(FLAGS_validation_only)) {
    std::printf(
        "model %s: TrainModels %.1f s; validation figures (the test part untouched):\n%s",
        trained->model_version().c_str(), train_seconds,
        (trained->categorizer().DebugString() + trained->brands_model().DebugString() +
         absl::StrCat("attribute_lexicon_entries: ", trained->attribute_lexicon_entries(), "\n"))
            .c_str());
    return 0;
  }
  std::vector<uint64_t> gold, service, baseline;
  std::vector<double> confidence;
  std::vector<const Product*> tests;
  for (const Product& p : products) {
    if (p.test) tests.push_back(&p);
  }
  start = absl::Now();
  for (size_t i = 0; i < tests.size(); i += 100) {
    v1::CategorizeRequest req;
    req.set_top_k(1);
    for (size_t j = i; j < std::min(tests.size(), i + 100); ++j) {
      v1::ProductText* text = req.add_items()->mutable_text();
      text->set_title(tests[j]->title);
      text->set_brand(tests[j]->brand);
      for (const auto& [k, v] : tests[j]->attributes) (*text->mutable_attributes())[k] = v;
    }
    auto resp = (*client)->Categorize(req);
    if (!resp.ok()) return Fail("Categorize", resp.status());
    for (int k = 0; k < resp->results_size(); ++k) {
      const v1::CategorizeResult& r = resp->results(k);
      gold.push_back(tests[i + k]->category);
      bool has = r.status().code() == 0 && r.predictions_size() > 0;
      service.push_back(has ? r.predictions(0).category().id() : 0);
      confidence.push_back(has ? r.predictions(0).confidence() : 0);
    }
  }
  const double categorize_seconds = absl::ToDoubleSeconds(absl::Now() - start);

  // 5. The baseline: fastText on the titles alone.
  char dir_template[] = "/tmp/kg_eval.XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) return Fail("baseline", absl::InternalError("mkdtemp"));
  const std::string dir = dir_template;
  {
    std::ofstream out(dir + "/train.txt");
    for (const Product& p : products) {
      if (!p.test)
        out << "__label__" << p.category << ' ' << knowledge::NormalizeText(p.title) << '\n';
    }
  }
  fasttext::Args args;
  args.input = dir + "/train.txt";
  args.output = dir + "/model";
  args.model = fasttext::model_name::sup;
  args.loss = fasttext::loss_name::softmax;
  args.minCount = 1;
  args.minn = 0;
  args.maxn = 0;
  args.epoch = absl::GetFlag(FLAGS_baseline_epoch);
  args.lr = absl::GetFlag(FLAGS_baseline_lr);
  args.wordNgrams = absl::GetFlag(FLAGS_baseline_word_ngrams);
  args.thread = 1;
  args.verbose = 0;
  fasttext::FastText ft;
  ft.train(args);
  for (const Product* p : tests) {
    std::istringstream in(knowledge::NormalizeText(p->title) + "\n");
    std::vector<std::pair<fasttext::real, std::string>> predictions;
    ft.predictLine(in, predictions, 1, 0.0);
    uint64_t c = 0;
    if (!predictions.empty()) absl::SimpleAtoi(predictions[0].second.substr(9), &c);
    baseline.push_back(c);
  }
  std::filesystem::remove_all(dir);

  // 6. The report.
  std::vector<knowledge::CategoryRecord> records;
  for (const auto& [id, name] : category_names) {
    auto up = parent.find(id);
    records.push_back({id, name, up == parent.end() ? 0 : up->second});
  }
  const knowledge::Taxonomy tree = knowledge::Taxonomy::Build(std::move(records));
  Scores ours = Score(gold, service, tree), base = Score(gold, baseline, tree);
  std::printf("catalog %s: %zu test products (md5(%s) mod 5 == 0, titles not in train)\n",
              absl::GetFlag(FLAGS_csv).c_str(), tests.size(),
              absl::GetFlag(FLAGS_id_attribute).c_str());
  std::printf("model %s: TrainModels %.1f s, Categorize %.0f titles/s (batches of 100)\n",
              trained->model_version().c_str(), train_seconds,
              tests.size() / std::max(categorize_seconds, 1e-9));
  std::printf("%-28s %8s %8s %8s %8s %8s\n", "", "depth1", "depth2", "depth3", "exact", "wF1");
  for (const auto& [name, s] : {std::make_pair("KnowledgeService.Categorize", ours),
                                std::make_pair("plain fastText (baseline)", base)}) {
    std::printf("%-28s %8.4f %8.4f %8.4f %8.4f %8.4f\n", name, s.depth[0], s.depth[1], s.depth[2],
                s.exact, s.weighted_f1);
  }
  // Reliability: right = the product is in the predicted category.
  std::printf(
      "\nreliability of Categorize's confidence (right: the product is in the predicted "
      "category)\n%-12s %8s %10s %10s\n",
      "confidence", "n", "mean conf", "accuracy");
  for (int b = 0; b < 10; ++b) {
    double lo = b / 10.0, hi = (b + 1) / 10.0, n = 0, sum = 0, right = 0;
    for (size_t i = 0; i < gold.size(); ++i) {
      if (confidence[i] < lo || (confidence[i] >= hi && b < 9)) continue;
      ++n;
      sum += confidence[i];
      right += tree.IsWithin(gold[i], service[i]);
    }
    if (n > 0)
      std::printf("[%.1f, %.1f%s %8.0f %10.3f %10.3f\n", lo, hi, b < 9 ? ")" : "]", n, sum / n,
                  right / n);
  }
  double confident = 0, confident_right = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    if (confidence[i] < 0.9) continue;
    ++confident;
    confident_right += tree.IsWithin(gold[i], service[i]);
  }
  std::printf("confidence >= 0.9: %.0f predictions, %.4f right\n", confident,
              confident > 0 ? confident_right / confident : 0.0);
  return ScoreBrandsAndTargets(client->get(), products, tests, tree, category_names);
}

}  // namespace
}  // namespace kg

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Scores KnowledgeService.Categorize on a CSV catalog through the public API, with a "
      "plain fastText baseline in the same run.\n"
      "  kg_eval --addr=HOST:PORT --csv=FILE --mapping=FILE [--id_attribute=uniq_id]\n"
      "  tuning: add --validation_only [--train_request='epoch: 30'] [--skip_import]");
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_csv).empty() || absl::GetFlag(FLAGS_mapping).empty()) {
    std::cerr << "kg_eval: --csv and --mapping are required (see --help)\n";
    return 2;
  }
  return kg::Run();
}
