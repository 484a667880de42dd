// Which CA certificates sealift trusts (registry/trust.h): --ca-file, then SSL_CERT_FILE and
// SSL_CERT_DIR, then the system's bundle wherever the distribution keeps it. The handshakes with
// each choice are in http_test.cc (Tls.*); these check the order and the probing.
#include "registry/trust.h"

#include <gtest/gtest.h>

#include "env/process.h"
#include "util/fs.h"

namespace sealift::registry {
namespace {

namespace fs = std::filesystem;

TEST(Trust, CaFileWinsOverTheEnvironmentAndTheSystem) {
  Trust t = choose_trust("/site/harbor-ca.pem", "/env/file.pem", "/env/dir", system_ca_bundles());
  EXPECT_EQ(t.file, "/site/harbor-ca.pem");
  EXPECT_TRUE(t.dir.empty()) << "--ca-file alone is trusted, not SSL_CERT_DIR beside it";
  EXPECT_EQ(t.describe(), "/site/harbor-ca.pem (--ca-file)");
}

TEST(Trust, SslCertFileAndDirAreTakenAsTheySay) {
  Trust file = choose_trust({}, "/env/file.pem", nullptr, system_ca_bundles());
  EXPECT_EQ(file.file, "/env/file.pem");
  EXPECT_TRUE(file.dir.empty());
  EXPECT_EQ(file.describe(), "/env/file.pem (SSL_CERT_FILE)");
  Trust dir = choose_trust({}, "", "/env/dir", system_ca_bundles());
  EXPECT_TRUE(dir.file.empty()) << "an empty SSL_CERT_FILE is unset";
  EXPECT_EQ(dir.describe(), "/env/dir (SSL_CERT_DIR)");
  Trust both = choose_trust({}, "/env/file.pem", "/env/dir", system_ca_bundles());
  EXPECT_EQ(both.describe(), "/env/file.pem and /env/dir (SSL_CERT_FILE and SSL_CERT_DIR)");
}

// The probe takes the first bundle that exists, in the order of system_ca_bundles(): a RHEL-like
// root has only the second.
TEST(Trust, TheFirstSystemBundleThatExistsIsUsed) {
  testenv::TempDir root("sealift-trust");
  std::vector<fs::path> bundles;
  for (const auto& p : system_ca_bundles()) bundles.push_back(root.path() / p.relative_path());
  EXPECT_EQ(choose_trust({}, nullptr, nullptr, bundles).origin, "") << "nothing there: libcurl's default";
  EXPECT_NE(choose_trust({}, nullptr, nullptr, bundles).describe().find("no CA bundle found (looked for "
                                                                         "/etc/ssl/certs/ca-certificates.crt, "),
            std::string::npos);
  fs::create_directories(bundles[4].parent_path());
  util::write_file_atomic(bundles[4], "alpine");
  fs::create_directories(bundles[1].parent_path());
  util::write_file_atomic(bundles[1], "rhel");
  Trust t = choose_trust({}, nullptr, nullptr, bundles);
  EXPECT_EQ(t.file, bundles[1]);
  EXPECT_EQ(t.origin, "the system's CA bundle");
  EXPECT_EQ(system_ca_bundles()[1], "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem");
}

// This machine is Debian: its bundle is found without any setting.
TEST(Trust, FindsThisMachinesBundle) {
  testenv::ScopedEnv file("SSL_CERT_FILE", std::nullopt);
  testenv::ScopedEnv dir("SSL_CERT_DIR", std::nullopt);
  ASSERT_TRUE(fs::exists("/etc/ssl/certs/ca-certificates.crt")) << "the test expects a Debian host";
  EXPECT_EQ(find_trust({}).describe(), "/etc/ssl/certs/ca-certificates.crt (the system's CA bundle)");
}

}  // namespace
}  // namespace sealift::registry
