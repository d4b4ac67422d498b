// The gRPC face of a partition server: kg.internal.v1.PartitionService over a
// PartitionHost. Reads run inline on gRPC's callback threads (microseconds of in-memory
// work); writes finish from the store's commit thread once durable. Thread-safe.
#ifndef KG_SERVER_PARTITION_PARTITION_SERVICE_H_
#define KG_SERVER_PARTITION_PARTITION_SERVICE_H_

#include "kg/internal/v1/partition.grpc.pb.h"
#include "server/partition/partition_host.h"
#include "server/partition/serving_gate.h"

namespace kg {

class PartitionServiceImpl final : public internal::v1::PartitionService::CallbackService {
 public:
  // Data requests (all but GetPartitionInfo, which reports `serving`) are refused
  // (UNAVAILABLE) while `gate` is closed. Both must outlive this.
  PartitionServiceImpl(PartitionHost* host, const ServingGate* gate) : host_(host), gate_(gate) {}

  grpc::ServerUnaryReactor* GetEntities(grpc::CallbackServerContext* ctx,
                                        const internal::v1::GetEntitiesRequest* req,
                                        internal::v1::GetEntitiesResponse* resp) override;
  grpc::ServerUnaryReactor* UpsertEntities(grpc::CallbackServerContext* ctx,
                                           const internal::v1::UpsertEntitiesRequest* req,
                                           internal::v1::UpsertEntitiesResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteEntities(grpc::CallbackServerContext* ctx,
                                           const internal::v1::DeleteEntitiesRequest* req,
                                           internal::v1::DeleteEntitiesResponse* resp) override;
  grpc::ServerUnaryReactor* UpsertEdgeCopies(grpc::CallbackServerContext* ctx,
                                             const internal::v1::UpsertEdgeCopiesRequest* req,
                                             internal::v1::UpsertEdgeCopiesResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteEdgeCopies(grpc::CallbackServerContext* ctx,
                                             const internal::v1::DeleteEdgeCopiesRequest* req,
                                             internal::v1::DeleteEdgeCopiesResponse* resp) override;
  grpc::ServerUnaryReactor* GetNeighbors(grpc::CallbackServerContext* ctx,
                                         const internal::v1::GetNeighborsRequest* req,
                                         internal::v1::GetNeighborsResponse* resp) override;
  grpc::ServerUnaryReactor* CountNeighbors(grpc::CallbackServerContext* ctx,
                                           const internal::v1::CountNeighborsRequest* req,
                                           internal::v1::CountNeighborsResponse* resp) override;
  grpc::ServerUnaryReactor* GetPartitionInfo(grpc::CallbackServerContext* ctx,
                                             const internal::v1::GetPartitionInfoRequest* req,
                                             internal::v1::GetPartitionInfoResponse* resp) override;
  grpc::ServerUnaryReactor* ListIntents(grpc::CallbackServerContext* ctx,
                                        const internal::v1::ListIntentsRequest* req,
                                        internal::v1::ListIntentsResponse* resp) override;
  grpc::ServerUnaryReactor* ClearIntents(grpc::CallbackServerContext* ctx,
                                         const internal::v1::ClearIntentsRequest* req,
                                         internal::v1::ClearIntentsResponse* resp) override;
  grpc::ServerUnaryReactor* Checkpoint(grpc::CallbackServerContext* ctx,
                                       const internal::v1::CheckpointRequest* req,
                                       internal::v1::CheckpointResponse* resp) override;
  grpc::ServerUnaryReactor* ScanEntities(grpc::CallbackServerContext* ctx,
                                         const internal::v1::ScanEntitiesRequest* req,
                                         internal::v1::ScanEntitiesResponse* resp) override;
  grpc::ServerUnaryReactor* Categorize(grpc::CallbackServerContext* ctx,
                                       const internal::v1::CategorizeRequest* req,
                                       internal::v1::CategorizeResponse* resp) override;
  grpc::ServerUnaryReactor* RecognizeBrands(grpc::CallbackServerContext* ctx,
                                            const internal::v1::RecognizeBrandsRequest* req,
                                            internal::v1::RecognizeBrandsResponse* resp) override;
  grpc::ServerUnaryReactor* ExtractAttributes(
      grpc::CallbackServerContext* ctx, const internal::v1::ExtractAttributesRequest* req,
      internal::v1::ExtractAttributesResponse* resp) override;
  grpc::ServerUnaryReactor* MatchSpu(grpc::CallbackServerContext* ctx,
                                     const internal::v1::MatchSpuRequest* req,
                                     internal::v1::MatchSpuResponse* resp) override;
  grpc::ServerUnaryReactor* PairListings(grpc::CallbackServerContext* ctx,
                                         const internal::v1::PairListingsRequest* req,
                                         internal::v1::PairListingsResponse* resp) override;
  grpc::ServerUnaryReactor* TopProducts(grpc::CallbackServerContext* ctx,
                                        const internal::v1::TopProductsRequest* req,
                                        internal::v1::TopProductsResponse* resp) override;
  grpc::ServerUnaryReactor* SegmentCounts(grpc::CallbackServerContext* ctx,
                                          const internal::v1::SegmentCountsRequest* req,
                                          internal::v1::SegmentCountsResponse* resp) override;
  grpc::ServerUnaryReactor* InstallBundle(grpc::CallbackServerContext* ctx,
                                          const internal::v1::InstallBundleRequest* req,
                                          internal::v1::InstallBundleResponse* resp) override;

 private:
  PartitionHost* host_;
  const ServingGate* gate_;
};

}  // namespace kg

#endif  // KG_SERVER_PARTITION_PARTITION_SERVICE_H_
