// TLS and mTLS credentials from PEM files, for the public port (--tls_cert, --tls_key,
// --tls_client_ca) and for the front end's links to the partition servers
// (--partition_tls_ca, --partition_tls_cert, --partition_tls_key).
//
// The files are checked when the server starts (readable PEM, the key matches the
// certificate, the certificate valid now): a problem refuses the start, naming the flag and
// the file. Afterwards Refresh() (on SIGHUP and every --tls_reload_interval_s) re-checks
// files that changed: a good new set is copied into a private directory that gRPC watches
// and used for new connections; a bad one is logged and the last good set stays in use.
#ifndef KG_SERVER_SECURITY_TLS_H_
#define KG_SERVER_SECURITY_TLS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace kg {

struct TlsFiles {
  // The flag names' common prefix, for messages: "tls" or "partition_tls".
  std::string flag_prefix = "tls";
  // The flag naming `ca`, for messages.
  std::string ca_flag = "tls_client_ca";
  std::string cert;  // this side's certificate chain (PEM); empty: none
  std::string key;   // its private key (PEM); with cert
  std::string ca;    // certificates trusted to sign the other side's (PEM); empty: none
  // How often gRPC re-reads the checked copies (seconds, >= 1).
  unsigned reload_interval_s = 10;
};

class TlsFileWatcher {
 public:
  // Checks the files and makes the first copies. cert and key go together; at least one of
  // cert or ca is needed.
  static absl::StatusOr<std::unique_ptr<TlsFileWatcher>> Start(TlsFiles files);
  ~TlsFileWatcher();

  // Re-checks files whose size or modification time changed; copies a good set for gRPC
  // (true: a new set is in use). On a bad one returns the problem (once per version of the
  // files) and keeps the last good set. Thread-safe.
  absl::StatusOr<bool> Refresh();

  // Server credentials: serve `cert`/`key`; with `ca`, require client certificates signed
  // by it (mTLS).
  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const;
  // Channel credentials: verify the server against `ca` (and its name against the target
  // address); with `cert`/`key`, present them (mTLS).
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials() const;

 private:
  TlsFileWatcher(TlsFiles files, std::string dir)
      : files_(std::move(files)), dir_(std::move(dir)) {}
  absl::StatusOr<bool> CheckAndCopy(bool force);

  const TlsFiles files_;
  const std::string dir_;  // private copies gRPC reads
  std::shared_ptr<grpc::experimental::FileWatcherCertificateProvider> provider_;
  absl::Mutex mu_;
  std::string stamp_ ABSL_GUARDED_BY(mu_);  // sizes and times of the files last checked
};

// Checks PEM files as Start() does (exposed for tests and tools): `cert` parses, `key`
// parses and matches it, the certificate is valid now; `ca` holds at least one certificate.
absl::Status CheckTlsFiles(const TlsFiles& files);

}  // namespace kg

#endif  // KG_SERVER_SECURITY_TLS_H_
