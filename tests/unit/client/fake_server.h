// An in-process fake of kg.v1.GraphService and AdminService (plus the default gRPC health
// service) on a loopback port, for testing the client library and kgctl without the real
// server. Its rules: odd ids exist, even ids do not; GetNeighbors serves 5 neighbors in
// pages; Import rejects edges with a negative weight. Thread-safe.
#ifndef KG_TESTS_UNIT_CLIENT_FAKE_SERVER_H_
#define KG_TESTS_UNIT_CLIENT_FAKE_SERVER_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "kg/v1/admin.grpc.pb.h"
#include "kg/v1/graph.grpc.pb.h"

namespace kg {

class FakeGraphService final : public v1::GraphService::Service {
 public:
  grpc::Status GetEntities(grpc::ServerContext*, const v1::GetEntitiesRequest* request,
                           v1::GetEntitiesResponse* response) override {
    Remember(*request);
    for (const v1::EntityKey& key : request->keys()) {
      v1::EntityResult* result = response->add_results();
      *result->mutable_key() = key;
      if (key.id() % 2 == 1) {
        result->set_found(true);
        *result->mutable_entity()->mutable_key() = key;
        result->mutable_entity()->set_name(absl::StrCat("entity ", key.id()));
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status UpsertEntities(grpc::ServerContext*, const v1::UpsertEntitiesRequest* request,
                              v1::UpsertEntitiesResponse* response) override {
    Remember(*request);
    for (int i = 0; i < request->entities_size(); ++i) {
      v1::ItemStatus* status = response->add_results();
      if (request->entities(i).name().empty()) {
        status->set_code(3);
        status->set_message(absl::StrCat("entities[", i, "].name: empty"));
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status UpsertEdges(grpc::ServerContext*, const v1::UpsertEdgesRequest* request,
                           v1::UpsertEdgesResponse* response) override {
    Remember(*request);
    for (int i = 0; i < request->edges_size(); ++i) response->add_results();
    return grpc::Status::OK;
  }

  grpc::Status DeleteEntities(grpc::ServerContext*, const v1::DeleteEntitiesRequest* request,
                              v1::DeleteEntitiesResponse* response) override {
    for (const v1::EntityKey& key : request->keys()) {
      v1::DeleteEntityResult* result = response->add_results();
      if (key.id() % 2 == 0) {
        result->mutable_status()->set_code(5);
        result->mutable_status()->set_message("not found");
      } else {
        result->set_edges_removed(3);
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status DeleteEdges(grpc::ServerContext*, const v1::DeleteEdgesRequest* request,
                           v1::DeleteEdgesResponse* response) override {
    for (int i = 0; i < request->edges_size(); ++i) response->add_results();
    return grpc::Status::OK;
  }

  // Neighbors ids 1..5 of each key, `limit` (default 2) per page; the token is the next
  // offset.
  grpc::Status GetNeighbors(grpc::ServerContext*, const v1::GetNeighborsRequest* request,
                            v1::GetNeighborsResponse* response) override {
    Remember(*request);
    if (request->edge_type() == v1::EDGE_TYPE_UNSPECIFIED) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "edge_type: required");
    }
    const int limit = request->limit() > 0 ? request->limit() : 2;
    const int offset = request->page_token().empty() ? 0 : std::stoi(request->page_token());
    for (const v1::EntityKey& key : request->keys()) {
      v1::NeighborList* list = response->add_results();
      *list->mutable_key() = key;
      list->set_total_count(5);
      int i = offset;
      for (; i < 5 && i < offset + limit; ++i) {
        v1::Neighbor* neighbor = list->add_neighbors();
        neighbor->mutable_key()->set_type(v1::PRODUCT);
        neighbor->mutable_key()->set_id(i + 1);
        neighbor->set_time_ms(1000 - i);
        neighbor->set_weight(1);
      }
      if (i < 5) list->set_next_page_token(std::to_string(i));
    }
    return grpc::Status::OK;
  }

  grpc::Status CountNeighbors(grpc::ServerContext*, const v1::CountNeighborsRequest* request,
                              v1::CountNeighborsResponse* response) override {
    Remember(*request);
    for (const v1::EntityKey& key : request->keys()) {
      v1::KeyCounts* counts = response->add_results();
      *counts->mutable_key() = key;
      v1::NeighborCount* count = counts->add_counts();
      count->set_edge_type(v1::PURCHASED);
      count->set_direction(v1::IN);
      count->set_count(0);
    }
    return grpc::Status::OK;
  }

  grpc::Status Traverse(grpc::ServerContext*, const v1::TraverseRequest* request,
                        v1::TraverseResponse* response) override {
    Remember(*request);
    v1::TraverseResult* result = response->add_results();
    result->mutable_key()->set_type(v1::PRODUCT);
    result->mutable_key()->set_id(9);
    result->set_score(2);
    result->set_path_count(2);
    return grpc::Status::OK;
  }

  grpc::Status Import(grpc::ServerContext*, grpc::ServerReader<v1::ImportRequest>* reader,
                      v1::ImportResponse* response) override {
    v1::ImportRequest request;
    bool first = true;
    uint32_t max_errors = 0;
    while (reader->Read(&request)) {
      std::lock_guard<std::mutex> lock(mu_);
      ++import_messages_;
      if (first) max_errors = request.options().max_errors();
      first = false;
      import_max_errors_ = max_errors;
      for (const v1::ImportRecord& record : request.records()) {
        const uint64_t index = response->records_received();
        response->set_records_received(index + 1);
        if (record.has_edge() && record.edge().weight() < 0) {
          response->set_records_rejected(response->records_rejected() + 1);
          v1::ImportError* error = response->add_first_errors();
          error->set_record_index(index);
          error->set_message("edge.weight: negative");
          if (response->records_rejected() > max_errors) {
            return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "too many rejected records");
          }
        } else if (record.has_edge()) {
          response->set_edges_upserted(response->edges_upserted() + 1);
        } else {
          response->set_entities_upserted(response->entities_upserted() + 1);
        }
      }
    }
    return grpc::Status::OK;
  }

  // The last request of the given type the fake received.
  template <typename Request>
  Request Last() {
    std::lock_guard<std::mutex> lock(mu_);
    Request request;
    for (auto it = requests_.rbegin(); it != requests_.rend(); ++it) {
      if ((*it)->GetDescriptor() == Request::descriptor()) {
        request.CopyFrom(**it);
        break;
      }
    }
    return request;
  }

  int import_messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return import_messages_;
  }
  uint32_t import_max_errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return import_max_errors_;
  }

 private:
  void Remember(const google::protobuf::Message& request) {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.emplace_back(request.New());
    requests_.back()->CopyFrom(request);
  }

  std::mutex mu_;
  std::vector<std::unique_ptr<google::protobuf::Message>> requests_;
  int import_messages_ = 0;
  uint32_t import_max_errors_ = 0;
};

class FakeAdminService final : public v1::AdminService::Service {
 public:
  grpc::Status GetClusterInfo(grpc::ServerContext*, const v1::GetClusterInfoRequest*,
                              v1::GetClusterInfoResponse* response) override {
    response->set_role("all");
    response->set_partition_count(4);
    response->set_entity_count(10);
    return grpc::Status::OK;
  }
};

// Starts the fakes on 127.0.0.1 with a free port.
class FakeServer {
 public:
  FakeServer() {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&graph_);
    builder.RegisterService(&admin_);
    server_ = builder.BuildAndStart();
  }
  ~FakeServer() { server_->Shutdown(); }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  FakeGraphService& graph() { return graph_; }
  grpc::Server* server() { return server_.get(); }

 private:
  FakeGraphService graph_;
  FakeAdminService admin_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace kg

#endif  // KG_TESTS_UNIT_CLIENT_FAKE_SERVER_H_
