// `sealift-bundle inspect`: what a bundle holds, without unpacking it.
#pragma once

#include <CLI/CLI.hpp>

namespace sealift::bundler {

void add_inspect_command(CLI::App& app);

}  // namespace sealift::bundler
