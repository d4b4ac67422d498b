// kg::Client: a synchronous C++ client of kg.v1.GraphService, kg.v1.KnowledgeService and
// kg.v1.AdminService, with
// the standard gRPC health check and a streaming bulk import (ImportWriter). A Client is
// thread-safe (calls may run concurrently on one Client); an ImportWriter is not.
//   auto client = kg::Client::Connect("127.0.0.1:50051", kg::ClientOptions());
//   absl::StatusOr<kg::v1::GetEntitiesResponse> r = (*client)->GetEntities(request);
#ifndef KG_CLIENT_CPP_CLIENT_H_
#define KG_CLIENT_CPP_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/sync_stream.h"
#include "kg/v1/admin.grpc.pb.h"
#include "kg/v1/graph.grpc.pb.h"
#include "kg/v1/insight.grpc.pb.h"
#include "kg/v1/knowledge.grpc.pb.h"
#include "proto/grpc_status.h"  // FromGrpcStatus

namespace kg {

struct ClientOptions {
  // Deadline of each unary call, in milliseconds from its start; <= 0 sets none (the
  // server then applies its default). Default: 10000.
  int64_t deadline_ms = 10000;
  // Bearer token sent as `authorization: Bearer <token>` with every call (servers started
  // with --auth_tokens require one); empty: none. See TokenFromFlagOrEnv.
  std::string token;
  // TLS: on when `tls` is set or any of the files below is given. `tls_ca` is the CA the
  // server's certificate must chain to (PEM file; empty: the system's roots); `tls_cert`
  // and `tls_key` a client certificate and key (PEM files) for servers that require one
  // (mTLS); `tls_server_name` overrides the name checked in the server's certificate
  // (default: the host of the address).
  bool tls = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
  // Channels made with different tags never share a connection (load generators use one
  // connection per channel); -1: no tag.
  int channel_tag = -1;
};

// `flag` when not empty, else the KG_TOKEN environment variable (else empty).
std::string TokenFromFlagOrEnv(const std::string& flag);

// The channel Client::Connect makes (TLS per `options`, 64 MiB message limits), for callers
// that make their own stubs; INVALID_ARGUMENT naming the flag of a TLS file that cannot be
// read, or for an empty address.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& addr,
                                                           const ClientOptions& options);

// Adds `options.token` (if any) to a call's metadata.
void AddToken(grpc::ClientContext* context, const ClientOptions& options);

// The serving status reported by grpc.health.v1.Health/Check.
enum class ServingStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// "UNKNOWN", "SERVING", "NOT_SERVING" or "SERVICE_UNKNOWN".
const char* ServingStatusName(ServingStatus status);

// One client-streaming Import call. Write batches of records, then Finish once. The first
// message sent carries the ImportOptions. Not thread-safe.
class ImportWriter {
 public:
  ImportWriter(const ImportWriter&) = delete;
  ImportWriter& operator=(const ImportWriter&) = delete;
  // Cancels the call if Finish was not called.
  ~ImportWriter();

  // Sends `records` as one ImportRequest (the server accepts at most 10000 per message).
  // Returns the server's error status if the stream has been closed (e.g. the import was
  // stopped after too many rejected records); Finish then returns the same status.
  absl::Status Write(std::vector<v1::ImportRecord> records);

  // Closes the stream and returns the server's ImportResponse, or the call's error.
  // Requires: not called before.
  absl::StatusOr<v1::ImportResponse> Finish();

 private:
  friend class Client;
  ImportWriter(v1::GraphService::Stub* stub, const v1::ImportOptions& options, int64_t deadline_ms,
               const ClientOptions& client_options);

  grpc::ClientContext context_;
  v1::ImportResponse response_;
  std::unique_ptr<grpc::ClientWriter<v1::ImportRequest>> stream_;
  v1::ImportOptions options_;
  bool first_ = true;
  bool finished_ = false;
  absl::Status final_status_;
};

class Client {
 public:
  // Creates a client of the server at `addr` ("host:port") over a channel made by
  // MakeChannel (plain text unless `options` ask for TLS). Does not wait for the connection: an
  // unreachable server shows as UNAVAILABLE on the first call. Returns INVALID_ARGUMENT for an
  // empty address.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const std::string& addr,
                                                         const ClientOptions& options);

  // Uses an existing channel (e.g. an in-process one in tests).
  Client(std::shared_ptr<grpc::Channel> channel, const ClientOptions& options);

  // One method per RPC. Each returns the response, or the call's status (code and message
  // as the server sent them, DEADLINE_EXCEEDED after options.deadline_ms).
  absl::StatusOr<v1::GetEntitiesResponse> GetEntities(const v1::GetEntitiesRequest& request);
  absl::StatusOr<v1::UpsertEntitiesResponse> UpsertEntities(
      const v1::UpsertEntitiesRequest& request);
  absl::StatusOr<v1::DeleteEntitiesResponse> DeleteEntities(
      const v1::DeleteEntitiesRequest& request);
  absl::StatusOr<v1::UpsertEdgesResponse> UpsertEdges(const v1::UpsertEdgesRequest& request);
  absl::StatusOr<v1::DeleteEdgesResponse> DeleteEdges(const v1::DeleteEdgesRequest& request);
  absl::StatusOr<v1::GetNeighborsResponse> GetNeighbors(const v1::GetNeighborsRequest& request);
  absl::StatusOr<v1::CountNeighborsResponse> CountNeighbors(
      const v1::CountNeighborsRequest& request);
  absl::StatusOr<v1::TraverseResponse> Traverse(const v1::TraverseRequest& request);
  absl::StatusOr<v1::GetClusterInfoResponse> GetClusterInfo(
      const v1::GetClusterInfoRequest& request = v1::GetClusterInfoRequest());
  absl::StatusOr<v1::CheckpointResponse> Checkpoint(const v1::CheckpointRequest& request);
  absl::StatusOr<v1::CategorizeResponse> Categorize(const v1::CategorizeRequest& request);
  absl::StatusOr<v1::RecognizeBrandsResponse> RecognizeBrands(
      const v1::RecognizeBrandsRequest& request);
  absl::StatusOr<v1::ExtractAttributesResponse> ExtractAttributes(
      const v1::ExtractAttributesRequest& request);
  absl::StatusOr<v1::MatchSpuResponse> MatchSpu(const v1::MatchSpuRequest& request);
  absl::StatusOr<v1::ProfileEntityResponse> ProfileEntity(const v1::ProfileEntityRequest& request);
  absl::StatusOr<v1::TopProductsResponse> TopProducts(const v1::TopProductsRequest& request);
  absl::StatusOr<v1::CompareProductsResponse> CompareProducts(
      const v1::CompareProductsRequest& request);
  // AdminService.DevelopBrands; it scans every product: its own deadline.
  absl::StatusOr<v1::DevelopBrandsResponse> DevelopBrands(const v1::DevelopBrandsRequest& request,
                                                          int64_t deadline_ms);
  // AdminService.AssignSpus; it scans every product: its own deadline.
  absl::StatusOr<v1::AssignSpusResponse> AssignSpus(const v1::AssignSpusRequest& request,
                                                    int64_t deadline_ms);
  absl::StatusOr<v1::GetTaxonomyResponse> GetTaxonomy(const v1::GetTaxonomyRequest& request);
  // Trains and installs new models (a server stream): `on_progress` gets every message;
  // returns the last one (with the model version). `deadline_ms` bounds the whole call
  // (<= 0: none).
  absl::StatusOr<v1::TrainModelsProgress> TrainModels(
      const v1::TrainModelsRequest& request, int64_t deadline_ms,
      const std::function<void(const v1::TrainModelsProgress&)>& on_progress);

  // grpc.health.v1.Health/Check for `service` ("" = the whole server).
  absl::StatusOr<ServingStatus> CheckHealth(const std::string& service = "");

  // Starts an Import stream. `deadline_ms` bounds the whole stream (<= 0: no deadline, so
  // the server's default applies); bulk loads need far more than a unary deadline.
  std::unique_ptr<ImportWriter> StartImport(const v1::ImportOptions& options, int64_t deadline_ms);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  // Sets the per-call deadline on `context`.
  void Prepare(grpc::ClientContext* context) const;
  // Runs one blocking unary call, `call(context, response)`, with the deadline set.
  template <typename Response, typename Call>
  absl::StatusOr<Response> Unary(Call call) const;

  std::shared_ptr<grpc::Channel> channel_;
  ClientOptions options_;
  std::unique_ptr<v1::GraphService::Stub> graph_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::KnowledgeService::Stub> knowledge_;
  std::unique_ptr<v1::InsightService::Stub> insight_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

}  // namespace kg

#endif  // KG_CLIENT_CPP_CLIENT_H_
