// `sealift-bundle keygen`, run as users run it.
#include <sys/stat.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "env/process.h"
#include "sign/key.h"
#include "sign/pem.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::sign {
namespace {

namespace fs = std::filesystem;
using testenv::run;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(stat(p.c_str(), &st), 0);
  return st.st_mode & 0777;
}

// Runs keygen with COSIGN_PASSWORD removed from the environment unless `password` is given.
testenv::RunResult keygen(std::vector<std::string> args, const char* password = nullptr) {
  std::vector<std::string> argv = {"env", "-u", "COSIGN_PASSWORD"};
  if (password) argv.push_back(std::string("COSIGN_PASSWORD=") + password);
  argv.push_back(testenv::bundle_program());
  argv.push_back("keygen");
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

TEST(Keygen, WritesAnEncryptedKeyAndPublicKeyWithCosignsModes) {
  testenv::TempDir dir;
  auto r = keygen({"--dir", dir.path().string()}, "correct horse");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Private key written to " + (dir / "cosign.key").string()), std::string::npos);
  EXPECT_EQ(r.out.find("correct horse"), std::string::npos);
  EXPECT_EQ(r.err.find("correct horse"), std::string::npos);
  EXPECT_EQ(mode_of(dir / "cosign.key"), 0600u);
  EXPECT_EQ(mode_of(dir / "cosign.pub"), 0644u);
  std::string key = util::read_file(dir / "cosign.key");
  EXPECT_EQ(key.rfind("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n", 0), 0u);
  PrivateKey k = PrivateKey::from_file(dir / "cosign.key", Secret::copy_of("correct horse"));
  EXPECT_EQ(k.type(), KeyType::EcdsaP256);
  EXPECT_EQ(PublicKey::from_file(dir / "cosign.pub").der(), k.public_key().der());
  EXPECT_THROW(PrivateKey::from_file(dir / "cosign.key", Secret::copy_of("wrong")), Error);
  // No temporary files left beside them.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2);
}

TEST(Keygen, JsonSaysWhatWasWrittenAndQuietSaysNothing) {
  testenv::TempDir dir;
  auto r = keygen({"--dir", dir.path().string(), "--json"}, "x");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("privateKey"), (dir / "cosign.key").string());
  EXPECT_EQ(j.at("publicKey"), (dir / "cosign.pub").string());
  EXPECT_EQ(j.at("fingerprint"), PublicKey::from_file(dir / "cosign.pub").fingerprint());

  auto quiet = keygen({"--output-prefix", (dir / "quiet").string(), "-q"}, "x");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.out, "");
  EXPECT_EQ(quiet.err, "");
  EXPECT_TRUE(fs::exists(dir / "quiet.key"));

  // --json wins over --quiet; errors still go to stderr.
  auto both = keygen({"--output-prefix", (dir / "both").string(), "--quiet", "--json"}, "x");
  ASSERT_EQ(both.exit_code, 0) << both.err;
  EXPECT_EQ(nlohmann::json::parse(both.out).at("publicKey"), (dir / "both.pub").string());
  auto refused = keygen({"--dir", dir.path().string(), "--quiet"}, "x");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_EQ(refused.out, "");
  EXPECT_NE(refused.err.find("cosign.key already exists"), std::string::npos) << refused.err;
}

TEST(Keygen, RefusesToOverwriteWithoutForce) {
  testenv::TempDir dir;
  ASSERT_EQ(keygen({"--dir", dir.path().string()}, "a").exit_code, 0);
  std::string before = util::read_file(dir / "cosign.key");
  auto again = keygen({"--dir", dir.path().string()}, "b");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("cosign.key already exists; not overwriting it"), std::string::npos) << again.err;
  EXPECT_EQ(util::read_file(dir / "cosign.key"), before);
  // Only the public key present: still refused, and nothing written.
  fs::remove(dir / "cosign.key");
  EXPECT_EQ(keygen({"--dir", dir.path().string()}, "b").exit_code, 2);
  EXPECT_FALSE(fs::exists(dir / "cosign.key"));
  auto forced = keygen({"--dir", dir.path().string(), "--force"}, "b");
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NO_THROW(PrivateKey::from_file(dir / "cosign.key", Secret::copy_of("b")));
  EXPECT_EQ(mode_of(dir / "cosign.key"), 0600u);
}

TEST(Keygen, OutputPrefixKeyTypeLegacyFormatAndEmptyPassword) {
  testenv::TempDir dir;
  auto r = keygen({"--output-prefix", (dir / "release").string(), "--key-type", "ed25519", "--legacy-format"}, "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string text = util::read_file(dir / "release.key");
  EXPECT_EQ(pem_decode(text, "k").label, "ENCRYPTED COSIGN PRIVATE KEY");
  EXPECT_NE(pem_decode(text, "k").body.find(R"("N":32768)"), std::string::npos);
  PrivateKey k = PrivateKey::from_file(dir / "release.key", Secret());
  EXPECT_EQ(k.type(), KeyType::Ed25519);
  EXPECT_EQ(PublicKey::from_file(dir / "release.pub").der(), k.public_key().der());
}

TEST(Keygen, ReadsThePasswordFile) {
  testenv::TempDir dir;
  util::write_file_atomic(dir / "pw", "from a file\n", 0600);
  auto r = keygen({"--dir", dir.path().string(), "--password-file", (dir / "pw").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NO_THROW(PrivateKey::from_file(dir / "cosign.key", Secret::copy_of("from a file")));
}

TEST(Keygen, FailsClearlyWithoutAPasswordSource) {
  testenv::TempDir dir;
  auto r = keygen({"--dir", dir.path().string()});  // stdin is a pipe, not a terminal
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no password: set COSIGN_PASSWORD or --password-file"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "cosign.key"));
  EXPECT_FALSE(fs::exists(dir / "cosign.pub"));
}

TEST(Keygen, CreatesAMissingDirectory) {
  testenv::TempDir dir;
  auto r = keygen({"--dir", (dir / "keys" / "vendor").string()}, "x");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "keys" / "vendor" / "cosign.key"));
  EXPECT_TRUE(fs::exists(dir / "keys" / "vendor" / "cosign.pub"));
}

TEST(Keygen, ADirectoryThatCannotBeMadeIsAnIoErrorAndLeavesNothing) {
  testenv::TempDir dir;
  util::write_file_atomic(dir / "plain-file", "not a directory");
  auto r = keygen({"--dir", (dir / "plain-file" / "keys").string()}, "x");
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_NE(r.err.find("cannot create " + (dir / "plain-file" / "keys").string()), std::string::npos) << r.err;
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(Keygen, RejectsBadFlags) {
  testenv::TempDir dir;
  EXPECT_NE(keygen({"--dir", dir.path().string(), "--key-type", "rsa"}, "x").exit_code, 0);
  EXPECT_NE(keygen({"--dir", dir.path().string(), "--output-prefix", "x"}, "x").exit_code, 0);
  EXPECT_FALSE(fs::exists(dir / "cosign.key"));
}

// util-linux `script` gives keygen a pseudo-terminal, so it prompts on /dev/tty as for a user.
TEST(Keygen, PromptsTwiceOnATerminal) {
  testenv::TempDir dir;
  std::string cmd = testenv::bundle_program() + " keygen --dir " + dir.path().string();
  auto ok = run({"env", "-u", "COSIGN_PASSWORD", "script", "-qec", cmd, "/dev/null"}, {}, "typed pw\ntyped pw\n");
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("Enter password for private key: "), std::string::npos);
  EXPECT_NE(ok.out.find("Enter password for private key again: "), std::string::npos);
  EXPECT_NO_THROW(PrivateKey::from_file(dir / "cosign.key", Secret::copy_of("typed pw")));

  testenv::TempDir other;
  std::string cmd2 = testenv::bundle_program() + " keygen --dir " + other.path().string();
  auto mismatch = run({"env", "-u", "COSIGN_PASSWORD", "script", "-qec", cmd2, "/dev/null"}, {}, "one\ntwo\n");
  EXPECT_EQ(mismatch.exit_code, 2);
  EXPECT_NE(mismatch.out.find("the passwords do not match"), std::string::npos) << mismatch.out;
  EXPECT_FALSE(fs::exists(other / "cosign.key"));
}

}  // namespace
}  // namespace sealift::sign
