// The project's two status macros (Abseil 20220623 ships none). Used by every server layer.
#ifndef KG_SERVER_GRAPH_STATUS_MACROS_H_
#define KG_SERVER_GRAPH_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define KG_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status kg_status_ = (expr);      \
    if (!kg_status_.ok()) return kg_status_; \
  } while (0)

#define KG_STATUS_CONCAT_INNER_(a, b) a##b
#define KG_STATUS_CONCAT_(a, b) KG_STATUS_CONCAT_INNER_(a, b)

// `lhs = *expr` when `expr` (an absl::StatusOr) is OK; else returns its status.
#define KG_ASSIGN_OR_RETURN(lhs, expr) \
  KG_ASSIGN_OR_RETURN_IMPL_(KG_STATUS_CONCAT_(kg_statusor_, __LINE__), lhs, expr)
#define KG_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(*tmp)

#endif  // KG_SERVER_GRAPH_STATUS_MACROS_H_
