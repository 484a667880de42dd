// `sealift-install install|upgrade|status|export|robots prune`: the helm side of the customer's job.
#pragma once

#include <CLI/CLI.hpp>

namespace sealift::installer {

void add_release_commands(CLI::App& app);

}  // namespace sealift::installer
