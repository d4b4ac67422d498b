#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace kg {
namespace integration {
namespace {

using Clock = std::chrono::steady_clock;

// Polling interval while waiting for a child process or a file.
constexpr Millis kPoll(10);

bool HasFlag(const std::vector<std::string>& flags, const std::string& name) {
  for (const std::string& f : flags) {
    if (f == name || absl::StartsWith(f, name + "=")) return true;
  }
  return false;
}

// Parses "grpc=HOST:PORT\nmetrics=HOST:PORT\n".
void ParsePortFile(const std::string& text, std::string* grpc, std::string* metrics) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "grpc=")) *grpc = std::string(line);
    if (absl::ConsumePrefix(&line, "metrics=")) *metrics = std::string(line);
  }
}

}  // namespace

std::string ServerBinaryPath() { return KG_SERVER_PATH; }

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(base != nullptr && *base != 0 ? base : "/tmp", "/kg_it.XXXXXX");
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
}

TempDir::~TempDir() {
  if (path_.empty() || std::getenv("KG_KEEP_TEST_DIRS") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

absl::Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

HealthState CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                        Millis timeout) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  // The callback API, not a blocking call: gRPC's callback threads keep driving the
  // channel's reconnection between calls, which a fail-fast blocking call would not.
  std::promise<grpc::Status> done;
  stub->async()->Check(&ctx, &request, &response,
                       [&done](grpc::Status st) { done.set_value(std::move(st)); });
  if (!done.get_future().get().ok()) return HealthState::kUnreachable;
  switch (response.status()) {
    case grpc::health::v1::HealthCheckResponse::SERVING:
      return HealthState::kServing;
    case grpc::health::v1::HealthCheckResponse::NOT_SERVING:
      return HealthState::kNotServing;
    default:
      return HealthState::kUnknown;
  }
}

ServerProcess::ServerProcess(std::string name, std::string dir)
    : name_(std::move(name)), dir_(std::move(dir)) {}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

absl::Status ServerProcess::Start(const std::vector<std::string>& flags) {
  if (pid_ > 0) return absl::FailedPreconditionError(name_ + " is already running");
  std::vector<std::string> args = {ServerBinaryPath()};
  if (!HasFlag(flags, "--port")) args.push_back("--port=0");
  if (!HasFlag(flags, "--metrics_port")) args.push_back("--metrics_port=0");
  std::string port_file = dir_ + "/" + name_ + ".ports";
  unlink(port_file.c_str());
  args.push_back("--port_file=" + port_file);
  args.insert(args.end(), flags.begin(), flags.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::string log = log_path();
  int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return absl::InternalError(absl::StrCat("cannot open ", log));
  WriteFile(log + ".cmd", absl::StrJoin(args, " ") + "\n").IgnoreError();
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
    if (getppid() != parent) _exit(126);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log_fd);
  pid_ = pid;
  exit_code_.reset();
  grpc_address_.clear();
  metrics_address_.clear();
  return absl::OkStatus();
}

std::string ServerProcess::LogTail(size_t max_bytes) const {
  std::string log = ReadLog();
  if (log.size() > max_bytes) log = log.substr(log.size() - max_bytes);
  return log;
}

absl::Status ServerProcess::WaitServing(Millis timeout) {
  const auto give_up = Clock::now() + timeout;
  const std::string port_file = dir_ + "/" + name_ + ".ports";
  auto fail = [this](const std::string& why) {
    return absl::DeadlineExceededError(
        absl::StrCat(name_, ": ", why, "; log ", log_path(), ":\n", LogTail()));
  };
  while (grpc_address_.empty()) {
    if (!running()) return fail("not running");
    std::optional<int> code = WaitExit(Millis(0));
    if (code.has_value()) return fail(absl::StrCat("exited with ", *code, " before serving"));
    std::string text = ReadFile(port_file);
    if (!text.empty()) ParsePortFile(text, &grpc_address_, &metrics_address_);
    if (!grpc_address_.empty()) break;
    if (Clock::now() > give_up) return fail("no port file within the timeout");
    std::this_thread::sleep_for(kPoll);
  }
  auto channel = grpc::CreateChannel(grpc_address_, grpc::InsecureChannelCredentials());
  for (int attempt = 0;; ++attempt) {
    if (CheckHealth(channel, "", Millis(1000)) == HealthState::kServing) return absl::OkStatus();
    std::optional<int> code = WaitExit(Millis(0));
    if (code.has_value()) return fail(absl::StrCat("exited with ", *code, " before serving"));
    if (Clock::now() > give_up || attempt > 1000) return fail("health never SERVING");
    std::this_thread::sleep_for(kPoll);
  }
}

void ServerProcess::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

std::optional<int> ServerProcess::WaitExit(Millis timeout) {
  if (exit_code_.has_value()) return exit_code_;
  if (pid_ <= 0) return std::nullopt;
  const auto give_up = Clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) {
        exit_code_ = WEXITSTATUS(status);
      } else if (WIFSIGNALED(status)) {
        exit_code_ = 128 + WTERMSIG(status);
      } else {
        exit_code_ = -1;
      }
      return exit_code_;
    }
    if (r < 0 && errno != EINTR) {
      pid_ = -1;
      exit_code_ = -1;
      return exit_code_;
    }
    if (Clock::now() >= give_up) return std::nullopt;
    std::this_thread::sleep_for(kPoll);
  }
}

std::optional<int> ServerProcess::Stop(Millis timeout) {
  if (exit_code_.has_value()) return exit_code_;
  Signal(SIGTERM);
  std::optional<int> code = WaitExit(timeout);
  if (!code.has_value() && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  return code;
}

absl::Status StopClusters(const std::vector<Cluster*>& clusters, Millis timeout) {
  for (Cluster* c : clusters) {
    c->Disconnect();
    for (const auto& p : c->processes()) p->Signal(SIGTERM);
  }
  const auto give_up = Clock::now() + timeout;
  std::vector<std::string> errors;
  for (Cluster* c : clusters) {
    for (const auto& p : c->processes()) {
      auto left = std::chrono::duration_cast<Millis>(give_up - Clock::now());
      std::optional<int> code = p->Stop(std::max(left, Millis(0)));
      if (!code.has_value()) {
        errors.push_back(absl::StrCat(c->mode(), "/", p->name(), " did not exit after SIGTERM"));
      } else if (*code != 0) {
        errors.push_back(absl::StrCat(c->mode(), "/", p->name(), " exited with ", *code,
                                      "; log tail:\n", p->LogTail()));
      }
    }
  }
  if (!errors.empty()) return absl::InternalError(absl::StrJoin(errors, "\n"));
  return absl::OkStatus();
}

void SetDeadline(grpc::ClientContext* ctx, Millis timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
}

std::vector<ServerProcess*> Cluster::partition_servers() {
  std::vector<ServerProcess*> out;
  for (size_t i = 0; i + 1 < processes_.size(); ++i) out.push_back(processes_[i].get());
  return out;
}

absl::Status Cluster::Launch(const std::string& name, const std::vector<std::string>& flags) {
  processes_.push_back(std::make_unique<ServerProcess>(name, dir_.path()));
  return processes_.back()->Start(flags);
}

void Cluster::Connect() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  channel_ = grpc::CreateCustomChannel(frontend().grpc_address(),
                                       grpc::InsecureChannelCredentials(), args);
  graph_ = v1::GraphService::NewStub(channel_);
  admin_ = v1::AdminService::NewStub(channel_);
}

void Cluster::Disconnect() {
  graph_.reset();
  admin_.reset();
  channel_.reset();
}

absl::Status EmbeddedCluster::Start(const ClusterOptions& options) {
  if (dir_.path().empty()) return absl::InternalError("no temporary directory");
  std::vector<std::string> flags = {"--role=all",
                                    absl::StrCat("--partition_count=", options.partition_count)};
  if (!options.load_file.empty()) flags.push_back("--load_file=" + options.load_file);
  flags.insert(flags.end(), options.extra_flags.begin(), options.extra_flags.end());
  absl::Status s = Launch("all", flags);
  if (s.ok()) s = frontend().WaitServing();
  if (s.ok()) Connect();
  return s;
}

absl::Status SplitCluster::Start(const ClusterOptions& options) {
  if (dir_.path().empty()) return absl::InternalError("no temporary directory");
  const uint32_t p = options.partition_count;
  if (p < 2) return absl::InvalidArgumentError("a split cluster needs at least 2 partitions");
  const std::vector<std::string> ranges = {absl::StrCat(0, "-", p / 2 - 1),
                                           absl::StrCat(p / 2, "-", p - 1)};
  for (size_t i = 0; i < ranges.size(); ++i) {
    std::vector<std::string> flags = {"--role=partition", absl::StrCat("--partition_count=", p),
                                      "--partitions=" + ranges[i]};
    if (!options.load_file.empty()) flags.push_back("--load_file=" + options.load_file);
    flags.insert(flags.end(), options.extra_flags.begin(), options.extra_flags.end());
    absl::Status s = Launch(absl::StrCat("partition", i), flags);
    if (!s.ok()) return s;
  }
  std::string cluster_file =
      absl::StrCat("# generated by the integration harness\npartitions ", p, "\n");
  for (size_t i = 0; i < ranges.size(); ++i) {
    absl::Status s = processes_[i]->WaitServing();
    if (!s.ok()) return s;
    absl::StrAppend(&cluster_file, "server ", processes_[i]->grpc_address(), " ", ranges[i], "\n");
  }
  const std::string path = dir_.File("cluster.txt");
  absl::Status s = WriteFile(path, cluster_file);
  if (!s.ok()) return s;
  std::vector<std::string> flags = {"--role=frontend", "--cluster_file=" + path,
                                    "--startup_timeout_ms=10000"};
  flags.insert(flags.end(), options.extra_flags.begin(), options.extra_flags.end());
  s = Launch("frontend", flags);
  if (s.ok()) s = frontend().WaitServing();
  if (s.ok()) Connect();
  return s;
}

std::unique_ptr<Cluster> NewCluster(const std::string& mode) {
  if (mode == "split") return std::make_unique<SplitCluster>();
  return std::make_unique<EmbeddedCluster>();
}

absl::StatusOr<std::string> HttpGet(const std::string& address, const std::string& path,
                                    Millis timeout) {
  std::vector<std::string> parts = absl::StrSplit(address, ':');
  int port = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &port)) {
    return absl::InvalidArgumentError("bad address " + address);
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, parts[0].c_str(), &addr.sin_addr) != 1 ||
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::UnavailableError("cannot connect to " + address);
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", address, "\r\nConnection: close\r\n\r\n");
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      close(fd);
      return absl::UnavailableError("send to " + address + " failed");
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  const auto give_up = Clock::now() + timeout;
  char buf[16384];
  while (Clock::now() < give_up) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return absl::DeadlineExceededError("reading from " + address + " failed or timed out");
    }
    response.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  size_t header_end = response.find("\r\n\r\n");
  if (header_end == std::string::npos) return absl::DataLossError("no HTTP header end");
  absl::string_view status_line = absl::string_view(response).substr(0, response.find("\r\n"));
  std::vector<absl::string_view> words = absl::StrSplit(status_line, ' ');
  if (words.size() < 2 || words[1] != "200") {
    return absl::UnavailableError(absl::StrCat("HTTP status: ", status_line));
  }
  return response.substr(header_end + 4);
}

std::vector<MetricSample> ParseMetrics(const std::string& text) {
  std::vector<MetricSample> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line.empty() || line[0] == '#') continue;
    MetricSample sample;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    sample.name = std::string(line.substr(0, i));
    bool ok = !sample.name.empty();
    if (ok && i < line.size() && line[i] == '{') {
      ++i;
      while (ok && i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == absl::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          ok = false;
          break;
        }
        std::string key(absl::StripAsciiWhitespace(line.substr(i, eq - i)));
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value.push_back(line[j] == 'n' ? '\n' : line[j]);
          } else {
            value.push_back(line[j]);
          }
        }
        if (j >= line.size()) {
          ok = false;
          break;
        }
        sample.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) ok = false;
      ++i;  // '}'
    }
    if (!ok) continue;
    absl::string_view rest =
        absl::StripLeadingAsciiWhitespace(line.substr(std::min(i, line.size())));
    std::vector<absl::string_view> fields = absl::StrSplit(rest, ' ', absl::SkipEmpty());
    if (fields.empty()) continue;
    if (fields[0] == "Nan" || fields[0] == "NaN") continue;
    if (!absl::SimpleAtod(fields[0], &sample.value)) continue;
    out.push_back(std::move(sample));
  }
  return out;
}

std::optional<double> MetricValue(const std::vector<MetricSample>& samples, const std::string& name,
                                  const std::map<std::string, std::string>& labels) {
  for (const MetricSample& s : samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return std::nullopt;
}

double SumMetric(const std::vector<MetricSample>& samples, const std::string& name,
                 const std::map<std::string, std::string>& labels) {
  double sum = 0;
  for (const MetricSample& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) {
        match = false;
        break;
      }
    }
    if (match) sum += s.value;
  }
  return sum;
}

absl::StatusOr<std::vector<MetricSample>> ScrapeMetrics(const std::string& address) {
  absl::StatusOr<std::string> body = HttpGet(address, "/metrics");
  if (!body.ok()) return body.status();
  return ParseMetrics(*body);
}

}  // namespace integration
}  // namespace kg
