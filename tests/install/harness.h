// What the installer's tests share: the bundles (built once per test process by the vendor's real
// tool), and a Harbor-like target with the peers that inspect it (crane, cosign) logged in through
// a docker config of its own.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bundle/archive_reader.h"
#include "bundle/layout.h"
#include "bundle/root.h"
#include "env/bundles.h"
#include "env/harbor.h"
#include "env/process.h"
#include "registry/client.h"
#include "util/encoding.h"
#include "util/fs.h"

namespace sealift::install::testing {

namespace fs = std::filesystem;
using testenv::RunResult;

// The vendor side, shared by every test of one process.
inline testenv::BundleFactory& factory() {
  static testenv::BundleFactory f;
  return f;
}

// The default bundle: four images (OCI and Docker media types, shared base layers) and the chart.
inline const testenv::BuiltBundle& full_bundle() {
  static const testenv::BuiltBundle b = factory().build({}, factory().dir() / "full.tar.zst");
  return b;
}

// A base bundle (two images) and a delta against it, built once for the tests that need both.
struct DeltaPair {
  testenv::BuiltBundle base, delta;
};
inline const DeltaPair& delta_pair() {
  static const DeltaPair pair = [] {
    testenv::BundleSpec base_spec;
    base_spec.images = {"postgres", "backend"};
    auto base = factory().build(base_spec, factory().dir() / "base.tar.zst");
    testenv::BundleSpec delta_spec = base_spec;
    delta_spec.release = 2;
    delta_spec.base = base.path;
    auto delta = factory().build(delta_spec, factory().dir() / "delta.tar.zst");
    return DeltaPair{base, delta};
  }();
  return pair;
}

inline std::string entry_text(const fs::path& bundle, const std::string& entry) {
  return bundle::ArchiveReader(bundle).read_small(entry, 1ull << 30);
}

inline bundle::Root root_of(const fs::path& bundle) { return bundle::Root::parse(entry_text(bundle, "sealift.json")); }

// The entry name of the first layer of the first platform of the image `source` in `bundle`.
inline std::string first_layer(const fs::path& bundle, const std::string& source) {
  bundle::ArchiveReader reader(bundle);
  bundle::Root root = bundle::Root::parse(reader.read_small("sealift.json"));
  for (const auto& image : root.images) {
    if (image.source != source) continue;
    oci::Manifest top = oci::Manifest::parse(reader.read_small(bundle::blob_path(image.digest)), image.media_type);
    oci::Manifest m = top;
    if (top.is_index())
      m = oci::Manifest::parse(reader.read_small(bundle::blob_path(top.manifests().at(0).digest)),
                               top.manifests().at(0).media_type);
    return bundle::blob_path(m.layers().at(0).digest);
  }
  throw std::invalid_argument("no image " + source);
}

inline std::string flipped(std::string bytes, size_t at) {
  bytes.at(at) = static_cast<char>(bytes.at(at) ^ 0x01);
  return bytes;
}

inline RunResult install(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> argv = {testenv::install_program()};
  argv.insert(argv.end(), args.begin(), args.end());
  return testenv::run(argv, env);
}

// `cosign verify --key` offline, with cosign v2.6.4 ("cosign") or v3.1.3 ("cosign3"); `home` holds
// the docker config with the registry's credentials. cosign v2 switches to the Sigstore bundle
// format as soon as an image has a bundle referrer, and then demands a trusted root, which it
// cannot fetch from TUF here: an empty one is the documented offline answer
// (docs/bundle-format.md §6.1). Both check only the bundle when there is one; "cosign3-legacy"
// (--new-bundle-format=false) checks the `.sig` tag that podman, CRI-O and older Harbor read.
// `verb` "verify-attestation" with `extra` {"--type", "spdxjson"} checks attestations the same way.
inline RunResult cosign_verify_offline(const std::string& reference, const fs::path& key, const std::string& cosign,
                                       const fs::path& home, const std::string& verb = "verify",
                                       const std::vector<std::string>& extra = {}) {
  bool legacy = cosign == "cosign3-legacy";
  std::vector<std::string> args = {testenv::peer(legacy ? "cosign3" : cosign), verb, "--key", key.string(),
                                   "--insecure-ignore-tlog=true", "--allow-http-registry", "--output", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  if (cosign == "cosign") {
    fs::path root = home / "trusted_root.json";
    if (!fs::exists(root)) util::write_file_atomic(root, R"({"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"})");
    args.insert(args.end(), {"--trusted-root", root.string()});
  }
  if (legacy) args.push_back("--new-bundle-format=false");
  args.push_back(reference);
  return testenv::run(args, {{"DOCKER_CONFIG", home.string()}, {"SIGSTORE_NO_CACHE", "1"}, {"TUF_ROOT", (home / "tuf").string()}});
}

// A Harbor-like target and the clients that look at it.
class Target {
 public:
  explicit Target(testenv::HarborLikeOptions options = {})
      : harbor_(std::move(options)), home_("sealift-target-client") {
    nlohmann::json config;
    config["auths"][harbor_.host()]["auth"] = util::base64_encode(harbor_.admin_user() + ":" + harbor_.admin_password());
    util::write_file_atomic(home_ / "config.json", config.dump(), 0600);
    registry::RegistryOptions ro;
    ro.http.plain_http = !tls();
    ro.http.ca_file = harbor_.ca_file();
    ro.credentials = {harbor_.admin_user(), harbor_.admin_password(), "test"};
    client_ = std::make_unique<registry::RegistryClient>(harbor_.host(), ro);
  }

  testenv::HarborLike& harbor() { return harbor_; }
  std::string host() const { return harbor_.host(); }
  bool tls() const { return !harbor_.ca_file().empty(); }
  // How sealift-install reaches it: plain HTTP, or TLS trusting its throwaway CA.
  std::vector<std::string> transport() const {
    return tls() ? std::vector<std::string>{"--ca-file", harbor_.ca_file().string()} : std::vector<std::string>{"--plain-http"};
  }
  registry::RegistryClient& client() { return *client_; }

  // Credentials through the environment, as an operator's script would pass them.
  std::map<std::string, std::string> env() const {
    return {{"SEALIFT_REGISTRY_USER", harbor_.admin_user()},
            {"SEALIFT_REGISTRY_PASSWORD", harbor_.admin_password()},
            {"DOCKER_CONFIG", home_.path().string()}};
  }

  RunResult push(const fs::path& bundle, const std::vector<std::string>& extra = {}, const fs::path& key = {}) {
    std::vector<std::string> args = {"push", bundle.string(), "--key",
                                     (key.empty() ? factory().public_key() : key).string(), "--registry", host(),
                                     "--project", "ai-saas", "--json"};
    auto how = transport();
    args.insert(args.end(), how.begin(), how.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return install(args, env());
  }

  // `cosign verify` as the customer's security team would run it inside the air gap
  // (cosign_verify_offline below).
  RunResult cosign_verify(const std::string& reference, const fs::path& key, const std::string& cosign = "cosign") {
    return cosign_verify_offline(reference, key, cosign, home_.path());
  }
  // `cosign verify-attestation --type spdxjson`, offline as cosign_verify.
  RunResult cosign_verify_attestation(const std::string& reference, const fs::path& key, const std::string& cosign = "cosign") {
    return cosign_verify_offline(reference, key, cosign, home_.path(), "verify-attestation", {"--type", "spdxjson"});
  }

  std::string crane_digest(const std::string& reference) {
    RunResult r = testenv::run({testenv::peer("crane"), "digest", "--insecure", reference},
                               {{"DOCKER_CONFIG", home_.path().string()}});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string d = r.out;
    while (!d.empty() && (d.back() == '\n' || d.back() == ' ')) d.pop_back();
    return d;
  }

  std::vector<std::string> tags(const std::string& repository) { return client_->list_tags(repository); }

 private:
  testenv::HarborLike harbor_;
  testenv::TempDir home_;
  std::unique_ptr<registry::RegistryClient> client_;
};

}  // namespace sealift::install::testing
