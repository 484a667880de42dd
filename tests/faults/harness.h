// What the fault suites share: the vendor's side (a real upstream registry with the fixture
// images, a small chart and its lock, keys), a Harbor-like target with an administrator's client
// that reaches it directly (never through a fault proxy), and the walk that reads back everything
// a project holds, tag by tag, to check that no tag points at missing content and to compare a
// target with a clean push.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "env/bundles.h"
#include "env/fault_proxy.h"
#include "env/fixture_lock.h"
#include "env/harbor.h"
#include "env/process.h"
#include "io/stream.h"
#include "oci/manifest.h"
#include "registry/client.h"
#include "util/error.h"

namespace sealift::faults::testing {

namespace fs = std::filesystem;
using testenv::Fault;
using testenv::FaultProxy;
using testenv::FaultRule;
using testenv::RunResult;
using Clock = std::chrono::steady_clock;

// The client gives up on a connection where no byte moved for this long (then retries).
inline const std::string kStallTimeout = "2";
// A program still running after this is hung: the test kills it and fails. Generous: the worst
// legitimate case is six attempts with backoff (about 16 s) plus stall timeouts.
constexpr double kHangLimit = 150;

inline bool ended_by_itself(const RunResult& r) { return r.err.find("[testenv: killed after timeout]") == std::string::npos; }

inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The proxy's request log, for a failure message.
inline std::string proxy_log(const FaultProxy& proxy) {
  std::string out;
  auto log = proxy.log();
  for (const auto& e : log)
    out += std::to_string(std::chrono::duration<double>(e.at - log.front().at).count()) + " #" +
           std::to_string(e.connection) + " " + e.method + " " + e.path.substr(0, 100) + " -> " + std::to_string(e.status) +
           (e.rule >= 0 ? " (rule " + std::to_string(e.rule) + ")" : "") + "\n";
  return out;
}

// The vendor's side, shared by every test of one process: the upstream registry and key pair,
// and a bundle of three images (an OCI index, a Docker manifest list, shared base layers) and
// the chart.
inline testenv::BundleFactory& factory() {
  static testenv::BundleFactory f;
  return f;
}
inline const testenv::BuiltBundle& vendor_bundle() {
  static const testenv::BuiltBundle b = [] {
    testenv::BundleSpec spec;
    spec.images = {"postgres", "redis", "fluent-bit"};
    return factory().build(spec, factory().dir() / "faults.tar.zst");
  }();
  return b;
}

// Everything one project of a registry holds, as a client sees it: tag -> manifest digest, every
// manifest and blob reachable from a tag, and what a tag points at that is not there.
struct Content {
  std::map<std::string, std::string> tags;     // "library/redis:7.4" -> "sha256:..." (project left out)
  std::map<std::string, int64_t> reachable;    // "library/redis@sha256:..." -> size
  std::vector<std::string> missing;

  size_t tag_count() const { return tags.size(); }
};

class CountingSink : public io::Sink {
 public:
  void write(std::span<const std::byte> buf) override { bytes += buf.size(); }
  uint64_t bytes = 0;
};

// A Harbor-like target (real docker-registry behind the token service and project API).
class Target {
 public:
  Target() : home_("sealift-faults-client") {
    registry::RegistryOptions ro;
    ro.http.plain_http = true;
    ro.credentials = {harbor_.admin_user(), harbor_.admin_password(), "test"};
    client_ = std::make_unique<registry::RegistryClient>(harbor_.host(), ro);
  }

  testenv::HarborLike& harbor() { return harbor_; }
  std::string host() const { return harbor_.host(); }
  int port() const { return std::stoi(harbor_.host().substr(harbor_.host().rfind(':') + 1)); }

  // `sealift-install push` of `bundle` into `project` on `host` (this target, or a proxy in front
  // of it), killed (and the test failed) if it hangs.
  RunResult push(const std::string& host, const std::string& project, const fs::path& bundle,
                 const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {testenv::install_program(), "push", bundle.string(), "--key",
                                     factory().public_key().string(), "--registry", host, "--project", project,
                                     "--create-project", "--plain-http", "--stall-timeout", kStallTimeout, "--quiet"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return testenv::run(argv,
                        {{"SEALIFT_REGISTRY_USER", harbor_.admin_user()},
                         {"SEALIFT_REGISTRY_PASSWORD", harbor_.admin_password()},
                         {"DOCKER_CONFIG", home_.path().string()}},
                        {}, kHangLimit);
  }

  // Reads every tag of every repository of `project` (found in the registry's storage, so that a
  // stray repository counts too) and everything below it. With `fetch`, every blob is downloaded
  // and its digest checked; else its presence is (HEAD).
  Content walk(const std::string& project, bool fetch = false) {
    Content out;
    fs::path root = harbor_.registry().storage() / "docker/registry/v2/repositories";
    if (!fs::exists(root / project)) return out;
    std::vector<std::string> repositories;
    for (const auto& e : fs::recursive_directory_iterator(root / project))
      if (e.is_directory() && e.path().filename() == "_manifests")
        repositories.push_back(fs::relative(e.path().parent_path(), root).string());
    for (const auto& repository : repositories) {
      std::string name = repository.substr(project.size() + 1);
      for (const auto& tag : client_->list_tags(repository)) {
        std::string where = repository + ":" + tag;
        try {
          oci::Manifest m = client_->get_manifest(repository, tag);
          out.tags[name + ":" + tag] = m.digest().str();
          visit(repository, name, m, fetch, out, where);
        } catch (const Error& e) {
          out.missing.push_back(where + ": " + e.what());
        }
      }
    }
    return out;
  }

  // A tag at missing content is what must never be seen, at any moment.
  void expect_no_dangling_tag(const std::string& project, const std::string& when) {
    Content c = walk(project);
    for (const auto& m : c.missing) ADD_FAILURE() << when << ": a tag points at missing content: " << m;
  }

 private:
  void visit(const std::string& repository, const std::string& name, const oci::Manifest& m, bool fetch, Content& out,
             const std::string& where) {
    out.reachable[name + "@" + m.digest().str()] = m.size();
    if (m.is_index()) {
      for (const auto& child : m.manifests()) {
        try {
          visit(repository, name, client_->get_manifest(repository, child), fetch, out, where);
        } catch (const Error& e) {
          out.missing.push_back(where + " -> " + child.digest.str() + ": " + e.what());
        }
      }
      return;
    }
    for (const auto& blob : m.children()) {
      try {
        if (fetch) {
          CountingSink sink;
          client_->fetch_blob(repository, blob, sink);
        } else if (!client_->blob_exists(repository, blob.digest)) {
          out.missing.push_back(where + " -> blob " + blob.digest.str() + ": not there");
          continue;
        }
        out.reachable[name + "@" + blob.digest.str()] = blob.size;
      } catch (const Error& e) {
        out.missing.push_back(where + " -> blob " + blob.digest.str() + ": " + e.what());
      }
    }
  }

  testenv::HarborLike harbor_;
  testenv::TempDir home_;
  std::unique_ptr<registry::RegistryClient> client_;
};

// What a clean push of the vendor bundle leaves in a project of a registry of its own: what every
// faulted push must end up equal to.
inline const Content& clean_push() {
  static const Content c = [] {
    Target clean;
    RunResult r = clean.push(clean.host(), "ai-saas", vendor_bundle().path);
    if (r.exit_code != 0) throw std::runtime_error("the clean push failed: " + said(r));
    return clean.walk("ai-saas", /*fetch=*/true);
  }();
  return c;
}

}  // namespace sealift::faults::testing
