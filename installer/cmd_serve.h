// `sealift-install serve`: verify the bundle, then serve it as a read-only OCI registry, in place.
#pragma once

#include <CLI/CLI.hpp>

namespace sealift::installer {

void add_serve_command(CLI::App& app);

}  // namespace sealift::installer
