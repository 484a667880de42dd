// `sealift-bundle keygen`: a cosign-compatible signing key pair.
#pragma once

#include <CLI/CLI.hpp>

namespace sealift::bundler {

void add_keygen_command(CLI::App& app);
// `public-key --key KEY`: cosign.pub of a key file or of a key in a PKCS#11 token.
void add_public_key_command(CLI::App& app);

}  // namespace sealift::bundler
