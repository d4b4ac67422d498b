#include "server/security/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace kg {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return absl::NotFoundError(absl::StrCat("--", flag, " ", path, ": cannot be read"));
  return text.str();
}

std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "not PEM";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

BioPtr MemBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of `pem`, checked to be valid now.
absl::StatusOr<X509Ptr> ParseCertificate(const std::string& pem, const std::string& what) {
  BioPtr bio = MemBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": not a PEM certificate (", OpenSslError(), ")"));
  }
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the certificate has expired"));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(cert.get())) >= 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the certificate is not valid yet"));
  }
  return cert;
}

struct Pems {
  std::string cert, key, ca;
};

absl::StatusOr<Pems> ReadAndCheck(const TlsFiles& files) {
  const std::string& p = files.flag_prefix;
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", p, "_cert and --", p, "_key: give both or neither"));
  }
  Pems pems;
  if (!files.cert.empty()) {
    std::string cert_what = absl::StrCat("--", p, "_cert ", files.cert);
    std::string key_what = absl::StrCat("--", p, "_key ", files.key);
    absl::StatusOr<std::string> cert = ReadFile(files.cert, absl::StrCat(p, "_cert"));
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(files.key, absl::StrCat(p, "_key"));
    if (!key.ok()) return key.status();
    absl::StatusOr<X509Ptr> x509 = ParseCertificate(*cert, cert_what);
    if (!x509.ok()) return x509.status();
    BioPtr bio = MemBio(*key);
    KeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (pkey == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(key_what, ": not a PEM private key (", OpenSslError(), ")"));
    }
    if (X509_check_private_key(x509->get(), pkey.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat(key_what, ": does not match the certificate ", files.cert));
    }
    pems.cert = *std::move(cert);
    pems.key = *std::move(key);
  }
  if (!files.ca.empty()) {
    std::string ca_what = absl::StrCat("--", files.ca_flag, " ", files.ca);
    absl::StatusOr<std::string> ca = ReadFile(files.ca, files.ca_flag);
    if (!ca.ok()) return ca.status();
    absl::StatusOr<X509Ptr> x509 = ParseCertificate(*ca, ca_what);
    if (!x509.ok()) return x509.status();
    pems.ca = *std::move(ca);
  }
  if (pems.cert.empty() && pems.ca.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", p, "_*: no certificate given"));
  }
  return pems;
}

std::string Stamp(const TlsFiles& files) {
  std::string stamp;
  for (const std::string* path : {&files.cert, &files.key, &files.ca}) {
    struct stat st;
    if (path->empty() || stat(path->c_str(), &st) != 0) {
      absl::StrAppend(&stamp, "-;");
      continue;
    }
    absl::StrAppend(&stamp, st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ";");
  }
  return stamp;
}

absl::Status WriteAtomically(const std::string& dir, const std::string& name,
                             const std::string& text) {
  std::string tmp = absl::StrCat(dir, "/.", name);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), absl::StrCat(dir, "/", name).c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot write ", dir, "/", name));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckTlsFiles(const TlsFiles& files) { return ReadAndCheck(files).status(); }

absl::StatusOr<std::unique_ptr<TlsFileWatcher>> TlsFileWatcher::Start(TlsFiles files) {
  if (files.reload_interval_s < 1) files.reload_interval_s = 1;
  std::string pattern = (fs::temp_directory_path() / "kg-tls-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::UnavailableError("cannot make a private directory for the TLS files");
  }
  std::unique_ptr<TlsFileWatcher> watcher(new TlsFileWatcher(std::move(files), pattern));
  absl::StatusOr<bool> copied = watcher->CheckAndCopy(true);
  if (!copied.ok()) return copied.status();
  const TlsFiles& f = watcher->files_;
  const std::string& d = watcher->dir_;
  std::string key = f.cert.empty() ? "" : d + "/key.pem";
  std::string cert = f.cert.empty() ? "" : d + "/cert.pem";
  std::string ca = f.ca.empty() ? "" : d + "/ca.pem";
  watcher->provider_ = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      key, cert, ca, f.reload_interval_s);
  return watcher;
}

TlsFileWatcher::~TlsFileWatcher() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

absl::StatusOr<bool> TlsFileWatcher::Refresh() { return CheckAndCopy(false); }

absl::StatusOr<bool> TlsFileWatcher::CheckAndCopy(bool force) {
  absl::MutexLock lock(&mu_);
  std::string stamp = Stamp(files_);
  if (!force && stamp == stamp_) return false;
  stamp_ = stamp;  // a bad set is reported once, not every interval
  absl::StatusOr<Pems> pems = ReadAndCheck(files_);
  if (!pems.ok()) return pems.status();
  // The key first: gRPC re-reads a pair whose files changed while it read them.
  if (!pems->cert.empty()) {
    absl::Status s = WriteAtomically(dir_, "key.pem", pems->key);
    if (s.ok()) s = WriteAtomically(dir_, "cert.pem", pems->cert);
    if (!s.ok()) return s;
    chmod((dir_ + "/key.pem").c_str(), 0600);
  }
  if (!pems->ca.empty()) {
    absl::Status s = WriteAtomically(dir_, "ca.pem", pems->ca);
    if (!s.ok()) return s;
  }
  return true;
}

std::shared_ptr<grpc::ServerCredentials> TlsFileWatcher::ServerCredentials() const {
  grpc::experimental::TlsServerCredentialsOptions options(provider_);
  options.watch_identity_key_cert_pairs();
  if (!files_.ca.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> TlsFileWatcher::ChannelCredentials() const {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider_);
  if (!files_.ca.empty()) options.watch_root_certs();
  if (!files_.cert.empty()) options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace kg
