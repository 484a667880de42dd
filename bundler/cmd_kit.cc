#include "cmd_kit.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "cli/flags.h"
#include "kit/kit.h"
#include "sign/key.h"
#include "sign/password.h"

namespace sealift::bundler {

namespace {
struct KitFlags {
  std::string bundle;
  std::vector<std::string> installers;
  std::string key;
  std::string password_file;
  std::string output;
  cli::OutputFlags out;
};

void run_kit(const KitFlags& f) {
  kit::KitOptions o;
  o.bundle = f.bundle;
  o.installers.assign(f.installers.begin(), f.installers.end());
  o.output = f.output;
  const sign::PrivateKey key = sign::PrivateKey::from_file(f.key, sign::read_password({f.password_file}));
  kit::Kit k = kit::write_kit(o, key);
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
  cmd->add_option("--key", f->key, "The cosign.key the bundle was signed with; it signs SHA256SUMS")->required();
  cmd->add_option("--password-file", f->password_file, "Key password file (default: COSIGN_PASSWORD, else a prompt)");
  cmd->add_option("-o,--output", f->output, "The kit's directory (must not exist, or be empty)")->required();
  cli::add_output_flags(cmd, f->out);
  cmd->callback([f] { run_kit(*f); });
}

}  // namespace sealift::bundler
