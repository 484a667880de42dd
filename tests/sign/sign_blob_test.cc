// `sealift-bundle sign-blob` / `public-key` and `sealift-install verify-blob`, run as users run them,
// against the real cosign v2.6.4 and v3.1.3 and the openssl one-liner a site without cosign uses.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "env/process.h"
#include "env/softhsm.h"
#include "sign/key.h"
#include "util/fs.h"

namespace sealift::sign {
namespace {

namespace fs = std::filesystem;
using testenv::RunResult;
using testenv::run;

// The four verifiers a signed file meets: cosign 2 and 3 (offline), openssl, sealift-install.
struct Verdicts {
  bool cosign2, cosign3, openssl, sealift;
};

Verdicts verify_all(const fs::path& home, const fs::path& pub, const fs::path& sig, const fs::path& file) {
  Verdicts v{};
  std::map<std::string, std::string> env = {{"HOME", home.string()}};
  for (const std::string cosign : {"cosign", "cosign3"}) {
    RunResult r = run({testenv::peer(cosign), "verify-blob", "--key", pub.string(), "--signature", sig.string(),
                       "--insecure-ignore-tlog=true", file.string()},
                      env);
    if (r.exit_code == 0) {
      EXPECT_NE(r.err.find("Verified OK"), std::string::npos) << cosign << said(r);
    }
    (cosign == "cosign" ? v.cosign2 : v.cosign3) = r.exit_code == 0;
  }
  RunResult o = run({"bash", "-c", "openssl dgst -sha256 -verify \"$1\" -signature <(base64 -d \"$2\") \"$3\"", "verify",
                     pub.string(), sig.string(), file.string()});
  if (o.exit_code == 0) {
    EXPECT_EQ(o.out, "Verified OK\n") << said(o);
  }
  v.openssl = o.exit_code == 0;
  RunResult s = run({testenv::install_program(), "verify-blob", "--key", pub.string(), "--signature", sig.string(),
                     file.string()});
  if (s.exit_code != 0) {
    EXPECT_EQ(s.exit_code, 4) << said(s);
  }
  v.sealift = s.exit_code == 0;
  return v;
}

TEST(SignBlob, CosignOpensslAndSealiftAcceptTheSignatureAndRejectAFlippedByte) {
  testenv::TempDir dir("sealift-sign-blob");
  std::map<std::string, std::string> pw = {{"COSIGN_PASSWORD", "release pw"}};
  RunResult k = run({testenv::bundle_program(), "keygen", "--output-prefix", (dir / "release").string()}, pw);
  ASSERT_EQ(k.exit_code, 0) << said(k);
  fs::remove(dir / "release.pub");  // made again from the key below
  std::string sums;
  for (int i = 0; i < 200; ++i) sums += std::string(64, "0123456789abcdef"[i % 16]) + "  sealift-" + std::to_string(i) + ".tar.gz\n";
  util::write_file_atomic(dir / "SHA256SUMS", sums);

  RunResult p = run({testenv::bundle_program(), "public-key", "--key", (dir / "release.key").string(), "-o",
                     (dir / "release.pub").string()},
                    pw);
  ASSERT_EQ(p.exit_code, 0) << said(p);
  EXPECT_EQ(PublicKey::from_file(dir / "release.pub").der(),
            PrivateKey::from_file(dir / "release.key", Secret::copy_of("release pw")).public_key().der());

  RunResult s = run({testenv::bundle_program(), "sign-blob", "--key", (dir / "release.key").string(),
                     (dir / "SHA256SUMS").string(), "--output-signature", (dir / "SHA256SUMS.sig").string()},
                    pw);
  ASSERT_EQ(s.exit_code, 0) << said(s);
  EXPECT_EQ(s.out.find("release pw"), std::string::npos);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 4) << "no temporary file left";

  Verdicts good = verify_all(dir.path(), dir / "release.pub", dir / "SHA256SUMS.sig", dir / "SHA256SUMS");
  EXPECT_TRUE(good.cosign2);
  EXPECT_TRUE(good.cosign3);
  EXPECT_TRUE(good.openssl);
  EXPECT_TRUE(good.sealift);

  std::string flipped = sums;
  flipped[1000] ^= 0x01;
  util::write_file_atomic(dir / "SHA256SUMS.altered", flipped);
  Verdicts bad = verify_all(dir.path(), dir / "release.pub", dir / "SHA256SUMS.sig", dir / "SHA256SUMS.altered");
  EXPECT_FALSE(bad.cosign2);
  EXPECT_FALSE(bad.cosign3);
  EXPECT_FALSE(bad.openssl);
  EXPECT_FALSE(bad.sealift);

  // A wrong password signs nothing and says which key.
  RunResult wrong = run({testenv::bundle_program(), "sign-blob", "--key", (dir / "release.key").string(),
                         (dir / "SHA256SUMS").string(), "--output-signature", (dir / "other.sig").string()},
                        {{"COSIGN_PASSWORD", "wrong"}});
  EXPECT_EQ(wrong.exit_code, 3) << said(wrong);
  EXPECT_NE(wrong.err.find("release.key"), std::string::npos) << said(wrong);
  EXPECT_FALSE(fs::exists(dir / "other.sig"));
}

// A release key made in a token by `keygen --pkcs11` (it never exists outside it): only cosign.pub
// is written, and what the token signs verifies with it in cosign, openssl and sealift.
TEST(SignBlob, AKeyMadeInATokenByKeygenSignsWhatCosignAccepts) {
  testenv::TempDir dir("sealift-keygen-pkcs11");
  testenv::SoftHsm hsm("releases", "8642");
  const std::string uri = hsm.uri("release-2027");
  const std::vector<std::string> token = {"--pkcs11-module", testenv::SoftHsm::kModule, "--pin-file",
                                          hsm.pin_file().string()};
  auto keygen = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {testenv::bundle_program(), "keygen"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  };
  auto with_token = [&](std::vector<std::string> args) {
    args.insert(args.end(), token.begin(), token.end());
    return args;
  };
  RunResult k = keygen(with_token({"--pkcs11", uri, "--dir", (dir / "keys").string(), "--json"}));
  ASSERT_EQ(k.exit_code, 0) << said(k);
  const fs::path pub = dir / "keys" / "cosign.pub";
  EXPECT_EQ(nlohmann::json::parse(k.out).at("fingerprint"), PublicKey::from_file(pub).fingerprint()) << k.out;
  EXPECT_FALSE(fs::exists(dir / "keys" / "cosign.key"));

  util::write_file_atomic(dir / "SHA256SUMS", std::string(64, 'a') + "  sealift-1.0.0-linux-amd64.tar.gz\n");
  RunResult s = run(with_token({testenv::bundle_program(), "sign-blob", "--key", uri, (dir / "SHA256SUMS").string(),
                                "--output-signature", (dir / "SHA256SUMS.sig").string()}));
  ASSERT_EQ(s.exit_code, 0) << said(s);
  Verdicts good = verify_all(dir.path(), pub, dir / "SHA256SUMS.sig", dir / "SHA256SUMS");
  EXPECT_TRUE(good.cosign2);
  EXPECT_TRUE(good.cosign3);
  EXPECT_TRUE(good.openssl);
  EXPECT_TRUE(good.sealift);

  // The same label again is refused, and the first cosign.pub stays as it was.
  const std::string first = util::read_file(pub);
  RunResult again = keygen(with_token({"--pkcs11", uri, "--dir", (dir / "keys").string(), "--force"}));
  EXPECT_EQ(again.exit_code, 2) << said(again);
  EXPECT_NE(again.err.find("already holds an object with this label"), std::string::npos) << said(again);
  EXPECT_EQ(util::read_file(pub), first);
  // cosign.pub is not replaced without --force, before the token is asked.
  RunResult exists = keygen(with_token({"--pkcs11", hsm.uri("other"), "--dir", (dir / "keys").string()}));
  EXPECT_EQ(exists.exit_code, 2) << said(exists);
  EXPECT_NE(exists.err.find("already exists"), std::string::npos) << said(exists);
  // Ed25519 in a token is refused by name, and a password flag makes no sense there.
  RunResult ed = keygen(with_token({"--pkcs11", hsm.uri("ed"), "--key-type", "ed25519", "--dir", (dir / "ed").string()}));
  EXPECT_EQ(ed.exit_code, 2) << said(ed);
  EXPECT_NE(ed.err.find("P-256 keys only"), std::string::npos) << said(ed);
  EXPECT_FALSE(fs::exists(dir / "ed" / "cosign.pub"));
  RunResult pw = keygen(with_token({"--pkcs11", hsm.uri("pw"), "--password-file", "/dev/null"}));
  EXPECT_NE(pw.exit_code, 0) << said(pw);
}

}  // namespace
}  // namespace sealift::sign
