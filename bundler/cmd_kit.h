// `sealift-bundle kit`: the bundle and the installer for the removable medium, checksummed and signed.
#pragma once

#include <CLI/CLI.hpp>

namespace sealift::bundler {

void add_kit_command(CLI::App& app);

}  // namespace sealift::bundler
