// `sealift-bundle lock`: resolve the chart's images and write images.lock, or check it.
#pragma once

#include <CLI/CLI.hpp>

namespace sealift::bundler {

void add_lock_command(CLI::App& app);

}  // namespace sealift::bundler
