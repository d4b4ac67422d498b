// kg_eval_spu: scores MatchSpu on the Abt-Buy benchmark through the public API, with two
// TF-IDF baselines in the same run (docs/KNOWLEDGE.md, "MatchSpu").
//
//   kg_server --partition_count=4 --metrics_port=-1 --port=50703 &      # a fresh server
//   kg_eval_spu --addr=127.0.0.1:50703 --abt_buy=../shared/data/abt-buy
//
// 1. Splits the gold pairs 80/20 by a stable hash of "idAbt-idBuy" (test: hash mod 5 == 0).
// 2. Imports both shops' products (name, Buy's manufacturer as a BRAND, the price; all
//    under one category, with 20 placeholder products under a second, because TrainModels
//    also trains the categorizer, which needs two labelled categories); each
//    training pair as one SPU (named by the Abt name) with both products INSTANCE_OF it;
//    each test pair's Abt product as an SPU of its own (its only member).
// 3. Runs TrainModels, then MatchSpu on every test pair's Buy product (by key), once.
// 4. Prints precision, recall and F1 of the top candidate at the default threshold (0.5)
//    and a precision-recall curve; two baselines: the SPU whose name is nearest to the Buy
//    title by TF-IDF cosine (over words; over character trigrams), each with the cosine
//    threshold that maximises F1 on the training pairs.
// --validation_only stops after 3's TrainModels and prints its own validation figures
// (SPUs of the graph held out from training): the figures to tune by.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "bench/csv_rows.h"
#include "client/cpp/client.h"
#include "server/knowledge/bytes.h"
#include "server/knowledge/neighbors.h"
#include "server/knowledge/spu_matcher.h"
#include "server/knowledge/text.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "a kg_server with an empty graph");
ABSL_FLAG(std::string, abt_buy, "", "the Abt-Buy directory (abt.csv, buy.csv, mapping)");
ABSL_FLAG(bool, validation_only, false,
          "import and train, print TrainModels' own validation figures (held-out SPUs of the "
          "graph) and stop: for tuning without reading the test pairs' answers");

namespace kg {
namespace {

constexpr uint64_t kAbtBase = 1000000000, kBuyBase = 2000000000;

int Fail(const std::string& what, const absl::Status& status) {
  std::cerr << "kg_eval_spu: " << what << ": " << status << "\n";
  return 1;
}

v1::EntityKey Key(v1::EntityType type, uint64_t id) {
  v1::EntityKey k;
  k.set_type(type);
  k.set_id(id);
  return k;
}

double Price(const std::string& text) {
  std::string t = absl::StrReplaceAll(text, {{"$", ""}, {",", ""}});
  double v = 0;
  return absl::SimpleAtod(t, &v) ? v : 0;
}

struct Pair {
  uint64_t abt = 0, buy = 0;
  bool test = false;
  uint64_t spu = 0;
};

// Precision, recall and F1 of top-1 predictions (`predicted[i]` 0: none) against `gold`.
void Score(const std::vector<uint64_t>& predicted, const std::vector<uint64_t>& gold, double* p,
           double* r, double* f1) {
  double answered = 0, right = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    if (predicted[i] == 0) continue;
    ++answered;
    right += predicted[i] == gold[i];
  }
  *p = answered > 0 ? right / answered : 0;
  *r = gold.empty() ? 0 : right / gold.size();
  *f1 = *p + *r > 0 ? 2 * *p * *r / (*p + *r) : 0;
}

int Run() {
  const std::string dir = absl::GetFlag(FLAGS_abt_buy);
  auto abt = ReadCsvRows(dir + "/abt.csv");
  auto buy = ReadCsvRows(dir + "/buy.csv");
  auto mapping = ReadCsvRows(dir + "/abt_buy_perfect_mapping.csv");
  if (!abt.ok() || !buy.ok() || !mapping.ok()) {
    return Fail("--abt_buy", absl::NotFoundError("cannot read abt.csv, buy.csv or the mapping"));
  }
  std::map<uint64_t, std::map<std::string, std::string>> abt_rows, buy_rows;
  for (auto& row : *abt) {
    uint64_t id = 0;
    if (absl::SimpleAtoi(row["id"], &id)) abt_rows[id] = row;
  }
  for (auto& row : *buy) {
    uint64_t id = 0;
    if (absl::SimpleAtoi(row["id"], &id)) buy_rows[id] = row;
  }
  std::vector<Pair> pairs;
  for (auto& row : *mapping) {
    Pair p;
    if (!absl::SimpleAtoi(row["idAbt"], &p.abt) || !absl::SimpleAtoi(row["idBuy"], &p.buy) ||
        !abt_rows.count(p.abt) || !buy_rows.count(p.buy)) {
      continue;
    }
    p.test = knowledge::Fnv1a64(absl::StrCat(p.abt, "-", p.buy)) % 5 == 0;
    p.spu = pairs.size() + 1;
    pairs.push_back(p);
  }
  ClientOptions options;
  options.deadline_ms = 120000;
  auto client = Client::Connect(absl::GetFlag(FLAGS_addr), options);
  if (!client.ok()) return Fail("connecting", client.status());

  // Import: products, brands, SPUs and their members.
  std::unique_ptr<ImportWriter> writer = (*client)->StartImport(v1::ImportOptions(), 600000);
  std::vector<v1::ImportRecord> batch;
  auto entity = [&](v1::EntityType type, uint64_t id, const std::string& name, double price) {
    v1::ImportRecord r;
    *r.mutable_entity()->mutable_key() = Key(type, id);
    r.mutable_entity()->set_name(name);
    if (price > 0) (*r.mutable_entity()->mutable_metrics())["price"] = price;
    batch.push_back(std::move(r));
  };
  auto edge = [&](v1::EntityKey src, v1::EdgeType type, v1::EntityKey dst) {
    v1::ImportRecord r;
    *r.mutable_edge()->mutable_src() = src;
    r.mutable_edge()->set_type(type);
    *r.mutable_edge()->mutable_dst() = dst;
    r.mutable_edge()->set_weight(1);
    batch.push_back(std::move(r));
  };
  // TrainModels also trains the categorizer, which needs labelled products in two
  // categories; Abt-Buy has none: every product goes under one category (so category
  // agreement says nothing about a pair) and 20 placeholder products under a second.
  entity(v1::CATEGORY, 1, "Products", 0);
  entity(v1::CATEGORY, 2, "Placeholder", 0);
  for (uint64_t k = 1; k <= 20; ++k) {
    entity(v1::PRODUCT, 3000000000 + k, absl::StrCat("placeholder item ", k), 0);
    edge(Key(v1::PRODUCT, 3000000000 + k), v1::IN_CATEGORY, Key(v1::CATEGORY, 2));
  }
  std::map<std::string, uint64_t> brands;
  for (auto& [id, row] : abt_rows) {
    entity(v1::PRODUCT, kAbtBase + id, row["name"], Price(row["price"]));
    edge(Key(v1::PRODUCT, kAbtBase + id), v1::IN_CATEGORY, Key(v1::CATEGORY, 1));
  }
  for (auto& [id, row] : buy_rows) {
    entity(v1::PRODUCT, kBuyBase + id, row["name"], Price(row["price"]));
    edge(Key(v1::PRODUCT, kBuyBase + id), v1::IN_CATEGORY, Key(v1::CATEGORY, 1));
    const std::string& maker = row["manufacturer"];
    if (maker.empty()) continue;
    auto [it, added] = brands.emplace(maker, brands.size() + 1);
    if (added) entity(v1::BRAND, it->second, maker, 0);
    edge(Key(v1::PRODUCT, kBuyBase + id), v1::HAS_BRAND, Key(v1::BRAND, it->second));
  }
  for (const Pair& p : pairs) {
    entity(v1::SPU, p.spu, abt_rows[p.abt]["name"], Price(abt_rows[p.abt]["price"]));
    edge(Key(v1::PRODUCT, kAbtBase + p.abt), v1::INSTANCE_OF, Key(v1::SPU, p.spu));
    if (!p.test) edge(Key(v1::PRODUCT, kBuyBase + p.buy), v1::INSTANCE_OF, Key(v1::SPU, p.spu));
  }
  for (size_t i = 0; i < batch.size(); i += 1000) {
    std::vector<v1::ImportRecord> part(batch.begin() + i,
                                       batch.begin() + std::min(batch.size(), i + 1000));
    absl::Status s = writer->Write(std::move(part));
    if (!s.ok()) return Fail("import", s);
  }
  auto imported = writer->Finish();
  if (!imported.ok()) return Fail("import", imported.status());
  auto trained = (*client)->TrainModels(v1::TrainModelsRequest(), 7200000,
                                        [](const v1::TrainModelsProgress&) {});
  if (!trained.ok()) return Fail("TrainModels", trained.status());
  if (absl::GetFlag(FLAGS_validation_only)) {
    std::printf("model %s; TrainModels' own validation (held-out SPUs): %s\n",
                trained->model_version().c_str(),
                trained->spu_matcher().ShortDebugString().c_str());
    return 0;
  }

  // MatchSpu on the test pairs' Buy products.
  std::vector<const Pair*> tests, trains;
  for (const Pair& p : pairs) (p.test ? tests : trains).push_back(&p);
  std::vector<uint64_t> gold, top;
  std::vector<double> score;
  for (size_t i = 0; i < tests.size(); i += 100) {
    v1::MatchSpuRequest req;
    req.set_top_k(1);
    for (size_t j = i; j < std::min(tests.size(), i + 100); ++j) {
      *req.add_items()->mutable_key() = Key(v1::PRODUCT, kBuyBase + tests[j]->buy);
    }
    auto resp = (*client)->MatchSpu(req);
    if (!resp.ok()) return Fail("MatchSpu", resp.status());
    for (int k = 0; k < resp->results_size(); ++k) {
      const auto& r = resp->results(k);
      gold.push_back(tests[i + k]->spu);
      top.push_back(r.candidates_size() > 0 ? r.candidates(0).spu().id() : 0);
      score.push_back(r.candidates_size() > 0 ? r.candidates(0).score() : 0);
    }
  }
  // The baselines: TF-IDF over the SPU names (of words, then of character trigrams of the
  // normalised names without spaces), each with its threshold tuned on the training pairs.
  struct Baseline {
    std::string name;
    double threshold = 0;
    std::vector<uint64_t> predicted;
  };
  auto baseline = [&](const std::string& name,
                      const std::function<std::vector<std::string>(const std::string&)>& tokens) {
    Baseline b{name, 0, {}};
    knowledge::NeighborIndex names;
    std::vector<std::pair<std::vector<std::string>, int>> docs;
    for (const Pair& p : pairs) docs.emplace_back(tokens(abt_rows[p.abt]["name"]), 0);
    names.Build(docs, 1);
    auto nearest = [&](const Pair& p, double* cosine) -> uint64_t {
      auto n = names.Nearest(tokens(buy_rows[p.buy]["name"]), 1);
      if (n.empty()) return 0;
      *cosine = n[0].second;
      return pairs[n[0].first].spu;
    };
    double best_f1 = -1;
    for (double t = 0; t <= 1.0001; t += 0.02) {
      std::vector<uint64_t> predicted, truth;
      for (const Pair* p : trains) {
        double c = 0;
        uint64_t s = nearest(*p, &c);
        predicted.push_back(s != 0 && c >= t ? s : 0);
        truth.push_back(p->spu);
      }
      double pr, rc, f1;
      Score(predicted, truth, &pr, &rc, &f1);
      if (f1 > best_f1) {
        best_f1 = f1;
        b.threshold = t;
      }
    }
    for (const Pair* p : tests) {
      double c = 0;
      uint64_t s = nearest(*p, &c);
      b.predicted.push_back(s != 0 && c >= b.threshold ? s : 0);
    }
    return b;
  };
  std::vector<Baseline> baselines = {
      baseline("TF-IDF words",
               [](const std::string& t) {
                 return knowledge::RetrievalTokens({t, "", 0, 0});
               }),
      baseline("TF-IDF char trigrams", [](const std::string& t) {
        std::string squashed = absl::StrReplaceAll(knowledge::NormalizeText(t), {{" ", ""}});
        std::vector<std::string> out;
        for (size_t i = 0; i + 3 <= squashed.size(); ++i) out.push_back(squashed.substr(i, 3));
        return out;
      })};
  std::printf(
      "Abt-Buy: %zu gold pairs, %zu train, %zu test (hash of idAbt-idBuy mod 5 == 0); model %s\n",
      pairs.size(), trains.size(), tests.size(), trained->model_version().c_str());
  std::printf("TrainModels' own validation (held-out SPUs): %s\n",
              trained->spu_matcher().ShortDebugString().c_str());
  std::printf("%-42s %9s %9s %9s\n", "", "precision", "recall", "F1");
  auto at = [&](double t) {
    std::vector<uint64_t> predicted;
    for (size_t i = 0; i < top.size(); ++i) predicted.push_back(score[i] >= t ? top[i] : 0);
    return predicted;
  };
  double p, r, f1;
  Score(at(0.5), gold, &p, &r, &f1);
  std::printf("%-42s %9.4f %9.4f %9.4f\n", "MatchSpu, top candidate, score >= 0.5", p, r, f1);
  for (const Baseline& b : baselines) {
    Score(b.predicted, gold, &p, &r, &f1);
    std::printf(
        "%-42s %9.4f %9.4f %9.4f\n",
        absl::StrCat(b.name, " top-1, cosine >= ", b.threshold, " (tuned on train)").c_str(), p, r,
        f1);
  }
  std::printf("precision-recall of MatchSpu's top candidate by score threshold:\n");
  for (double t : {0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95}) {
    Score(at(t), gold, &p, &r, &f1);
    std::printf("  >= %.2f: precision %.4f recall %.4f F1 %.4f\n", t, p, r, f1);
  }
  return 0;
}

}  // namespace
}  // namespace kg

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Scores MatchSpu on Abt-Buy through the public API, with two TF-IDF baselines.\n"
      "  kg_eval_spu --addr=HOST:PORT --abt_buy=DIR [--validation_only]");
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_abt_buy).empty()) {
    std::cerr << "kg_eval_spu: --abt_buy is required\n";
    return 2;
  }
  return kg::Run();
}
