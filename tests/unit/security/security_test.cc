// server/security: the token file, the access rules, the authorizer and path confinement.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "server/security/access.h"
#include "server/security/authorizer.h"
#include "server/security/confine.h"
#include "server/security/tls.h"
#include "server/security/tokens.h"

namespace kg {
namespace {

std::string Line(const std::string& token, const std::string& role, const std::string& name) {
  return absl::StrCat("sha256:", Sha256Hex(token), " ", role, " ", name, "\n");
}

std::string Peer() { return "ipv4:10.0.0.1:5555"; }

TEST(TokensTest, HashIsSha256) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(TokensTest, ParsesLinesAndRefusesBadOnes) {
  absl::StatusOr<TokenTable> table =
      ParseTokenFile("# comment\n\n" + Line("t1", "read", "bob") + Line("t2", "admin", "ops"), "f");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 2u);
  EXPECT_EQ(table->at(Sha256Hex("t2")).role, Role::kAdmin);
  for (const auto& [text, expect] : std::vector<std::pair<std::string, std::string>>{
           {"t1 read\n", "f line 1: expected"},
           {"plain:" + std::string(64, 'a') + " read bob\n", "sha256:"},
           {"sha256:" + std::string(63, 'a') + " read bob\n", "64 lowercase hex"},
           {"sha256:" + std::string(64, 'A') + " read bob\n", "64 lowercase hex"},
           {"sha256:" + std::string(64, 'a') + " root bob\n", "role must be"},
           {"sha256:" + std::string(64, 'a') + " read bo\"b\n", "the name"},
           {Line("t", "read", "a") + Line("t", "write", "b"), "line 2: the same hash twice"},
           {"# only comments\n", "no tokens"},
           {"", "no tokens"}}) {
    absl::StatusOr<TokenTable> bad = ParseTokenFile(text, "f");
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_NE(bad.status().message().find(expect), std::string::npos) << bad.status();
  }
}

TEST(TokensTest, ReloadKeepsTheLastGoodTable) {
  std::string path = ::testing::TempDir() + "/tokens.txt";
  std::ofstream(path) << Line("good", "write", "w");
  auto store = TokenStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Lookup("good")->role, Role::kWrite);
  EXPECT_FALSE((*store)->Lookup("other").has_value());
  std::ofstream(path) << "garbage\n";
  EXPECT_FALSE((*store)->Reload(true).ok());
  EXPECT_TRUE((*store)->Lookup("good").has_value());
  std::ofstream(path) << Line("new", "read", "r");
  absl::StatusOr<bool> changed = (*store)->Reload(true);
  ASSERT_TRUE(changed.ok() && *changed);
  EXPECT_FALSE((*store)->Lookup("good").has_value());
  EXPECT_EQ((*store)->Lookup("new")->role, Role::kRead);
  std::filesystem::remove(path);
  EXPECT_FALSE((*store)->Reload(true).ok());
  EXPECT_TRUE((*store)->Lookup("new").has_value());
  EXPECT_FALSE(TokenStore::Open(path).ok());
}

TEST(AccessTest, RulesCoverThePublicServices) {
  EXPECT_TRUE(CheckRulesCover(PublicServices()).ok());
  EXPECT_EQ(RuleFor("/kg.v1.GraphService/GetEntities")->role, Role::kRead);
  EXPECT_EQ(RuleFor("/kg.v1.GraphService/Import")->role, Role::kWrite);
  EXPECT_TRUE(RuleFor("/kg.v1.GraphService/Import")->heavy);
  EXPECT_EQ(RuleFor("/kg.v1.AdminService/Checkpoint")->role, Role::kAdmin);
  EXPECT_FALSE(RuleFor("/kg.v1.GraphService/Unknown").ok());
}

TEST(AuthorizerTest, ChecksTokensAndRoles) {
  std::string path = ::testing::TempDir() + "/roles.txt";
  std::ofstream(path) << Line("r", "read", "reader") << Line("w", "write", "writer");
  auto store = TokenStore::Open(path);
  ASSERT_TRUE(store.ok());
  Authorizer auth(store->get(), CallLimits{});
  const std::string upsert = "/kg.v1.GraphService/UpsertEntities";
  auto code = [&](const std::string& method, std::vector<absl::string_view> values) {
    return auth.Admit(method, values, Peer).status().code();
  };
  EXPECT_EQ(code(upsert, {}), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(upsert, {"Bearer w", "Bearer w"}), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(upsert, {"Basic w"}), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(upsert, {"Bearer "}), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(upsert, {"Bearer w w"}), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(upsert, {"Bearer \x01"}), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(upsert, {"Bearer " + std::string(5000, 'w')}), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(upsert, {"Bearer x"}), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(upsert, {"Bearer r"}), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code(upsert, {"bearer w"}), absl::StatusCode::kOk);
  EXPECT_EQ(code("/kg.v1.GraphService/GetEntities", {"Bearer r"}), absl::StatusCode::kOk);
  EXPECT_EQ(code("/kg.v1.AdminService/TrainModels", {"Bearer w"}),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code("/kg.v1.GraphService/Nope", {"Bearer w"}), absl::StatusCode::kNotFound);
  absl::Status denied = auth.Admit(upsert, {"Bearer r"}, Peer).status();
  EXPECT_NE(denied.message().find("reader"), std::string::npos);
  EXPECT_EQ(denied.message().find("Bearer r"), std::string::npos);
  // Without a token store every caller passes.
  Authorizer open(nullptr, CallLimits{});
  EXPECT_TRUE(open.Admit(upsert, {}, Peer).ok());
}

TEST(AuthorizerTest, BoundsCallsInFlight) {
  Authorizer auth(nullptr, CallLimits{3, 1});
  const std::string traverse = "/kg.v1.GraphService/Traverse";
  const std::string get = "/kg.v1.GraphService/GetEntities";
  absl::StatusOr<CallTicket> heavy = auth.Admit(traverse, {}, Peer);
  ASSERT_TRUE(heavy.ok());
  EXPECT_EQ(auth.Admit(traverse, {}, Peer).status().code(), absl::StatusCode::kResourceExhausted);
  absl::StatusOr<CallTicket> a = auth.Admit(get, {}, Peer);
  absl::StatusOr<CallTicket> b = auth.Admit(get, {}, Peer);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(auth.calls_in_flight(), 3);
  EXPECT_EQ(auth.Admit(get, {}, Peer).status().code(), absl::StatusCode::kResourceExhausted);
  *heavy = CallTicket();  // released
  EXPECT_EQ(auth.calls_in_flight(), 2);
  CallTicket moved = *std::move(a);
  EXPECT_EQ(auth.calls_in_flight(), 2);
  absl::StatusOr<CallTicket> again = auth.Admit(traverse, {}, Peer);
  EXPECT_TRUE(again.ok());
  moved.Release();
  again->Release();
  b->Release();
  EXPECT_EQ(auth.calls_in_flight(), 0);
}

TEST(ConfineTest, KeepsPathsUnderTheRoot) {
  namespace fs = std::filesystem;
  std::string base = ::testing::TempDir() + "/confine";
  fs::remove_all(base);
  fs::create_directories(base + "/root/sub");
  fs::create_directories(base + "/out");
  fs::create_directory_symlink(base + "/out", base + "/root/link");
  std::string root = base + "/root";
  EXPECT_TRUE(ConfineDirectory(root, root + "/new", "dir").ok());
  EXPECT_TRUE(ConfineDirectory(root, root + "/sub/../x/", "dir").ok());
  for (const std::string& bad :
       {root, root + "/..", root + "/../out", root + "/link/x", base + "/rootx", std::string("rel"),
        std::string(""), base + "/out"}) {
    absl::StatusOr<std::string> r = ConfineDirectory(root, bad, "dir");
    EXPECT_FALSE(r.ok()) << bad << " -> " << (r.ok() ? *r : "");
    if (!r.ok()) {
      EXPECT_EQ(r.status().message().rfind("dir: ", 0), 0u) << r.status();
    }
  }
  EXPECT_TRUE(ConfineDirectory("", base + "/anywhere", "dir").ok());
  fs::remove_all(base);
}

TEST(TlsTest, RefusesFilesThatAreNotPem) {
  std::string path = ::testing::TempDir() + "/not.pem";
  std::ofstream(path) << "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  TlsFiles files;
  files.cert = path;
  files.key = path;
  absl::Status s = CheckTlsFiles(files);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--tls_cert " + path), std::string::npos) << s;
  files.cert = "";
  EXPECT_NE(CheckTlsFiles(files).message().find("give both or neither"), std::string::npos);
  files.key = "";
  files.ca = ::testing::TempDir() + "/missing.pem";
  EXPECT_NE(CheckTlsFiles(files).message().find("cannot be read"), std::string::npos);
}

}  // namespace
}  // namespace kg
