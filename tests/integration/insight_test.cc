// KnowledgeService.ProfileEntity and InsightService.TopProducts / CompareProducts against
// real servers in both modes, over a generated graph with planted truths (the generator's
// audiences and planted pairs, client/datagen/datagen.h): profiles recover each product's
// planted main segment; comparisons rank the planted cause first; top products equal a
// ranking computed here from the generated records, page by page and with filters; the
// split mode answers exactly as the embedded one; bad input names the field.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/datagen/datagen.h"
#include "kg/v1/insight.grpc.pb.h"
#include "kg/v1/knowledge.grpc.pb.h"
#include "proto/jsonl.h"
#include "tests/integration/dataset.h"
#include "tests/integration/harness.h"

namespace kg {
namespace integration {
namespace {

constexpr double kScale = 0.2;
// Products profiled at most (those with the most viewers first).
constexpr size_t kProfiled = 150;
// server/insight/audience.h: kMainSegmentMinShare.
constexpr double kMainShare = 0.2;

// The generated graph, written once as JSONL, and what the tests compare with.
struct World {
  std::string path;
  std::map<uint64_t, datagen::Planted> audience;  // product -> planted main segment
  std::vector<datagen::Planted> pairs;
  std::map<uint64_t, uint64_t> viewers;                // product -> VIEWED in-edges
  std::map<uint64_t, uint64_t> category;               // product -> leaf (IN_CATEGORY)
  std::map<uint64_t, uint64_t> parent;                 // category -> parent
  std::map<uint64_t, double> sales;                    // product -> sales_30d
  std::map<uint64_t, double> price;                    // product -> price
  std::map<uint64_t, uint64_t> brand;                  // product -> brand
  std::map<uint64_t, std::vector<int64_t>> purchases;  // product -> PURCHASED times
  std::map<uint64_t, std::vector<uint64_t>> spu_members;
  uint64_t root = 0;  // the root with the most products
};

uint64_t RootOf(const World& w, uint64_t category) {
  for (int i = 0; i < 32 && w.parent.count(category); ++i) category = w.parent.at(category);
  return category;
}

const World& TheWorld() {
  static World* world = [] {
    auto* w = new World;
    static TempDir dir;
    w->path = dir.File("insight.jsonl");
    std::ofstream out(w->path);
    datagen::Options options;
    options.scale = kScale;
    // KG_INSIGHT_SEED scores another generated graph (docs/INSIGHT.md: seed 42 was looked
    // at while the comparison's settings were chosen; other seeds were not).
    if (const char* seed = std::getenv("KG_INSIGHT_SEED"))
      options.seed = std::strtoull(seed, nullptr, 10);
    options.planted = [w](const datagen::Planted& p) {
      if (p.kind == datagen::Planted::kAudience) {
        w->audience[p.product] = p;
      } else {
        w->pairs.push_back(p);
      }
      return absl::OkStatus();
    };
    auto stats = datagen::Generate(options, [&](const v1::ImportRecord& r) {
      out << FormatRecordLine(r) << "\n";
      if (r.has_entity() && r.entity().key().type() == v1::PRODUCT) {
        const v1::Entity& e = r.entity();
        w->sales[e.key().id()] = e.metrics().at("sales_30d");
        w->price[e.key().id()] = e.metrics().at("price");
      }
      if (r.has_edge()) {
        const v1::Edge& e = r.edge();
        switch (e.type()) {
          case v1::VIEWED:
            ++w->viewers[e.dst().id()];
            break;
          case v1::PURCHASED:
            w->purchases[e.dst().id()].push_back(e.time_ms());
            break;
          case v1::IN_CATEGORY:
            w->category[e.src().id()] = e.dst().id();
            break;
          case v1::SUBCATEGORY_OF:
            w->parent[e.src().id()] = e.dst().id();
            break;
          case v1::HAS_BRAND:
            w->brand[e.src().id()] = e.dst().id();
            break;
          case v1::INSTANCE_OF:
            w->spu_members[e.dst().id()].push_back(e.src().id());
            break;
          default:
            break;
        }
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(stats.ok()) << stats.status();
    std::map<uint64_t, int> per_root;
    for (const auto& [p, c] : w->category) ++per_root[RootOf(*w, c)];
    int best = -1;
    for (const auto& [root, n] : per_root) {
      if (n > best) best = n, w->root = root;
    }
    return w;
  }();
  return *world;
}

// A cluster of `mode` serving the generated graph (loading it takes about 10 s).
std::unique_ptr<Cluster> StartWorldCluster(const std::string& mode) {
  std::unique_ptr<Cluster> cluster = NewCluster(mode);
  ClusterOptions options;
  options.load_file = TheWorld().path;
  absl::Status s = cluster->Start(options);
  EXPECT_TRUE(s.ok()) << s;
  return s.ok() ? std::move(cluster) : nullptr;
}

// The clusters of the tests that only read, one per mode: started on first use, stopped
// once every test has run. A test that writes starts its own (InsightWriteTest).
class ReadOnlyClusters : public ::testing::Environment {
 public:
  static Cluster* Get(const std::string& mode) {
    std::unique_ptr<Cluster>& cluster = clusters()[mode];
    if (cluster == nullptr) cluster = StartWorldCluster(mode);
    return cluster.get();
  }
  void TearDown() override {
    for (auto& [mode, cluster] : clusters()) {
      if (cluster != nullptr) EXPECT_TRUE(cluster->Stop().ok()) << mode;
    }
    clusters().clear();
  }

 private:
  static std::map<std::string, std::unique_ptr<Cluster>>& clusters() {
    static auto* clusters = new std::map<std::string, std::unique_ptr<Cluster>>;
    return *clusters;
  }
};
::testing::Environment* const kReadOnlyClusters =
    ::testing::AddGlobalTestEnvironment(new ReadOnlyClusters);

class InsightTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { TheWorld(); }
  void SetUp() override {
    cluster_ = ReadOnlyClusters::Get(GetParam());
    ASSERT_NE(cluster_, nullptr);
    knowledge_ = v1::KnowledgeService::NewStub(cluster_->channel());
    insight_ = v1::InsightService::NewStub(cluster_->channel());
  }

  grpc::Status Profile(const v1::ProfileEntityRequest& req, v1::ProfileEntityResponse* resp) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, Millis(30000));
    return knowledge_->ProfileEntity(&ctx, req, resp);
  }
  grpc::Status Top(const v1::TopProductsRequest& req, v1::TopProductsResponse* resp) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, Millis(30000));
    return insight_->TopProducts(&ctx, req, resp);
  }
  grpc::Status Compare(const v1::CompareProductsRequest& req, v1::CompareProductsResponse* resp) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, Millis(30000));
    return insight_->CompareProducts(&ctx, req, resp);
  }

  Cluster* cluster_ = nullptr;
  std::unique_ptr<v1::KnowledgeService::Stub> knowledge_;
  std::unique_ptr<v1::InsightService::Stub> insight_;
};

// Of products with at least 50 buyers, the planted main segment is the most lifted value of
// its dimension (among values with at least 20% of the audience: a small group such as
// the 4% of buyers of gender U is not a main segment) for >= 95%.
TEST_P(InsightTest, ProfileRecoversThePlantedAudience) {
  const World& w = TheWorld();
  std::vector<std::pair<uint64_t, uint64_t>> busy;  // (viewers, product)
  for (const auto& [p, n] : w.viewers) {
    if (n >= 50 && w.audience.count(p)) busy.push_back({n, p});
  }
  std::sort(busy.rbegin(), busy.rend());
  if (busy.size() > kProfiled) busy.resize(kProfiled);
  ASSERT_GE(busy.size(), 50u) << "too few products with 50 buyers at this scale";
  int right = 0;
  // Baselines, same replies: the dimension's most common value on the platform (largest
  // base share), and the most frequent value among the product's own buyers (largest share).
  int platform_majority = 0, most_frequent = 0;
  for (const auto& [n, p] : busy) {
    v1::ProfileEntityRequest req;
    *req.mutable_key() = Key(v1::PRODUCT, p);
    v1::ProfileEntityResponse resp;
    ASSERT_TRUE(Profile(req, &resp).ok());
    ASSERT_GE(resp.buyers(), 50u);
    EXPECT_FALSE(resp.has_fallback_category());
    EXPECT_GT(resp.base_buyers(), 0u);
    EXPECT_FALSE(resp.summary().empty());
    const datagen::Planted& truth = w.audience.at(p);
    const v1::Segment* best = nullptr;
    for (const v1::Segment& s : resp.audience()) {
      EXPECT_LE(s.ci_low(), s.share());
      EXPECT_GE(s.ci_high(), s.share());
      if (s.dimension() == truth.dimension && s.share() >= kMainShare &&
          (best == nullptr || s.lift() > best->lift())) {
        best = &s;
      }
    }
    ASSERT_NE(best, nullptr) << "no " << truth.dimension << " segments for PRODUCT:" << p;
    right += best->value() == truth.value;
    const v1::Segment *common = nullptr, *frequent = nullptr;
    for (const v1::Segment& s : resp.audience()) {
      if (s.dimension() != truth.dimension) continue;
      if (common == nullptr || s.base_share() > common->base_share()) common = &s;
      if (frequent == nullptr || s.share() > frequent->share()) frequent = &s;
    }
    platform_majority += common->value() == truth.value;
    most_frequent += frequent->value() == truth.value;
    if (best->value() != truth.value) {
      std::cout << "  missed PRODUCT:" << p << " planted " << truth.dimension << " " << truth.value
                << ", most lifted " << best->value() << " (" << best->lift()
                << "): " << resp.summary() << "\n";
    }
  }
  const double recovered = static_cast<double>(right) / busy.size();
  std::cout << "[ figures  ] planted audience recovered for " << right << " of " << busy.size()
            << " products (" << recovered << "); baselines: platform's most common value "
            << platform_majority << ", product's most frequent value " << most_frequent << "\n";
  EXPECT_GE(recovered, 0.95);
}

// A product with few buyers falls back to its category's audience and says so; a merchant
// and an influencer get their category mix, brands and audience.
TEST_P(InsightTest, ProfileFallsBackAndProfilesMerchantsAndInfluencers) {
  const World& w = TheWorld();
  uint64_t quiet = 0;
  for (const auto& [p, c] : w.category) {
    if (!w.viewers.count(p) || w.viewers.at(p) < 3) quiet = p;
  }
  ASSERT_NE(quiet, 0u);
  v1::ProfileEntityRequest req;
  *req.mutable_key() = Key(v1::PRODUCT, quiet);
  v1::ProfileEntityResponse resp;
  ASSERT_TRUE(Profile(req, &resp).ok());
  EXPECT_EQ(resp.fallback_category().id(), w.category.at(quiet));
  EXPECT_NE(resp.summary().find("category"), std::string::npos) << resp.summary();
  EXPECT_GE(resp.buyers(), 30u);

  // Bounded work: a busy product read with max_sample 10 reads at most 10 per list.
  uint64_t busiest = 0, most = 0;
  for (const auto& [p, n] : w.viewers) {
    if (n > most) most = n, busiest = p;
  }
  v1::ProfileEntityRequest bounded;
  *bounded.mutable_key() = Key(v1::PRODUCT, busiest);
  bounded.set_max_sample(10);
  bounded.set_min_buyers(1);
  v1::ProfileEntityResponse small;
  ASSERT_TRUE(Profile(bounded, &small).ok());
  EXPECT_LE(small.sampled(), 20u);
  EXPECT_GE(small.total(), most);
  EXPECT_LE(small.buyers(), 20u);

  for (v1::EntityType type : {v1::MERCHANT, v1::INFLUENCER}) {
    v1::ProfileEntityRequest r;
    *r.mutable_key() = Key(type, 1);  // the most popular of the first category
    v1::ProfileEntityResponse out;
    ASSERT_TRUE(Profile(r, &out).ok()) << v1::EntityType_Name(type);
    ASSERT_FALSE(out.categories().empty()) << v1::EntityType_Name(type);
    ASSERT_FALSE(out.brands().empty());
    double share = 0;
    for (const auto& c : out.categories()) share += c.share();
    EXPECT_LE(share, 1.0 + 1e-9);
    EXPECT_FALSE(out.categories(0).name().empty());
    EXPECT_GT(out.buyers(), 0u);
    EXPECT_FALSE(out.audience().empty());
    EXPECT_LE(out.sampled(), out.total());
  }
}

// The planted cause is the first reason for >= 90% of the planted pairs.
TEST_P(InsightTest, CompareRanksThePlantedCauseFirst) {
  const World& w = TheWorld();
  ASSERT_GE(w.pairs.size(), 20u);
  std::map<std::string, std::pair<int, int>> by_cause;  // cause -> (right, all)
  int right = 0, baseline = 0;
  for (const datagen::Planted& pair : w.pairs) {
    v1::CompareProductsRequest req;
    *req.mutable_product() = Key(v1::PRODUCT, pair.product);
    *req.mutable_other() = Key(v1::PRODUCT, pair.other);
    v1::CompareProductsResponse resp;
    ASSERT_TRUE(Compare(req, &resp).ok());
    ASSERT_FALSE(resp.reasons().empty());
    EXPECT_NEAR(resp.traffic() + resp.conversion() + resp.order_value(), resp.outcome_log_ratio(),
                1e-9);
    EXPECT_GE(resp.peer_count(), 30u);
    const bool ok = resp.reasons(0).factor() == pair.cause;
    // Baseline, same reply: the driver whose raw values differ most, relatively.
    std::string widest;
    double widest_gap = -1;
    for (const v1::MetricDelta& d : resp.deltas()) {
      const std::map<std::string, std::string> driver = {
          {"price", "price"}, {"rating", "rating"}, {"promotions", "promotion"}};
      auto it = driver.find(d.metric());
      if (it == driver.end()) continue;
      const double scale = std::max(std::abs(d.product_value()), std::abs(d.other_value()));
      const double gap = scale > 0 ? std::abs(d.delta()) / scale : 0;
      if (gap > widest_gap) widest_gap = gap, widest = it->second;
    }
    baseline += widest == pair.cause;
    right += ok;
    by_cause[pair.cause].first += ok;
    ++by_cause[pair.cause].second;
    if (!ok) std::cout << "  missed " << pair.cause << ": " << resp.summary() << "\n";
  }
  const double share = static_cast<double>(right) / w.pairs.size();
  std::cout << "[ figures  ] baseline (the driver whose values differ most, relatively): "
            << baseline << " of " << w.pairs.size() << "\n";
  std::cout << "[ figures  ] planted cause first for " << right << " of " << w.pairs.size()
            << " pairs (" << share << ");";
  for (const auto& [cause, n] : by_cause)
    std::cout << " " << cause << " " << n.first << "/" << n.second;
  std::cout << "\n";
  EXPECT_GE(share, 0.9);
}

// Against peers, gmv, and the answers that say there are no peers.
TEST_P(InsightTest, CompareWithPeersAndGmv) {
  const World& w = TheWorld();
  const datagen::Planted& pair = w.pairs.front();
  v1::CompareProductsRequest req;
  *req.mutable_product() = Key(v1::PRODUCT, pair.product);
  req.set_peers(v1::SAME_LEAF_CATEGORY);
  req.set_outcome_metric("gmv");
  v1::CompareProductsResponse resp;
  ASSERT_TRUE(Compare(req, &resp).ok());
  EXPECT_GT(resp.compared_with(), 0u);
  EXPECT_NEAR(resp.traffic() + resp.conversion() + resp.order_value(), resp.outcome_log_ratio(),
              1e-9);
  EXPECT_FALSE(resp.reasons().empty());
  req.set_peers(v1::SAME_SPU);
  resp.Clear();
  ASSERT_TRUE(Compare(req, &resp).ok());
  EXPECT_GE(resp.compared_with(), 1u);
  // With fewer than 30 peers there is no driver model: the parts are the reasons.
  v1::CompareProductsRequest few;
  *few.mutable_product() = Key(v1::PRODUCT, pair.product);
  *few.mutable_other() = Key(v1::PRODUCT, pair.other);
  few.set_max_peers(20);
  resp.Clear();
  ASSERT_TRUE(Compare(few, &resp).ok());
  EXPECT_NE(resp.summary().find("too few peers"), std::string::npos) << resp.summary();
  ASSERT_FALSE(resp.reasons().empty());
  for (const v1::Reason& r : resp.reasons()) {
    EXPECT_TRUE(r.factor() == "traffic" || r.factor() == "conversion") << r.factor();
  }
  // A product alone in its SPU: an answer that says so.
  uint64_t alone = 0;
  for (const auto& [spu, members] : w.spu_members) {
    if (members.size() == 1) alone = members[0];
  }
  ASSERT_NE(alone, 0u);
  *req.mutable_product() = Key(v1::PRODUCT, alone);
  resp.Clear();
  ASSERT_TRUE(Compare(req, &resp).ok());
  EXPECT_EQ(resp.compared_with(), 0u);
  EXPECT_NE(resp.summary().find("no peers"), std::string::npos) << resp.summary();
  EXPECT_TRUE(resp.reasons().empty());
}

std::vector<uint64_t> ExpectedTop(const World& w, const std::function<bool(uint64_t)>& keep,
                                  const std::function<double(uint64_t)>& value, size_t limit) {
  std::vector<std::pair<double, uint64_t>> v;
  for (const auto& [p, c] : w.category) {
    if (RootOf(w, c) == w.root && keep(p)) v.push_back({-value(p), p});
  }
  std::sort(v.begin(), v.end());
  std::vector<uint64_t> out;
  for (size_t i = 0; i < v.size() && i < limit; ++i) out.push_back(v[i].second);
  return out;
}

std::vector<uint64_t> Ids(const v1::TopProductsResponse& r) {
  std::vector<uint64_t> out;
  for (const auto& p : r.products()) out.push_back(p.key().id());
  return out;
}

TEST_P(InsightTest, TopProductsMatchTheRecordsPageByPage) {
  const World& w = TheWorld();
  v1::TopProductsRequest req;
  *req.mutable_category() = Key(v1::CATEGORY, w.root);
  req.set_include_descendants(true);
  req.set_metric("sales_30d");
  req.set_limit(20);
  v1::TopProductsResponse first;
  ASSERT_TRUE(Top(req, &first).ok());
  auto all = [](uint64_t) { return true; };
  const auto sales = [&](uint64_t p) { return w.sales.at(p); };
  EXPECT_EQ(Ids(first), ExpectedTop(w, all, sales, 20));
  EXPECT_GT(first.categories(), 1u);
  ASSERT_FALSE(first.next_page_token().empty());
  // Two pages of 10 are the first 20.
  req.set_limit(10);
  v1::TopProductsResponse a, b;
  ASSERT_TRUE(Top(req, &a).ok());
  req.set_page_token(a.next_page_token());
  ASSERT_TRUE(Top(req, &b).ok());
  std::vector<uint64_t> paged = Ids(a);
  for (uint64_t id : Ids(b)) paged.push_back(id);
  EXPECT_EQ(paged, Ids(first));
  // A token is bound to its query.
  req.set_metric("rating");
  v1::TopProductsResponse other;
  EXPECT_EQ(Top(req, &other).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.clear_page_token();

  // Purchases in the last 30 days, with a brand filter and a price range, entities inline.
  const int64_t until = datagen::kDefaultEndTimeMs, since = until - datagen::kSalesWindowMs;
  const uint64_t brand = w.brand.at(first.products(0).key().id());
  req.set_metric("purchases");
  req.set_since_ms(since);
  req.set_until_ms(until);
  req.add_brands()->CopyFrom(Key(v1::BRAND, brand));
  req.set_min_price(1);
  req.set_max_price(100000);
  req.set_limit(15);
  req.set_include_entities(true);
  v1::TopProductsResponse bought;
  ASSERT_TRUE(Top(req, &bought).ok());
  auto purchases = [&](uint64_t p) {
    double n = 0;
    if (w.purchases.count(p)) {
      for (int64_t t : w.purchases.at(p)) n += t >= since && t <= until;
    }
    return n;
  };
  auto branded = [&](uint64_t p) { return w.brand.count(p) && w.brand.at(p) == brand; };
  EXPECT_EQ(Ids(bought), ExpectedTop(w, branded, purchases, 15));
  for (const auto& p : bought.products()) {
    EXPECT_EQ(p.entity().key().id(), p.key().id());
    EXPECT_EQ(p.value(), purchases(p.key().id()));
  }
}

// The tests that write: each on a cluster of its own.
class InsightWriteTest : public InsightTest {
 protected:
  void SetUp() override {
    own_ = StartWorldCluster(GetParam());
    ASSERT_NE(own_, nullptr);
    cluster_ = own_.get();
    knowledge_ = v1::KnowledgeService::NewStub(cluster_->channel());
    insight_ = v1::InsightService::NewStub(cluster_->channel());
  }
  void TearDown() override {
    if (own_ != nullptr) EXPECT_TRUE(own_->Stop().ok());
  }
  std::unique_ptr<Cluster> own_;
};

// A new subcategory shows in its root's top products within the expansion cache's 5 s;
// a product's metric update and a product moved between categories show at once.
TEST_P(InsightWriteTest, TopProductsFollowWrites) {
  const World& w = TheWorld();
  v1::TopProductsRequest req;
  *req.mutable_category() = Key(v1::CATEGORY, w.root);
  req.set_include_descendants(true);
  req.set_metric("sales_30d");
  req.set_limit(1);
  v1::TopProductsResponse before;
  ASSERT_TRUE(Top(req, &before).ok());  // the expansion is now cached
  Dataset fresh;
  v1::Entity category;
  *category.mutable_key() = Key(v1::CATEGORY, 900001);
  category.set_name("New leaf");
  category.set_update_time_ms(1);
  fresh.entities.push_back(category);
  v1::Entity product;
  *product.mutable_key() = Key(v1::PRODUCT, 900001);
  product.set_name("Best seller");
  (*product.mutable_metrics())["sales_30d"] = 1e9;
  product.set_update_time_ms(1);
  fresh.entities.push_back(product);
  fresh.edges.push_back(
      MakeEdge(Key(v1::CATEGORY, 900001), v1::SUBCATEGORY_OF, Key(v1::CATEGORY, w.root), 1000, 1));
  fresh.edges.push_back(
      MakeEdge(Key(v1::PRODUCT, 900001), v1::IN_CATEGORY, Key(v1::CATEGORY, 900001), 1000, 1));
  ASSERT_TRUE(LoadViaRpc(cluster_->graph(), fresh).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(5500));
  v1::TopProductsResponse after;
  ASSERT_TRUE(Top(req, &after).ok());
  ASSERT_EQ(after.products_size(), 1);
  EXPECT_EQ(after.products(0).key().id(), 900001u);
  // A metric update re-ranks at once.
  product.mutable_metrics()->at("sales_30d") = 0;
  Dataset update;
  update.entities.push_back(product);
  ASSERT_TRUE(LoadViaRpc(cluster_->graph(), update).ok());
  ASSERT_TRUE(Top(req, &after).ok());
  EXPECT_EQ(after.products(0).key().id(), before.products(0).key().id());
}

TEST_P(InsightTest, BadInputNamesTheField) {
  const World& w = TheWorld();
  auto top_error = [&](const std::function<void(v1::TopProductsRequest*)>& edit) {
    v1::TopProductsRequest req;
    *req.mutable_category() = Key(v1::CATEGORY, w.root);
    edit(&req);
    v1::TopProductsResponse resp;
    grpc::Status s = Top(req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    return s.error_message();
  };
  EXPECT_NE(top_error([](auto* r) { *r->mutable_category() = Key(v1::BRAND, 1); }).find("category"),
            std::string::npos);
  EXPECT_NE(top_error([](auto* r) { r->mutable_category()->set_id(999999); }).find("category"),
            std::string::npos);
  EXPECT_NE(top_error([](auto* r) { r->set_metric("no_such_metric"); }).find("metric"),
            std::string::npos);
  EXPECT_NE(top_error([](auto* r) { r->set_since_ms(10), r->set_until_ms(5); }).find("since_ms"),
            std::string::npos);
  EXPECT_NE(top_error([](auto* r) { r->set_limit(5000); }).find("limit"), std::string::npos);
  EXPECT_NE(top_error([](auto* r) { r->set_metric("growth"); }).find("metric"), std::string::npos);
  EXPECT_NE(top_error([](auto* r) { r->set_page_token("garbage"); }).find("page_token"),
            std::string::npos);

  auto compare_error = [&](const std::function<void(v1::CompareProductsRequest*)>& edit) {
    v1::CompareProductsRequest req;
    *req.mutable_product() = Key(v1::PRODUCT, w.pairs[0].product);
    *req.mutable_other() = Key(v1::PRODUCT, w.pairs[0].other);
    edit(&req);
    v1::CompareProductsResponse resp;
    grpc::Status s = Compare(req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    return s.error_message();
  };
  EXPECT_NE(compare_error([&](auto* r) { *r->mutable_other() = r->product(); }).find("other"),
            std::string::npos);
  EXPECT_NE(compare_error([](auto* r) { *r->mutable_other() = Key(v1::SPU, 1); }).find("other"),
            std::string::npos);
  EXPECT_NE(compare_error([](auto* r) { r->mutable_product()->set_id(99999999); }).find("product"),
            std::string::npos);
  EXPECT_NE(compare_error([](auto* r) { r->set_outcome_metric("likes"); }).find("outcome_metric"),
            std::string::npos);
  EXPECT_NE(compare_error([](auto* r) { r->set_peers(v1::SAME_SPU); }).find("other"),
            std::string::npos);
  EXPECT_NE(compare_error([](auto* r) { r->set_max_peers(-1); }).find("max_peers"),
            std::string::npos);

  auto profile_error = [&](const v1::EntityKey& key, int max_sample) {
    v1::ProfileEntityRequest req;
    *req.mutable_key() = key;
    req.set_max_sample(max_sample);
    v1::ProfileEntityResponse resp;
    grpc::Status s = Profile(req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    return s.error_message();
  };
  EXPECT_NE(profile_error(Key(v1::BRAND, 1), 0).find("key.type"), std::string::npos);
  EXPECT_NE(profile_error(Key(v1::PRODUCT, 99999999), 0).find("key"), std::string::npos);
  EXPECT_NE(profile_error(Key(v1::PRODUCT, 1), 1000000).find("max_sample"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Modes, InsightTest, ::testing::Values("embedded", "split"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Modes, InsightWriteTest, ::testing::Values("embedded", "split"),
                         [](const auto& info) { return info.param; });

// The split mode answers exactly as the embedded one.
TEST(InsightModesTest, SplitAnswersLikeEmbedded) {
  const World& w = TheWorld();
  Cluster* embedded = ReadOnlyClusters::Get("embedded");
  Cluster* split = ReadOnlyClusters::Get("split");
  ASSERT_NE(embedded, nullptr);
  ASSERT_NE(split, nullptr);
  std::vector<std::string> answers[2];
  int side = 0;
  for (Cluster* c : {embedded, split}) {
    auto knowledge = v1::KnowledgeService::NewStub(c->channel());
    auto insight = v1::InsightService::NewStub(c->channel());
    for (const datagen::Planted& pair : {w.pairs[0], w.pairs[1]}) {
      v1::CompareProductsRequest req;
      *req.mutable_product() = Key(v1::PRODUCT, pair.product);
      *req.mutable_other() = Key(v1::PRODUCT, pair.other);
      v1::CompareProductsResponse resp;
      grpc::ClientContext ctx;
      SetDeadline(&ctx, Millis(30000));
      ASSERT_TRUE(insight->CompareProducts(&ctx, req, &resp).ok());
      answers[side].push_back(DeterministicBytes(resp));
      v1::ProfileEntityRequest profile;
      *profile.mutable_key() = Key(v1::PRODUCT, pair.product);
      v1::ProfileEntityResponse presp;
      grpc::ClientContext pctx;
      SetDeadline(&pctx, Millis(30000));
      ASSERT_TRUE(knowledge->ProfileEntity(&pctx, profile, &presp).ok());
      answers[side].push_back(DeterministicBytes(presp));
    }
    v1::TopProductsRequest top;
    *top.mutable_category() = Key(v1::CATEGORY, w.root);
    top.set_include_descendants(true);
    top.set_metric("conversion");
    top.set_min_views(5);
    top.set_include_entities(true);
    v1::TopProductsResponse tresp;
    grpc::ClientContext tctx;
    SetDeadline(&tctx, Millis(30000));
    ASSERT_TRUE(insight->TopProducts(&tctx, top, &tresp).ok());
    EXPECT_EQ(tresp.products_size(), 20);
    answers[side].push_back(DeterministicBytes(tresp));
    ++side;
  }
  ASSERT_EQ(answers[0].size(), answers[1].size());
  for (size_t i = 0; i < answers[0].size(); ++i) {
    EXPECT_EQ(answers[0][i], answers[1][i]) << "answer " << i << " differs between the modes";
  }
}

}  // namespace
}  // namespace integration
}  // namespace kg
