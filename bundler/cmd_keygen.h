// `sealift-bundle keygen`: a cosign-compatible signing key pair.
#pragma once

#include <CLI/CLI.hpp>

namespace sealift::bundler {

void add_keygen_command(CLI::App& app);

}  // namespace sealift::bundler
