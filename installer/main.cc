// sealift-install: the customer side. Flags and printing only; the work is in src/.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cmd_push.h"
#include "cmd_release.h"
#include "cmd_serve.h"
#include "cmd_verify.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"sealift-install: verify a bundle, push it to Harbor, install or upgrade the application"};
  app.set_version_flag("--version", SEALIFT_VERSION);
  app.require_subcommand(1);
  sealift::installer::add_verify_command(app);
  sealift::installer::add_push_command(app);
  sealift::installer::add_release_commands(app);
  sealift::installer::add_serve_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const sealift::Error& e) {
    fmt::print(stderr, "sealift-install: {}\n", e.what());
    if (!e.hint().empty()) fmt::print(stderr, "hint: {}\n", e.hint());
    return e.exit_code();
  }
  return 0;
}
