#include "cmd_kit.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "cli/flags.h"
#include "kit/kit.h"
#include "sign/signer.h"

namespace sealift::bundler {

namespace {
struct KitFlags {
  std::string bundle;
  std::vector<std::string> installers;
  cli::SignerFlags signer;
  std::string output;
  cli::OutputFlags out;
};

void run_kit(const KitFlags& f) {
  kit::KitOptions o;
  o.bundle = f.bundle;
  o.installers.assign(f.installers.begin(), f.installers.end());
  o.output = f.output;
  const std::unique_ptr<sign::Signer> signer = sign::open_signer(f.signer.options());
  kit::Kit k = kit::write_kit(o, *signer);
  if (f.out.json) {
    nlohmann::ordered_json installers = nlohmann::ordered_json::array();
    for (const auto& i : k.installers)
      installers.push_back({{"file", i.file.filename().string()}, {"program", i.program}, {"platform", i.platform}});
    fmt::print("{}\n", nlohmann::ordered_json{{"kit", k.dir.string()},
                                              {"files", k.files},
                                              {"installers", installers},
                                              {"key", k.key_fingerprint}}
                           .dump());
    return;
  }
  if (f.out.quiet) return;
  fmt::print("Kit written to {} ({} files, signed by {}):\n", k.dir.string(), k.files.size(), k.key_fingerprint);
  for (const auto& name : k.files) fmt::print("  {}\n", name);
  for (const auto& i : k.installers) fmt::print("installer for {}: {}\n", i.platform, i.file.filename().string());
  fmt::print("The site runs the commands in {}/README.txt\n", k.dir.string());
}
}  // namespace

void add_kit_command(CLI::App& app) {
  auto f = std::make_shared<KitFlags>();
  CLI::App* cmd = app.add_subcommand(
      "kit", "Write a transfer kit: the bundle, the installer tarballs, signed SHA256SUMS, cosign.pub and README.txt");
  cmd->add_option("BUNDLE", f->bundle, "The bundle file, or its first part (.000)")->required();
  cmd->add_option("--installer", f->installers,
                  "A release tarball holding sealift-install (dist/sealift-<version>-linux-<arch>.tar.gz); repeatable")
      ->required();
  // The key the bundle was signed with (a file, a PKCS#11 URI or an external signer) signs SHA256SUMS.
  cli::add_signer_flags(cmd, f->signer);
  cmd->add_option("-o,--output", f->output, "The kit's directory (must not exist, or be empty)")->required();
  cli::add_output_flags(cmd, f->out);
  cmd->callback([f] { run_kit(*f); });
}

}  // namespace sealift::bundler
