#include "server/security/confine.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace kg {

absl::StatusOr<std::string> ConfineDirectory(absl::string_view root, absl::string_view requested,
                                             absl::string_view field) {
  namespace fs = std::filesystem;
  fs::path path(std::string{requested});
  if (requested.empty() || !path.is_absolute()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be an absolute directory"));
  }
  if (requested.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": holds a NUL byte"));
  }
  std::error_code ec;
  auto normal = [&ec](const fs::path& p) {
    fs::path n = fs::weakly_canonical(p, ec).lexically_normal();
    return n.has_filename() ? n : n.parent_path();
  };
  fs::path resolved = normal(path);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", requested, " cannot be resolved (", ec.message(), ")"));
  }
  if (root.empty()) return resolved.string();
  fs::path base = normal(fs::path(std::string{root}));
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("--checkpoint_root ", root, " cannot be resolved (", ec.message(), ")"));
  }
  auto [base_end, rest] = std::mismatch(base.begin(), base.end(), resolved.begin(), resolved.end());
  if (base_end != base.end() || rest == resolved.end()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", requested,
                                                   " is not inside the checkpoint root ", root,
                                                   " (--checkpoint_root)"));
  }
  return resolved.string();
}

}  // namespace kg
