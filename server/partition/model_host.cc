#include "server/partition/model_host.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kg {
namespace {

constexpr uint64_t kMaxBundleBytes = 2ull << 30;

std::string BundlePath(const std::string& dir) { return dir + "/bundle"; }

// Writes `bytes` to `path` durably: a temporary file, fsync, rename, fsync of the directory.
absl::Status WriteDurably(const std::string& path, const std::string& bytes) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return absl::UnavailableError(absl::StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  std::string parent = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ModelHost::Load() {
  if (dir_.empty()) return absl::OkStatus();
  std::string path = BundlePath(dir_);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return absl::OkStatus();
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  if (!in.good() && !in.eof()) return absl::UnavailableError(absl::StrCat("cannot read ", path));
  absl::StatusOr<knowledge::ModelBundle> bundle = knowledge::DecodeBundle(bytes, path);
  if (!bundle.ok()) return bundle.status();
  absl::MutexLock lock(&mu_);
  bundle_ = std::make_shared<const knowledge::ModelBundle>(std::move(*bundle));
  return absl::OkStatus();
}

std::shared_ptr<const knowledge::ModelBundle> ModelHost::current() const {
  absl::MutexLock lock(&mu_);
  return bundle_;
}

std::string ModelHost::version() const {
  std::shared_ptr<const knowledge::ModelBundle> b = current();
  return b == nullptr ? "" : b->version;
}

absl::Status ModelHost::Persist(const std::string& bytes) const {
  if (dir_.empty()) return absl::OkStatus();
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir_, ": ", ec.message()));
  return WriteDurably(BundlePath(dir_), bytes);
}

absl::Status ModelHost::Install(const std::string& bytes) {
  absl::StatusOr<knowledge::ModelBundle> bundle = knowledge::DecodeBundle(bytes, "(installed)");
  if (!bundle.ok()) return bundle.status();
  absl::Status persisted = Persist(bytes);
  if (!persisted.ok()) return persisted;
  auto next = std::make_shared<const knowledge::ModelBundle>(std::move(*bundle));
  absl::MutexLock lock(&mu_);
  bundle_ = std::move(next);
  return absl::OkStatus();
}

absl::Status ModelHost::InstallChunk(const internal::v1::InstallBundleRequest& req,
                                     internal::v1::InstallBundleResponse* resp) {
  absl::MutexLock lock(&install_mu_);
  if (req.version().empty()) return absl::InvalidArgumentError("version: required");
  if (req.total_bytes() == 0 || req.total_bytes() > kMaxBundleBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("total_bytes: must be 1..", kMaxBundleBytes, ", got ", req.total_bytes()));
  }
  if (req.offset() == 0) {
    pending_version_ = req.version();
    pending_.clear();
    pending_.reserve(req.total_bytes());
  }
  if (req.version() != pending_version_ || req.offset() != pending_.size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "offset: expected ", pending_.size(), " of bundle ", pending_version_, ", got ",
        req.offset(), " of ", req.version(), " (start again from offset 0)"));
  }
  if (pending_.size() + req.data().size() > req.total_bytes()) {
    return absl::InvalidArgumentError("data: more bytes than total_bytes");
  }
  pending_.append(req.data());
  if (req.last()) {
    std::string bytes = std::move(pending_);
    pending_.clear();
    pending_version_.clear();
    if (bytes.size() != req.total_bytes()) {
      return absl::InvalidArgumentError(
          absl::StrCat("last: ", bytes.size(), " bytes received of ", req.total_bytes()));
    }
    absl::Status installed = Install(bytes);
    if (!installed.ok()) return installed;
  }
  resp->set_model_version(version());
  return absl::OkStatus();
}

}  // namespace kg
