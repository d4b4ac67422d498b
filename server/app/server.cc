#include "server/app/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.pb.h"
#include "prometheus/exposer.h"
#include "server/app/loader.h"
#include "server/frontend/cluster.h"
#include "server/frontend/graph_ops.h"
#include "server/frontend/services.h"
#include "server/graph/schema.h"
#include "server/graph/status_macros.h"
#include "server/observability/metric_names.h"
#include "server/observability/metrics.h"
#include "server/partition/partition_service.h"
#include "server/security/access.h"
#include "server/security/authorizer.h"
#include "server/security/tls.h"
#include "server/security/tokens.h"
#include "spdlog/spdlog.h"

namespace kg {
namespace {

constexpr char kVersion[] = "0.1.0";

std::vector<const char*> ServiceNames(const std::string& role) {
  if (role == "partition") return {"kg.internal.v1.PartitionService"};
  return {"kg.v1.GraphService", "kg.v1.AdminService", "kg.v1.KnowledgeService",
          "kg.v1.InsightService"};
}

// Health and the gate of data requests move together.
void SetServing(grpc::Server* server, const std::string& role, bool serving, ServingGate* gate) {
  auto* health = server->GetHealthCheckService();
  health->SetServingStatus(serving);
  for (const char* name : ServiceNames(role)) health->SetServingStatus(name, serving);
  if (serving) {
    gate->Open();
  } else {
    gate->Close();
  }
}

absl::StatusOr<std::unique_ptr<Router>> BuildRouter(
    const ServerOptions& options, PartitionHost* host, const ServingGate* gate, Metrics* metrics,
    const std::shared_ptr<grpc::ChannelCredentials>& partition_credentials) {
  std::vector<std::unique_ptr<PartitionClient>> clients;
  if (options.role == "all") {
    for (uint32_t p = 0; p < host->partition_count(); ++p) {
      clients.push_back(
          NewInstrumentedPartitionClient(p, NewLocalPartitionClient(host, gate), metrics));
    }
    return std::make_unique<Router>(std::move(clients));
  }
  KG_ASSIGN_OR_RETURN(ClusterConfig config, ReadClusterFile(options.cluster_file));
  clients.resize(config.partition_count);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  // Partition servers are ours and close by: retry a lost one within a second rather than
  // gRPC's default backoff of up to two minutes, so a restarted server is used at once.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 500);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  for (const ClusterConfig::Server& server : config.servers) {
    auto channel = grpc::CreateCustomChannel(server.address, partition_credentials, args);
    for (uint32_t p : server.partitions) {
      clients[p] = NewInstrumentedPartitionClient(
          p, NewRemotePartitionClient(p, server.address, channel), metrics);
    }
  }
  return std::make_unique<Router>(std::move(clients));
}

// Role frontend: waits until every partition answers (and agrees on the partition count).
absl::Status AwaitPartitions(const Router& router, const ServerOptions& options) {
  auto give_up =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options.startup_timeout_ms);
  for (uint32_t p = 0; p < router.partition_count(); ++p) {
    for (int attempt = 0;; ++attempt) {
      internal::v1::GetPartitionInfoRequest req;
      req.mutable_target()->set_partition(p);
      req.mutable_target()->set_partition_count(router.partition_count());
      internal::v1::GetPartitionInfoResponse resp;
      CallOptions o;
      o.deadline = std::chrono::system_clock::now() + std::chrono::seconds(2);
      std::promise<absl::Status> result;
      router.client(p).GetPartitionInfo(o, &req, &resp,
                                        [&result](absl::Status s) { result.set_value(s); });
      absl::Status s = result.get_future().get();
      if (s.ok() && resp.info().serving()) break;
      if (s.ok()) s = absl::UnavailableError("its server is loading its data");
      if (s.code() == absl::StatusCode::kFailedPrecondition ||
          std::chrono::steady_clock::now() > give_up) {
        return absl::Status(s.code(), absl::StrCat("partition ", p, " not ready: ", s.message()));
      }
      if (attempt % 10 == 0)
        spdlog::info("waiting for partition {}: {}", p, std::string(s.message()));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  return absl::OkStatus();
}

void AddGauges(Metrics* metrics, PartitionHost* host, const ServingGate* serving) {
  metrics->AddGaugeSource([host, serving](std::vector<GaugeSample>* out) {
    out->push_back({metric::kResidentMemory, {}, static_cast<double>(ResidentMemoryBytes())});
    out->push_back({metric::kServing, {}, serving->open() ? 1.0 : 0.0});
    if (host == nullptr) return;
    const std::string model_version = host->model_version();
    for (uint32_t p : host->hosted()) {
      PartitionStats s = host->partition(p)->Stats();
      std::string part = absl::StrCat(p);
      for (int t = 1; t < kEntityTypeCount; ++t) {
        out->push_back({metric::kEntities,
                        {{"partition", part},
                         {"entity_type", std::string(EntityTypeName(static_cast<EntityType>(t)))}},
                        static_cast<double>(s.entities_by_type[t])});
      }
      for (int t = 1; t < kEdgeTypeCount; ++t) {
        for (int d = 0; d < 2; ++d) {
          out->push_back({metric::kEdges,
                          {{"partition", part},
                           {"edge_type", std::string(EdgeTypeName(static_cast<EdgeType>(t)))},
                           {"direction", std::string(DirectionName(static_cast<Direction>(d)))}},
                          static_cast<double>(s.edges_by_type[t][d])});
        }
      }
      out->push_back(
          {metric::kPartitionMemory, {{"partition", part}}, static_cast<double>(s.memory_bytes)});
      out->push_back({metric::kModelBundle,
                      {{"partition", part}, {"model_version", model_version}},
                      model_version.empty() ? 0.0 : 1.0});
    }
  });
}

absl::Status WritePortFile(const std::string& path, const std::string& grpc_addr,
                           const std::string& metrics_addr) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "grpc=" << grpc_addr << "\n";
    if (!metrics_addr.empty()) out << "metrics=" << metrics_addr << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write --port_file ", path));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot write --port_file ", path));
  }
  return absl::OkStatus();
}

// Completes interrupted cross-partition writes once, waiting for the result.
absl::Status ResolveIntentsNow(const GraphOps& ops, int64_t min_age_ms) {
  CallOptions o;
  o.deadline = std::chrono::system_clock::now() + std::chrono::seconds(60);
  std::promise<absl::Status> result;
  ops.ResolveIntents(o, min_age_ms, [&result](absl::Status s, uint64_t resolved) {
    if (resolved > 0) spdlog::info("completed {} interrupted cross-partition writes", resolved);
    result.set_value(std::move(s));
  });
  return result.get_future().get();
}

// Runs `fn` on its own thread every `interval` and when Trigger() is called, until
// destroyed.
class PeriodicLoop {
 public:
  PeriodicLoop(std::chrono::milliseconds interval, std::function<void()> fn)
      : thread_([this, interval, fn = std::move(fn)] {
          std::unique_lock<std::mutex> lock(mu_);
          while (!stop_) {
            cv_.wait_for(lock, interval, [this] { return stop_ || now_; });
            if (stop_) break;
            now_ = false;
            lock.unlock();
            fn();
            lock.lock();
          }
        }) {}
  ~PeriodicLoop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Trigger() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      now_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool now_ = false;
  std::thread thread_;
};

// --restore_from: copies a checkpoint into a --data_dir that does not exist yet.
absl::Status RestoreCheckpoint(const ServerOptions& options) {
  namespace fs = std::filesystem;
  if (options.data_dir.empty()) {
    return absl::InvalidArgumentError("--restore_from: requires --data_dir");
  }
  std::error_code ec;
  if (fs::exists(options.data_dir, ec)) {
    spdlog::info("--data_dir {} exists: starting from it, not from --restore_from",
                 options.data_dir);
    return absl::OkStatus();
  }
  if (!fs::exists(fs::path(options.restore_from) / "KG_FORMAT", ec)) {
    return absl::NotFoundError(absl::StrCat("--restore_from ", options.restore_from,
                                            " is not a checkpoint (no KG_FORMAT)"));
  }
  fs::copy(options.restore_from, options.data_dir, fs::copy_options::recursive, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("copying ", options.restore_from, " to ",
                                               options.data_dir, ": ", ec.message()));
  }
  spdlog::info("restored {} into {}", options.restore_from, options.data_dir);
  return absl::OkStatus();
}

// What protects a role (docs/SECURITY.md): the TLS files of the public port and of the
// front end's partition links, the token file, and the authorizer of public calls.
struct Security {
  std::unique_ptr<TlsFileWatcher> server_tls;
  std::unique_ptr<TlsFileWatcher> partition_tls;
  std::unique_ptr<TokenStore> tokens;
  std::unique_ptr<Authorizer> authorizer;

  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const {
    return server_tls ? server_tls->ServerCredentials() : grpc::InsecureServerCredentials();
  }
  std::shared_ptr<grpc::ChannelCredentials> PartitionCredentials() const {
    return partition_tls ? partition_tls->ChannelCredentials() : grpc::InsecureChannelCredentials();
  }

  // Re-checks the files that changed; a bad one is logged and its last good version kept.
  void Refresh() const {
    auto report = [](absl::string_view what, const absl::StatusOr<bool>& changed) {
      if (!changed.ok()) {
        spdlog::error("{}; keeping the last good version", std::string(changed.status().message()));
      } else if (*changed) {
        spdlog::info("{} changed: the new version is in use", std::string(what));
      }
    };
    if (tokens) report(absl::StrCat("--auth_tokens ", tokens->path()), tokens->Reload(false));
    if (server_tls) report("the TLS files of the gRPC port", server_tls->Refresh());
    if (partition_tls) report("the TLS files of the partition links", partition_tls->Refresh());
  }
};

absl::StatusOr<Security> SetUpSecurity(const ServerOptions& options) {
  Security security;
  if (options.tls_reload_interval_s < 1) {
    return absl::InvalidArgumentError("--tls_reload_interval_s: must be at least 1");
  }
  unsigned interval = static_cast<unsigned>(options.tls_reload_interval_s);
  if (!options.tls_client_ca.empty() && options.tls_cert.empty()) {
    return absl::InvalidArgumentError("--tls_client_ca: requires --tls_cert and --tls_key");
  }
  if (!options.tls_cert.empty() || !options.tls_key.empty()) {
    KG_ASSIGN_OR_RETURN(security.server_tls,
                        TlsFileWatcher::Start({"tls", "tls_client_ca", options.tls_cert,
                                               options.tls_key, options.tls_client_ca, interval}));
  }
  bool partition_tls = !options.partition_tls_ca.empty() || !options.partition_tls_cert.empty() ||
                       !options.partition_tls_key.empty();
  if (partition_tls) {
    if (options.role != "frontend") {
      return absl::InvalidArgumentError(
          "--partition_tls_*: only a front end (--role=frontend) connects to partition servers");
    }
    if (options.partition_tls_ca.empty()) {
      return absl::InvalidArgumentError(
          "--partition_tls_ca: required to connect to the partition servers over TLS");
    }
    KG_ASSIGN_OR_RETURN(
        security.partition_tls,
        TlsFileWatcher::Start({"partition_tls", "partition_tls_ca", options.partition_tls_cert,
                               options.partition_tls_key, options.partition_tls_ca, interval}));
  }
  if (!options.auth_tokens.empty()) {
    if (options.role == "partition") {
      return absl::InvalidArgumentError(
          "--auth_tokens: partition servers are reached only by front ends; protect them with "
          "--tls_client_ca (mTLS with the cluster CA) instead");
    }
    KG_ASSIGN_OR_RETURN(security.tokens, TokenStore::Open(options.auth_tokens));
  }
  if (options.max_concurrent_calls < 1 || options.max_heavy_calls < 1) {
    return absl::InvalidArgumentError(
        "--max_concurrent_calls and --max_heavy_calls: must be at least 1");
  }
  if (options.role != "partition") KG_RETURN_IF_ERROR(CheckRulesCover(PublicServices()));
  security.authorizer = std::make_unique<Authorizer>(
      security.tokens.get(), CallLimits{options.max_concurrent_calls, options.max_heavy_calls});
  if (options.role == "partition" && options.tls_client_ca.empty() && options.host != "127.0.0.1" &&
      options.host != "localhost" && options.host != "::1") {
    spdlog::warn(
        "partition server on {} without --tls_client_ca: anyone who reaches the port "
        "can read and write its partitions",
        options.host);
  }
  return security;
}

// Waits for SIGTERM or SIGINT (returned); each SIGHUP calls `on_hangup`.
int AwaitSignal(const std::function<void()>& on_hangup) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig != SIGHUP) return sig;
    spdlog::info("SIGHUP: checking the TLS and token files");
    on_hangup();
  }
}

}  // namespace

absl::Status RunServer(const ServerOptions& options) {
  // Debian's Abseil checks every mutex acquisition for lock-order cycles (a debugging aid
  // that showed in profiles of the read path); the server does without it. Unit tests keep
  // it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (options.role != "all" && options.role != "frontend" && options.role != "partition") {
    return absl::InvalidArgumentError("--role: must be all, frontend or partition");
  }
  if (options.role != "frontend" &&
      (options.partition_count == 0 || options.partition_count > 4096)) {
    return absl::InvalidArgumentError("--partition_count: must be 1..4096 (as in a cluster file)");
  }
  if (options.role == "frontend" && options.cluster_file.empty()) {
    return absl::InvalidArgumentError("--cluster_file: required with --role=frontend");
  }
  if (options.role == "partition" && options.partitions.empty()) {
    return absl::InvalidArgumentError("--partitions: required with --role=partition");
  }
  if (options.role == "frontend" && !options.data_dir.empty()) {
    return absl::InvalidArgumentError(
        "--data_dir: a front end holds no data; give it to the partition servers");
  }
  if (options.role == "frontend" && !options.load_file.empty()) {
    return absl::InvalidArgumentError(
        "--load_file: a front end holds no data; give it to the partition servers");
  }
  KG_ASSIGN_OR_RETURN(Security security, SetUpSecurity(options));
  auto registry = std::make_shared<prometheus::Registry>();
  Metrics metrics(registry);

  std::unique_ptr<PartitionHost> host;
  if (options.role != "frontend") {
    std::vector<uint32_t> hosted;
    if (options.role == "all") {
      for (uint32_t p = 0; p < options.partition_count; ++p) hosted.push_back(p);
    } else {
      KG_ASSIGN_OR_RETURN(hosted, ParsePartitionList(options.partitions, options.partition_count));
    }
    KG_ASSIGN_OR_RETURN(WalRecovery wal_recovery,
                        ParseWalRecovery(options.wal_recovery, "--wal_recovery"));
    if (!options.restore_from.empty()) KG_RETURN_IF_ERROR(RestoreCheckpoint(options));
    KG_ASSIGN_OR_RETURN(host, PartitionHost::Create(options.partition_count, std::move(hosted),
                                                    options.data_dir, wal_recovery));
    host->set_checkpoint_root(options.checkpoint_root);
    for (const std::string& note : host->RecoveryNotes()) spdlog::warn("{}", note);
  }
  std::unique_ptr<Router> router;
  std::unique_ptr<GraphOps> ops;
  std::unique_ptr<GraphServiceImpl> graph_service;
  std::unique_ptr<AdminServiceImpl> admin_service;
  std::unique_ptr<KnowledgeOps> knowledge;
  std::unique_ptr<KnowledgeServiceImpl> knowledge_service;
  std::unique_ptr<InsightOps> insight;
  std::unique_ptr<InsightServiceImpl> insight_service;
  std::unique_ptr<PartitionServiceImpl> partition_service;
  CallPolicy policy{std::chrono::milliseconds(options.default_deadline_ms),
                    security.authorizer.get()};
  ServingGate serving;  // closed until loaded; closed again while draining
  if (options.role != "partition") {
    KG_ASSIGN_OR_RETURN(router, BuildRouter(options, host.get(), &serving, &metrics,
                                            security.PartitionCredentials()));
    ops = std::make_unique<GraphOps>(router.get(), options.role, kVersion);
    graph_service = std::make_unique<GraphServiceImpl>(ops.get(), policy, &serving, &metrics);
    knowledge = std::make_unique<KnowledgeOps>(router.get(), ops.get());
    admin_service =
        std::make_unique<AdminServiceImpl>(ops.get(), knowledge.get(), policy, &serving);
    insight = std::make_unique<InsightOps>(router.get());
    insight_service = std::make_unique<InsightServiceImpl>(insight.get(), policy, &serving);
    knowledge_service =
        std::make_unique<KnowledgeServiceImpl>(knowledge.get(), insight.get(), policy, &serving);
  } else {
    partition_service = std::make_unique<PartitionServiceImpl>(host.get(), &serving);
  }

  grpc::EnableDefaultHealthCheckService(true);
  // gRPC's built-in health service carries no protobuf descriptors; linking ours lets
  // reflection describe grpc.health.v1.Health to clients such as buf curl.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  std::string listen = absl::StrCat(options.host, ":", options.port);
  builder.AddListeningPort(listen, security.ServerCredentials(), &bound_port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  if (options.grpc_memory_limit_bytes > 0) {
    grpc::ResourceQuota quota("kg_server");
    quota.Resize(static_cast<size_t>(options.grpc_memory_limit_bytes));
    builder.SetResourceQuota(quota);
  }
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  if (graph_service) builder.RegisterService(graph_service.get());
  if (admin_service) builder.RegisterService(admin_service.get());
  if (knowledge_service) builder.RegisterService(knowledge_service.get());
  if (insight_service) builder.RegisterService(insight_service.get());
  if (partition_service) builder.RegisterService(partition_service.get());
  builder.experimental().SetInterceptorCreators(metrics.ServerInterceptors());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen));
  }
  std::string grpc_addr = absl::StrCat(options.host, ":", bound_port);
  SetServing(server.get(), options.role, false, &serving);
  spdlog::info(
      "kg_server {} role={} listening on {} ({}{}; NOT_SERVING until ready)", kVersion,
      options.role, grpc_addr,
      security.server_tls ? (options.tls_client_ca.empty() ? "TLS" : "mTLS") : "plain text",
      security.tokens ? ", bearer tokens required" : "");

  std::unique_ptr<prometheus::Exposer> exposer;
  std::string metrics_addr;
  AddGauges(&metrics, host.get(), &serving);
  if (options.metrics_port >= 0) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(
          absl::StrCat(options.host, ":", options.metrics_port));
    } catch (const std::exception& e) {
      server->Shutdown();
      return absl::UnavailableError(
          absl::StrCat("cannot serve metrics on port ", options.metrics_port, ": ", e.what()));
    }
    exposer->RegisterCollectable(registry);
    exposer->RegisterCollectable(metrics.gauges());
    std::vector<int> ports = exposer->GetListeningPorts();
    metrics_addr = absl::StrCat(options.host, ":", ports.empty() ? options.metrics_port : ports[0]);
    spdlog::info("metrics at http://{}/metrics", metrics_addr);
  }

  absl::Status ready = absl::OkStatus();
  if (host != nullptr && host->durable()) {
    auto start = std::chrono::steady_clock::now();
    absl::StatusOr<RecoveryStats> recovered = host->Recover();
    if (!recovered.ok()) {
      ready = recovered.status();
    } else {
      std::chrono::duration<double> secs = std::chrono::steady_clock::now() - start;
      spdlog::info("recovered {}: {} entities, {} edge copies, {} pending intents in {:.1f}s",
                   options.data_dir, recovered->entities, recovered->edge_copies,
                   recovered->intents, secs.count());
    }
  }
  if (ready.ok() && host != nullptr && !options.load_file.empty()) {
    auto start = std::chrono::steady_clock::now();
    absl::StatusOr<LoadStats> loaded = LoadJsonlFile(options.load_file, host.get());
    if (!loaded.ok()) {
      ready = loaded.status();
    } else {
      std::chrono::duration<double> secs = std::chrono::steady_clock::now() - start;
      spdlog::info("loaded {}: {} lines, {} entities, {} edge copies, {} skipped in {:.1f}s",
                   options.load_file, loaded->lines, loaded->entities, loaded->edge_copies,
                   loaded->skipped, secs.count());
    }
  }
  if (ready.ok() && options.role == "frontend") ready = AwaitPartitions(*router, options);
  if (ready.ok() && ops != nullptr) ready = ResolveIntentsNow(*ops, 0);
  if (ready.ok() && !options.port_file.empty()) {
    ready = WritePortFile(options.port_file, grpc_addr, metrics_addr);
  }
  if (!ready.ok()) {
    spdlog::error("start-up failed: {}", ready.ToString());
    server->Shutdown(std::chrono::system_clock::now());
    return ready;
  }
  SetServing(server.get(), options.role, true, &serving);
  spdlog::info("SERVING on {}", grpc_addr);
  // Completes interrupted cross-partition writes (intents younger than twice the interval
  // are left to the writes still finishing them).
  std::unique_ptr<PeriodicLoop> resolver;
  if (ops != nullptr) {
    const GraphOps* o = ops.get();
    int64_t interval = options.intent_resolve_interval_ms;
    resolver = std::make_unique<PeriodicLoop>(std::chrono::milliseconds(interval), [o, interval] {
      absl::Status s = ResolveIntentsNow(*o, 2 * interval);
      if (!s.ok()) spdlog::warn("completing interrupted writes: {}", s.ToString());
    });
  }

  // Re-checks the TLS and token files (also on SIGHUP).
  PeriodicLoop refresher(std::chrono::seconds(options.tls_reload_interval_s),
                         [&security] { security.Refresh(); });
  int sig = AwaitSignal([&refresher] { refresher.Trigger(); });
  resolver.reset();
  spdlog::info("signal {} received: draining for up to {} ms", sig, options.drain_timeout_ms);
  SetServing(server.get(), options.role, false, &serving);
  server->Shutdown(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(options.drain_timeout_ms));
  server->Wait();
  if (exposer != nullptr) {
    // After RemoveCollectable returns no scrape can reach the registry or the partitions
    // (prometheus-cpp collects under the same lock). Stopping civetweb itself takes up to
    // 2 s in Debian 12's version (its mg_stop polls), longer than a short drain: its
    // threads are left to end with the process instead.
    exposer->RemoveCollectable(registry);
    exposer->RemoveCollectable(metrics.gauges());
    (void)exposer.release();
  }
  spdlog::info("stopped");
  return absl::OkStatus();
}

}  // namespace kg
