// kg_eval_assign: scores AdminService.AssignSpus (kgctl spu assign) on a generated catalog,
// whose generator knows which listings are one product, through the public API, with a
// TF-IDF baseline in the same run (docs/KNOWLEDGE.md, "SPU assignment").
//
//   kg_server --partition_count=4 --metrics_port=-1 --port=50705 &      # a fresh server
//   kg_eval_assign --addr=127.0.0.1:50705 --scale=1 --unassigned_percent=5
//
// 1. Generates the sample graph with --unassigned_percent (client/datagen): that share of
//    the SPUs is withheld (entity and every INSTANCE_OF edge: products of products the
//    graph does not know yet), and that share of the other products lose their INSTANCE_OF
//    edge; imports the rest, keeps the withheld edges as the answer key.
// 2. Runs TrainModels, then AssignSpus as a dry run (every change listed), then for real
//    (timed), and reads the counts back.
// 3. Scores the dry run: attachments (precision; recall over the withheld products of known
//    SPUs), new groups (share of groups of one true product; precision and recall of the
//    pairs of products put together, against the pairs of the withheld SPUs' products).
// 4. The baseline, tuned on the known SPUs only: attach to the SPU whose name is nearest by
//    TF-IDF cosine over words when the cosine reaches a threshold (the one that maximises
//    F1 on a sample of products with a known SPU), then group what is left by single-link
//    over TF-IDF cosine between titles (threshold tuned the same way on known products).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "bench/generated_graph.h"
#include "client/cpp/client.h"
#include "client/datagen/datagen.h"
#include "server/knowledge/neighbors.h"
#include "server/knowledge/spu_matcher.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "a kg_server with an empty graph");
ABSL_FLAG(double, scale, 1.0, "size of the generated graph (1 = about 20,000 products)");
ABSL_FLAG(uint64_t, seed, 42, "generator seed");
ABSL_FLAG(double, unassigned_percent, 5, "share of SPUs and of products withheld (0..50)");
ABSL_FLAG(bool, apply, true, "after the dry run, run AssignSpus for real (timed)");

namespace kg {
namespace {

int Fail(const std::string& what, const absl::Status& status) {
  std::cerr << "kg_eval_assign: " << what << ": " << status << "\n";
  return 1;
}

struct Truth {
  absl::flat_hash_map<uint64_t, uint64_t> spu_of;  // withheld: product -> its SPU
  absl::flat_hash_set<uint64_t> new_spus;          // SPUs withheld whole
};

struct Outcome {
  std::map<uint64_t, uint64_t> attached;      // product -> SPU
  std::vector<std::vector<uint64_t>> groups;  // products
};

void Report(const std::string& name, const Outcome& o, const Truth& truth) {
  double right = 0;
  for (const auto& [product, spu] : o.attached) {
    auto it = truth.spu_of.find(product);
    right += it != truth.spu_of.end() && it->second == spu ? 1 : 0;
  }
  double known = 0;
  absl::flat_hash_map<uint64_t, double> new_members;
  for (const auto& [product, spu] : truth.spu_of) {
    if (truth.new_spus.contains(spu)) {
      new_members[spu] += 1;
    } else {
      known += 1;
    }
  }
  double true_pairs = 0;
  for (const auto& [spu, n] : new_members) true_pairs += n * (n - 1) / 2;
  double pure = 0, pairs = 0, good_pairs = 0;
  for (const std::vector<uint64_t>& g : o.groups) {
    std::set<uint64_t> spus;
    for (uint64_t p : g) {
      auto it = truth.spu_of.find(p);
      spus.insert(it == truth.spu_of.end() ? 0 : it->second);
    }
    pure += spus.size() == 1 ? 1 : 0;
    for (size_t a = 0; a < g.size(); ++a) {
      for (size_t b = a + 1; b < g.size(); ++b) {
        pairs += 1;
        auto x = truth.spu_of.find(g[a]), y = truth.spu_of.find(g[b]);
        good_pairs += x != truth.spu_of.end() && y != truth.spu_of.end() &&
                              x->second == y->second && truth.new_spus.contains(x->second)
                          ? 1
                          : 0;
      }
    }
  }
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  std::printf("%-34s %8zu %9.4f %9.4f %8zu %9.4f %9.4f %9.4f\n", name.c_str(), o.attached.size(),
              ratio(right, static_cast<double>(o.attached.size())), ratio(right, known),
              o.groups.size(), ratio(pure, static_cast<double>(o.groups.size())),
              ratio(good_pairs, pairs), ratio(good_pairs, true_pairs));
}

// Precision, recall, F1 of top-1 answers at a threshold, over (cosine, right) points where
// every point has a true answer.
double BestThreshold(const std::vector<std::pair<double, bool>>& points) {
  double best_t = 1, best_f1 = -1;
  for (double t = 0.02; t <= 1.0001; t += 0.02) {
    double answered = 0, right = 0;
    for (const auto& [c, ok] : points) {
      if (c < t) continue;
      answered += 1;
      right += ok ? 1 : 0;
    }
    const double p = answered > 0 ? right / answered : 0;
    const double r = points.empty() ? 0 : right / static_cast<double>(points.size());
    const double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
    if (f1 > best_f1) {
      best_f1 = f1;
      best_t = t;
    }
  }
  return best_t;
}

std::vector<std::string> Words(const std::string& title) {
  return knowledge::RetrievalTokens({title, "", 0, 0});
}

// Single-link groups of `titles` (indexes) over TF-IDF cosine >= t among their 10 nearest.
std::vector<std::vector<size_t>> SingleLink(const std::vector<std::string>& titles, double t) {
  knowledge::NeighborIndex index;
  std::vector<std::pair<std::vector<std::string>, int>> docs;
  for (const std::string& title : titles) docs.emplace_back(Words(title), 0);
  index.Build(docs, 1);
  std::vector<size_t> parent(titles.size());
  std::iota(parent.begin(), parent.end(), 0);
  std::function<size_t(size_t)> root = [&](size_t x) {
    return parent[x] == x ? x : parent[x] = root(parent[x]);
  };
  for (size_t i = 0; i < titles.size(); ++i) {
    for (const auto& [doc, cosine] : index.Nearest(docs[i].first, 11)) {
      if (doc != i && cosine >= t) parent[root(doc)] = root(i);
    }
  }
  std::map<size_t, std::vector<size_t>> by_root;
  for (size_t i = 0; i < titles.size(); ++i) by_root[root(i)].push_back(i);
  std::vector<std::vector<size_t>> out;
  for (auto& [r, members] : by_root) {
    if (members.size() >= 2) out.push_back(std::move(members));
  }
  return out;
}

int Run() {
  ClientOptions client_options;
  client_options.deadline_ms = 120000;
  auto client = Client::Connect(absl::GetFlag(FLAGS_addr), client_options);
  if (!client.ok()) return Fail("connecting", client.status());

  datagen::Options options;
  options.scale = absl::GetFlag(FLAGS_scale);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.unassigned_percent = absl::GetFlag(FLAGS_unassigned_percent);
  absl::Status valid = datagen::ValidateOptions(options);
  if (!valid.ok()) return Fail("options", valid);
  Truth truth;
  options.withheld = [&truth](const v1::ImportRecord& r) {
    if (r.has_entity()) truth.new_spus.insert(r.entity().key().id());
    if (r.has_edge()) truth.spu_of[r.edge().src().id()] = r.edge().dst().id();
    return absl::OkStatus();
  };
  absl::flat_hash_map<uint64_t, std::string> titles, spu_names;
  absl::flat_hash_map<uint64_t, uint64_t> known_spu;  // product -> SPU, in the graph
  auto trained = ImportGeneratedAndTrain(client->get(), options, [&](v1::ImportRecord* record) {
    const v1::ImportRecord& r = *record;
    if (r.has_entity() && r.entity().key().type() == v1::PRODUCT) {
      titles[r.entity().key().id()] = r.entity().name();
    }
    if (r.has_entity() && r.entity().key().type() == v1::SPU) {
      spu_names[r.entity().key().id()] = r.entity().name();
    }
    if (r.has_edge() && r.edge().type() == v1::INSTANCE_OF) {
      known_spu[r.edge().src().id()] = r.edge().dst().id();
    }
    return true;
  });
  if (!trained.ok()) return Fail("generating, importing, TrainModels", trained.status());

  // AssignSpus: the dry run lists every change.
  v1::AssignSpusRequest request;
  request.set_dry_run(true);
  request.set_max_listed(10000);
  auto start = std::chrono::steady_clock::now();
  auto dry = (*client)->AssignSpus(request, 3600000);
  const double dry_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!dry.ok()) return Fail("AssignSpus (dry run)", dry.status());
  if (dry->attached() > 10000 || dry->new_spus() > 10000) {
    std::cerr << "kg_eval_assign: more than 10,000 changes of a kind; use a smaller --scale\n";
    return 1;
  }
  Outcome assigned;
  for (const v1::SpuAttachment& a : dry->attachments()) {
    assigned.attached[a.product().id()] = a.spu().id();
  }
  for (const v1::NewSpuGroup& g : dry->groups()) {
    std::vector<uint64_t> members;
    for (const v1::EntityKey& k : g.products()) members.push_back(k.id());
    assigned.groups.push_back(std::move(members));
  }

  // The baseline, its thresholds tuned on products with a known SPU (every 5th).
  Outcome baseline;
  {
    std::vector<uint64_t> spu_ids;
    std::vector<std::pair<std::vector<std::string>, int>> docs;
    for (const auto& [id, name] : spu_names) spu_ids.push_back(id);
    std::sort(spu_ids.begin(), spu_ids.end());
    for (uint64_t id : spu_ids) docs.emplace_back(Words(spu_names[id]), 0);
    knowledge::NeighborIndex names;
    names.Build(docs, 1);
    auto nearest = [&](const std::string& title, double* cosine) -> uint64_t {
      auto n = names.Nearest(Words(title), 1);
      if (n.empty()) return 0;
      *cosine = n[0].second;
      return spu_ids[n[0].first];
    };
    std::vector<uint64_t> tuning;
    for (const auto& [product, spu] : known_spu) {
      if (product % 5 == 0) tuning.push_back(product);
    }
    std::sort(tuning.begin(), tuning.end());
    std::vector<std::pair<double, bool>> points;
    for (uint64_t p : tuning) {
      double c = 0;
      const uint64_t s = nearest(titles[p], &c);
      points.emplace_back(c, s == known_spu[p]);
    }
    const double attach_t = BestThreshold(points);
    // Grouping threshold: pair F1 of single-link on 2,000 known products.
    std::vector<std::string> sample_titles;
    std::vector<uint64_t> sample;
    for (size_t k = 0; k < tuning.size() && sample.size() < 2000; ++k) {
      sample.push_back(tuning[k]);
      sample_titles.push_back(titles[tuning[k]]);
    }
    double true_pairs = 0;
    {
      std::map<uint64_t, double> per;
      for (uint64_t p : sample) per[known_spu[p]] += 1;
      for (const auto& [s, n] : per) true_pairs += n * (n - 1) / 2;
    }
    double group_t = 1, best_f1 = -1;
    for (double t = 0.3; t <= 1.0001; t += 0.05) {
      double pairs = 0, good = 0;
      for (const auto& g : SingleLink(sample_titles, t)) {
        for (size_t a = 0; a < g.size(); ++a) {
          for (size_t b = a + 1; b < g.size(); ++b) {
            pairs += 1;
            good += known_spu[sample[g[a]]] == known_spu[sample[g[b]]] ? 1 : 0;
          }
        }
      }
      const double p = pairs > 0 ? good / pairs : 0, r = true_pairs > 0 ? good / true_pairs : 0;
      const double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
      if (f1 > best_f1) {
        best_f1 = f1;
        group_t = t;
      }
    }
    std::vector<uint64_t> unassigned;
    for (const auto& [product, title] : titles) {
      if (!known_spu.contains(product)) unassigned.push_back(product);
    }
    std::sort(unassigned.begin(), unassigned.end());
    std::vector<uint64_t> rest;
    std::vector<std::string> rest_titles;
    for (uint64_t p : unassigned) {
      double c = 0;
      const uint64_t s = nearest(titles[p], &c);
      if (s != 0 && c >= attach_t) {
        baseline.attached[p] = s;
      } else {
        rest.push_back(p);
        rest_titles.push_back(titles[p]);
      }
    }
    for (const auto& g : SingleLink(rest_titles, group_t)) {
      std::vector<uint64_t> members;
      for (size_t i : g) members.push_back(rest[i]);
      baseline.groups.push_back(std::move(members));
    }
    std::printf(
        "baseline thresholds (tuned on %zu products with a known SPU): attach cosine "
        ">= %.2f, group cosine >= %.2f\n",
        tuning.size(), attach_t, group_t);
  }

  std::printf(
      "generated: scale %.2f, %zu products, %zu SPUs in the graph; withheld: %zu "
      "INSTANCE_OF edges, %zu SPUs whole; model %s\n",
      options.scale, titles.size(), spu_names.size(), truth.spu_of.size(), truth.new_spus.size(),
      trained->model_version().c_str());
  std::printf("%-34s %8s %9s %9s %8s %9s %9s %9s\n", "", "attached", "precision", "recall",
              "groups", "pure", "pair P", "pair R");
  Report("AssignSpus (defaults)", assigned, truth);
  Report("TF-IDF baseline", baseline, truth);
  std::printf("AssignSpus dry run: %.2f s for %lu products without an SPU (%lu left alone)\n",
              dry_seconds, static_cast<unsigned long>(dry->products_examined()),
              static_cast<unsigned long>(dry->left_without_spu()));
  if (!absl::GetFlag(FLAGS_apply)) return 0;
  request.set_dry_run(false);
  request.set_max_listed(-1);
  start = std::chrono::steady_clock::now();
  auto applied = (*client)->AssignSpus(request, 3600000);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!applied.ok()) return Fail("AssignSpus", applied.status());
  std::printf("AssignSpus for real: %.2f s; %lu edges and %lu SPU entities written, %lu refused\n",
              seconds, static_cast<unsigned long>(applied->edges_written()),
              static_cast<unsigned long>(applied->entities_written()),
              static_cast<unsigned long>(applied->write_failures()));
  auto again = (*client)->AssignSpus(request, 3600000);
  if (!again.ok()) return Fail("AssignSpus (again)", again.status());
  std::printf("AssignSpus again: %lu attached, %lu new SPUs, %lu edges written\n",
              static_cast<unsigned long>(again->attached()),
              static_cast<unsigned long>(again->new_spus()),
              static_cast<unsigned long>(again->edges_written()));
  return 0;
}

}  // namespace
}  // namespace kg

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Scores AssignSpus on a generated catalog through the public API, with a TF-IDF "
      "baseline.\n  kg_eval_assign --addr=HOST:PORT [--scale=1] [--unassigned_percent=5]");
  absl::ParseCommandLine(argc, argv);
  return kg::Run();
}
