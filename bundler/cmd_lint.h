// `sealift-bundle lint`: the air-gap lint of the chart against images.lock.
#pragma once

#include <CLI/CLI.hpp>

namespace sealift::bundler {

void add_lint_command(CLI::App& app);

}  // namespace sealift::bundler
