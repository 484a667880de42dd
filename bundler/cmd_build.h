// `sealift-bundle build`: pull, sign and write one bundle archive.
#pragma once

#include <CLI/CLI.hpp>

namespace sealift::bundler {

void add_build_command(CLI::App& app);

}  // namespace sealift::bundler
