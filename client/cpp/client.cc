#include "client/cpp/client.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace kg {
namespace {

constexpr int kMaxMessageBytes = 64 << 20;

void SetDeadline(grpc::ClientContext* context, int64_t deadline_ms) {
  if (deadline_ms > 0) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(deadline_ms));
  }
}

}  // namespace

const char* ServingStatusName(ServingStatus status) {
  switch (status) {
    case ServingStatus::kServing:
      return "SERVING";
    case ServingStatus::kNotServing:
      return "NOT_SERVING";
    case ServingStatus::kServiceUnknown:
      return "SERVICE_UNKNOWN";
    case ServingStatus::kUnknown:
      break;
  }
  return "UNKNOWN";
}

// ImportWriter.

ImportWriter::ImportWriter(v1::GraphService::Stub* stub, const v1::ImportOptions& options,
                           int64_t deadline_ms, const ClientOptions& client_options)
    : options_(options) {
  SetDeadline(&context_, deadline_ms);
  AddToken(&context_, client_options);
  stream_ = stub->Import(&context_, &response_);
}

ImportWriter::~ImportWriter() {
  if (!finished_) context_.TryCancel();
}

absl::Status ImportWriter::Write(std::vector<v1::ImportRecord> records) {
  if (finished_) {
    return final_status_.ok() ? absl::FailedPreconditionError("import already finished")
                              : final_status_;
  }
  v1::ImportRequest request;
  if (first_) {
    *request.mutable_options() = options_;
    first_ = false;
  }
  request.mutable_records()->Reserve(static_cast<int>(records.size()));
  for (v1::ImportRecord& record : records) *request.add_records() = std::move(record);
  if (stream_->Write(request)) return absl::OkStatus();
  // The server closed the stream: its status says why.
  absl::StatusOr<v1::ImportResponse> result = Finish();
  if (result.ok()) return absl::UnknownError("import stream closed by the server");
  return result.status();
}

absl::StatusOr<v1::ImportResponse> ImportWriter::Finish() {
  if (finished_) {
    if (!final_status_.ok()) return final_status_;
    return response_;
  }
  finished_ = true;
  if (first_) {
    // Nothing was written: still send the options so the server sees them.
    v1::ImportRequest request;
    *request.mutable_options() = options_;
    first_ = false;
    stream_->Write(request);
  }
  stream_->WritesDone();
  final_status_ = FromGrpcStatus(stream_->Finish());
  if (!final_status_.ok()) return final_status_;
  return response_;
}

// Client.

std::string TokenFromFlagOrEnv(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("KG_TOKEN");
  return env != nullptr ? std::string(env) : std::string();
}

void AddToken(grpc::ClientContext* context, const ClientOptions& options) {
  if (!options.token.empty()) context->AddMetadata("authorization", "Bearer " + options.token);
}

namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  return text.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& addr,
                                                           const ClientOptions& options) {
  if (addr.empty()) return absl::InvalidArgumentError("addr: empty server address");
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  if (options.channel_tag >= 0) args.SetInt("kg_channel_tag", options.channel_tag);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (options.tls || !options.tls_ca.empty() || !options.tls_cert.empty() ||
      !options.tls_key.empty()) {
    if (options.tls_cert.empty() != options.tls_key.empty()) {
      return absl::InvalidArgumentError("tls_cert, tls_key: give both or neither");
    }
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca.empty()) {
      absl::StatusOr<std::string> ca = ReadPem(options.tls_ca, "tls_ca");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *std::move(ca);
    }
    if (!options.tls_cert.empty()) {
      absl::StatusOr<std::string> cert = ReadPem(options.tls_cert, "tls_cert");
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadPem(options.tls_key, "tls_key");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) args.SetSslTargetNameOverride(options.tls_server_name);
  }
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(addr, credentials, args);
  if (channel == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("addr: cannot create a channel to ", addr));
  }
  return channel;
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const std::string& addr,
                                                        const ClientOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(addr, options);
  if (!channel.ok()) return channel.status();
  return std::make_unique<Client>(*std::move(channel), options);
}

Client::Client(std::shared_ptr<grpc::Channel> channel, const ClientOptions& options)
    : channel_(std::move(channel)),
      options_(options),
      graph_(v1::GraphService::NewStub(channel_)),
      admin_(v1::AdminService::NewStub(channel_)),
      knowledge_(v1::KnowledgeService::NewStub(channel_)),
      insight_(v1::InsightService::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)) {}

void Client::Prepare(grpc::ClientContext* context) const {
  SetDeadline(context, options_.deadline_ms);
  AddToken(context, options_);
}

template <typename Response, typename Call>
absl::StatusOr<Response> Client::Unary(Call call) const {
  grpc::ClientContext context;
  Prepare(&context);
  Response response;
  grpc::Status status = call(&context, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::GetEntitiesResponse> Client::GetEntities(const v1::GetEntitiesRequest& request) {
  return Unary<v1::GetEntitiesResponse>([&](grpc::ClientContext* context, auto* response) {
    return graph_->GetEntities(context, request, response);
  });
}

absl::StatusOr<v1::UpsertEntitiesResponse> Client::UpsertEntities(
    const v1::UpsertEntitiesRequest& request) {
  return Unary<v1::UpsertEntitiesResponse>([&](grpc::ClientContext* context, auto* response) {
    return graph_->UpsertEntities(context, request, response);
  });
}

absl::StatusOr<v1::DeleteEntitiesResponse> Client::DeleteEntities(
    const v1::DeleteEntitiesRequest& request) {
  return Unary<v1::DeleteEntitiesResponse>([&](grpc::ClientContext* context, auto* response) {
    return graph_->DeleteEntities(context, request, response);
  });
}

absl::StatusOr<v1::UpsertEdgesResponse> Client::UpsertEdges(const v1::UpsertEdgesRequest& request) {
  return Unary<v1::UpsertEdgesResponse>([&](grpc::ClientContext* context, auto* response) {
    return graph_->UpsertEdges(context, request, response);
  });
}

absl::StatusOr<v1::DeleteEdgesResponse> Client::DeleteEdges(const v1::DeleteEdgesRequest& request) {
  return Unary<v1::DeleteEdgesResponse>([&](grpc::ClientContext* context, auto* response) {
    return graph_->DeleteEdges(context, request, response);
  });
}

absl::StatusOr<v1::GetNeighborsResponse> Client::GetNeighbors(
    const v1::GetNeighborsRequest& request) {
  return Unary<v1::GetNeighborsResponse>([&](grpc::ClientContext* context, auto* response) {
    return graph_->GetNeighbors(context, request, response);
  });
}

absl::StatusOr<v1::CountNeighborsResponse> Client::CountNeighbors(
    const v1::CountNeighborsRequest& request) {
  return Unary<v1::CountNeighborsResponse>([&](grpc::ClientContext* context, auto* response) {
    return graph_->CountNeighbors(context, request, response);
  });
}

absl::StatusOr<v1::TraverseResponse> Client::Traverse(const v1::TraverseRequest& request) {
  return Unary<v1::TraverseResponse>([&](grpc::ClientContext* context, auto* response) {
    return graph_->Traverse(context, request, response);
  });
}

absl::StatusOr<v1::CategorizeResponse> Client::Categorize(const v1::CategorizeRequest& request) {
  return Unary<v1::CategorizeResponse>([&](grpc::ClientContext* context, auto* response) {
    return knowledge_->Categorize(context, request, response);
  });
}

absl::StatusOr<v1::RecognizeBrandsResponse> Client::RecognizeBrands(
    const v1::RecognizeBrandsRequest& request) {
  return Unary<v1::RecognizeBrandsResponse>([&](grpc::ClientContext* context, auto* response) {
    return knowledge_->RecognizeBrands(context, request, response);
  });
}

absl::StatusOr<v1::ExtractAttributesResponse> Client::ExtractAttributes(
    const v1::ExtractAttributesRequest& request) {
  return Unary<v1::ExtractAttributesResponse>([&](grpc::ClientContext* context, auto* response) {
    return knowledge_->ExtractAttributes(context, request, response);
  });
}

absl::StatusOr<v1::GetTaxonomyResponse> Client::GetTaxonomy(const v1::GetTaxonomyRequest& request) {
  return Unary<v1::GetTaxonomyResponse>([&](grpc::ClientContext* context, auto* response) {
    return knowledge_->GetTaxonomy(context, request, response);
  });
}

absl::StatusOr<v1::MatchSpuResponse> Client::MatchSpu(const v1::MatchSpuRequest& request) {
  return Unary<v1::MatchSpuResponse>([&](grpc::ClientContext* context, auto* response) {
    return knowledge_->MatchSpu(context, request, response);
  });
}

absl::StatusOr<v1::ProfileEntityResponse> Client::ProfileEntity(
    const v1::ProfileEntityRequest& request) {
  return Unary<v1::ProfileEntityResponse>([&](grpc::ClientContext* context, auto* response) {
    return knowledge_->ProfileEntity(context, request, response);
  });
}

absl::StatusOr<v1::TopProductsResponse> Client::TopProducts(const v1::TopProductsRequest& request) {
  return Unary<v1::TopProductsResponse>([&](grpc::ClientContext* context, auto* response) {
    return insight_->TopProducts(context, request, response);
  });
}

absl::StatusOr<v1::CompareProductsResponse> Client::CompareProducts(
    const v1::CompareProductsRequest& request) {
  return Unary<v1::CompareProductsResponse>([&](grpc::ClientContext* context, auto* response) {
    return insight_->CompareProducts(context, request, response);
  });
}

// A long admin call with its own deadline.
template <typename Response, typename Call>
absl::StatusOr<Response> LongCall(int64_t deadline_ms, const ClientOptions& options,
                                  const Call& call) {
  grpc::ClientContext context;
  SetDeadline(&context, deadline_ms);
  AddToken(&context, options);
  Response response;
  grpc::Status status = call(&context, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::DevelopBrandsResponse> Client::DevelopBrands(
    const v1::DevelopBrandsRequest& request, int64_t deadline_ms) {
  return LongCall<v1::DevelopBrandsResponse>(
      deadline_ms, options_,
      [&](grpc::ClientContext* context, v1::DevelopBrandsResponse* response) {
        return admin_->DevelopBrands(context, request, response);
      });
}

absl::StatusOr<v1::AssignSpusResponse> Client::AssignSpus(const v1::AssignSpusRequest& request,
                                                          int64_t deadline_ms) {
  return LongCall<v1::AssignSpusResponse>(
      deadline_ms, options_, [&](grpc::ClientContext* context, v1::AssignSpusResponse* response) {
        return admin_->AssignSpus(context, request, response);
      });
}

absl::StatusOr<v1::TrainModelsProgress> Client::TrainModels(
    const v1::TrainModelsRequest& request, int64_t deadline_ms,
    const std::function<void(const v1::TrainModelsProgress&)>& on_progress) {
  grpc::ClientContext context;
  SetDeadline(&context, deadline_ms);
  AddToken(&context, options_);
  std::unique_ptr<grpc::ClientReader<v1::TrainModelsProgress>> stream =
      admin_->TrainModels(&context, request);
  v1::TrainModelsProgress message, last;
  while (stream->Read(&message)) {
    if (on_progress) on_progress(message);
    last = message;
  }
  grpc::Status status = stream->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  if (!last.done()) return absl::InternalError("TrainModels ended without its last message");
  return last;
}

absl::StatusOr<v1::CheckpointResponse> Client::Checkpoint(const v1::CheckpointRequest& request) {
  return Unary<v1::CheckpointResponse>([&](grpc::ClientContext* context, auto* response) {
    return admin_->Checkpoint(context, request, response);
  });
}

absl::StatusOr<v1::GetClusterInfoResponse> Client::GetClusterInfo(
    const v1::GetClusterInfoRequest& request) {
  return Unary<v1::GetClusterInfoResponse>([&](grpc::ClientContext* context, auto* response) {
    return admin_->GetClusterInfo(context, request, response);
  });
}

absl::StatusOr<ServingStatus> Client::CheckHealth(const std::string& service) {
  grpc::ClientContext context;
  Prepare(&context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = health_->Check(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  int value = static_cast<int>(response.status());
  return value >= 0 && value <= 3 ? static_cast<ServingStatus>(value) : ServingStatus::kUnknown;
}

std::unique_ptr<ImportWriter> Client::StartImport(const v1::ImportOptions& options,
                                                  int64_t deadline_ms) {
  return std::unique_ptr<ImportWriter>(
      new ImportWriter(graph_.get(), options, deadline_ms, options_));
}

}  // namespace kg
