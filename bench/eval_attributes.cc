// kg_eval_attributes: scores ExtractAttributes and RecognizeBrands on a generated catalog,
// whose generator knows the truth, through the public API (docs/KNOWLEDGE.md).
//
//   kg_server --partition_count=4 --metrics_port=-1 --port=50702 &      # a fresh server
//   kg_eval_attributes --addr=127.0.0.1:50702 [--scale=0.1] [--seed=42]
//
// 1. Generates the sample graph (client/datagen) and imports it, except that the test
//    products (id mod 5 == 0) are imported without their attributes and HAS_BRAND edge, so
//    nothing the models learn comes from them.
// 2. Runs TrainModels, then ExtractAttributes and RecognizeBrands on the test products'
//    titles, once.
// 3. Prints, per attribute the generator puts in titles (color, material, size, the gender
//    target), precision and recall: the truth is the product's own value where the title
//    carries it (its normalised words occur in the normalised title); an extraction is
//    right when its normalised value (alone or with its unit) or its value as written
//    equals the truth once both are normalised (case folded). Brands: the top mention
//    against the product's brand. The baseline, in the same run: a dictionary of every
//    value of the attribute on the training products, the longest whose words occur in
//    the title. Model numbers (--abt_buy) against the longest token with letters and
//    digits.
#include <algorithm>
#include <array>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "bench/csv_rows.h"
#include "bench/generated_graph.h"
#include "client/cpp/client.h"
#include "client/datagen/datagen.h"
#include "server/knowledge/text.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "a kg_server with an empty graph");
ABSL_FLAG(double, scale, 0.1, "generator scale (1.0: about 20k products)");
ABSL_FLAG(uint64_t, seed, 42, "generator seed");
ABSL_FLAG(std::string, abt_buy, "",
          "also score model numbers on the Abt-Buy benchmark: its directory (abt.csv, buy.csv, "
          "abt_buy_perfect_mapping.csv); gold: the model number ending each Abt name, input: "
          "the matching Buy title");

namespace kg {
namespace {

struct TestProduct {
  std::string title;
  std::map<std::string, std::string> truth;  // attribute -> normalised value in the title
  uint64_t brand = 0;
};

int Fail(const std::string& what, const absl::Status& status) {
  std::cerr << "kg_eval_attributes: " << what << ": " << status << "\n";
  return 1;
}

// Letters and digits, upper-cased: model numbers compared across spellings.
std::string ModelKey(absl::string_view text) {
  std::string key;
  for (char c : text) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      key.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
    }
  }
  return key;
}

// Model numbers: for each Abt-Buy match, ExtractAttributes on the Buy title; right when
// its most confident model_number equals the model number that ends the Abt name.
int ScoreModelNumbers(Client* client, const std::string& dir) {
  auto abt = ReadCsvRows(dir + "/abt.csv");
  auto buy = ReadCsvRows(dir + "/buy.csv");
  auto pairs = ReadCsvRows(dir + "/abt_buy_perfect_mapping.csv");
  if (!abt.ok() || !buy.ok() || !pairs.ok()) {
    return Fail("--abt_buy", absl::NotFoundError("cannot read abt.csv, buy.csv or the mapping"));
  }
  std::map<std::string, std::string> gold_of, title_of;
  for (auto& row : *abt) {
    const std::string& name = row["name"];
    size_t dash = name.rfind(" - ");
    if (dash != std::string::npos) gold_of[row["id"]] = ModelKey(name.substr(dash + 3));
  }
  for (auto& row : *buy) title_of[row["id"]] = row["name"];
  std::vector<std::pair<std::string, std::string>> items;  // Buy title, gold
  for (auto& row : *pairs) {
    auto g = gold_of.find(row["idAbt"]);
    auto t = title_of.find(row["idBuy"]);
    if (g != gold_of.end() && t != title_of.end() && !g->second.empty()) {
      items.emplace_back(t->second, g->second);
    }
  }
  // The baseline: the longest whitespace-separated token with letters and digits (at least
  // 4 of them once punctuation is dropped).
  double base_answered = 0, base_right = 0;
  for (const auto& [title, gold] : items) {
    std::string best;
    for (absl::string_view token : absl::StrSplit(title, ' ', absl::SkipEmpty())) {
      const std::string key = ModelKey(token);
      bool letter = false, digit = false;
      for (char c : key) {
        letter |= absl::ascii_isalpha(static_cast<unsigned char>(c));
        digit |= absl::ascii_isdigit(static_cast<unsigned char>(c));
      }
      if (letter && digit && key.size() >= 4 && key.size() > best.size()) best = key;
    }
    if (best.empty()) continue;
    ++base_answered;
    base_right += best == gold;
  }
  double answered = 0, right = 0, in_title = 0;
  for (size_t i = 0; i < items.size(); i += 100) {
    v1::ExtractAttributesRequest req;
    for (size_t j = i; j < std::min(items.size(), i + 100); ++j) {
      req.add_items()->mutable_text()->set_title(items[j].first);
    }
    auto resp = client->ExtractAttributes(req);
    if (!resp.ok()) return Fail("ExtractAttributes", resp.status());
    for (int k = 0; k < resp->results_size(); ++k) {
      const auto& [title, gold] = items[i + k];
      in_title += ModelKey(title).find(gold) != std::string::npos;
      // The most confident model number (the first of equals).
      const v1::ExtractedAttribute* best = nullptr;
      for (const auto& a : resp->results(k).attributes()) {
        if (a.name() == "model_number" &&
            (best == nullptr || a.confidence() > best->confidence())) {
          best = &a;
        }
      }
      if (best == nullptr) continue;
      ++answered;
      right += ModelKey(best->normalized_value()) == gold;
    }
  }
  std::printf(
      "model numbers (Abt-Buy: %zu matched pairs; the Buy title, gold from the Abt name; the "
      "gold occurs in %.0f titles): precision %.4f, recall %.4f (of titles containing it: "
      "%.4f)\n",
      items.size(), in_title, answered > 0 ? right / answered : 0.0,
      items.empty() ? 0.0 : right / items.size(), in_title > 0 ? right / in_title : 0.0);
  std::printf(
      "model numbers, baseline (the longest token with letters and digits, same titles): "
      "precision %.4f, recall %.4f\n",
      base_answered > 0 ? base_right / base_answered : 0.0,
      items.empty() ? 0.0 : base_right / items.size());
  return 0;
}

// The attributes the generator writes into titles, as the graph names them.
const std::vector<std::string>& Scored() {
  static const auto* names =
      new std::vector<std::string>{"color", "material", "size", "gender_target"};
  return *names;
}

// Whether the normalised words of `value` occur as whole words in the normalised title.
bool InTitle(const std::string& title, const std::string& value) {
  std::string t = " " + knowledge::NormalizeText(title) + " ";
  std::string v = knowledge::NormalizeText(value);
  return !v.empty() && t.find(" " + v + " ") != std::string::npos;
}

int Run() {
  ClientOptions client_options;
  client_options.deadline_ms = 120000;
  auto client = Client::Connect(absl::GetFlag(FLAGS_addr), client_options);
  if (!client.ok()) return Fail("connecting", client.status());

  datagen::Options options;
  options.scale = absl::GetFlag(FLAGS_scale);
  options.seed = absl::GetFlag(FLAGS_seed);
  absl::Status valid = datagen::ValidateOptions(options);
  if (!valid.ok()) return Fail("options", valid);
  absl::flat_hash_map<uint64_t, TestProduct> tests;
  absl::flat_hash_map<uint64_t, std::string> brand_names;
  // The baseline's dictionary: every value of each scored attribute on the training
  // products (normalised).
  std::map<std::string, std::set<std::string>> dictionary;
  auto trained = ImportGeneratedAndTrain(client->get(), options, [&](v1::ImportRecord* record) {
    v1::ImportRecord& r = *record;
    if (r.has_entity() && r.entity().key().type() == v1::BRAND) {
      brand_names[r.entity().key().id()] = r.entity().name();
    }
    if (r.has_entity() && r.entity().key().type() == v1::PRODUCT &&
        r.entity().key().id() % 5 != 0) {
      for (const std::string& name : Scored()) {
        auto it = r.entity().attributes().find(name);
        if (it != r.entity().attributes().end()) {
          dictionary[name].insert(knowledge::NormalizeText(it->second));
        }
      }
    }
    if (r.has_entity() && r.entity().key().type() == v1::PRODUCT &&
        r.entity().key().id() % 5 == 0) {
      TestProduct& t = tests[r.entity().key().id()];
      t.title = r.entity().name();
      for (const std::string& name : Scored()) {
        auto it = r.entity().attributes().find(name);
        if (it != r.entity().attributes().end() && InTitle(t.title, it->second)) {
          t.truth[name] = knowledge::NormalizeText(it->second);
        }
      }
      r.mutable_entity()->clear_attributes();
    }
    if (r.has_edge() && r.edge().type() == v1::HAS_BRAND && r.edge().src().id() % 5 == 0) {
      tests[r.edge().src().id()].brand = r.edge().dst().id();
      return false;
    }
    return true;
  });
  if (!trained.ok()) return Fail("generating, importing, TrainModels", trained.status());

  std::vector<const TestProduct*> order;
  for (const auto& [id, t] : tests) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const TestProduct* a, const TestProduct* b) { return a->title < b->title; });
  std::map<std::string, std::array<double, 3>> counts;  // name -> truth, extracted, right
  std::map<std::string, std::array<double, 2>> base;    // name -> extracted, right
  for (const TestProduct* t : order) {
    for (const std::string& name : Scored()) {
      // The longest dictionary value whose words occur in the title.
      std::string best;
      for (const std::string& v : dictionary[name]) {
        if (v.size() > best.size() && InTitle(t->title, v)) best = v;
      }
      if (best.empty()) continue;
      auto truth = t->truth.find(name);
      base[name][0] += 1;
      base[name][1] += truth != t->truth.end() && truth->second == best;
    }
  }
  double brand_answered = 0, brand_right = 0;
  for (size_t i = 0; i < order.size(); i += 100) {
    v1::ExtractAttributesRequest req;
    v1::RecognizeBrandsRequest brands;
    for (size_t j = i; j < std::min(order.size(), i + 100); ++j) {
      req.add_items()->mutable_text()->set_title(order[j]->title);
      brands.add_items()->mutable_text()->set_title(order[j]->title);
    }
    auto resp = (*client)->ExtractAttributes(req);
    if (!resp.ok()) return Fail("ExtractAttributes", resp.status());
    auto brand_resp = (*client)->RecognizeBrands(brands);
    if (!brand_resp.ok()) return Fail("RecognizeBrands", brand_resp.status());
    for (int k = 0; k < resp->results_size(); ++k) {
      const TestProduct& t = *order[i + k];
      // An extraction's spellings: as normalised (with its unit), and as written.
      std::map<std::string, std::vector<std::string>> got;
      for (const auto& a : resp->results(k).attributes()) {
        if (got.count(a.name())) continue;  // the first of each name
        got[a.name()] = {knowledge::NormalizeText(a.normalized_value()),
                         knowledge::NormalizeText(a.normalized_value() + " " + a.unit()),
                         knowledge::NormalizeText(a.value())};
      }
      for (const std::string& name : Scored()) {
        auto truth = t.truth.find(name);
        auto extracted = got.find(name);
        counts[name][0] += truth != t.truth.end();
        counts[name][1] += extracted != got.end();
        counts[name][2] += truth != t.truth.end() && extracted != got.end() &&
                           std::find(extracted->second.begin(), extracted->second.end(),
                                     truth->second) != extracted->second.end();
      }
      const auto& mentions = brand_resp->results(k).mentions();
      if (mentions.empty()) continue;
      ++brand_answered;
      brand_right += mentions[0].brand().id() == t.brand;
    }
  }
  std::printf("generated catalog (scale %.3g, seed %llu): %zu test products, model %s\n",
              options.scale, static_cast<unsigned long long>(options.seed), order.size(),
              trained->model_version().c_str());
  std::printf("%-14s %8s %10s %10s %10s   %s\n", "attribute", "in title", "extracted", "precision",
              "recall", "baseline: dictionary of training values (P / R)");
  for (const std::string& name : Scored()) {
    const auto& c = counts[name];
    const auto& b = base[name];
    std::printf("%-14s %8.0f %10.0f %10.4f %10.4f   %.4f / %.4f\n", name.c_str(), c[0], c[1],
                c[1] > 0 ? c[2] / c[1] : 0.0, c[0] > 0 ? c[2] / c[0] : 0.0,
                b[0] > 0 ? b[1] / b[0] : 0.0, c[0] > 0 ? b[1] / c[0] : 0.0);
  }
  std::printf("brands: top mention precision %.4f, recall %.4f\n",
              brand_answered > 0 ? brand_right / brand_answered : 0.0,
              order.empty() ? 0.0 : brand_right / order.size());
  if (!absl::GetFlag(FLAGS_abt_buy).empty()) {
    return ScoreModelNumbers(client->get(), absl::GetFlag(FLAGS_abt_buy));
  }
  return 0;
}

}  // namespace
}  // namespace kg

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Scores ExtractAttributes and RecognizeBrands on a generated catalog through the public "
      "API.\n  kg_eval_attributes --addr=HOST:PORT [--scale=0.1] [--seed=42]");
  absl::ParseCommandLine(argc, argv);
  return kg::Run();
}
