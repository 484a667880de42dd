#include "cmd_lock.h"

#include <memory>

#include <fmt/format.h>

#include "cli/flags.h"
#include "lock/resolve.h"

namespace sealift::bundler {

namespace {
struct LockFlags {
  std::string chart = "chart";
  std::string lock = "images.lock";
  std::vector<std::string> mirrors;
  bool check = false;
  cli::RegistryFlags registry;
  bool quiet = false;
};

void run_lock(const LockFlags& f) {
  lock::ResolveOptions o;
  o.mirrors = cli::parse_mappings(f.mirrors, "--mirror");
  o.http = f.registry.http();
  o.credentials = f.registry.credentials();
  if (!f.quiet) {
    o.on_image = [](const lock::LockedImage& img) {
      fmt::print(stderr, "  {:<26} {} -> {} ({} platform{})\n", img.name, img.source.str(), img.digest.str(),
                 img.platforms.size(), img.platforms.size() == 1 ? "" : "s");
    };
  }
  if (!f.check) {
    const lock::ImageLock l = lock::resolve(f.chart, o);
    l.save(f.lock);
    if (!f.quiet)
      fmt::print("{}: {} images of {} {} (chart {})\n", f.lock, l.images.size(), l.chart.name, l.chart.version,
                 l.chart.digest.str());
    return;
  }
  const lock::CheckResult r = lock::check(f.chart, f.lock, o);
  if (r.differences.empty()) {
    if (!f.quiet) fmt::print("{} is up to date: {} images of {} {}\n", f.lock, r.fresh.images.size(), r.fresh.chart.name,
                             r.fresh.chart.version);
    return;
  }
  fmt::print(stderr, "{} is stale ({} difference{}):\n", f.lock, r.differences.size(), r.differences.size() == 1 ? "" : "s");
  for (const auto& d : r.differences) fmt::print(stderr, "  - {}\n", d);
  fmt::print(stderr, "hint: run `sealift-bundle lock` to update it, review the diff, and commit it\n");
  throw CLI::RuntimeError(1);
}
}  // namespace

void add_lock_command(CLI::App& app) {
  auto f = std::make_shared<LockFlags>();
  CLI::App* cmd = app.add_subcommand("lock", "Resolve the chart's images and write images.lock (or --check it)");
  cmd->add_option("--chart", f->chart, "Chart directory")->capture_default_str();
  cmd->add_option("--lock", f->lock, "images.lock to write or check")->capture_default_str();
  cmd->add_option("--mirror", f->mirrors, "Resolve images of registry SRC at host DEST (SRC=DEST); repeatable");
  cmd->add_flag("--check", f->check, "Write nothing; exit 1 and list the differences when the lock is stale");
  cmd->add_flag("-q,--quiet", f->quiet, "Print nothing but errors and differences");
  cli::add_registry_flags(cmd, f->registry, "source registries");
  cmd->callback([f] { run_lock(*f); });
}

}  // namespace sealift::bundler
