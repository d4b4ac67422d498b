#include "server/observability/metrics.h"

#include <unistd.h>

#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "proto/grpc_status.h"
#include "server/observability/metric_names.h"

namespace kg {
namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};
  return *buckets;
}

const char* TypeName(grpc::experimental::ServerRpcInfo::Type type) {
  using Type = grpc::experimental::ServerRpcInfo::Type;
  switch (type) {
    case Type::UNARY:
      return "unary";
    case Type::CLIENT_STREAMING:
      return "client_stream";
    case Type::SERVER_STREAMING:
      return "server_stream";
    case Type::BIDI_STREAMING:
      return "bidi_stream";
    default:
      return "unknown";
  }
}

// Counts and times one RPC on the server.
class ServerMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit ServerMetricsInterceptor(CallMetrics* call)
      : call_(call), start_(std::chrono::steady_clock::now()) {
    call_->Started();
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      call_->MessageReceived();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      call_->MessageSent();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
      call_->Handled(static_cast<int>(methods->GetSendStatus().error_code()), elapsed.count());
    }
    methods->Proceed();
  }

 private:
  CallMetrics* call_;
  std::chrono::steady_clock::time_point start_;
};

class ServerMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ServerMetricsFactory(Metrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new ServerMetricsInterceptor(
        metrics_->ServerCall(info->method(), TypeName(info->type())));
  }

 private:
  Metrics* metrics_;
};

const std::map<std::string, std::string>& GaugeHelp() {
  static const auto* help = new std::map<std::string, std::string>{
      {metric::kEntities, "Entities stored, by partition and entity type."},
      {metric::kEdges, "Edge copies stored, by partition, edge type and direction."},
      {metric::kPartitionMemory, "Estimated bytes held by a partition's data structures."},
      {metric::kResidentMemory, "Resident set size of the process in bytes."},
      {metric::kServing, "1 while the server reports SERVING on its health service."},
      {metric::kModelBundle,
       "1 with the version of the model bundle in service (TrainModels); 0 with an empty "
       "version while there is none."},
  };
  return *help;
}

}  // namespace

void CallMetrics::Handled(int code, double seconds) {
  if (code < 0 || code > 16) code = 2;
  handled_[code]->Increment();
  seconds_->Observe(seconds);
}

class Metrics::GaugeCollector : public prometheus::Collectable {
 public:
  void Add(std::function<void(std::vector<GaugeSample>*)> fn) {
    absl::MutexLock lock(&mu_);
    sources_.push_back(std::move(fn));
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<GaugeSample> samples;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& fn : sources_) fn(&samples);
    }
    std::map<std::string, prometheus::MetricFamily> families;
    for (GaugeSample& s : samples) {
      prometheus::MetricFamily& f = families[s.family];
      if (f.name.empty()) {
        f.name = s.family;
        auto it = GaugeHelp().find(s.family);
        f.help = it == GaugeHelp().end() ? "" : it->second;
        f.type = prometheus::MetricType::Gauge;
      }
      prometheus::ClientMetric m;
      for (auto& [k, v] : s.labels) m.label.push_back(prometheus::ClientMetric::Label{k, v});
      m.gauge.value = s.value;
      f.metric.push_back(std::move(m));
    }
    std::vector<prometheus::MetricFamily> out;
    for (auto& [name, f] : families) out.push_back(std::move(f));
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::function<void(std::vector<GaugeSample>*)>> sources_ ABSL_GUARDED_BY(mu_);
};

Metrics::Metrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)), gauges_(std::make_shared<GaugeCollector>()) {
  using prometheus::BuildCounter;
  using prometheus::BuildHistogram;
  server_started_ = &BuildCounter()
                         .Name(metric::kServerStarted)
                         .Help("RPCs started on the server.")
                         .Register(*registry_);
  server_handled_ = &BuildCounter()
                         .Name(metric::kServerHandled)
                         .Help("RPCs completed on the server, by status code.")
                         .Register(*registry_);
  server_seconds_ = &BuildHistogram()
                         .Name(metric::kServerHandlingSeconds)
                         .Help("Time from the start of an RPC to its status, in seconds.")
                         .Register(*registry_);
  server_received_ = &BuildCounter()
                          .Name(metric::kServerMsgReceived)
                          .Help("Messages received by the server.")
                          .Register(*registry_);
  server_sent_ = &BuildCounter()
                      .Name(metric::kServerMsgSent)
                      .Help("Messages sent by the server.")
                      .Register(*registry_);
  client_started_ = &BuildCounter()
                         .Name(metric::kClientStarted)
                         .Help("Front end -> partition calls started.")
                         .Register(*registry_);
  client_handled_ = &BuildCounter()
                         .Name(metric::kClientHandled)
                         .Help("Front end -> partition calls completed, by status code.")
                         .Register(*registry_);
  client_seconds_ = &BuildHistogram()
                         .Name(metric::kClientHandlingSeconds)
                         .Help("Front end -> partition call latency, in seconds.")
                         .Register(*registry_);
  client_received_ = &BuildCounter()
                          .Name(metric::kClientMsgReceived)
                          .Help("Messages received from partitions.")
                          .Register(*registry_);
  client_sent_ = &BuildCounter()
                      .Name(metric::kClientMsgSent)
                      .Help("Messages sent to partitions.")
                      .Register(*registry_);
  auto& import = BuildCounter()
                     .Name(metric::kImportRecords)
                     .Help("Records received by Import streams, by outcome.")
                     .Register(*registry_);
  import_accepted_ = &import.Add({{"result", "accepted"}});
  import_rejected_ = &import.Add({{"result", "rejected"}});
}

Metrics::~Metrics() = default;

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
Metrics::ServerInterceptors() {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> out;
  out.push_back(std::make_unique<ServerMetricsFactory>(this));
  return out;
}

CallMetrics* Metrics::Create(bool server, absl::string_view type, absl::string_view service,
                             absl::string_view method, const std::string& partition) {
  std::map<std::string, std::string> labels{{"grpc_type", std::string(type)},
                                            {"grpc_service", std::string(service)},
                                            {"grpc_method", std::string(method)}};
  if (!partition.empty()) labels["partition"] = partition;
  auto call = std::make_unique<CallMetrics>();
  call->started_ = &(server ? server_started_ : client_started_)->Add(labels);
  call->sent_ = &(server ? server_sent_ : client_sent_)->Add(labels);
  call->received_ = &(server ? server_received_ : client_received_)->Add(labels);
  call->seconds_ = &(server ? server_seconds_ : client_seconds_)->Add(labels, LatencyBuckets());
  for (int code = 0; code <= 16; ++code) {
    auto with_code = labels;
    with_code["grpc_code"] = StatusCodeName(code);
    call->handled_[code] = &(server ? server_handled_ : client_handled_)->Add(with_code);
  }
  return call.release();
}

CallMetrics* Metrics::ServerCall(absl::string_view full_method, absl::string_view grpc_type) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = calls_.find(full_method);
    if (it != calls_.end()) return it->second.get();
  }
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(full_method);
  if (it != calls_.end()) return it->second.get();
  // "/kg.v1.GraphService/GetEntities" -> service, method.
  absl::string_view name = full_method;
  if (!name.empty() && name.front() == '/') name.remove_prefix(1);
  size_t slash = name.find('/');
  absl::string_view service = slash == absl::string_view::npos ? "unknown" : name.substr(0, slash);
  absl::string_view method = slash == absl::string_view::npos ? name : name.substr(slash + 1);
  CallMetrics* call = Create(true, grpc_type, service, method, "");
  calls_[full_method].reset(call);
  return call;
}

CallMetrics* Metrics::PartitionCall(absl::string_view service, absl::string_view method,
                                    uint32_t partition) {
  std::string key = absl::StrCat("client:", service, "/", method, "#", partition);
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = calls_.find(key);
    if (it != calls_.end()) return it->second.get();
  }
  absl::MutexLock lock(&mu_);
  auto& slot = calls_[key];
  if (slot == nullptr) slot.reset(Create(false, "unary", service, method, absl::StrCat(partition)));
  return slot.get();
}

std::shared_ptr<prometheus::Collectable> Metrics::gauges() const { return gauges_; }

void Metrics::AddGaugeSource(std::function<void(std::vector<GaugeSample>*)> fn) {
  gauges_->Add(std::move(fn));
}

uint64_t ResidentMemoryBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace kg
