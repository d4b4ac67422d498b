// ServerOptions: everything kg_server can be told, filled from flags by main.cc only.
// Each field's default is in its comment and in `kg_server --help`.
#ifndef KG_SERVER_APP_OPTIONS_H_
#define KG_SERVER_APP_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace kg {

struct ServerOptions {
  // "all" (front end + every partition in one process), "frontend" or "partition".
  std::string role = "all";
  // gRPC listen address and port; port 0 picks a free port (see port_file).
  std::string host = "127.0.0.1";
  int port = 50051;
  // Prometheus /metrics port on `host`; 0 picks a free port, -1 disables.
  int metrics_port = 9464;
  // Number of logical partitions P (roles all and partition). The front end reads it from
  // the cluster file.
  uint32_t partition_count = 8;
  // Role partition: the hosted partitions, e.g. "0,1" or "0-3".
  std::string partitions;
  // Role frontend: the cluster file (docs/CLUSTER.md).
  std::string cluster_file;
  // Roles all and partition: a JSONL file (docs/FORMATS.md) loaded before serving; a
  // partition server keeps only what belongs to its partitions.
  std::string load_file;
  // Roles all and partition: persist every hosted partition under this directory (one
  // RocksDB store each) and recover from it at start-up; empty keeps data in memory only.
  std::string data_dir;
  // With data_dir: "tolerate_torn_tail" (default) drops an incomplete last record of a
  // write-ahead log (a write cut short by a crash, never acknowledged) and logs its size;
  // "strict" refuses to start on it too. Both refuse checksum errors, missing logs and logs
  // cut short into acknowledged writes (docs/DURABILITY.md).
  std::string wal_recovery = "tolerate_torn_tail";
  // With data_dir: if data_dir does not exist yet, first copy this checkpoint (written by
  // AdminService.Checkpoint) into it.
  std::string restore_from;
  // Roles all and frontend: how often unfinished cross-partition writes are looked for and
  // completed (an intent is considered stale after twice this long).
  int64_t intent_resolve_interval_ms = 2000;
  // When set, "grpc=HOST:PORT" and "metrics=HOST:PORT" lines are written here once serving.
  std::string port_file;
  // On SIGTERM/SIGINT: time given to in-flight calls before they are cancelled.
  int64_t drain_timeout_ms = 5000;
  // Deadline of a call that has none (and the most one may get).
  int64_t default_deadline_ms = 10000;
  // Role frontend: how long to wait for every partition server at start-up.
  int64_t startup_timeout_ms = 30000;
  // Largest gRPC message accepted or sent, in bytes.
  int max_message_bytes = 64 << 20;
  // TLS on the gRPC port (docs/SECURITY.md): this server's certificate chain and key (PEM);
  // empty serves plain text. With tls_client_ca, clients must present a certificate signed
  // by it (mTLS).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  // Role frontend: TLS to the partition servers: the CA that signed their certificates, and
  // this front end's client certificate and key for their mTLS. Empty: plain text.
  std::string partition_tls_ca;
  std::string partition_tls_cert;
  std::string partition_tls_key;
  // How often the TLS files and the token file are checked for changes (also on SIGHUP).
  int tls_reload_interval_s = 10;
  // Roles all and frontend: the bearer-token file (hashes and roles); empty: no
  // authentication.
  std::string auth_tokens;
  // Roles all and partition: Checkpoint directories must lie under this; empty: under the
  // parent directory of --data_dir.
  std::string checkpoint_root;
  // Roles all and frontend: public calls in flight, and of those heavy ones (Traverse,
  // Import, TrainModels, the aggregates); beyond them RESOURCE_EXHAUSTED.
  int64_t max_concurrent_calls = 1000;
  int64_t max_heavy_calls = 16;
  // gRPC's memory quota for the buffers of all calls (bytes); past it new calls are
  // refused with RESOURCE_EXHAUSTED. 0: unlimited.
  int64_t grpc_memory_limit_bytes = int64_t{2} << 30;
  // spdlog level: trace, debug, info, warn, error, off.
  std::string log_level = "info";
};

}  // namespace kg

#endif  // KG_SERVER_APP_OPTIONS_H_
