// ModelHost: the model bundle a server serves, shared by all the partitions it hosts
// (AdminService.TrainModels builds it; docs/KNOWLEDGE.md). Installed whole (the embedded
// mode) or in chunks over the internal API (the split mode); with a directory it is
// persisted there (`<dir>/bundle`, replaced atomically) and loaded at start-up.
// Thread-safe: a new bundle is swapped in atomically, and a call keeps the bundle it
// started with until it finishes.
#ifndef KG_SERVER_PARTITION_MODEL_HOST_H_
#define KG_SERVER_PARTITION_MODEL_HOST_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "kg/internal/v1/partition.pb.h"
#include "server/knowledge/bundle.h"

namespace kg {

class ModelHost {
 public:
  // `dir`: where the bundle is kept; empty keeps it in memory only.
  explicit ModelHost(std::string dir) : dir_(std::move(dir)) {}

  // Loads `<dir>/bundle` when there is one. DATA_LOSS naming the file when it is damaged
  // (it is then not served).
  absl::Status Load();

  // The bundle in service, or null before the first one.
  std::shared_ptr<const knowledge::ModelBundle> current() const;
  std::string version() const;

  // Verifies an encoded bundle, persists it (with a directory) and swaps it in.
  absl::Status Install(const std::string& bytes);
  // One chunk of a bundle (InstallBundle): chunks must arrive in order from offset 0; the
  // last installs. A chunk of another version or offset restarts (or is refused).
  absl::Status InstallChunk(const internal::v1::InstallBundleRequest& req,
                            internal::v1::InstallBundleResponse* resp);

 private:
  absl::Status Persist(const std::string& bytes) const;

  const std::string dir_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const knowledge::ModelBundle> bundle_ ABSL_GUARDED_BY(mu_);
  absl::Mutex install_mu_;  // one installation at a time
  std::string pending_version_ ABSL_GUARDED_BY(install_mu_);
  std::string pending_ ABSL_GUARDED_BY(install_mu_);
};

}  // namespace kg

#endif  // KG_SERVER_PARTITION_MODEL_HOST_H_
