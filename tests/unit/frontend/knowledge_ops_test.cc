// KnowledgeOps over in-process partition hosts: a Categorize reply never mixes model
// versions (two servers with different bundles, as during an installation, give
// UNAVAILABLE), and once every server has the same bundle the texts are answered.
#include "server/frontend/knowledge_ops.h"

#include <cmath>
#include <future>
#include <limits>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/frontend/partition_calls.h"
#include "server/knowledge/bundle.h"

namespace kg {
namespace {

// An encoded bundle over two categories whose products have distinct words.
std::string Bundle(const std::string& version, uint64_t seed) {
  auto taxonomy = std::make_shared<const knowledge::Taxonomy>(
      knowledge::Taxonomy::Build({{1, "Shoes", 0}, {2, "Bottles", 0}}));
  std::vector<knowledge::LabelledProduct> products;
  for (int i = 0; i < 60; ++i) {
    products.push_back({{absl::StrCat(i % 2 ? "runner sneaker " : "flask bottle ", i), "", "", {}},
                        static_cast<uint64_t>(i % 2 ? 1 : 2)});  // sneakers are Shoes
  }
  knowledge::CategorizerParams params;
  params.epoch = 5;
  params.dim = 8;
  params.seed = seed;
  knowledge::ValidationFigures figures;
  auto categorizer = knowledge::Categorizer::Train(taxonomy, products, params, nullptr, &figures);
  EXPECT_TRUE(categorizer.ok()) << categorizer.status();
  knowledge::ModelBundle bundle;
  bundle.version = version;
  bundle.taxonomy = taxonomy;
  bundle.categorizer = std::move(*categorizer);
  return knowledge::EncodeBundle(bundle);
}

absl::Status Install(PartitionHost* host, uint32_t partition, const std::string& version,
                     const std::string& bytes) {
  internal::v1::InstallBundleRequest req;
  req.mutable_target()->set_partition(partition);
  req.mutable_target()->set_partition_count(2);
  req.set_version(version);
  req.set_data(bytes);
  req.set_total_bytes(bytes.size());
  req.set_last(true);
  internal::v1::InstallBundleResponse resp;
  return host->InstallBundle(req, &resp);
}

// Found by fuzz_requests: a NaN passed the range check of a TrainModels setting
// (validation_share) and reached training.
TEST(SettingTest, RangesRefuseNaN) {
  double share = 0.1;
  EXPECT_TRUE(Setting(0.0, 0.01, 0.5, "validation_share", &share).ok());
  EXPECT_EQ(share, 0.1);
  EXPECT_TRUE(Setting(0.2, 0.01, 0.5, "validation_share", &share).ok());
  EXPECT_EQ(share, 0.2);
  for (double bad : {std::nan(""), 0.6, -1.0, std::numeric_limits<double>::infinity()}) {
    absl::Status s = Setting(bad, 0.01, 0.5, "validation_share", &share);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("validation_share"), absl::string_view::npos);
  }
  EXPECT_EQ(share, 0.2);
  int epoch = 25;
  EXPECT_FALSE(Setting(201, 1, 200, "epoch", &epoch).ok());
  EXPECT_EQ(epoch, 25);
}

TEST(KnowledgeOpsTest, AReplyNeverMixesModelVersions) {
  // Two "servers": partition 0 on one host, partition 1 on another.
  auto a = *PartitionHost::Create(2, {0});
  auto b = *PartitionHost::Create(2, {1});
  ServingGate gate;
  gate.Open();
  Metrics metrics(std::make_shared<prometheus::Registry>());
  std::vector<std::unique_ptr<PartitionClient>> clients;
  clients.push_back(NewLocalPartitionClient(a.get(), &gate));
  clients.push_back(NewLocalPartitionClient(b.get(), &gate));
  Router router(std::move(clients));
  KnowledgeOps ops(&router);
  auto categorize = [&ops](v1::CategorizeResponse* resp) {
    v1::CategorizeRequest req;
    for (int i = 0; i < 4; ++i) req.add_items()->mutable_text()->set_title("runner sneaker");
    std::promise<absl::Status> done;
    ops.Categorize(CallOptions{std::chrono::system_clock::now() + std::chrono::seconds(10)}, req,
                   resp, [&done](absl::Status s) { done.set_value(s); });
    return done.get_future().get();
  };
  ASSERT_TRUE(Install(a.get(), 0, "v1", Bundle("v1", 1)).ok());
  ASSERT_TRUE(Install(b.get(), 1, "v2", Bundle("v2", 2)).ok());
  v1::CategorizeResponse mixed;
  absl::Status s = categorize(&mixed);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("different model versions"), absl::string_view::npos) << s;

  ASSERT_TRUE(Install(a.get(), 0, "v2", Bundle("v2", 2)).ok());
  v1::CategorizeResponse same;
  s = categorize(&same);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(same.model_version(), "v2");
  ASSERT_EQ(same.results_size(), 4);
  for (const auto& r : same.results()) {
    ASSERT_EQ(r.status().code(), 0) << r.status().message();
    EXPECT_EQ(r.predictions(0).category().id(), 1u);
  }
}

}  // namespace
}  // namespace kg
