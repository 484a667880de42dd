#include "env/fixtures.h"

#include <stdexcept>

#include <nlohmann/json.hpp>

namespace sealift::testenv {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The password reaches the generator through its environment, never its arguments.
constexpr const char* kPasswordVariable = "SEALIFT_FIXTURES_PASSWORD";

std::vector<std::string> common_args(const std::string& command, const FixtureOptions& opts) {
  std::vector<std::string> argv = {fixtures_program(), command, "--json"};
  if (opts.big.empty()) {
    argv.insert(argv.end(), {"--scale", opts.scale, "--release", std::to_string(opts.release)});
    if (opts.backend_exits) argv.push_back("--backend-exits");
  } else {
    argv.insert(argv.end(), {"--big", opts.big});
  }
  if (!opts.only.empty()) {
    std::string names;
    for (const auto& n : opts.only) names += (names.empty() ? "" : ",") + n;
    argv.insert(argv.end(), {"--only", names});
  }
  return argv;
}

FixtureSet run_generator(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
  RunResult r = run(argv, env, {}, 3600);
  if (r.exit_code != 0) {
    throw std::runtime_error("sealift-fixtures " + argv.at(1) + " failed (exit " + std::to_string(r.exit_code) +
                             "): " + r.err);
  }
  return parse_fixture_summary(r.out);
}

}  // namespace

std::string fixtures_program() { return std::string(SEALIFT_BINARY_DIR) + "/sealift-fixtures"; }

const FixtureManifest& FixtureImage::platform(std::string_view p) const {
  for (const auto& m : manifests) {
    if (m.platform == p) return m;
  }
  throw std::out_of_range("fixture image " + reference() + " has no platform " + std::string(p));
}

const FixtureImage& FixtureSet::image(std::string_view name) const {
  for (const auto& i : images) {
    if (i.name == name) return i;
  }
  throw std::out_of_range("no fixture image named " + std::string(name));
}

FixtureSet parse_fixture_summary(const std::string& text) {
  json j = json::parse(text);
  FixtureSet s;
  s.json = text;
  s.scale = j.at("scale").get<std::string>();
  s.release = j.at("release").get<int>();
  s.registry = j.value("registry", "");
  s.blobs = j.at("blobs").get<int64_t>();
  s.bytes = j.at("bytes").get<int64_t>();
  s.platform_bytes = j.at("platformBytes").get<std::map<std::string, int64_t>>();
  for (const auto& ji : j.at("images")) {
    FixtureImage img{ji.at("name"), ji.at("repository"), ji.at("tag"), ji.at("source"), ji.at("mediaType"),
                     ji.at("digest"), ji.at("size"), {}};
    for (const auto& jm : ji.at("manifests")) {
      img.manifests.push_back({jm.at("platform"), jm.at("mediaType"), jm.at("digest"), jm.at("size"),
                               jm.at("config"), jm.at("layers"), jm.at("diffIDs")});
    }
    s.images.push_back(std::move(img));
  }
  return s;
}

FixtureSet generate_fixtures(const fs::path& dir, const FixtureOptions& opts) {
  auto argv = common_args("gen", opts);
  argv.insert(argv.end(), {"--out", dir.string()});
  return run_generator(argv, {});
}

FixtureSet push_fixtures(const Registry& registry, const FixtureOptions& opts, const fs::path& from_layout) {
  auto argv = common_args("push", opts);
  argv.insert(argv.end(), {"--registry", registry.host()});
  if (!from_layout.empty()) argv.insert(argv.end(), {"--from", from_layout.string()});
  if (!opts.prefix.empty()) argv.insert(argv.end(), {"--prefix", opts.prefix});
  const RegistryOptions& ro = registry.options();
  if (ro.tls) {
    argv.insert(argv.end(), {"--ca-file", registry.ca_file().string()});
  } else {
    argv.push_back("--plain-http");
  }
  std::map<std::string, std::string> env;
  std::string user = opts.user, password = opts.password;
  if (user.empty() && ro.basic_auth) {
    user = ro.user;
    password = ro.password;
  }
  if (!user.empty()) {
    argv.insert(argv.end(), {"--user", user, "--password-env", kPasswordVariable});
    env[kPasswordVariable] = password;
  }
  return run_generator(argv, env);
}

}  // namespace sealift::testenv
