#include "server/security/access.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kg/v1/admin.pb.h"
#include "kg/v1/graph.pb.h"
#include "kg/v1/insight.pb.h"
#include "kg/v1/knowledge.pb.h"

namespace kg {
namespace {

const absl::flat_hash_map<std::string, AccessRule>& Rules() {
  constexpr AccessRule kRead{Role::kRead, false};
  constexpr AccessRule kReadHeavy{Role::kRead, true};
  constexpr AccessRule kWrite{Role::kWrite, false};
  constexpr AccessRule kWriteHeavy{Role::kWrite, true};
  constexpr AccessRule kAdmin{Role::kAdmin, false};
  constexpr AccessRule kAdminHeavy{Role::kAdmin, true};
  static const auto* rules = new absl::flat_hash_map<std::string, AccessRule>{
      {"/kg.v1.GraphService/GetEntities", kRead},
      {"/kg.v1.GraphService/GetNeighbors", kRead},
      {"/kg.v1.GraphService/CountNeighbors", kRead},
      {"/kg.v1.GraphService/Traverse", kReadHeavy},
      {"/kg.v1.GraphService/UpsertEntities", kWrite},
      {"/kg.v1.GraphService/DeleteEntities", kWrite},
      {"/kg.v1.GraphService/UpsertEdges", kWrite},
      {"/kg.v1.GraphService/DeleteEdges", kWrite},
      {"/kg.v1.GraphService/Import", kWriteHeavy},
      // Reads the cluster's layout and counts; writes nothing.
      {"/kg.v1.AdminService/GetClusterInfo", kRead},
      {"/kg.v1.AdminService/Checkpoint", kAdmin},
      {"/kg.v1.AdminService/TrainModels", kAdminHeavy},
      {"/kg.v1.AdminService/DevelopBrands", kAdminHeavy},
      {"/kg.v1.AdminService/AssignSpus", kAdminHeavy},
      {"/kg.v1.KnowledgeService/Categorize", kRead},
      {"/kg.v1.KnowledgeService/GetTaxonomy", kRead},
      {"/kg.v1.KnowledgeService/RecognizeBrands", kRead},
      {"/kg.v1.KnowledgeService/ExtractAttributes", kRead},
      {"/kg.v1.KnowledgeService/MatchSpu", kRead},
      {"/kg.v1.KnowledgeService/ProfileEntity", kReadHeavy},
      {"/kg.v1.InsightService/TopProducts", kReadHeavy},
      {"/kg.v1.InsightService/CompareProducts", kReadHeavy},
  };
  return *rules;
}

}  // namespace

absl::StatusOr<AccessRule> RuleFor(absl::string_view full_method) {
  auto it = Rules().find(full_method);
  if (it == Rules().end()) {
    return absl::NotFoundError(absl::StrCat("no access rule for ", full_method));
  }
  return it->second;
}

absl::Status CheckRulesCover(
    const std::vector<const google::protobuf::ServiceDescriptor*>& services) {
  std::vector<std::string> missing;
  for (const google::protobuf::ServiceDescriptor* service : services) {
    for (int i = 0; i < service->method_count(); ++i) {
      std::string name = absl::StrCat("/", service->full_name(), "/", service->method(i)->name());
      if (!Rules().contains(name)) missing.push_back(name);
    }
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "no access rule (server/security/access.cc) for: ", absl::StrJoin(missing, ", ")));
}

std::vector<const google::protobuf::ServiceDescriptor*> PublicServices() {
  // Naming a message of each file links it, so the pool holds the services.
  (void)v1::GetEntitiesRequest::descriptor();
  (void)v1::CheckpointRequest::descriptor();
  (void)v1::CategorizeRequest::descriptor();
  (void)v1::TopProductsRequest::descriptor();
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  std::vector<const google::protobuf::ServiceDescriptor*> services;
  for (const char* name : {"kg.v1.GraphService", "kg.v1.AdminService", "kg.v1.KnowledgeService",
                           "kg.v1.InsightService"}) {
    services.push_back(pool->FindServiceByName(name));
  }
  return services;
}

}  // namespace kg
