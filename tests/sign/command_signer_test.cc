// The external signer: how its command line is split, and that its answers are checked (the
// end-to-end build with a script signer is in tests/build/build_test.cc).
#include "sign/command_signer.h"

#include <gtest/gtest.h>

#include "env/process.h"
#include "expect_error.h"
#include "sign/signature.h"
#include "util/fs.h"

namespace sealift::sign {
namespace {

namespace fs = std::filesystem;
using Words = std::vector<std::string>;

TEST(CommandLine, SplitsLikeAShellWithoutExpanding) {
  EXPECT_EQ(split_command_line("sign.sh --key  vendor"), (Words{"sign.sh", "--key", "vendor"}));
  EXPECT_EQ(split_command_line("a 'b c' \"d \\\" e\" f\\ g ''"), (Words{"a", "b c", "d \" e", "f g", ""}));
  EXPECT_EQ(split_command_line("echo $HOME *.pub |x"), (Words{"echo", "$HOME", "*.pub", "|x"}));
  ExpectError([] { split_command_line("a 'b"); }, ErrorKind::Usage, "unclosed ' quote");
  ExpectError([] { split_command_line("a \"b"); }, ErrorKind::Usage, "unclosed \" quote");
  ExpectError([] { split_command_line("a \\"); }, ErrorKind::Usage, "backslash");
  ExpectError([] { split_command_line("  "); }, ErrorKind::Usage, "empty");
}

// A signer built on `openssl pkeyutl`, answering in each accepted form, and ones that lie, fail
// or hang.
TEST(CommandSigner, AcceptsOnlySignaturesThatVerify) {
  testenv::TempDir dir("sealift-command-signer");
  auto key_pair = [&](const std::string& name) {
    const fs::path key = dir / (name + ".pem"), pub = dir / (name + ".pub");
    EXPECT_EQ(testenv::run({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                            key.string()}).exit_code, 0);
    EXPECT_EQ(testenv::run({"openssl", "pkey", "-in", key.string(), "-pubout", "-out", pub.string()}).exit_code, 0);
    return std::make_pair(key, pub);
  };
  // Plain variables, not a structured binding: clang 14 cannot capture those in a lambda.
  const auto vendor = key_pair("vendor");
  const fs::path key = vendor.first, pub = vendor.second;
  const auto other = key_pair("other");
  const PublicKey expected = PublicKey::from_file(pub);
  auto script = [&](const std::string& name, const std::string& body) {
    const fs::path p = dir / name;
    util::write_file_atomic(p, "#!/bin/sh\n" + body + "\n", 0755);
    return p.string();
  };
  auto signer = [&](const std::string& command, double timeout = 60) {
    return CommandSigner({.command = command, .public_key = pub, .timeout_seconds = timeout});
  };

  const std::string der = script("der.sh", "exec openssl pkeyutl -sign -inkey \"$1\"");
  const std::string b64 = script("b64.sh", "openssl pkeyutl -sign -inkey \"$1\" | base64 -w0");
  for (const std::string& command : {der + " " + key.string(), b64 + " '" + key.string() + "'"}) {
    CommandSigner s = signer(command);
    std::string sig = sign(s, "sealift.json");
    EXPECT_TRUE(verify(expected, "sealift.json", sig)) << command;
  }
  // Another key's signature, garbage, a failure, silence past the timeout: all stop the signing.
  ExpectError([&] { sign(signer(der + " " + other.first.string()), "m"); }, ErrorKind::Integrity,
              "made a signature that does not verify with its public key " + expected.fingerprint());
  ExpectError([&] { sign(signer(script("garbage.sh", "cat >/dev/null; echo not-a-signature")), "m"); },
              ErrorKind::Integrity, "does not verify");
  ExpectError([&] { sign(signer(script("fails.sh", "echo 'KMS says no' >&2; exit 3")), "m"); }, ErrorKind::Tool,
              "failed (exit 3): KMS says no");
  ExpectError([&] { sign(signer(script("hangs.sh", "exec sleep 30"), 1), "m"); }, ErrorKind::Tool,
              "did not answer within 1 s");
  ExpectError([&] { CommandSigner({.command = der, .public_key = {}, .timeout_seconds = 60}); }, ErrorKind::Usage,
              "needs --signer-public-key");
}

}  // namespace
}  // namespace sealift::sign
