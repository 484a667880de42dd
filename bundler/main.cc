// sealift-bundle: the vendor side. Flags and printing only; the work is in src/.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cmd_build.h"
#include "cmd_inspect.h"
#include "cmd_keygen.h"
#include "cmd_kit.h"
#include "cmd_lint.h"
#include "cmd_lock.h"
#include "cmd_sign.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"sealift-bundle: build signed, air-gap ready bundles of a Helm application"};
  app.set_version_flag("--version", SEALIFT_VERSION);
  app.require_subcommand(1);
  sealift::bundler::add_keygen_command(app);
  sealift::bundler::add_public_key_command(app);
  sealift::bundler::add_build_command(app);
  sealift::bundler::add_inspect_command(app);
  sealift::bundler::add_lock_command(app);
  sealift::bundler::add_lint_command(app);
  sealift::bundler::add_sign_commands(app);
  sealift::bundler::add_kit_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const sealift::Error& e) {
    fmt::print(stderr, "sealift-bundle: {}\n", e.what());
    if (!e.hint().empty()) fmt::print(stderr, "hint: {}\n", e.hint());
    return e.exit_code();
  }
  return 0;
}
