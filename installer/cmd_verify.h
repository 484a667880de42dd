// `sealift-install verify`: check a bundle's signature and every digest in it, fail closed.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bundle/archive_reader.h"
#include "install/verify.h"
#include "sign/signature.h"
#include "util/progress.h"

namespace sealift::installer {

// The flags every command that reads a bundle shares.
struct TrustFlags {
  std::vector<std::string> keys;
  std::vector<std::string> key_dirs;  // --key-dir: every *.pub in it
  std::vector<std::string> upstream_keys;  // --upstream-key: the images' publishers
  bool insecure_skip_signature = false;
};
void add_trust_flags(CLI::App* cmd, TrustFlags& flags);
sign::TrustedKeys trusted_keys(const TrustFlags& flags);

// Verifies the bundle and prints its warnings loudly on stderr, whatever the output mode. A push
// verifies install::VerifyScope::AllButLayers and hashes the layers it sends as it sends them.
install::VerifiedBundle verify_for_command(const bundle::ArchiveReader& reader, const sign::TrustedKeys& keys,
                                           const TrustFlags& flags, int jobs, util::Progress& progress,
                                           install::VerifyScope scope = install::VerifyScope::Everything);

void add_verify_command(CLI::App& app);

}  // namespace sealift::installer
