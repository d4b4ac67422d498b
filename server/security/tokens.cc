#include "server/security/tokens.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kg {

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kRead:
      return "read";
    case Role::kWrite:
      return "write";
    case Role::kAdmin:
      return "admin";
    case Role::kNone:
      break;
  }
  return "none";
}

absl::StatusOr<Role> ParseRole(absl::string_view text, absl::string_view field) {
  if (text == "read") return Role::kRead;
  if (text == "write") return Role::kWrite;
  if (text == "admin") return Role::kAdmin;
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": role must be read, write or admin, not \"", text, "\""));
}

std::string Sha256Hex(absl::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

absl::StatusOr<TokenTable> ParseTokenFile(absl::string_view text, absl::string_view source) {
  TokenTable table;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    auto where = [&] { return absl::StrCat(source, " line ", line_number); };
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 3) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), ": expected `sha256:<hex> <role> <name>` (3 fields), got ", fields.size()));
    }
    absl::string_view hash = fields[0];
    if (!absl::ConsumePrefix(&hash, "sha256:")) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(),
                       ": the hash must start with sha256: (tokens are never stored "
                       "in clear; `kgctl token new` prints a line)"));
    }
    if (hash.size() != 64 || !std::all_of(hash.begin(), hash.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        })) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), ": the hash must be 64 lowercase hex digits"));
    }
    absl::StatusOr<Role> role = ParseRole(fields[1], where());
    if (!role.ok()) return role.status();
    bool name_ok = std::all_of(fields[2].begin(), fields[2].end(), [](char c) {
      return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '@';
    });
    if (!name_ok || fields[2].size() > 64) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), ": the name may hold up to 64 letters, digits and - _ . @"));
    }
    if (!table.emplace(std::string(hash), TokenGrant{*role, std::string(fields[2])}).second) {
      return absl::InvalidArgumentError(absl::StrCat(where(), ": the same hash twice"));
    }
  }
  if (table.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source,
                                                   ": no tokens (every call would be "
                                                   "refused)"));
  }
  return table;
}

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::Open(const std::string& path) {
  std::unique_ptr<TokenStore> store(new TokenStore(path));
  absl::StatusOr<bool> loaded = store->Reload(true);
  if (!loaded.ok()) return loaded.status();
  return store;
}

absl::StatusOr<bool> TokenStore::Reload(bool force) {
  struct stat st;
  if (stat(path_.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("--auth_tokens ", path_, ": cannot be read"));
  }
  int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  {
    absl::MutexLock lock(&mu_);
    if (!force && mtime_ns == mtime_ns_ && st.st_size == size_) return false;
    // Remember the version seen, good or bad, so a broken file is reported once.
    mtime_ns_ = mtime_ns;
    size_ = st.st_size;
  }
  std::ifstream in(path_, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return absl::NotFoundError(absl::StrCat("--auth_tokens ", path_, ": cannot be read"));
  absl::StatusOr<TokenTable> table =
      ParseTokenFile(text.str(), absl::StrCat("--auth_tokens ", path_));
  if (!table.ok()) return table.status();
  auto shared = std::make_shared<const TokenTable>(*std::move(table));
  absl::MutexLock lock(&mu_);
  table_ = std::move(shared);
  return true;
}

std::optional<TokenGrant> TokenStore::Lookup(absl::string_view token) const {
  std::shared_ptr<const TokenTable> table;
  {
    absl::MutexLock lock(&mu_);
    table = table_;
  }
  if (table == nullptr) return std::nullopt;
  auto it = table->find(Sha256Hex(token));
  if (it == table->end()) return std::nullopt;
  return it->second;
}

}  // namespace kg
