// Security of real kg_server processes (docs/SECURITY.md): TLS and mTLS in both modes with
// certificates made here by the openssl command, certificate rotation without a restart,
// bad certificate and token files, the role of every public RPC (enumerated from the
// service descriptors), checkpoint confinement, the bounds on calls in flight, and kgctl
// with tokens and TLS.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "kg/v1/admin.grpc.pb.h"
#include "kg/v1/graph.grpc.pb.h"
#include "kg/v1/insight.pb.h"
#include "kg/v1/knowledge.pb.h"
#include "tests/integration/harness.h"

namespace kg {
namespace integration {
namespace {

// Runs a shell command; fails the test when it exits non-zero.
void Sh(const std::string& command) {
  int rc = std::system((command + " >/dev/null 2>&1").c_str());
  ASSERT_EQ(rc, 0) << command;
}

// A certificate authority and certificates signed by it, made with the openssl command.
class Pki {
 public:
  explicit Pki(const std::string& dir) : dir_(dir) {}
  std::string File(const std::string& name) const { return dir_ + "/" + name; }

  void MakeCa(const std::string& name) {
    Sh(absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=", name,
                    " -keyout ", File(name + ".key"), " -out ", File(name + ".pem")));
  }
  // name.pem / name.key signed by `ca`, valid for `days` (negative: already expired), for
  // the address 127.0.0.1.
  void MakeCert(const std::string& name, const std::string& ca, int days = 2) {
    Sh(absl::StrCat("openssl req -newkey rsa:2048 -nodes -subj /CN=", name, " -keyout ",
                    File(name + ".key"), " -out ", File(name + ".csr")));
    ASSERT_TRUE(WriteFile(File("san.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").ok());
    Sh(absl::StrCat("openssl x509 -req -in ", File(name + ".csr"), " -CA ", File(ca + ".pem"),
                    " -CAkey ", File(ca + ".key"), " -CAcreateserial -days ", days, " -extfile ",
                    File("san.cnf"), " -out ", File(name + ".pem")));
  }

 private:
  std::string dir_;
};

// Client credentials trusting `ca` (a PEM file), presenting `cert`/`key` when given.
std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& ca, const std::string& cert = "",
                                              const std::string& key = "") {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = ReadFile(ca);
  if (!cert.empty()) {
    o.pem_cert_chain = ReadFile(cert);
    o.pem_private_key = ReadFile(key);
  }
  return grpc::SslCredentials(o);
}

// A new channel that shares no connection with earlier ones.
std::shared_ptr<grpc::Channel> Fresh(const std::string& address,
                                     std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, credentials, args);
}

// The status of a unary call of `method` with `request` bytes and `authorization`
// metadata (none when empty), through a generic stub.
grpc::Status CallRaw(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const std::string& request, const std::string& authorization) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
  grpc::Slice slice(request);
  grpc::ByteBuffer req(&slice, 1), resp;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &req, &resp,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  return done.get_future().get();
}

// One upsert of BRAND:id and its read-back, over `channel` with `token` ("" for none).
grpc::Status UpsertBrand(const std::shared_ptr<grpc::Channel>& channel, uint64_t id,
                         const std::string& token) {
  auto graph = v1::GraphService::NewStub(channel);
  v1::UpsertEntitiesRequest req;
  v1::Entity* e = req.add_entities();
  e->mutable_key()->set_type(v1::BRAND);
  e->mutable_key()->set_id(id);
  e->set_name(absl::StrCat("brand ", id));
  v1::UpsertEntitiesResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  return graph->UpsertEntities(&ctx, req, &resp);
}

// Whether BRAND:id exists (read with `token`).
bool BrandExists(const std::shared_ptr<grpc::Channel>& channel, uint64_t id,
                 const std::string& token) {
  auto graph = v1::GraphService::NewStub(channel);
  v1::GetEntitiesRequest req;
  req.add_keys()->set_type(v1::BRAND);
  req.mutable_keys(0)->set_id(id);
  v1::GetEntitiesResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  grpc::Status s = graph->GetEntities(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return s.ok() && resp.results_size() == 1 && resp.results(0).found();
}

// The reply bytes of a reflection ListServices request, without a token ("" on failure).
std::string ListServices(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto call =
      stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](auto start) {
    start();
    return cq.Next(&tag, &ok) && ok;
  };
  std::string text;
  // ServerReflectionRequest{list_services: ""}: field 7, length 0.
  grpc::Slice slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&slice, 1), reply;
  if (step([&] { call->StartCall(nullptr); }) && step([&] { call->Write(request, nullptr); }) &&
      step([&] { call->Read(&reply, nullptr); })) {
    std::vector<grpc::Slice> slices;
    if (reply.Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices)
        text.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  step([&] { call->WritesDone(nullptr); });
  grpc::Status status;
  step([&] { call->Finish(&status, nullptr); });
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return text;
}

std::string KgctlPath() { return KG_KGCTL_PATH; }

// Runs kgctl with `args`; returns its exit code and fills `output` (stdout and stderr).
int Kgctl(const std::string& args, std::string* output, const std::string& env = "") {
  std::string command = absl::StrCat(env, " ", KgctlPath(), " ", args, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  output->clear();
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) output->append(buf, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Token lines made by `kgctl token new`: {role -> token}, written to `path`.
std::map<std::string, std::string> MakeTokens(const std::string& path) {
  std::map<std::string, std::string> tokens;
  std::string file = "# made by the security test\n";
  for (const char* role : {"read", "write", "admin"}) {
    std::string out;
    EXPECT_EQ(Kgctl(absl::StrCat("token new --role=", role, " --name=", role, "-user"), &out), 0)
        << out;
    // {"token":"T","line":"L"}
    size_t t = out.find("\"token\":\"") + 9;
    size_t l = out.find("\"line\":\"") + 8;
    tokens[role] = out.substr(t, out.find('"', t) - t);
    absl::StrAppend(&file, out.substr(l, out.find('"', l) - l), "\n");
  }
  EXPECT_TRUE(WriteFile(path, file).ok());
  return tokens;
}

// Polls `check` every 100 ms for up to `timeout`.
template <typename Check>
bool Eventually(Check check, Millis timeout = Millis(15000)) {
  auto give_up = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < give_up) {
    if (check()) return true;
    std::this_thread::sleep_for(Millis(100));
  }
  return check();
}

class SecurityTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    pki_.MakeCa("ca");
    pki_.MakeCa("rogue-ca");
    pki_.MakeCert("server", "ca");
    pki_.MakeCert("client", "ca");
    pki_.MakeCert("rogue-client", "rogue-ca");
    pki_.MakeCert("expired-client", "ca", -1);
  }
  TempDir dir_;
  Pki pki_{dir_.path()};
};

// The public port over TLS, the partition servers over mTLS with the cluster CA; the front
// end presents its client certificate to them.
TEST_P(SecurityTest, ServesTlsEndToEnd) {
  ClusterOptions options;
  options.frontend_flags = {"--tls_cert=" + pki_.File("server.pem"),
                            "--tls_key=" + pki_.File("server.key")};
  if (GetParam() == "split") {
    options.partition_flags = {"--tls_cert=" + pki_.File("server.pem"),
                               "--tls_key=" + pki_.File("server.key"),
                               "--tls_client_ca=" + pki_.File("ca.pem")};
    options.frontend_flags.push_back("--partition_tls_ca=" + pki_.File("ca.pem"));
    options.frontend_flags.push_back("--partition_tls_cert=" + pki_.File("client.pem"));
    options.frontend_flags.push_back("--partition_tls_key=" + pki_.File("client.key"));
    options.partition_credentials =
        Tls(pki_.File("ca.pem"), pki_.File("client.pem"), pki_.File("client.key"));
  }
  options.client_credentials = Tls(pki_.File("ca.pem"));
  auto cluster = NewCluster(GetParam());
  ASSERT_TRUE(cluster->Start(options).ok()) << cluster->frontend().LogTail();
  const std::string addr = cluster->frontend().grpc_address();
  grpc::Status s = UpsertBrand(cluster->channel(), 5, "");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(BrandExists(cluster->channel(), 5, ""));
  // Plain text, or a client trusting another CA: no connection.
  EXPECT_EQ(UpsertBrand(Fresh(addr, grpc::InsecureChannelCredentials()), 6, "").error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(UpsertBrand(Fresh(addr, Tls(pki_.File("rogue-ca.pem"))), 6, "").error_code(),
            grpc::StatusCode::UNAVAILABLE);
  for (ServerProcess* partition : cluster->partition_servers()) {
    const std::string p = partition->grpc_address();
    // Only certificates of the cluster CA reach a partition server.
    EXPECT_EQ(CheckHealth(Fresh(p, Tls(pki_.File("ca.pem"))), "", Millis(3000)),
              HealthState::kUnreachable);
    EXPECT_EQ(CheckHealth(Fresh(p, Tls(pki_.File("ca.pem"), pki_.File("rogue-client.pem"),
                                       pki_.File("rogue-client.key"))),
                          "", Millis(3000)),
              HealthState::kUnreachable);
    EXPECT_EQ(CheckHealth(Fresh(p, Tls(pki_.File("ca.pem"), pki_.File("expired-client.pem"),
                                       pki_.File("expired-client.key"))),
                          "", Millis(3000)),
              HealthState::kUnreachable);
    EXPECT_EQ(CheckHealth(Fresh(p, grpc::InsecureChannelCredentials()), "", Millis(3000)),
              HealthState::kUnreachable);
    EXPECT_EQ(CheckHealth(Fresh(p, Tls(pki_.File("ca.pem"), pki_.File("client.pem"),
                                       pki_.File("client.key"))),
                          "", Millis(3000)),
              HealthState::kServing);
  }
  EXPECT_TRUE(cluster->Stop().ok());
}

// --tls_client_ca on the public port: only clients with a valid certificate of that CA.
TEST_P(SecurityTest, MutualTlsOnThePublicPort) {
  ClusterOptions options;
  options.frontend_flags = {"--tls_cert=" + pki_.File("server.pem"),
                            "--tls_key=" + pki_.File("server.key"),
                            "--tls_client_ca=" + pki_.File("ca.pem")};
  if (GetParam() == "split") {
    options.partition_flags = options.frontend_flags;
    options.frontend_flags.push_back("--partition_tls_ca=" + pki_.File("ca.pem"));
    options.frontend_flags.push_back("--partition_tls_cert=" + pki_.File("client.pem"));
    options.frontend_flags.push_back("--partition_tls_key=" + pki_.File("client.key"));
    options.partition_credentials =
        Tls(pki_.File("ca.pem"), pki_.File("client.pem"), pki_.File("client.key"));
  }
  options.client_credentials =
      Tls(pki_.File("ca.pem"), pki_.File("client.pem"), pki_.File("client.key"));
  auto cluster = NewCluster(GetParam());
  ASSERT_TRUE(cluster->Start(options).ok()) << cluster->frontend().LogTail();
  const std::string addr = cluster->frontend().grpc_address();
  EXPECT_TRUE(UpsertBrand(cluster->channel(), 7, "").ok());
  for (const auto& [what, credentials] :
       std::vector<std::pair<std::string, std::shared_ptr<grpc::ChannelCredentials>>>{
           {"no certificate", Tls(pki_.File("ca.pem"))},
           {"another CA's",
            Tls(pki_.File("ca.pem"), pki_.File("rogue-client.pem"), pki_.File("rogue-client.key"))},
           {"expired", Tls(pki_.File("ca.pem"), pki_.File("expired-client.pem"),
                           pki_.File("expired-client.key"))}}) {
    EXPECT_EQ(UpsertBrand(Fresh(addr, credentials), 8, "").error_code(),
              grpc::StatusCode::UNAVAILABLE)
        << what;
  }
  EXPECT_FALSE(BrandExists(cluster->channel(), 8, ""));
  EXPECT_TRUE(cluster->Stop().ok());
}

// Every public RPC: no token, a malformed or unknown one get UNAUTHENTICATED; a role below
// the method's PERMISSION_DENIED; in every attempt. The expected role comes from this
// test's own list of read-only methods; every other method must need write (admin in
// AdminService), so a new RPC is covered the day it is added.
TEST_P(SecurityTest, EveryRpcRequiresItsRole) {
  const std::set<std::string> reads = {
      "GraphService/GetEntities",           "GraphService/GetNeighbors",
      "GraphService/CountNeighbors",        "GraphService/Traverse",
      "AdminService/GetClusterInfo",        "KnowledgeService/Categorize",
      "KnowledgeService/GetTaxonomy",       "KnowledgeService/RecognizeBrands",
      "KnowledgeService/ExtractAttributes", "KnowledgeService/MatchSpu",
      "KnowledgeService/ProfileEntity",     "InsightService/TopProducts",
      "InsightService/CompareProducts"};
  std::map<std::string, std::string> tokens = MakeTokens(dir_.File("tokens.txt"));
  ClusterOptions options;
  options.frontend_flags = {"--auth_tokens=" + dir_.File("tokens.txt")};
  auto cluster = NewCluster(GetParam());
  ASSERT_TRUE(cluster->Start(options).ok()) << cluster->frontend().LogTail();
  // Health and reflection stay open.
  EXPECT_EQ(CheckHealth(cluster->channel(), "", Millis(3000)), HealthState::kServing);
  EXPECT_NE(ListServices(cluster->channel()).find("kg.v1.GraphService"), std::string::npos);
  // A write request that would create BRAND:900 if let through.
  v1::UpsertEntitiesRequest upsert;
  upsert.add_entities()->mutable_key()->set_type(v1::BRAND);
  upsert.mutable_entities(0)->mutable_key()->set_id(900);
  upsert.mutable_entities(0)->set_name("must not exist");
  const int kAttempts = 5;
  int methods = 0, writes = 0, refused = 0, attempts = 0;
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  (void)v1::GetEntitiesRequest::descriptor();
  (void)v1::CheckpointRequest::descriptor();
  (void)v1::CategorizeRequest::descriptor();
  (void)v1::TopProductsRequest::descriptor();
  for (const char* name : {"kg.v1.GraphService", "kg.v1.AdminService", "kg.v1.KnowledgeService",
                           "kg.v1.InsightService"}) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int m = 0; m < service->method_count(); ++m) {
      const std::string short_name = absl::StrCat(service->name(), "/", service->method(m)->name());
      const std::string method =
          absl::StrCat("/", service->full_name(), "/", service->method(m)->name());
      std::string needed = reads.count(short_name)             ? "read"
                           : service->name() == "AdminService" ? "admin"
                                                               : "write";
      ++methods;
      if (needed != "read") ++writes;
      std::string request =
          method == "/kg.v1.GraphService/UpsertEntities" ? upsert.SerializeAsString() : "";
      std::vector<std::pair<std::string, grpc::StatusCode>> refusals = {
          {"", grpc::StatusCode::UNAUTHENTICATED},
          {"Basic dXNlcjpwYXNz", grpc::StatusCode::UNAUTHENTICATED},
          {"Bearer", grpc::StatusCode::UNAUTHENTICATED},
          {"Bearer not-a-known-token", grpc::StatusCode::UNAUTHENTICATED},
          {"Bearer bad token with spaces", grpc::StatusCode::UNAUTHENTICATED},
          {"Bearer " + tokens["read"] + "x", grpc::StatusCode::UNAUTHENTICATED}};
      if (needed != "read")
        refusals.push_back({"Bearer " + tokens["read"], grpc::StatusCode::PERMISSION_DENIED});
      if (needed == "admin")
        refusals.push_back({"Bearer " + tokens["write"], grpc::StatusCode::PERMISSION_DENIED});
      for (const auto& [authorization, code] : refusals) {
        for (int a = 0; a < kAttempts; ++a) {
          grpc::Status s = CallRaw(cluster->channel(), method, request, authorization);
          ++attempts;
          EXPECT_EQ(s.error_code(), code)
              << method << " with '" << authorization << "': " << s.error_message();
          if (s.error_code() == code) ++refused;
          EXPECT_EQ(s.error_message().find(tokens["read"]), std::string::npos);
        }
      }
      // The role it needs (or higher) passes the check; what follows is the method's own
      // answer (an empty request is mostly INVALID_ARGUMENT).
      for (const std::string& role :
           {std::string("read"), std::string("write"), std::string("admin")}) {
        if ((needed == "write" && role == "read") || (needed == "admin" && role != "admin") ||
            method == "/kg.v1.AdminService/TrainModels" ||
            method == "/kg.v1.GraphService/UpsertEntities") {
          continue;
        }
        grpc::Status s = CallRaw(cluster->channel(), method, request, "Bearer " + tokens[role]);
        EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method << " " << role;
        EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << method << " " << role;
      }
    }
  }
  EXPECT_EQ(refused, attempts);
  EXPECT_GE(methods, 22);
  EXPECT_GE(writes, 9);
  EXPECT_FALSE(BrandExists(cluster->channel(), 900, tokens["read"]));
  // The refusals are counted by code, and logged without the token.
  auto metrics = ScrapeMetrics(cluster->frontend().metrics_address());
  ASSERT_TRUE(metrics.ok());
  EXPECT_GE(SumMetric(*metrics, "grpc_server_handled_total", {{"grpc_code", "UNAUTHENTICATED"}}),
            methods * 6 * kAttempts);
  EXPECT_GE(SumMetric(*metrics, "grpc_server_handled_total", {{"grpc_code", "PERMISSION_DENIED"}}),
            writes * kAttempts);
  std::string log = cluster->frontend().ReadLog();
  for (const auto& [role, token] : tokens) EXPECT_EQ(log.find(token), std::string::npos) << role;
  EXPECT_NE(log.find("the token of read-user has read"), std::string::npos);
  // The right token writes.
  EXPECT_TRUE(UpsertBrand(cluster->channel(), 901, tokens["write"]).ok());
  EXPECT_TRUE(BrandExists(cluster->channel(), 901, tokens["read"]));
  EXPECT_TRUE(cluster->Stop().ok());
}

INSTANTIATE_TEST_SUITE_P(Modes, SecurityTest, ::testing::Values("embedded", "split"),
                         [](const auto& info) { return info.param; });

class SecurityFilesTest : public SecurityTest {};

// Certificates change on disk: new connections use the new ones without a restart; a
// damaged set is logged and the last good one kept.
TEST_F(SecurityFilesTest, RotatesCertificatesWithoutRestart) {
  pki_.MakeCa("ca2");
  pki_.MakeCert("server2", "ca2");
  std::filesystem::copy_file(pki_.File("server.pem"), dir_.File("live.pem"));
  std::filesystem::copy_file(pki_.File("server.key"), dir_.File("live.key"));
  ServerProcess server("rotating", dir_.path());
  server.set_credentials(Tls(pki_.File("ca.pem")));
  ASSERT_TRUE(
      server
          .Start({"--tls_cert=" + dir_.File("live.pem"), "--tls_key=" + dir_.File("live.key"),
                  "--tls_reload_interval_s=1", "--partition_count=2"})
          .ok());
  ASSERT_TRUE(server.WaitServing().ok()) << server.LogTail();
  const std::string addr = server.grpc_address();
  auto serves = [&](const std::string& ca) {
    return CheckHealth(Fresh(addr, Tls(pki_.File(ca))), "", Millis(2000)) == HealthState::kServing;
  };
  EXPECT_TRUE(serves("ca.pem"));
  EXPECT_FALSE(serves("ca2.pem"));
  // Garbage: refused, the old certificate stays in use.
  ASSERT_TRUE(WriteFile(dir_.File("live.pem"), "not a certificate\n").ok());
  server.Signal(SIGHUP);
  EXPECT_TRUE(Eventually([&] {
    return server.ReadLog().find("keeping the last good version") != std::string::npos;
  })) << server.LogTail();
  std::this_thread::sleep_for(Millis(2500));  // past gRPC's own re-read interval
  EXPECT_TRUE(serves("ca.pem"));
  // A new pair (a new CA's): in use within a few seconds, without a restart.
  std::filesystem::copy_file(pki_.File("server2.key"), dir_.File("live.key"),
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(pki_.File("server2.pem"), dir_.File("live.pem"),
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_TRUE(Eventually([&] { return serves("ca2.pem"); })) << server.LogTail();
  EXPECT_FALSE(serves("ca.pem"));
  EXPECT_EQ(server.Stop(), 0);
}

// Bad files at start-up refuse the start, naming the flag and the file.
TEST_F(SecurityFilesTest, RefusesBadFilesAtStart) {
  pki_.MakeCert("expired-server", "ca", -1);
  ASSERT_TRUE(WriteFile(dir_.File("garbage.txt"), "garbage\n").ok());
  ASSERT_TRUE(WriteFile(dir_.File("empty-tokens.txt"), "# nothing\n").ok());
  const std::string cert = "--tls_cert=" + pki_.File("server.pem");
  const std::string key = "--tls_key=" + pki_.File("server.key");
  struct Case {
    std::vector<std::string> flags;
    std::string expect;
  };
  std::vector<Case> cases = {
      {{"--tls_cert=" + pki_.File("expired-server.pem"),
        "--tls_key=" + pki_.File("expired-server.key")},
       "has expired"},
      {{cert, "--tls_key=" + pki_.File("client.key")}, "does not match"},
      {{cert, "--tls_key=" + dir_.File("missing.key")}, "missing.key: cannot be read"},
      {{"--tls_cert=" + dir_.File("garbage.txt"), key}, "not a PEM certificate"},
      {{cert, key, "--tls_client_ca=" + dir_.File("garbage.txt")}, "--tls_client_ca"},
      {{cert}, "give both or neither"},
      {{"--auth_tokens=" + dir_.File("missing-tokens.txt")}, "missing-tokens.txt: cannot be read"},
      {{"--auth_tokens=" + dir_.File("garbage.txt")}, "garbage.txt line 1"},
      {{"--auth_tokens=" + dir_.File("empty-tokens.txt")}, "no tokens"},
      {{"--partition_count=5000"}, "--partition_count: must be 1..4096"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    ServerProcess server(absl::StrCat("bad", i), dir_.path());
    std::vector<std::string> flags = cases[i].flags;
    if (flags[0].rfind("--partition_count", 0) != 0) flags.push_back("--partition_count=2");
    ASSERT_TRUE(server.Start(flags).ok());
    auto code = server.WaitExit(Millis(10000));
    ASSERT_TRUE(code.has_value()) << absl::StrJoin(flags, " ") << " started";
    EXPECT_NE(*code, 0);
    EXPECT_NE(server.ReadLog().find(cases[i].expect), std::string::npos)
        << cases[i].expect << " not in: " << server.LogTail();
  }
}

// The token file changes at run time: garbage is logged and the last good tokens stay in
// force; a good new file takes over (SIGHUP, or the periodic check).
TEST_F(SecurityFilesTest, ReloadsTheTokenFile) {
  std::map<std::string, std::string> first = MakeTokens(dir_.File("tokens.txt"));
  ServerProcess server("tokens", dir_.path());
  ASSERT_TRUE(server
                  .Start({"--auth_tokens=" + dir_.File("tokens.txt"), "--tls_reload_interval_s=1",
                          "--partition_count=2"})
                  .ok());
  ASSERT_TRUE(server.WaitServing().ok()) << server.LogTail();
  auto channel = Fresh(server.grpc_address(), grpc::InsecureChannelCredentials());
  EXPECT_TRUE(UpsertBrand(channel, 1, first["write"]).ok());
  ASSERT_TRUE(WriteFile(dir_.File("tokens.txt"), "sha256:zz write broken\n").ok());
  server.Signal(SIGHUP);
  EXPECT_TRUE(Eventually([&] {
    return server.ReadLog().find("keeping the last good version") != std::string::npos;
  })) << server.LogTail();
  EXPECT_TRUE(UpsertBrand(channel, 2, first["write"]).ok());
  std::map<std::string, std::string> second = MakeTokens(dir_.File("tokens.txt"));
  EXPECT_TRUE(Eventually([&] { return UpsertBrand(channel, 3, second["write"]).ok(); }))
      << server.LogTail();
  EXPECT_EQ(UpsertBrand(channel, 4, first["write"]).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server.Stop(), 0);
}

// Checkpoint directories stay under --checkpoint_root, whatever the path says.
TEST_F(SecurityFilesTest, ConfinesCheckpoints) {
  std::filesystem::create_directories(dir_.File("ckpts"));
  std::filesystem::create_directories(dir_.File("outside"));
  std::filesystem::create_directory_symlink(dir_.File("outside"), dir_.File("ckpts/link"));
  ServerProcess server("checkpoints", dir_.path());
  ASSERT_TRUE(server
                  .Start({"--data_dir=" + dir_.File("data"), "--partition_count=2",
                          "--checkpoint_root=" + dir_.File("ckpts")})
                  .ok());
  ASSERT_TRUE(server.WaitServing().ok()) << server.LogTail();
  auto channel = Fresh(server.grpc_address(), grpc::InsecureChannelCredentials());
  ASSERT_TRUE(UpsertBrand(channel, 1, "").ok());
  auto admin = v1::AdminService::NewStub(channel);
  auto checkpoint = [&](const std::string& dir) {
    v1::CheckpointRequest req;
    req.set_dir(dir);
    v1::CheckpointResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return admin->Checkpoint(&ctx, req, &resp);
  };
  grpc::Status ok = checkpoint(dir_.File("ckpts/first"));
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  for (const std::string& escape :
       {dir_.File("outside/x"), dir_.File("ckpts/../outside/y"), dir_.File("ckpts/link/z"),
        dir_.File("ckpts"), std::string("/tmp/kg-escape"), std::string("relative/dir")}) {
    grpc::Status s = checkpoint(escape);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << escape;
    EXPECT_EQ(s.error_message().rfind("dir: ", 0), 0u) << s.error_message();
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir_.File("outside")));
  EXPECT_FALSE(std::filesystem::exists("/tmp/kg-escape"));
  EXPECT_EQ(server.Stop(), 0);
}

// Heavy calls beyond --max_heavy_calls get RESOURCE_EXHAUSTED; the others go on.
TEST_F(SecurityFilesTest, BoundsHeavyCallsInFlight) {
  ServerProcess server("limits", dir_.path());
  ASSERT_TRUE(server.Start({"--max_heavy_calls=2", "--partition_count=2"}).ok());
  ASSERT_TRUE(server.WaitServing().ok()) << server.LogTail();
  auto channel = Fresh(server.grpc_address(), grpc::InsecureChannelCredentials());
  auto graph = v1::GraphService::NewStub(channel);
  // Import streams stay in flight until their client closes them.
  struct Open {
    grpc::ClientContext ctx;
    v1::ImportResponse resp;
    std::unique_ptr<grpc::ClientWriter<v1::ImportRequest>> writer;
  };
  std::vector<std::unique_ptr<Open>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<Open>());
    open.back()->writer = graph->Import(&open.back()->ctx, &open.back()->resp);
    v1::ImportRequest first;
    first.mutable_options()->set_max_errors(0);
    open.back()->writer->Write(first);
    std::this_thread::sleep_for(Millis(200));
  }
  open[2]->writer->WritesDone();
  grpc::Status third = open[2]->writer->Finish();
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << third.error_message();
  EXPECT_NE(third.error_message().find("--max_heavy_calls"), std::string::npos);
  // Light calls still pass.
  EXPECT_TRUE(UpsertBrand(channel, 1, "").ok());
  for (int i = 0; i < 2; ++i) {
    open[i]->writer->WritesDone();
    grpc::Status s = open[i]->writer->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  // With the slots free again, an import passes.
  Open again;
  again.writer = graph->Import(&again.ctx, &again.resp);
  again.writer->WritesDone();
  EXPECT_TRUE(again.writer->Finish().ok());
  EXPECT_EQ(server.Stop(), 0);
}

// kgctl with --token / KG_TOKEN and the TLS options.
TEST_F(SecurityFilesTest, KgctlWithTokensAndTls) {
  std::map<std::string, std::string> tokens = MakeTokens(dir_.File("tokens.txt"));
  ServerProcess server("kgctl", dir_.path());
  server.set_credentials(Tls(pki_.File("ca.pem")));
  ASSERT_TRUE(server
                  .Start({"--auth_tokens=" + dir_.File("tokens.txt"),
                          "--tls_cert=" + pki_.File("server.pem"),
                          "--tls_key=" + pki_.File("server.key"), "--partition_count=2"})
                  .ok());
  ASSERT_TRUE(server.WaitServing().ok()) << server.LogTail();
  const std::string base =
      absl::StrCat("--addr=", server.grpc_address(), " --tls_ca=", pki_.File("ca.pem"));
  const std::string record = R"('{"entity":{"key":{"type":"BRAND","id":"3"},"name":"Nimbus"}}')";
  std::string out;
  EXPECT_EQ(Kgctl(base + " upsert " + record, &out), 1);
  EXPECT_NE(out.find("UNAUTHENTICATED"), std::string::npos) << out;
  EXPECT_EQ(Kgctl(base + " --token=" + tokens["read"] + " upsert " + record, &out), 1);
  EXPECT_NE(out.find("PERMISSION_DENIED"), std::string::npos) << out;
  EXPECT_EQ(Kgctl(base + " upsert " + record, &out, "KG_TOKEN=" + tokens["write"]), 0) << out;
  EXPECT_EQ(Kgctl(base + " --token=" + tokens["read"] + " get BRAND:3", &out), 0) << out;
  EXPECT_NE(out.find("Nimbus"), std::string::npos) << out;
  // Plain text to a TLS port fails; so does trusting another CA.
  EXPECT_EQ(Kgctl(absl::StrCat("--addr=", server.grpc_address(), " --token=", tokens["read"],
                               " --deadline=2000 get BRAND:3"),
                  &out),
            1);
  EXPECT_EQ(
      Kgctl(absl::StrCat("--addr=", server.grpc_address(), " --tls_ca=", pki_.File("rogue-ca.pem"),
                         " --token=", tokens["read"], " --deadline=2000 get BRAND:3"),
            &out),
      1);
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace integration
}  // namespace kg
