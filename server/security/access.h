// What each public RPC needs: the role of its caller's token and whether it is a heavy call
// (one whose memory and time grow with the graph: traversals, imports, training, the
// knowledge and insight aggregates), bounded separately (authorizer.h).
#ifndef KG_SERVER_SECURITY_ACCESS_H_
#define KG_SERVER_SECURITY_ACCESS_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "server/security/tokens.h"

namespace kg {

struct AccessRule {
  Role role = Role::kAdmin;
  bool heavy = false;
};

// The rule of a full method name, "/kg.v1.GraphService/UpsertEntities"; NOT_FOUND for a
// method the policy does not know (which the start-up check below makes impossible for the
// services a server registers).
absl::StatusOr<AccessRule> RuleFor(absl::string_view full_method);

// FAILED_PRECONDITION naming every method of `services` without a rule: a new RPC must be
// given one before the server starts.
absl::Status CheckRulesCover(
    const std::vector<const google::protobuf::ServiceDescriptor*>& services);

// The public services: kg.v1.GraphService, AdminService, KnowledgeService, InsightService.
std::vector<const google::protobuf::ServiceDescriptor*> PublicServices();

}  // namespace kg

#endif  // KG_SERVER_SECURITY_ACCESS_H_
