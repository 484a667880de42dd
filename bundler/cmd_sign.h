// `sealift-bundle sign-blob` and `public-key`: a file signed as `cosign sign-blob` signs it (a
// release's SHA256SUMS, anything a site checks with cosign or openssl), and cosign.pub from a key.
#pragma once

#include <CLI/CLI.hpp>

namespace sealift::bundler {

void add_sign_commands(CLI::App& app);

}  // namespace sealift::bundler
