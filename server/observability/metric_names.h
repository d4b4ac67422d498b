// Every metric name the service exports, in one place (docs/METRICS.md describes them).
#ifndef KG_SERVER_OBSERVABILITY_METRIC_NAMES_H_
#define KG_SERVER_OBSERVABILITY_METRIC_NAMES_H_

namespace kg::metric {

// Server side, for every method of every service (labels grpc_type, grpc_service,
// grpc_method; handled also grpc_code).
inline constexpr char kServerStarted[] = "grpc_server_started_total";
inline constexpr char kServerHandled[] = "grpc_server_handled_total";
inline constexpr char kServerHandlingSeconds[] = "grpc_server_handling_seconds";
inline constexpr char kServerMsgReceived[] = "grpc_server_msg_received_total";
inline constexpr char kServerMsgSent[] = "grpc_server_msg_sent_total";

// Front end -> partition calls (the same labels plus `partition`).
inline constexpr char kClientStarted[] = "grpc_client_started_total";
inline constexpr char kClientHandled[] = "grpc_client_handled_total";
inline constexpr char kClientHandlingSeconds[] = "grpc_client_handling_seconds";
inline constexpr char kClientMsgSent[] = "grpc_client_msg_sent_total";
inline constexpr char kClientMsgReceived[] = "grpc_client_msg_received_total";

// Domain gauges, computed at scrape time.
inline constexpr char kEntities[] = "kg_entities";  // {partition,entity_type}
inline constexpr char kEdges[] = "kg_edges";        // {partition,edge_type,direction}
inline constexpr char kPartitionMemory[] = "kg_partition_memory_bytes";  // {partition}
inline constexpr char kResidentMemory[] = "kg_process_resident_memory_bytes";
inline constexpr char kServing[] = "kg_serving";                     // 1 serving, 0 not
inline constexpr char kModelBundle[] = "kg_model_bundle_info";       // {partition,model_version}
inline constexpr char kImportRecords[] = "kg_import_records_total";  // {result}

}  // namespace kg::metric

#endif  // KG_SERVER_OBSERVABILITY_METRIC_NAMES_H_
