// Runs kg_server in one of its roles until SIGTERM or SIGINT, then drains and returns.
#ifndef KG_SERVER_APP_SERVER_H_
#define KG_SERVER_APP_SERVER_H_

#include "absl/status/status.h"
#include "server/app/options.h"

namespace kg {

// Starts the server described by `options`, reports NOT_SERVING on its health service
// while it loads, SERVING once ready, and NOT_SERVING again while draining. Returns when
// it has stopped; an error when it could not start. Requires SIGTERM and SIGINT blocked
// in every thread (main does it first) so that they can be awaited here.
absl::Status RunServer(const ServerOptions& options);

}  // namespace kg

#endif  // KG_SERVER_APP_SERVER_H_
