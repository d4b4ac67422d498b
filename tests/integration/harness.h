// Integration-test harness: starts real kg_server processes on 127.0.0.1 (embedded or
// split into partition servers and a front end), waits for them to serve, stops them with
// SIGTERM, and scrapes their Prometheus /metrics. Not thread-safe: use from the test thread.
//
//   EmbeddedCluster cluster;
//   ASSERT_TRUE(cluster.Start({}).ok());
//   cluster.graph()->GetEntities(&ctx, req, &resp);
//   ASSERT_TRUE(cluster.Stop().ok());  // every process exited 0
#ifndef KG_TESTS_INTEGRATION_HARNESS_H_
#define KG_TESTS_INTEGRATION_HARNESS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kg/v1/admin.grpc.pb.h"
#include "kg/v1/graph.grpc.pb.h"

namespace kg {
namespace integration {

using Millis = std::chrono::milliseconds;

// Path of the kg_server binary under test (the KG_SERVER_PATH compile definition).
std::string ServerBinaryPath();

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction
// unless the environment variable KG_KEEP_TEST_DIRS is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // `path()/name`.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes (truncating) or reads a whole file. ReadFile returns "" when it cannot be read.
absl::Status WriteFile(const std::string& path, const std::string& content);
std::string ReadFile(const std::string& path);

// The text of a cluster file (docs/CLUSTER.md): `partition_count`, and for each
// (address, partitions) pair a server line, e.g. {"127.0.0.1:7001", "0,1"}.
std::string ClusterFileText(uint32_t partition_count,
                            const std::vector<std::pair<std::string, std::string>>& servers);

// A TCP port on 127.0.0.1 that was free a moment ago (bound and released).
int PickFreePort();

// The answer of grpc.health.v1.Health/Check.
enum class HealthState { kServing, kNotServing, kUnknown, kUnreachable };

// Calls /grpc.health.v1.Health/Check for `service` ("" means the whole server) with a
// deadline of `timeout`. kUnreachable when the call fails (e.g. nothing listens yet).
HealthState CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                        Millis timeout);

// One kg_server child process. Its stderr and stdout go to <dir>/<name>.log. The
// destructor kills (SIGKILL) and reaps a process that is still running.
class ServerProcess {
 public:
  ServerProcess(std::string name, std::string dir);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts kg_server with `flags`, adding --port_file=<dir>/<name>.ports and, unless
  // `flags` set them, --port=0 and --metrics_port=0. Does not wait.
  absl::Status Start(const std::vector<std::string>& flags);
  // Credentials WaitServing's health checks use (default: plain text).
  void set_credentials(std::shared_ptr<grpc::ChannelCredentials> credentials) {
    credentials_ = std::move(credentials);
  }

  // Waits at most `timeout` for the port file and then for health SERVING. Fails (with
  // the log's tail in the message) when the process exits first or time runs out.
  absl::Status WaitServing(Millis timeout = Millis(15000));

  // Sends `sig` to the process (no-op when it is not running).
  void Signal(int sig);

  // Waits at most `timeout` for the process to exit. Returns its exit code, or
  // 128 + signal number when killed by a signal; nullopt when it is still running.
  std::optional<int> WaitExit(Millis timeout);

  // SIGTERM, then WaitExit(timeout); a process still running after that is SIGKILLed and
  // nullopt returned.
  std::optional<int> Stop(Millis timeout = Millis(10000));

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  // "127.0.0.1:PORT", known after WaitServing (from the port file).
  const std::string& grpc_address() const { return grpc_address_; }
  const std::string& metrics_address() const { return metrics_address_; }
  std::string log_path() const { return dir_ + "/" + name_ + ".log"; }
  std::string ReadLog() const { return ReadFile(log_path()); }
  // The last `max_bytes` of the log, for failure messages.
  std::string LogTail(size_t max_bytes = 2000) const;

 private:
  std::string name_;
  std::string dir_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string grpc_address_;
  std::string metrics_address_;
};

class Cluster;
// Disconnects every cluster, SIGTERMs every process at once, then reaps them all; OK when
// every process exits 0 within `timeout`.
absl::Status StopClusters(const std::vector<Cluster*>& clusters, Millis timeout);

// Options for starting a cluster.
struct ClusterOptions {
  // Number of logical partitions P. The split cluster puts 0..P/2-1 on one partition
  // server and P/2..P-1 on the other.
  uint32_t partition_count = 4;
  // JSONL file loaded by the data-holding processes (--load_file), "" for none.
  std::string load_file;
  // Extra flags for every process.
  std::vector<std::string> extra_flags;
  // Extra flags for the partition servers only, and for the process answering kg.v1 only
  // (the front end or the embedded process).
  std::vector<std::string> partition_flags;
  std::vector<std::string> frontend_flags;
  // Credentials for reaching the partition servers (health checks) and the front end (the
  // test's channel and health checks); null: plain text.
  std::shared_ptr<grpc::ChannelCredentials> partition_credentials;
  std::shared_ptr<grpc::ChannelCredentials> client_credentials;
};

// A running set of kg_server processes reached through one front end.
class Cluster {
 public:
  virtual ~Cluster() = default;

  // Starts every process and waits (bounded) until all serve.
  virtual absl::Status Start(const ClusterOptions& options) = 0;
  // "embedded" or "split".
  virtual std::string mode() const = 0;

  // Disconnect(), then SIGTERMs every process at once and reaps them; OK when all exit 0
  // within `timeout`. graph() and admin() must not be used afterwards.
  absl::Status Stop(Millis timeout = Millis(10000)) { return StopClusters({this}, timeout); }

  // The process answering kg.v1.* (the role=all process or the front end).
  ServerProcess& frontend() { return *processes_.back(); }
  // The partition servers (empty in the embedded mode).
  std::vector<ServerProcess*> partition_servers();
  // Every process, partition servers first.
  const std::vector<std::unique_ptr<ServerProcess>>& processes() const { return processes_; }

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  v1::GraphService::Stub* graph() const { return graph_.get(); }
  v1::AdminService::Stub* admin() const { return admin_.get(); }
  const std::string& dir() const { return dir_.path(); }

  // Drops the stubs and the channel, closing the test's connection to the front end. (A
  // server drains until its clients close their connections or --drain_timeout_ms
  // passes, and an idle synchronous client notices the server's GOAWAY only at gRPC's
  // 5 s backup poll.)
  void Disconnect();

 protected:
  // Adds a process named `name` and starts it with `flags` (not waiting).
  absl::Status Launch(const std::string& name, const std::vector<std::string>& flags);
  // Connects the stubs to the front end with `credentials` (null: plain text).
  void Connect(std::shared_ptr<grpc::ChannelCredentials> credentials);

  TempDir dir_;
  std::vector<std::unique_ptr<ServerProcess>> processes_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::GraphService::Stub> graph_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

// One --role=all process holding every partition.
class EmbeddedCluster : public Cluster {
 public:
  absl::Status Start(const ClusterOptions& options) override;
  std::string mode() const override { return "embedded"; }
};

// Two --role=partition processes (the lower and upper half of the partitions) and a
// --role=frontend process with a generated cluster file.
class SplitCluster : public Cluster {
 public:
  absl::Status Start(const ClusterOptions& options) override;
  std::string mode() const override { return "split"; }
};

// Sets the call's deadline to `timeout` from now.
void SetDeadline(grpc::ClientContext* ctx, Millis timeout = Millis(10000));

// Makes an EmbeddedCluster for "embedded" and a SplitCluster for "split".
std::unique_ptr<Cluster> NewCluster(const std::string& mode);

// HTTP/1.0 GET of http://<address><path> ("127.0.0.1:PORT", "/metrics"). Returns the body
// of a 200 response; an error otherwise or after `timeout`.
absl::StatusOr<std::string> HttpGet(const std::string& address, const std::string& path,
                                    Millis timeout = Millis(5000));

// One sample line of the Prometheus text format.
struct MetricSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the Prometheus text exposition format; comment and malformed lines are skipped.
std::vector<MetricSample> ParseMetrics(const std::string& text);

// The value of the sample named `name` whose labels are exactly `labels`; nullopt when
// there is none.
std::optional<double> MetricValue(const std::vector<MetricSample>& samples, const std::string& name,
                                  const std::map<std::string, std::string>& labels);

// The sum of the samples named `name` whose labels include every pair of `labels` (0
// when none match).
double SumMetric(const std::vector<MetricSample>& samples, const std::string& name,
                 const std::map<std::string, std::string>& labels);

// Scrapes http://<address>/metrics and parses it.
absl::StatusOr<std::vector<MetricSample>> ScrapeMetrics(const std::string& address);

}  // namespace integration
}  // namespace kg

#endif  // KG_TESTS_INTEGRATION_HARNESS_H_
