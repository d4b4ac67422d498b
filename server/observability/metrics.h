// The service's Prometheus metrics: the gRPC server interceptor that counts and times
// every RPC of every service, the counters of front end -> partition calls, and gauges
// computed at scrape time. The registry is passed in, never global. Thread-safe.
//
//   auto registry = std::make_shared<prometheus::Registry>();
//   Metrics metrics(registry);
//   builder.experimental().SetInterceptorCreators(metrics.ServerInterceptors());
#ifndef KG_SERVER_OBSERVABILITY_METRICS_H_
#define KG_SERVER_OBSERVABILITY_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace kg {

// The counters of one (service, method[, partition]) call site, created once.
class CallMetrics {
 public:
  void Started() { started_->Increment(); }
  void MessageSent() { sent_->Increment(); }
  void MessageReceived() { received_->Increment(); }
  // Records the outcome (a grpc status code, 0..16) and the latency.
  void Handled(int code, double seconds);

 private:
  friend class Metrics;
  prometheus::Counter* started_ = nullptr;
  prometheus::Counter* sent_ = nullptr;
  prometheus::Counter* received_ = nullptr;
  prometheus::Histogram* seconds_ = nullptr;
  std::array<prometheus::Counter*, 17> handled_{};
};

// A sample of a scrape-time gauge.
struct GaugeSample {
  const char* family;  // a name from metric_names.h
  std::vector<std::pair<std::string, std::string>> labels;
  double value;
};

class Metrics {
 public:
  explicit Metrics(std::shared_ptr<prometheus::Registry> registry);
  ~Metrics();

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // Interceptor factories to install on a grpc::ServerBuilder.
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
  ServerInterceptors();

  // Server-side counters of a full method name "/pkg.Service/Method" (cached).
  CallMetrics* ServerCall(absl::string_view full_method, absl::string_view grpc_type);

  // Client-side counters of a front end -> partition method (unary), created on first use.
  CallMetrics* PartitionCall(absl::string_view service, absl::string_view method,
                             uint32_t partition);

  // kg_import_records_total{result="accepted"|"rejected"}: records of Import streams.
  prometheus::Counter& import_records(bool accepted) const {
    return accepted ? *import_accepted_ : *import_rejected_;
  }

  // Gauges computed by `fn` at every scrape (help texts are in metrics.cc).
  void AddGaugeSource(std::function<void(std::vector<GaugeSample>*)> fn);

  // Returns the collectable with the gauges, for the exposer.
  std::shared_ptr<prometheus::Collectable> gauges() const;

 private:
  class GaugeCollector;
  CallMetrics* Create(bool server, absl::string_view type, absl::string_view service,
                      absl::string_view method, const std::string& partition);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* server_started_;
  prometheus::Family<prometheus::Counter>* server_handled_;
  prometheus::Family<prometheus::Histogram>* server_seconds_;
  prometheus::Family<prometheus::Counter>* server_received_;
  prometheus::Family<prometheus::Counter>* server_sent_;
  prometheus::Family<prometheus::Counter>* client_started_;
  prometheus::Family<prometheus::Counter>* client_handled_;
  prometheus::Family<prometheus::Histogram>* client_seconds_;
  prometheus::Family<prometheus::Counter>* client_received_;
  prometheus::Family<prometheus::Counter>* client_sent_;
  prometheus::Counter* import_accepted_;
  prometheus::Counter* import_rejected_;
  std::shared_ptr<GaugeCollector> gauges_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<CallMetrics>> calls_ ABSL_GUARDED_BY(mu_);
};

// Resident set size of this process in bytes (from /proc/self/statm), 0 if unknown.
uint64_t ResidentMemoryBytes();

}  // namespace kg

#endif  // KG_SERVER_OBSERVABILITY_METRICS_H_
