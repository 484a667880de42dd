// Signing through an external command, for a key in any KMS or HSM that has a command-line client
// (Vault/OpenBao transit, aws kms sign, gcloud kms asymmetric-sign, az keyvault key sign): sealift
// runs the command once per signature and checks its answer against the public key it was given.
//
// The contract (README "Signing with an external signer"):
// - The command line is split into words as a shell would split it with no expansion at all:
//   blanks separate words, '…' and "…" quote (a backslash escapes the next character outside
//   single quotes); no variables, globs, pipes or redirections. It is run without a shell (an
//   argv through posix_spawn); for a pipeline, name a script or write `sh -c '…'` yourself.
// - stdin: for a P-256 key, the 32 raw bytes of the SHA-256 of the message (what KMSes sign as
//   a "digest"); for an Ed25519 key, the message itself (Ed25519 signs messages, not digests).
// - stdout: the signature, as ASN.1 DER or raw r||s (64 bytes) for P-256, 64 bytes for Ed25519;
//   either raw or as base64 or base64url text, padded or not (surrounding whitespace ignored).
// - exit status 0; anything on stderr is shown when it fails. It is killed after the timeout.
// - environment: the allow-list of util::run_process plus the variables KMS clients read
//   (VAULT_*, BAO_*, AWS_*, GOOGLE_*, CLOUDSDK_*, AZURE_*, SEALIFT_SIGNER_*); never
//   COSIGN_PASSWORD or a PIN.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sign/key.h"

namespace sealift::sign {

// Splits a command line as described above. Throws Error(Usage) for an unclosed quote, a
// trailing backslash or an empty command.
std::vector<std::string> split_command_line(std::string_view command_line);

struct CommandSignerOptions {
  std::string command;                  // --signer-command
  std::filesystem::path public_key;     // --signer-public-key
  double timeout_seconds = 60;          // --signer-timeout
};

class CommandSigner final : public Signer {
 public:
  // Reads the public key and splits the command; the command is first run by the first signature.
  // Throws Error(Usage) when either is missing or malformed.
  explicit CommandSigner(const CommandSignerOptions& options);

  KeyType type() const override { return public_key_.type(); }
  PublicKey public_key() const override { return public_key_; }
  std::string name() const override;
  // Throws Error(Tool) naming the command when it cannot start, fails, times out or prints
  // something that is not a signature in one of the accepted forms.
  std::string sign_prepared(const Sha256Bytes& sha256, std::string_view message) const override;

 private:
  std::vector<std::string> argv_;
  PublicKey public_key_;
  double timeout_seconds_;
};

}  // namespace sealift::sign
