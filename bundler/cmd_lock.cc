#include "cmd_lock.h"

#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

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
  cli::OutputFlags out;
};

nlohmann::ordered_json to_json(const std::string& file, const lock::ImageLock& l) {
  nlohmann::ordered_json images = nlohmann::ordered_json::array();
  for (const auto& img : l.images) {
    nlohmann::ordered_json platforms = nlohmann::ordered_json::array();
    for (const auto& p : img.platforms) platforms.push_back({{"platform", p.str()}, {"digest", p.digest.str()}});
    images.push_back(
        {{"name", img.name}, {"source", img.source.str()}, {"digest", img.digest.str()}, {"platforms", platforms}});
  }
  return {{"lock", file},
          {"chart", {{"name", l.chart.name}, {"version", l.chart.version}, {"digest", l.chart.digest.str()}}},
          {"images", images}};
}

void run_lock(const LockFlags& f) {
  lock::ResolveOptions o;
  o.mirrors = cli::parse_mappings(f.mirrors, "--mirror");
  o.http = f.registry.http();
  o.credentials = f.registry.credentials();
  const bool human = !f.out.quiet && !f.out.json;
  if (human) {
    o.on_image = [](const lock::LockedImage& img) {
      fmt::print(stderr, "  {:<26} {} -> {} ({} platform{})\n", img.name, img.source.str(), img.digest.str(),
                 img.platforms.size(), img.platforms.size() == 1 ? "" : "s");
    };
  }
  if (!f.check) {
    const lock::ImageLock l = lock::resolve(f.chart, o);
    l.save(f.lock);
    if (f.out.json)
      fmt::print("{}\n", to_json(f.lock, l).dump());
    else if (human)
      fmt::print("{}: {} images of {} {} (chart {})\n", f.lock, l.images.size(), l.chart.name, l.chart.version,
                 l.chart.digest.str());
    return;
  }
  const lock::CheckResult r = lock::check(f.chart, f.lock, o);
  if (f.out.json) {
    fmt::print("{}\n", nlohmann::ordered_json{{"lock", f.lock},
                                              {"upToDate", r.differences.empty()},
                                              {"differences", r.differences}}
                           .dump());
    if (!r.differences.empty()) throw CLI::RuntimeError(1);
    return;
  }
  if (r.differences.empty()) {
    if (human) fmt::print("{} is up to date: {} images of {} {}\n", f.lock, r.fresh.images.size(), r.fresh.chart.name,
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
  cli::add_registry_flags(cmd, f->registry, "source registries");
  cli::add_output_flags(cmd, f->out);
  cmd->callback([f] { run_lock(*f); });
}

}  // namespace sealift::bundler
