// `sealift-install push`: verify the bundle, then push it into a Harbor project from the archive.
#pragma once

#include <CLI/CLI.hpp>

namespace sealift::installer {

void add_push_command(CLI::App& app);

}  // namespace sealift::installer
