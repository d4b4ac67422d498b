// Keeps a directory a client names (AdminService.Checkpoint's `dir`) under a root the
// operator configured (--checkpoint_root).
#ifndef KG_SERVER_SECURITY_CONFINE_H_
#define KG_SERVER_SECURITY_CONFINE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kg {

// `requested` must be absolute and, with every symbolic link of its existing part resolved
// and every "." and ".." applied, strictly inside `root` (also resolved). Returns that
// resolved path; INVALID_ARGUMENT naming `field` otherwise. An empty `root` confines
// nothing (the path is only made absolute and normal).
absl::StatusOr<std::string> ConfineDirectory(absl::string_view root, absl::string_view requested,
                                             absl::string_view field);

}  // namespace kg

#endif  // KG_SERVER_SECURITY_CONFINE_H_
