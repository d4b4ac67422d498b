// kg_server: parses flags into ServerOptions and runs the server. No other file reads flags.
#include <signal.h>

#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "server/app/options.h"
#include "server/app/server.h"
#include "server/observability/logging.h"
#include "spdlog/spdlog.h"

namespace {
const kg::ServerOptions kDefaults;
}  // namespace

ABSL_FLAG(std::string, role, kDefaults.role,
          "all (front end + all partitions in one process), frontend (routes to the partition "
          "servers of --cluster_file) or partition (hosts --partitions)");
ABSL_FLAG(std::string, host, kDefaults.host, "address to listen on (gRPC and metrics)");
ABSL_FLAG(int, port, kDefaults.port, "gRPC port; 0 picks a free one (see --port_file)");
ABSL_FLAG(int, metrics_port, kDefaults.metrics_port,
          "Prometheus /metrics port; 0 picks a free one, -1 disables");
ABSL_FLAG(uint32_t, partition_count, kDefaults.partition_count,
          "number of logical partitions P (roles all and partition; must match the cluster)");
ABSL_FLAG(std::string, partitions, kDefaults.partitions,
          "role partition: partitions hosted here, e.g. 0,1 or 0-3");
ABSL_FLAG(std::string, cluster_file, kDefaults.cluster_file,
          "role frontend: the cluster file naming the partition servers (docs/CLUSTER.md)");
ABSL_FLAG(std::string, load_file, kDefaults.load_file,
          "roles all and partition: JSONL file (docs/FORMATS.md) loaded before serving");
ABSL_FLAG(std::string, data_dir, kDefaults.data_dir,
          "roles all and partition: persist partitions here (RocksDB, one store per partition) "
          "and recover from it at start-up; empty = memory only");
ABSL_FLAG(std::string, wal_recovery, kDefaults.wal_recovery,
          "with --data_dir: tolerate_torn_tail (drop an incomplete last log record, which a "
          "crash during a write leaves and which was never acknowledged, and log its size) or "
          "strict (refuse to start on it). Both refuse checksum errors, missing logs and logs "
          "cut short into acknowledged writes");
ABSL_FLAG(std::string, restore_from, kDefaults.restore_from,
          "with --data_dir: when --data_dir does not exist, first copy this checkpoint into it");
ABSL_FLAG(int64_t, intent_resolve_interval_ms, kDefaults.intent_resolve_interval_ms,
          "roles all and frontend: how often interrupted cross-partition writes are completed");
ABSL_FLAG(std::string, port_file, kDefaults.port_file,
          "write grpc=HOST:PORT and metrics=HOST:PORT lines here once serving");
ABSL_FLAG(int64_t, drain_timeout_ms, kDefaults.drain_timeout_ms,
          "on SIGTERM/SIGINT, time given to in-flight calls before cancelling them");
ABSL_FLAG(int64_t, default_deadline_ms, kDefaults.default_deadline_ms,
          "deadline of a call that has none (and the most one may get)");
ABSL_FLAG(int64_t, startup_timeout_ms, kDefaults.startup_timeout_ms,
          "role frontend: how long to wait for every partition server at start-up");
ABSL_FLAG(int, max_message_bytes, kDefaults.max_message_bytes,
          "largest gRPC message accepted or sent, in bytes");
ABSL_FLAG(std::string, tls_cert, kDefaults.tls_cert,
          "serve TLS with this certificate chain (PEM; with --tls_key); empty = plain text");
ABSL_FLAG(std::string, tls_key, kDefaults.tls_key, "private key of --tls_cert (PEM)");
ABSL_FLAG(std::string, tls_client_ca, kDefaults.tls_client_ca,
          "with --tls_cert: require client certificates signed by this CA (PEM; mTLS). Give "
          "partition servers the cluster CA so that only front ends reach them");
ABSL_FLAG(std::string, partition_tls_ca, kDefaults.partition_tls_ca,
          "role frontend: connect to the partition servers over TLS, trusting this CA (PEM); "
          "their certificates must name the addresses of the cluster file");
ABSL_FLAG(std::string, partition_tls_cert, kDefaults.partition_tls_cert,
          "role frontend: client certificate (PEM) presented to the partition servers (mTLS)");
ABSL_FLAG(std::string, partition_tls_key, kDefaults.partition_tls_key,
          "role frontend: private key of --partition_tls_cert (PEM)");
ABSL_FLAG(int, tls_reload_interval_s, kDefaults.tls_reload_interval_s,
          "seconds between checks of the TLS files and --auth_tokens for changes (SIGHUP "
          "checks at once); a changed file that is bad is logged and the last good one kept");
ABSL_FLAG(std::string, auth_tokens, kDefaults.auth_tokens,
          "roles all and frontend: require bearer tokens listed (as SHA-256 hashes with a "
          "role: read, write, admin) in this file (docs/SECURITY.md); empty = no "
          "authentication");
ABSL_FLAG(std::string, checkpoint_root, kDefaults.checkpoint_root,
          "roles all and partition: AdminService.Checkpoint directories must lie under this; "
          "empty = under the parent directory of --data_dir");
ABSL_FLAG(int64_t, max_concurrent_calls, kDefaults.max_concurrent_calls,
          "roles all and frontend: public calls in flight; more get RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_heavy_calls, kDefaults.max_heavy_calls,
          "roles all and frontend: of those, heavy calls in flight (Traverse, Import, "
          "TrainModels, TopProducts, CompareProducts, ProfileEntity, DevelopBrands, "
          "AssignSpus)");
ABSL_FLAG(int64_t, grpc_memory_limit_bytes, kDefaults.grpc_memory_limit_bytes,
          "gRPC's memory quota for call buffers; past it calls get RESOURCE_EXHAUSTED (0 = "
          "unlimited)");
ABSL_FLAG(std::string, log_level, kDefaults.log_level, "trace, debug, info, warn, error or off");

int main(int argc, char** argv) {
  // Block the shutdown and reload signals before any thread starts, so RunServer can await them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  absl::SetProgramUsageMessage(
      "The e-commerce knowledge-graph server.\n"
      "  kg_server [--role=all] [--port=50051] [--load_file=sample.jsonl]\n"
      "  kg_server --role=partition --partition_count=4 --partitions=0,1 --port=7001\n"
      "  kg_server --role=frontend --cluster_file=cluster.txt --port=50051\n"
      "See README.md and docs/ for the API, the cluster file and the metrics.");
  absl::ParseCommandLine(argc, argv);

  kg::ServerOptions options;
  options.role = absl::GetFlag(FLAGS_role);
  options.host = absl::GetFlag(FLAGS_host);
  options.port = absl::GetFlag(FLAGS_port);
  options.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  options.partition_count = absl::GetFlag(FLAGS_partition_count);
  options.partitions = absl::GetFlag(FLAGS_partitions);
  options.cluster_file = absl::GetFlag(FLAGS_cluster_file);
  options.load_file = absl::GetFlag(FLAGS_load_file);
  options.port_file = absl::GetFlag(FLAGS_port_file);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.restore_from = absl::GetFlag(FLAGS_restore_from);
  options.wal_recovery = absl::GetFlag(FLAGS_wal_recovery);
  options.intent_resolve_interval_ms = absl::GetFlag(FLAGS_intent_resolve_interval_ms);
  options.drain_timeout_ms = absl::GetFlag(FLAGS_drain_timeout_ms);
  options.default_deadline_ms = absl::GetFlag(FLAGS_default_deadline_ms);
  options.startup_timeout_ms = absl::GetFlag(FLAGS_startup_timeout_ms);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.log_level = absl::GetFlag(FLAGS_log_level);
  options.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key = absl::GetFlag(FLAGS_tls_key);
  options.tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  options.partition_tls_ca = absl::GetFlag(FLAGS_partition_tls_ca);
  options.partition_tls_cert = absl::GetFlag(FLAGS_partition_tls_cert);
  options.partition_tls_key = absl::GetFlag(FLAGS_partition_tls_key);
  options.tls_reload_interval_s = absl::GetFlag(FLAGS_tls_reload_interval_s);
  options.auth_tokens = absl::GetFlag(FLAGS_auth_tokens);
  options.checkpoint_root = absl::GetFlag(FLAGS_checkpoint_root);
  options.max_concurrent_calls = absl::GetFlag(FLAGS_max_concurrent_calls);
  options.max_heavy_calls = absl::GetFlag(FLAGS_max_heavy_calls);
  options.grpc_memory_limit_bytes = absl::GetFlag(FLAGS_grpc_memory_limit_bytes);

  absl::Status status = kg::InitLogging(options.log_level);
  if (!status.ok()) {
    std::cerr << status.message() << "\n";
    return 2;
  }
  status = kg::RunServer(options);
  if (!status.ok()) {
    spdlog::error("kg_server: {}", status.ToString());
    return 1;
  }
  return 0;
}
