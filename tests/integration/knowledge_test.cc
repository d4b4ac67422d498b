// KnowledgeService and AdminService.TrainModels against real servers, in both modes: the
// model is trained from a generated catalog in the graph, installed on every partition
// server (one version everywhere), and answers Categorize for texts, PRODUCT keys and a
// merchant's / influencer's mix; GetTaxonomy reads the live tree; bad items get their own
// status. A durable server restarted serves the same version, and refuses a damaged
// bundle naming the file.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "kg/v1/admin.grpc.pb.h"
#include "kg/v1/knowledge.grpc.pb.h"
#include "tests/integration/dataset.h"
#include "tests/integration/harness.h"

namespace kg {
namespace integration {
namespace {

constexpr int kRoots = 3, kMids = 2, kLeaves = 2;
constexpr int kCatalogProducts = 480;
constexpr uint64_t kMerchant = 1, kInfluencer = 1;
constexpr uint64_t kSpus = 36;  // three per leaf: every 12th product, in turn

// The SPU of catalog product p: one of its leaf's three (so one brand), in turn.
uint64_t SpuOf(uint64_t p) { return 1 + (p - 1) % 12 + 12 * (((p - 1) / 12) % 3); }

// The model code of SPU `s`, in its name and its products' titles.
std::string ModelCode(uint64_t s) { return absl::StrCat("MDL", 7 * s, "Z"); }

// Category ids: roots 1..3, then their children, then leaves.
struct Catalog {
  Dataset data;
  std::vector<uint64_t> leaves;
  std::map<uint64_t, uint64_t> parent;
  std::map<uint64_t, uint64_t> product_leaf;  // every product's true leaf
  std::set<uint64_t> unlabelled;              // products without IN_CATEGORY
};

std::string LeafWords(uint64_t leaf, int variant) {
  return absl::StrCat("leaf", leaf, "word", variant % 4, " leaf", leaf, "term", (variant / 4) % 3);
}

Catalog MakeCatalog() {
  Catalog c;
  uint64_t next = 1;
  auto category = [&](const std::string& name, uint64_t parent) {
    uint64_t id = next++;
    v1::Entity e;
    *e.mutable_key() = Key(v1::CATEGORY, id);
    e.set_name(name);
    e.set_update_time_ms(1);
    c.data.entities.push_back(e);
    if (parent != 0) {
      c.data.edges.push_back(
          MakeEdge(Key(v1::CATEGORY, id), v1::SUBCATEGORY_OF, Key(v1::CATEGORY, parent), 1000, 1));
      c.parent[id] = parent;
    }
    return id;
  };
  for (int r = 0; r < kRoots; ++r) {
    uint64_t root = category(absl::StrCat("Root", r), 0);
    for (int m = 0; m < kMids; ++m) {
      uint64_t mid = category(absl::StrCat("Mid", r, m), root);
      for (int l = 0; l < kLeaves; ++l) {
        c.leaves.push_back(category(absl::StrCat("Leaf", r, m, l), mid));
      }
    }
  }
  for (int b = 1; b <= 6; ++b) {
    v1::Entity e;
    *e.mutable_key() = Key(v1::BRAND, b);
    e.set_name(absl::StrCat("Brand", b));
    if (b == 2) (*e.mutable_attributes())["aliases"] = "Bee Two|B-2 Co";
    e.set_update_time_ms(1);
    c.data.entities.push_back(e);
  }
  for (uint64_t s = 1; s <= kSpus; ++s) {
    v1::Entity e;
    *e.mutable_key() = Key(v1::SPU, s);
    e.set_name(absl::StrCat("Gadget ", ModelCode(s)));
    e.set_update_time_ms(1);
    c.data.entities.push_back(e);
  }
  v1::Entity merchant;
  *merchant.mutable_key() = Key(v1::MERCHANT, kMerchant);
  merchant.set_name("A merchant");
  merchant.set_update_time_ms(1);
  c.data.entities.push_back(merchant);
  std::mt19937_64 rng(7);
  for (uint64_t p = 1; p <= kCatalogProducts; ++p) {
    uint64_t leaf = c.leaves[(p - 1) % c.leaves.size()];
    v1::Entity e;
    *e.mutable_key() = Key(v1::PRODUCT, p);
    // "Brand3 leaf5word1 leaf5term2 noise7 item 12, Red": the brand first, the colour last.
    const std::string colour = rng() % 2 ? "Red" : "Blue";
    e.set_name(absl::StrCat("Brand", 1 + (leaf % 6), " ",
                            LeafWords(leaf, static_cast<int>(rng() % 12)), " noise", rng() % 40,
                            " item ", p, " ", ModelCode(SpuOf(p)), ", ", colour));
    (*e.mutable_attributes())["colour"] = colour;
    e.set_update_time_ms(1);
    c.data.entities.push_back(e);
    c.product_leaf[p] = leaf;
    c.data.edges.push_back(
        MakeEdge(Key(v1::PRODUCT, p), v1::INSTANCE_OF, Key(v1::SPU, SpuOf(p)), 1000, 1));
    if (p % 10 == 0) {
      c.unlabelled.insert(p);
    } else {
      c.data.edges.push_back(
          MakeEdge(Key(v1::PRODUCT, p), v1::IN_CATEGORY, Key(v1::CATEGORY, leaf), 1000, 1));
    }
    c.data.edges.push_back(
        MakeEdge(Key(v1::PRODUCT, p), v1::HAS_BRAND, Key(v1::BRAND, 1 + (leaf % 6)), 1000, 1));
    // The merchant sells the first leaf's products; the influencer promotes the second's.
    if (leaf == c.leaves[0]) {
      c.data.edges.push_back(
          MakeEdge(Key(v1::PRODUCT, p), v1::SOLD_BY, Key(v1::MERCHANT, kMerchant), 1000 + p, 1));
    }
    if (leaf == c.leaves[1]) {
      c.data.edges.push_back(MakeEdge(Key(v1::INFLUENCER, kInfluencer), v1::PROMOTES,
                                      Key(v1::PRODUCT, p), 1000 + p, 1));
    }
  }
  return c;
}

const Catalog& TheCatalog() {
  static const Catalog* c = new Catalog(MakeCatalog());
  return *c;
}

std::unique_ptr<v1::KnowledgeService::Stub> KnowledgeStub(Cluster* cluster) {
  return v1::KnowledgeService::NewStub(cluster->channel());
}

// Runs TrainModels to the end; returns the messages.
grpc::Status Train(v1::AdminService::Stub* admin, std::vector<v1::TrainModelsProgress>* messages,
                   const v1::TrainModelsRequest& req = v1::TrainModelsRequest()) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, Millis(120000));
  auto stream = admin->TrainModels(&ctx, req);
  v1::TrainModelsProgress m;
  while (stream->Read(&m)) messages->push_back(m);
  return stream->Finish();
}

grpc::Status Categorize(v1::KnowledgeService::Stub* stub, const v1::CategorizeRequest& req,
                        v1::CategorizeResponse* resp) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  return stub->Categorize(&ctx, req, resp);
}

v1::KnowledgeItem TextItem(const std::string& title) {
  v1::KnowledgeItem item;
  item.mutable_text()->set_title(title);
  return item;
}

v1::KnowledgeItem KeyItem(v1::EntityType type, uint64_t id) {
  v1::KnowledgeItem item;
  *item.mutable_key() = Key(type, id);
  return item;
}

class KnowledgeTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    cluster_ = NewCluster(GetParam());
    ASSERT_TRUE(cluster_->Start(ClusterOptions{}).ok());
    ASSERT_TRUE(LoadViaRpc(cluster_->graph(), TheCatalog().data).ok());
    knowledge_ = KnowledgeStub(cluster_.get());
  }
  void TearDown() override {
    knowledge_.reset();
    EXPECT_TRUE(cluster_->Stop().ok());
  }

  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<v1::KnowledgeService::Stub> knowledge_;
};

TEST_P(KnowledgeTest, TrainInstallEverywhereAndCategorize) {
  const Catalog& catalog = TheCatalog();
  // No model yet.
  v1::CategorizeRequest early;
  *early.add_items() = TextItem("anything");
  v1::CategorizeResponse early_resp;
  grpc::Status s = Categorize(knowledge_.get(), early, &early_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("TrainModels"), std::string::npos) << s.error_message();

  std::vector<v1::TrainModelsProgress> messages;
  s = Train(cluster_->admin(), &messages);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_GE(messages.size(), 3u);
  for (size_t i = 1; i < messages.size(); ++i) {
    EXPECT_GE(messages[i].fraction(), messages[i - 1].fraction());
  }
  const v1::TrainModelsProgress& last = messages.back();
  ASSERT_TRUE(last.done());
  const std::string version = last.model_version();
  EXPECT_FALSE(version.empty());
  EXPECT_EQ(last.categories(),
            static_cast<uint64_t>(kRoots + kRoots * kMids + kRoots * kMids * kLeaves));
  EXPECT_EQ(last.labelled_products(), kCatalogProducts - catalog.unlabelled.size());
  EXPECT_EQ(last.brands(), 6u);
  EXPECT_GT(last.categorizer().accuracy_depth1(), 0.9);
  EXPECT_EQ(last.installed_on_size(), GetParam() == "split" ? 2 : 1);

  // One version on every partition.
  v1::GetClusterInfoResponse info;
  grpc::ClientContext info_ctx;
  SetDeadline(&info_ctx);
  ASSERT_TRUE(cluster_->admin()->GetClusterInfo(&info_ctx, {}, &info).ok());
  for (const auto& p : info.partitions()) EXPECT_EQ(p.model_version(), version);
  // ... and in the metrics of every process holding partitions (none on a front end):
  // one series per partition, all with this version and 1.
  int installed = 0;
  for (const auto& process : cluster_->processes()) {
    absl::StatusOr<std::vector<MetricSample>> samples = ScrapeMetrics(process->metrics_address());
    ASSERT_TRUE(samples.ok()) << samples.status();
    for (const MetricSample& sample : *samples) {
      if (sample.name != "kg_model_bundle_info") continue;
      ++installed;
      EXPECT_EQ(sample.labels.at("model_version"), version) << process->name();
      EXPECT_EQ(sample.value, 1) << process->name();
    }
  }
  EXPECT_EQ(installed, info.partitions_size());

  // Texts, unlabelled products by key, the merchant's and the influencer's mix, bad items.
  v1::CategorizeRequest req;
  req.set_top_k(2);
  for (uint64_t leaf : catalog.leaves) *req.add_items() = TextItem(LeafWords(leaf, 5) + " new");
  const int first_key = req.items_size();
  for (uint64_t p : catalog.unlabelled) *req.add_items() = KeyItem(v1::PRODUCT, p);
  const int merchant_item = req.items_size();
  *req.add_items() = KeyItem(v1::MERCHANT, kMerchant);
  *req.add_items() = KeyItem(v1::INFLUENCER, kInfluencer);
  const int bad = req.items_size();
  *req.add_items() = KeyItem(v1::BUYER, 3);
  *req.add_items() = KeyItem(v1::PRODUCT, 99999);
  *req.add_items() = TextItem(" ... ");
  *req.add_items() = TextItem(std::string(5000, 'x'));
  v1::CategorizeResponse resp;
  s = Categorize(knowledge_.get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.results_size(), req.items_size());
  EXPECT_EQ(resp.model_version(), version);
  int right = 0;
  for (size_t i = 0; i < catalog.leaves.size(); ++i) {
    const v1::CategorizeResult& r = resp.results(static_cast<int>(i));
    ASSERT_EQ(r.status().code(), 0) << r.status().message();
    ASSERT_EQ(r.predictions_size(), 2);
    EXPECT_EQ(r.predictions(0).path_size(), 3);  // root first, a consistent path
    EXPECT_GE(r.predictions(0).confidence(), r.predictions(1).confidence());
    right += r.predictions(0).category().id() == catalog.leaves[i];
  }
  EXPECT_GE(right, static_cast<int>(catalog.leaves.size()) - 1);
  int keys_right = 0;
  int k = first_key;
  for (uint64_t p : catalog.unlabelled) {
    const v1::CategorizeResult& r = resp.results(k++);
    ASSERT_EQ(r.status().code(), 0) << r.status().message();
    keys_right += r.predictions(0).category().id() == catalog.product_leaf.at(p);
  }
  EXPECT_GE(keys_right, static_cast<int>(catalog.unlabelled.size()) * 8 / 10);
  for (int m = merchant_item; m < merchant_item + 2; ++m) {
    const v1::CategorizeResult& mix = resp.results(m);
    ASSERT_EQ(mix.status().code(), 0) << mix.status().message();
    EXPECT_EQ(mix.total(), static_cast<uint64_t>(kCatalogProducts / catalog.leaves.size()));
    EXPECT_EQ(mix.sampled(), mix.total());
    ASSERT_GE(mix.predictions_size(), 1);
    // Every product of the mix is in one leaf: its share is (nearly) all.
    EXPECT_EQ(mix.predictions(0).category().id(), catalog.leaves[m - merchant_item]);
    EXPECT_GT(mix.predictions(0).confidence(), 0.9);
  }
  EXPECT_EQ(resp.results(bad).status().code(), 3);
  EXPECT_NE(
      resp.results(bad).status().message().find("items[" + std::to_string(bad) + "].key.type"),
      std::string::npos);
  EXPECT_EQ(resp.results(bad + 1).status().code(), 5) << resp.results(bad + 1).status().message();
  // Named by its place in this request, not in the partition's.
  EXPECT_NE(resp.results(bad + 1).status().message().find("items[" + std::to_string(bad + 1) + "]"),
            std::string::npos)
      << resp.results(bad + 1).status().message();
  EXPECT_EQ(resp.results(bad + 2).status().code(), 3);
  EXPECT_NE(resp.results(bad + 2).status().message().find(".text.title"), std::string::npos);
  EXPECT_EQ(resp.results(bad + 3).status().code(), 3);

  // Request-level bounds.
  v1::CategorizeRequest too_many_k = early;
  too_many_k.set_top_k(21);
  EXPECT_EQ(Categorize(knowledge_.get(), too_many_k, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::CategorizeRequest too_many_items;
  for (int i = 0; i < 1001; ++i) *too_many_items.add_items() = TextItem("x");
  EXPECT_EQ(Categorize(knowledge_.get(), too_many_items, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::CategorizeRequest none;
  EXPECT_EQ(Categorize(knowledge_.get(), none, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // Training again installs a new version.
  std::vector<v1::TrainModelsProgress> again;
  ASSERT_TRUE(Train(cluster_->admin(), &again).ok());
  EXPECT_NE(again.back().model_version(), version);
}

TEST_P(KnowledgeTest, TaxonomyIsLiveWithCounts) {
  const Catalog& catalog = TheCatalog();
  auto taxonomy = [this](const v1::GetTaxonomyRequest& req, v1::GetTaxonomyResponse* resp) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    return knowledge_->GetTaxonomy(&ctx, req, resp);
  };
  v1::GetTaxonomyResponse roots;
  ASSERT_TRUE(taxonomy({}, &roots).ok());
  ASSERT_EQ(roots.children_size(), kRoots);
  uint64_t labelled = 0;
  for (const auto& r : roots.children()) {
    EXPECT_EQ(r.depth(), 1);
    labelled += r.product_count_with_descendants();
  }
  EXPECT_EQ(labelled, kCatalogProducts - catalog.unlabelled.size());
  const uint64_t leaf = catalog.leaves[3];
  v1::GetTaxonomyRequest req;
  *req.mutable_category() = Key(v1::CATEGORY, catalog.parent.at(catalog.parent.at(leaf)));
  req.set_child_depth(2);
  v1::GetTaxonomyResponse around;
  ASSERT_TRUE(taxonomy(req, &around).ok());
  ASSERT_EQ(around.path_size(), 1);
  EXPECT_EQ(around.children_size(), kMids + kMids * kLeaves);
  // By a path of names.
  v1::GetTaxonomyRequest by_path;
  by_path.set_path(absl::StrCat(around.path(0).name(), " > ", around.children(0).name()));
  v1::GetTaxonomyResponse found;
  ASSERT_TRUE(taxonomy(by_path, &found).ok());
  ASSERT_EQ(found.path_size(), 2);
  EXPECT_EQ(found.path(1).key().id(), around.children(0).key().id());
  // Counts follow writes.
  v1::GetTaxonomyResponse leaf_before;
  v1::GetTaxonomyRequest leaf_req;
  *leaf_req.mutable_category() = Key(v1::CATEGORY, leaf);
  ASSERT_TRUE(taxonomy(leaf_req, &leaf_before).ok());
  ASSERT_EQ(leaf_before.path_size(), 3);
  const uint64_t before = leaf_before.path(2).product_count();
  v1::UpsertEdgesRequest add;
  *add.add_edges() =
      MakeEdge(Key(v1::PRODUCT, 9000), v1::IN_CATEGORY, Key(v1::CATEGORY, leaf), 5, 1);
  v1::UpsertEdgesResponse add_resp;
  grpc::ClientContext add_ctx;
  SetDeadline(&add_ctx);
  ASSERT_TRUE(cluster_->graph()->UpsertEdges(&add_ctx, add, &add_resp).ok());
  v1::GetTaxonomyResponse leaf_after;
  ASSERT_TRUE(taxonomy(leaf_req, &leaf_after).ok());
  EXPECT_EQ(leaf_after.path(2).product_count(), before + 1);
  EXPECT_EQ(leaf_after.path(0).product_count_with_descendants(),
            leaf_before.path(0).product_count_with_descendants() + 1);
  // Bad requests.
  v1::GetTaxonomyRequest missing;
  *missing.mutable_category() = Key(v1::CATEGORY, 777777);
  EXPECT_EQ(taxonomy(missing, &around).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::GetTaxonomyRequest deep;
  deep.set_child_depth(9);
  EXPECT_EQ(taxonomy(deep, &around).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::GetTaxonomyRequest wrong_type;
  *wrong_type.mutable_category() = Key(v1::PRODUCT, 1);
  EXPECT_EQ(taxonomy(wrong_type, &around).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(KnowledgeTest, RecognizeBrandsAndExtractAttributes) {
  const Catalog& catalog = TheCatalog();
  auto brands = [this](const v1::RecognizeBrandsRequest& req, v1::RecognizeBrandsResponse* resp) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    return knowledge_->RecognizeBrands(&ctx, req, resp);
  };
  auto attributes = [this](const v1::ExtractAttributesRequest& req,
                           v1::ExtractAttributesResponse* resp) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    return knowledge_->ExtractAttributes(&ctx, req, resp);
  };
  // No model yet.
  v1::RecognizeBrandsRequest early;
  *early.add_items() = TextItem("Brand1 anything");
  v1::RecognizeBrandsResponse early_resp;
  EXPECT_EQ(brands(early, &early_resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  std::vector<v1::TrainModelsProgress> messages;
  grpc::Status s = Train(cluster_->admin(), &messages);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const v1::TrainModelsProgress& last = messages.back();
  EXPECT_EQ(last.brands_model().lexicon_keys(), 8u);  // six names, two aliases
  EXPECT_GT(last.brands_model().top_precision(), 0.9);
  EXPECT_GE(last.attribute_lexicon_entries(), 2u);  // red, blue
  EXPECT_EQ(last.spu_matcher().spus(), kSpus);
  EXPECT_GT(last.spu_matcher().candidate_recall(), 0.9);

  // SPUs: a new listing with a model code, a stored product, bad items and bounds.
  auto match = [this](const v1::MatchSpuRequest& req, v1::MatchSpuResponse* resp) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    return knowledge_->MatchSpu(&ctx, req, resp);
  };
  v1::MatchSpuRequest mreq;
  mreq.set_top_k(2);
  *mreq.add_items() = TextItem(absl::StrCat("Brand5 refurbished gadget ", ModelCode(21)));
  *mreq.add_items() = KeyItem(v1::PRODUCT, 17);
  *mreq.add_items() = KeyItem(v1::BUYER, 1);
  *mreq.add_items() = KeyItem(v1::PRODUCT, 99999);
  v1::KnowledgeItem priced = TextItem("Gadget " + ModelCode(3));
  (*priced.mutable_text()->mutable_attributes())["price"] = "cheap";
  *mreq.add_items() = priced;
  v1::MatchSpuResponse mresp;
  s = match(mreq, &mresp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(mresp.results_size(), 5);
  ASSERT_GE(mresp.results(0).candidates_size(), 1);
  EXPECT_EQ(mresp.results(0).candidates(0).spu().id(), 21u);
  EXPECT_EQ(mresp.results(0).candidates(0).name(), "Gadget " + ModelCode(21));
  bool model_reason = false;
  for (const std::string& r : mresp.results(0).candidates(0).reasons()) {
    model_reason |= r == absl::StrCat("model number ", ModelCode(21), " matches");
  }
  EXPECT_TRUE(model_reason);
  EXPECT_LE(mresp.results(0).candidates_size(), 2);
  ASSERT_GE(mresp.results(1).candidates_size(), 1);
  EXPECT_EQ(mresp.results(1).candidates(0).spu().id(), SpuOf(17));
  EXPECT_EQ(mresp.results(2).status().code(), 3);
  EXPECT_NE(mresp.results(2).status().message().find("items[2].key.type"), std::string::npos);
  EXPECT_EQ(mresp.results(3).status().code(), 5);
  EXPECT_NE(mresp.results(3).status().message().find("items[3].key"), std::string::npos)
      << mresp.results(3).status().message();
  EXPECT_EQ(mresp.results(4).status().code(), 3);
  EXPECT_NE(mresp.results(4).status().message().find("items[4].text.attributes[\"price\"]"),
            std::string::npos);
  v1::MatchSpuRequest bad_score = mreq;
  bad_score.set_min_score(2);
  EXPECT_EQ(match(bad_score, &mresp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::MatchSpuRequest bad_k = mreq;
  bad_k.set_top_k(21);
  EXPECT_EQ(match(bad_k, &mresp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Brands: a name, an alias spelled another way, a product's stored title, a brand the
  // graph does not know, and bad items.
  const std::string leaf_words = LeafWords(catalog.leaves[0], 3);
  v1::RecognizeBrandsRequest req;
  *req.add_items() = TextItem("Brand3 " + leaf_words + " new one");
  *req.add_items() = TextItem("BeeTwo " + leaf_words + " new one");
  *req.add_items() = KeyItem(v1::PRODUCT, 17);
  *req.add_items() = TextItem("Zyxwvut " + leaf_words + " new one");
  const int bad = req.items_size();
  *req.add_items() = KeyItem(v1::BUYER, 3);
  *req.add_items() = KeyItem(v1::PRODUCT, 99999);
  *req.add_items() = TextItem(" -- ");
  v1::RecognizeBrandsResponse resp;
  s = brands(req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.results_size(), req.items_size());
  EXPECT_EQ(resp.model_version(), last.model_version());
  auto top = [&resp](int i) -> const v1::BrandMention& {
    EXPECT_EQ(resp.results(i).status().code(), 0) << resp.results(i).status().message();
    EXPECT_GE(resp.results(i).mentions_size(), 1) << i;
    static const v1::BrandMention kNone;
    return resp.results(i).mentions_size() > 0 ? resp.results(i).mentions(0) : kNone;
  };
  EXPECT_EQ(top(0).brand().id(), 3u);
  EXPECT_EQ(top(0).name(), "Brand3");
  EXPECT_EQ(top(0).start(), 0);
  EXPECT_EQ(top(0).end(), 6);
  EXPECT_GE(top(0).confidence(), 0.5);
  EXPECT_EQ(top(1).brand().id(), 2u);
  EXPECT_EQ(top(1).end(), 6);
  EXPECT_EQ(top(2).brand().id(), 1 + catalog.product_leaf.at(17) % 6);
  EXPECT_EQ(top(3).brand().id(), 0u);  // a new-brand candidate
  EXPECT_EQ(top(3).name(), "Zyxwvut");
  EXPECT_EQ(resp.results(bad).status().code(), 3);
  EXPECT_NE(resp.results(bad).status().message().find("items[" + std::to_string(bad) + "].key"),
            std::string::npos);
  EXPECT_EQ(resp.results(bad + 1).status().code(), 5);
  EXPECT_EQ(resp.results(bad + 2).status().code(), 3);
  EXPECT_NE(resp.results(bad + 2).status().message().find(".text.title"), std::string::npos);

  // Attributes: a learned colour, a pattern's measure and pack count, a stored title.
  v1::ExtractAttributesRequest areq;
  const std::string title = "Brand1 Caf\xC3\xA9 thing, Red, 2 x 500\xC2\xA0ml";
  *areq.add_items() = TextItem(title);
  *areq.add_items() = KeyItem(v1::PRODUCT, 17);
  *areq.add_items() = KeyItem(v1::MERCHANT, 1);
  v1::ExtractAttributesResponse aresp;
  s = attributes(areq, &aresp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(aresp.results_size(), 3);
  std::map<std::string, v1::ExtractedAttribute> found;
  for (const auto& a : aresp.results(0).attributes()) {
    found[a.name()] = a;
    EXPECT_EQ(title.substr(a.start(), a.end() - a.start()), a.value());
  }
  EXPECT_EQ(found["colour"].normalized_value(), "red");
  EXPECT_EQ(found["volume"].normalized_value(), "500");
  EXPECT_EQ(found["volume"].unit(), "ml");
  EXPECT_EQ(found["pack_count"].normalized_value(), "2");
  bool stored_colour = false;
  for (const auto& a : aresp.results(1).attributes()) stored_colour |= a.name() == "colour";
  EXPECT_TRUE(stored_colour);
  EXPECT_EQ(aresp.results(2).status().code(), 3);

  v1::ExtractAttributesRequest too_many;
  for (int i = 0; i < 1001; ++i) *too_many.add_items() = TextItem("x");
  EXPECT_EQ(attributes(too_many, &aresp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Brand development: new products without a brand, four of a known brand, three of one
  // the graph does not know.
  Dataset fresh;
  for (uint64_t p = 5001; p <= 5007; ++p) {
    v1::Entity e;
    *e.mutable_key() = Key(v1::PRODUCT, p);
    e.set_name(absl::StrCat(p <= 5004 ? "Brand4 " : "Novabrand ", leaf_words, " fresh ", p));
    e.set_update_time_ms(1);
    fresh.entities.push_back(e);
  }
  ASSERT_TRUE(LoadViaRpc(cluster_->graph(), fresh).ok());
  auto develop = [this](const v1::DevelopBrandsRequest& req, v1::DevelopBrandsResponse* resp) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, Millis(60000));
    return cluster_->admin()->DevelopBrands(&ctx, req, resp);
  };
  v1::DevelopBrandsRequest dreq;
  dreq.set_min_confidence(0.6);
  v1::DevelopBrandsResponse dresp;
  s = develop(dreq, &dresp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(dresp.products_scanned(), kCatalogProducts + 7u);
  EXPECT_EQ(dresp.products_without_brand(), 7u);
  ASSERT_GE(dresp.candidates_size(), 1);
  EXPECT_EQ(dresp.candidates(0).name(), "Novabrand");
  EXPECT_EQ(dresp.candidates(0).products(), 3u);
  EXPECT_EQ(dresp.candidates(0).example_titles_size(), 3);
  ASSERT_EQ(dresp.recognized_size(), 1);
  EXPECT_EQ(dresp.recognized(0).brand().id(), 4u);
  EXPECT_EQ(dresp.recognized(0).products(), 4u);
  EXPECT_EQ(dresp.edges_written(), 0u);
  // Out of range.
  v1::DevelopBrandsRequest low = dreq;
  low.set_min_confidence(0.2);
  EXPECT_EQ(develop(low, &dresp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Apply: the edges are written and read back; the products no longer lack a brand.
  dreq.set_apply(true);
  s = develop(dreq, &dresp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(dresp.edges_written(), 4u);
  EXPECT_EQ(dresp.write_failures(), 0u);
  v1::GetNeighborsRequest nreq;
  *nreq.add_keys() = Key(v1::PRODUCT, 5002);
  nreq.set_edge_type(v1::HAS_BRAND);
  nreq.set_direction(v1::OUT);
  v1::GetNeighborsResponse nresp;
  grpc::ClientContext nctx;
  SetDeadline(&nctx);
  ASSERT_TRUE(cluster_->graph()->GetNeighbors(&nctx, nreq, &nresp).ok());
  ASSERT_EQ(nresp.results_size(), 1);
  ASSERT_EQ(nresp.results(0).neighbors_size(), 1);
  EXPECT_EQ(nresp.results(0).neighbors(0).key().id(), 4u);
  dreq.set_apply(false);
  ASSERT_TRUE(develop(dreq, &dresp).ok());
  EXPECT_EQ(dresp.products_without_brand(), 3u);
}

// AdminService.AssignSpus: new listings of a known SPU are attached to it; two families of a
// model the graph does not know become two new SPUs; a loner stays alone. A dry run writes
// nothing; the real run writes INSTANCE_OF edges (read back in both directions) and SPU
// entities; a re-run changes nothing; an SPU an interrupted run left without its entity is
// repaired; bad settings name the field.
TEST_P(KnowledgeTest, AssignSpusAttachesGroupsAndRepairs) {
  const Catalog& catalog = TheCatalog();
  Dataset fresh;
  auto product = [&fresh](uint64_t id, const std::string& title) {
    v1::Entity e;
    *e.mutable_key() = Key(v1::PRODUCT, id);
    e.set_name(title);
    e.set_update_time_ms(1);
    fresh.entities.push_back(e);
  };
  // Other listings of known SPU 21: its member product 21's title with new item numbers.
  ASSERT_EQ(SpuOf(21), 21u);
  std::string member_title;
  for (const v1::Entity& e : catalog.data.entities) {
    if (e.key().type() == v1::PRODUCT && e.key().id() == 21) member_title = e.name();
  }
  ASSERT_NE(member_title.find(" item 21 "), std::string::npos) << member_title;
  for (uint64_t p = 6001; p <= 6003; ++p) {
    product(p, absl::StrReplaceAll(member_title, {{" item 21 ", absl::StrCat(" item ", p, " ")}}));
  }
  // Two models the graph does not know, written as the catalog writes its products.
  auto family = [&](uint64_t first, uint64_t last, size_t leaf_index, const std::string& model) {
    const uint64_t leaf = catalog.leaves[leaf_index];
    for (uint64_t p = first; p <= last; ++p) {
      product(p, absl::StrCat("Brand", 1 + leaf % 6, " ", LeafWords(leaf, 1), " noise", p % 7,
                              " item ", p, " ", model, p % 2 ? ", Red" : ", Blue"));
    }
  };
  family(6011, 6013, 3, "NEW900Q");
  family(6021, 6022, 5, "NEW555K");
  product(6031, "Completely unrelated picnic blanket XQZ12345");
  ASSERT_TRUE(LoadViaRpc(cluster_->graph(), fresh).ok());
  auto assign = [this](const v1::AssignSpusRequest& req, v1::AssignSpusResponse* resp) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, Millis(60000));
    return cluster_->admin()->AssignSpus(&ctx, req, resp);
  };
  auto instance_of = [this](uint64_t id, v1::EntityType type, v1::Direction dir) {
    v1::GetNeighborsRequest req;
    *req.add_keys() = Key(type, id);
    req.set_edge_type(v1::INSTANCE_OF);
    req.set_direction(dir);
    v1::GetNeighborsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    EXPECT_TRUE(cluster_->graph()->GetNeighbors(&ctx, req, &resp).ok());
    std::set<uint64_t> out;
    for (const auto& n : resp.results(0).neighbors()) out.insert(n.key().id());
    return out;
  };
  v1::AssignSpusRequest req;
  req.set_dry_run(true);
  v1::AssignSpusResponse resp;
  // No matcher yet.
  EXPECT_EQ(assign(req, &resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  std::vector<v1::TrainModelsProgress> messages;
  grpc::Status s = Train(cluster_->admin(), &messages);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // Bad settings.
  for (auto bad : std::vector<std::pair<std::string, std::function<void(v1::AssignSpusRequest*)>>>{
           {"min_score", [](v1::AssignSpusRequest* r) { r->set_min_score(0.2); }},
           {"group_min_score", [](v1::AssignSpusRequest* r) { r->set_group_min_score(1.5); }},
           {"min_group_size", [](v1::AssignSpusRequest* r) { r->set_min_group_size(-1); }},
           {"max_listed", [](v1::AssignSpusRequest* r) { r->set_max_listed(20000); }},
           {"max_products", [](v1::AssignSpusRequest* r) { r->set_max_products(-5); }}}) {
    v1::AssignSpusRequest b = req;
    bad.second(&b);
    grpc::Status st = assign(b, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad.first;
    EXPECT_NE(st.error_message().find(bad.first), std::string::npos) << st.error_message();
  }

  // The dry run.
  s = assign(req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(resp.dry_run());
  EXPECT_EQ(resp.products_scanned(), kCatalogProducts + 9u);
  EXPECT_EQ(resp.products_without_spu(), 9u);
  EXPECT_EQ(resp.products_examined(), 9u);
  EXPECT_EQ(resp.model_version(), messages.back().model_version());
  EXPECT_EQ(resp.attached(), 3u) << resp.ShortDebugString();
  for (const v1::SpuAttachment& a : resp.attachments()) {
    EXPECT_EQ(a.spu().id(), 21u) << a.title();
    EXPECT_GE(a.score(), 0.9);
    EXPECT_GE(a.reasons_size(), 1);
  }
  ASSERT_EQ(resp.new_spus(), 2u) << resp.ShortDebugString();
  EXPECT_EQ(resp.grouped_products(), 5u);
  EXPECT_EQ(resp.left_without_spu(), 1u);
  std::map<uint64_t, uint64_t> planned;  // product -> new SPU id
  for (const v1::NewSpuGroup& g : resp.groups()) {
    ASSERT_EQ(g.products_size(), g.scores_size());
    ASSERT_EQ(g.products_size(), g.titles_size());
    EXPECT_EQ(g.spu().id(), g.products(0).id());  // the core product's id
    EXPECT_EQ(g.name(), g.titles(0));
    EXPECT_DOUBLE_EQ(g.scores(0), 1.0);
    const uint64_t family = g.products(0).id() / 10;
    for (int k = 0; k < g.products_size(); ++k) {
      EXPECT_EQ(g.products(k).id() / 10, family) << g.ShortDebugString();
      EXPECT_GE(g.scores(k), 0.9);
      planned[g.products(k).id()] = g.spu().id();
    }
  }
  EXPECT_EQ(resp.groups(0).products_size(), 3);  // largest first
  EXPECT_EQ(resp.edges_written(), 0u);
  EXPECT_TRUE(instance_of(6001, v1::PRODUCT, v1::OUT).empty());

  // For real.
  req.set_dry_run(false);
  s = assign(req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.edges_written(), 8u);
  EXPECT_EQ(resp.entities_written(), 2u);
  EXPECT_EQ(resp.write_failures(), 0u);
  EXPECT_EQ(instance_of(6002, v1::PRODUCT, v1::OUT), std::set<uint64_t>{21});
  EXPECT_EQ(instance_of(21, v1::SPU, v1::IN).count(6002), 1u);
  for (const auto& [product, spu] : planned) {
    EXPECT_EQ(instance_of(product, v1::PRODUCT, v1::OUT), std::set<uint64_t>{spu});
    EXPECT_EQ(instance_of(spu, v1::SPU, v1::IN).count(product), 1u);
  }
  v1::GetEntitiesRequest ereq;
  *ereq.add_keys() = Key(v1::SPU, planned.at(6021));
  v1::GetEntitiesResponse eresp;
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ASSERT_TRUE(cluster_->graph()->GetEntities(&ctx, ereq, &eresp).ok());
  }
  ASSERT_EQ(eresp.results_size(), 1);
  ASSERT_TRUE(eresp.results(0).found());
  EXPECT_EQ(eresp.results(0).entity().attributes().at("created_by"), "spu_assign");
  EXPECT_NE(eresp.results(0).entity().name().find("NEW555K"), std::string::npos);

  // A re-run changes nothing; the loner is examined again and left.
  s = assign(req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.products_without_spu(), 1u);
  EXPECT_EQ(resp.attached() + resp.new_spus() + resp.edges_written() + resp.entities_written(), 0u);
  EXPECT_EQ(resp.left_without_spu(), 1u);

  // As an interrupted run leaves it: a group's edge written, its SPU entity not. The next run
  // creates the entity.
  Dataset half;
  half.edges.push_back(
      MakeEdge(Key(v1::PRODUCT, 6031), v1::INSTANCE_OF, Key(v1::SPU, 6031), 1000, 1));
  ASSERT_TRUE(LoadViaRpc(cluster_->graph(), half).ok());
  s = assign(req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.dangling_spus(), 1u);
  EXPECT_EQ(resp.repaired_spus(), 1u);
  EXPECT_EQ(resp.products_without_spu(), 0u);
  *ereq.mutable_keys(0) = Key(v1::SPU, 6031);
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ASSERT_TRUE(cluster_->graph()->GetEntities(&ctx, ereq, &eresp).ok());
  }
  EXPECT_TRUE(eresp.results(0).found());
  EXPECT_EQ(eresp.results(0).entity().name(), "Completely unrelated picnic blanket XQZ12345");
  s = assign(req, &resp);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(resp.dangling_spus(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, KnowledgeTest, ::testing::Values("embedded", "split"),
                         [](const auto& info) { return info.param; });

TEST(KnowledgeDurableTest, RestartServesTheSameVersionAndRefusesADamagedBundle) {
  TempDir dir;
  const std::vector<std::string> flags = {"--metrics_port=-1", "--partition_count=2",
                                          "--data_dir=" + dir.File("data")};
  std::string version;
  v1::CategorizeResponse first;
  v1::CategorizeRequest req;
  *req.add_items() = TextItem(LeafWords(TheCatalog().leaves[2], 3));
  {
    ServerProcess server("first", dir.path());
    ASSERT_TRUE(server.Start(flags).ok());
    ASSERT_TRUE(server.WaitServing().ok()) << server.LogTail();
    auto channel = grpc::CreateChannel(server.grpc_address(), grpc::InsecureChannelCredentials());
    ASSERT_TRUE(LoadViaRpc(v1::GraphService::NewStub(channel).get(), TheCatalog().data).ok());
    // A setting out of range is refused, naming it.
    auto admin = v1::AdminService::NewStub(channel);
    for (const auto& [field, set] :
         std::vector<std::pair<std::string, std::function<void(v1::TrainModelsRequest*)>>>{
             {"epoch", [](v1::TrainModelsRequest* r) { r->set_epoch(500); }},
             {"threads", [](v1::TrainModelsRequest* r) { r->set_threads(3); }}}) {
      v1::TrainModelsRequest bad;
      set(&bad);
      std::vector<v1::TrainModelsProgress> m;
      grpc::Status s = Train(admin.get(), &m, bad);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
      EXPECT_NE(s.error_message().find(field), std::string::npos) << s.error_message();
    }
    // The text models side by side (the same models as one after the other: unit-tested).
    std::vector<v1::TrainModelsProgress> messages;
    v1::TrainModelsRequest two_threads;
    two_threads.set_threads(2);
    ASSERT_TRUE(Train(admin.get(), &messages, two_threads).ok());
    version = messages.back().model_version();
    auto knowledge = v1::KnowledgeService::NewStub(channel);
    ASSERT_TRUE(Categorize(knowledge.get(), req, &first).ok());
    EXPECT_EQ(server.Stop(), 0);
  }
  {
    ServerProcess server("restarted", dir.path());
    ASSERT_TRUE(server.Start(flags).ok());
    ASSERT_TRUE(server.WaitServing().ok()) << server.LogTail();
    auto channel = grpc::CreateChannel(server.grpc_address(), grpc::InsecureChannelCredentials());
    auto knowledge = v1::KnowledgeService::NewStub(channel);
    v1::CategorizeResponse again;
    ASSERT_TRUE(Categorize(knowledge.get(), req, &again).ok());
    EXPECT_EQ(again.model_version(), version);
    ASSERT_EQ(again.results(0).predictions_size(), first.results(0).predictions_size());
    EXPECT_EQ(again.results(0).predictions(0).category().id(),
              first.results(0).predictions(0).category().id());
    EXPECT_DOUBLE_EQ(again.results(0).predictions(0).confidence(),
                     first.results(0).predictions(0).confidence());
    EXPECT_EQ(server.Stop(), 0);
  }
  // A damaged bundle: refused at start-up, naming the file.
  const std::string bundle = dir.File("data/models/bundle");
  {
    std::fstream io(bundle, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(io.good());
    io.seekp(100);
    io.write("\xde\xad", 2);
  }
  ServerProcess server("damaged", dir.path());
  ASSERT_TRUE(server.Start(flags).ok());
  auto code = server.WaitExit(Millis(20000));
  ASSERT_TRUE(code.has_value()) << "served a damaged model bundle";
  EXPECT_NE(*code, 0);
  EXPECT_NE(server.ReadLog().find(bundle), std::string::npos) << server.LogTail();
}

// While a training runs a second one is refused (ABORTED); SIGTERM then cancels it and the
// server exits 0 within its drain timeout.
// AssignSpus killed (SIGKILL) at random points of its writes, on a durable server, many
// times: after every restart no SPU entity it created is without a member product and no
// product has two SPUs; the runs after the kills finish the job, and then a run changes
// nothing.
TEST(KnowledgeDurableTest, AssignSpusKilledHalfWayLeavesNoEmptySpuAndFinishes) {
  TempDir dir;
  const std::vector<std::string> flags = {"--metrics_port=-1", "--partition_count=2",
                                          "--data_dir=" + dir.File("data")};
  const Catalog& catalog = TheCatalog();
  // 40 families of 3 listings of models the graph does not know, and 40 more listings of
  // known SPUs (catalog product p's title with another item number).
  constexpr uint64_t kFirst = 7000, kFamilies = 40;
  Dataset fresh;
  std::vector<uint64_t> products;
  auto product = [&](uint64_t id, const std::string& title) {
    v1::Entity e;
    *e.mutable_key() = Key(v1::PRODUCT, id);
    e.set_name(title);
    e.set_update_time_ms(1);
    fresh.entities.push_back(e);
    products.push_back(id);
  };
  for (uint64_t f = 0; f < kFamilies; ++f) {
    const uint64_t leaf = catalog.leaves[f % catalog.leaves.size()];
    for (uint64_t k = 0; k < 3; ++k) {
      const uint64_t id = kFirst + 3 * f + k;
      product(id, absl::StrCat("Brand", 1 + leaf % 6, " ", LeafWords(leaf, 1), " noise", k,
                               " item ", id, " FAM", 100 + f, "X", k % 2 ? ", Red" : ", Blue"));
    }
  }
  for (const v1::Entity& e : catalog.data.entities) {
    if (e.key().type() != v1::PRODUCT || e.key().id() > kFamilies) continue;
    const uint64_t id = kFirst + 500 + e.key().id();
    product(id, absl::StrReplaceAll(e.name(), {{absl::StrCat(" item ", e.key().id(), " "),
                                                absl::StrCat(" item ", id, " ")}}));
  }
  std::mt19937_64 rng(11);
  auto check = [&](ServerProcess* server, const std::string& when) {
    auto channel = grpc::CreateChannel(server->grpc_address(), grpc::InsecureChannelCredentials());
    auto graph = v1::GraphService::NewStub(channel);
    std::map<uint64_t, int> members;  // SPU -> products attached to it (OUT copies)
    for (uint64_t p : products) {
      v1::GetNeighborsRequest req;
      *req.add_keys() = Key(v1::PRODUCT, p);
      req.set_edge_type(v1::INSTANCE_OF);
      req.set_direction(v1::OUT);
      v1::GetNeighborsResponse resp;
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      ASSERT_TRUE(graph->GetNeighbors(&ctx, req, &resp).ok()) << when;
      EXPECT_LE(resp.results(0).neighbors_size(), 1) << when << ": product " << p;
      for (const auto& n : resp.results(0).neighbors()) ++members[n.key().id()];
    }
    v1::GetEntitiesRequest ereq;
    for (uint64_t p : products) *ereq.add_keys() = Key(v1::SPU, p);
    v1::GetEntitiesResponse eresp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    ASSERT_TRUE(graph->GetEntities(&ctx, ereq, &eresp).ok()) << when;
    for (const v1::EntityResult& r : eresp.results()) {
      if (!r.found()) continue;
      EXPECT_EQ(r.entity().attributes().at("created_by"), "spu_assign");
      EXPECT_GE(members[r.key().id()], 1) << when << ": SPU " << r.key().id() << " has no member";
    }
  };
  auto assign = [](ServerProcess* server, bool dry_run, v1::AssignSpusResponse* resp) {
    auto channel = grpc::CreateChannel(server->grpc_address(), grpc::InsecureChannelCredentials());
    auto admin = v1::AdminService::NewStub(channel);
    v1::AssignSpusRequest req;
    req.set_dry_run(dry_run);
    grpc::ClientContext ctx;
    SetDeadline(&ctx, Millis(60000));
    return admin->AssignSpus(&ctx, req, resp);
  };
  uint64_t planned_edges = 0;
  {
    ServerProcess server("trained", dir.path());
    ASSERT_TRUE(server.Start(flags).ok());
    ASSERT_TRUE(server.WaitServing().ok()) << server.LogTail();
    auto channel = grpc::CreateChannel(server.grpc_address(), grpc::InsecureChannelCredentials());
    ASSERT_TRUE(LoadViaRpc(v1::GraphService::NewStub(channel).get(), catalog.data).ok());
    ASSERT_TRUE(LoadViaRpc(v1::GraphService::NewStub(channel).get(), fresh).ok());
    std::vector<v1::TrainModelsProgress> messages;
    ASSERT_TRUE(Train(v1::AdminService::NewStub(channel).get(), &messages).ok());
    v1::AssignSpusResponse plan;
    ASSERT_TRUE(assign(&server, true, &plan).ok());
    planned_edges = plan.attached() + plan.grouped_products();
    EXPECT_GE(plan.new_spus(), kFamilies / 2) << plan.ShortDebugString();
    EXPECT_GE(planned_edges, 100u) << plan.ShortDebugString();
    EXPECT_EQ(server.Stop(), 0);
  }
  for (int round = 0; round < 6; ++round) {
    ServerProcess server(absl::StrCat("killed", round), dir.path());
    ASSERT_TRUE(server.Start(flags).ok());
    ASSERT_TRUE(server.WaitServing().ok()) << server.LogTail();
    check(&server, absl::StrCat("after kill ", round));
    std::thread call([&server, &assign] {
      v1::AssignSpusResponse ignored;
      assign(&server, false, &ignored);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 60));
    server.Signal(SIGKILL);
    call.join();
    server.WaitExit(Millis(10000));
  }
  // The runs after the kills finish the job; then nothing changes.
  ServerProcess server("finished", dir.path());
  ASSERT_TRUE(server.Start(flags).ok());
  ASSERT_TRUE(server.WaitServing().ok()) << server.LogTail();
  check(&server, "after the last kill");
  v1::AssignSpusResponse finish;
  ASSERT_TRUE(assign(&server, false, &finish).ok());
  EXPECT_EQ(finish.write_failures(), 0u);
  check(&server, "finished");
  v1::AssignSpusResponse again;
  ASSERT_TRUE(assign(&server, false, &again).ok());
  EXPECT_EQ(again.attached() + again.new_spus() + again.edges_written() + again.entities_written() +
                again.repaired_spus(),
            0u)
      << again.ShortDebugString();
  EXPECT_EQ(again.dangling_spus(), 0u);
  // Groups cut by a kill are finished by the repair and the regrouping of their rest, which
  // may leave a few more products alone than the plan did.
  EXPECT_LE(again.products_without_spu(), products.size() - planned_edges + 20);
  EXPECT_EQ(server.Stop(), 0);
}

TEST(KnowledgeLifecycleTest, SigtermDuringTrainingExitsPromptly) {
  TempDir dir;
  ServerProcess server("training", dir.path());
  ASSERT_TRUE(
      server.Start({"--metrics_port=-1", "--partition_count=2", "--drain_timeout_ms=500"}).ok());
  ASSERT_TRUE(server.WaitServing().ok()) << server.LogTail();
  auto channel = grpc::CreateChannel(server.grpc_address(), grpc::InsecureChannelCredentials());
  ASSERT_TRUE(LoadViaRpc(v1::GraphService::NewStub(channel).get(), TheCatalog().data).ok());
  auto admin = v1::AdminService::NewStub(channel);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, Millis(60000));
  v1::TrainModelsRequest req;
  req.set_epoch(200);
  req.set_dim(300);  // many seconds of training, unless cancelled
  auto stream = admin->TrainModels(&ctx, req);
  v1::TrainModelsProgress m;
  bool training = false;
  for (int i = 0; i < 10000 && !training && stream->Read(&m); ++i) {
    training = m.stage().find("text model") != std::string::npos;
  }
  ASSERT_TRUE(training) << "never saw the text model training";
  // One training at a time: a second call meanwhile is refused.
  {
    grpc::ClientContext second_ctx;
    SetDeadline(&second_ctx);
    auto second = admin->TrainModels(&second_ctx, v1::TrainModelsRequest());
    v1::TrainModelsProgress ignored;
    while (second->Read(&ignored)) {
    }
    grpc::Status refused = second->Finish();
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::ABORTED) << refused.error_message();
  }
  const auto start = std::chrono::steady_clock::now();
  server.Signal(SIGTERM);
  auto code = server.WaitExit(Millis(10000));
  ASSERT_TRUE(code.has_value()) << "still running 10 s after SIGTERM during training";
  EXPECT_EQ(*code, 0) << server.LogTail();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(3000));
  ctx.TryCancel();
}

TEST(KnowledgeSmallTest, TooFewLabelledProductsSaysHowMany) {
  EmbeddedCluster cluster;
  ASSERT_TRUE(cluster.Start(ClusterOptions{}).ok());
  Dataset few;
  for (const v1::Entity& e : TheCatalog().data.entities) {
    if (e.key().type() == v1::CATEGORY || (e.key().type() == v1::PRODUCT && e.key().id() <= 5)) {
      few.entities.push_back(e);
    }
  }
  for (const v1::Edge& e : TheCatalog().data.edges) {
    if (e.type() == v1::SUBCATEGORY_OF || (e.type() == v1::IN_CATEGORY && e.src().id() <= 5)) {
      few.edges.push_back(e);
    }
  }
  ASSERT_TRUE(LoadViaRpc(cluster.graph(), few).ok());
  std::vector<v1::TrainModelsProgress> messages;
  grpc::Status s = Train(cluster.admin(), &messages);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("found 5 usable"), std::string::npos) << s.error_message();
  EXPECT_TRUE(cluster.Stop().ok());
}

}  // namespace
}  // namespace integration
}  // namespace kg
