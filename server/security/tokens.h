// The bearer-token file of --auth_tokens and the roles it grants.
//
// Format (docs/SECURITY.md): one token per line, `sha256:<64 hex digits> <role> <name>`,
// where the hash is SHA-256 of the token's bytes, role is read, write or admin, and name
// says whose token it is (logged instead of the token). Blank lines and lines starting with
// '#' are ignored. The file never holds a token in clear.
#ifndef KG_SERVER_SECURITY_TOKENS_H_
#define KG_SERVER_SECURITY_TOKENS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace kg {

// Each role includes the ones before it: admin can do what write can, write what read can.
enum class Role : uint8_t { kNone = 0, kRead = 1, kWrite = 2, kAdmin = 3 };

absl::string_view RoleName(Role role);
// "read", "write" or "admin"; INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<Role> ParseRole(absl::string_view text, absl::string_view field);

// Lowercase hex SHA-256 of `bytes`.
std::string Sha256Hex(absl::string_view bytes);

struct TokenGrant {
  Role role = Role::kNone;
  std::string name;
};

// Token hash (64 lowercase hex digits) -> grant.
using TokenTable = absl::flat_hash_map<std::string, TokenGrant>;

// Parses a token file's text; errors name `source` and the line. An empty table is an
// error (a file that grants nothing refuses every call, which is never what was meant).
absl::StatusOr<TokenTable> ParseTokenFile(absl::string_view text, absl::string_view source);

// The token file, re-read on Reload(). A reload that fails keeps the last good table.
class TokenStore {
 public:
  // Reads `path`; fails (naming the file) when it cannot be read or parsed.
  static absl::StatusOr<std::unique_ptr<TokenStore>> Open(const std::string& path);

  // Re-reads the file if its size or modification time changed (or always with `force`);
  // true when a new table is in force. On failure the previous table stays in force and the
  // error is returned (once per version of the file).
  absl::StatusOr<bool> Reload(bool force);

  // The grant of `token` (the bearer value, not its hash), if any.
  std::optional<TokenGrant> Lookup(absl::string_view token) const;

  const std::string& path() const { return path_; }

 private:
  explicit TokenStore(std::string path) : path_(std::move(path)) {}

  const std::string path_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const TokenTable> table_ ABSL_GUARDED_BY(mu_);
  int64_t mtime_ns_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t size_ ABSL_GUARDED_BY(mu_) = -1;
};

}  // namespace kg

#endif  // KG_SERVER_SECURITY_TOKENS_H_
