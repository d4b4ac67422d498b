// Logging set-up: spdlog to standard error with timestamps. Call once from main.
#ifndef KG_SERVER_OBSERVABILITY_LOGGING_H_
#define KG_SERVER_OBSERVABILITY_LOGGING_H_

#include <string>

#include "absl/status/status.h"

namespace kg {

// `level`: trace, debug, info, warn, error, off. INVALID_ARGUMENT for another name.
absl::Status InitLogging(const std::string& level);

}  // namespace kg

#endif  // KG_SERVER_OBSERVABILITY_LOGGING_H_
