// A Harbor-like target built from real parts. A real Harbor cannot be built here (test-peers.md
// §12), so:
//   - the registry is a real docker-registry (env/registry.h) with token auth, verifying every
//     token's signature, issuer and audience itself;
//   - sealift-harborlike (tests/env/harbor/, Go) stands in for Harbor's core only: its token
//     service (/service/token, service "harbor-registry", push only on existing projects), the
//     /api/v2.0 project, robot and artifact endpoints sealift and its tests call, /api/v2.0/ping
//     and /systeminfo (to anyone, as Harbor: how sealift-install tells Harbor from other
//     registries), and /v2/ with Harbor's own answers (its 401s and NOT_FOUND codes, the
//     referrers API) in front of the registry, so that one host serves everything, as in Harbor.
//     tests/harbor/standin_test.cc checks it against a real Harbor 2.15.2's answers.
// Both run on 127.0.0.1 and free ports and are stopped by their own pids.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "env/process.h"
#include "env/registry.h"

namespace sealift::testenv {

// Path of the built stand-in (${build}/sealift-harborlike).
std::string harborlike_program();

struct HarborLikeOptions {
  std::vector<std::string> projects;  // existing from the start; "name" or "name:public"
  bool tls = false;                   // serve the front over HTTPS (throwaway CA, see ca_file())
  int token_ttl_s = 1800;
  std::string admin_user = "admin";
  std::string admin_password = "Harbor-adm1n-s3cret";
  // The release to answer as (systeminfo's spelling); older ones differ where Harbor did.
  std::string version = "v2.15.2-080b0220";
};

class HarborLike {
 public:
  explicit HarborLike(HarborLikeOptions opts = {});
  // With these projects and everything else as default.
  explicit HarborLike(std::vector<std::string> projects) : HarborLike(HarborLikeOptions{std::move(projects)}) {}
  ~HarborLike();
  HarborLike(const HarborLike&) = delete;
  HarborLike& operator=(const HarborLike&) = delete;

  // "127.0.0.1:PORT": token service, API and /v2/, like a Harbor host name.
  std::string host() const;
  std::string url() const;
  std::filesystem::path ca_file() const;  // TLS only
  const std::string& admin_user() const { return opts_.admin_user; }
  const std::string& admin_password() const { return opts_.admin_password; }
  // The real registry behind the proxy (to kill and restart it, or read its storage).
  Registry& registry() { return *registry_; }

  // Creates a project through the API, as an administrator would in Harbor's UI.
  void create_project(const std::string& name, bool is_public = false);
  // The stand-in's request log, one "METHOD PATH STATUS" line per request.
  std::string request_log() const;
  // How many logged requests have this method and a path containing `path_part`.
  size_t count_requests(const std::string& method, const std::string& path_part) const;
  // Every log this target wrote (stand-in and registry), for checks that a secret never appears.
  std::vector<std::filesystem::path> logs() const;

 private:
  HarborLikeOptions opts_;
  std::unique_ptr<TempDir> dir_;
  std::filesystem::path ca_file_;
  int port_ = 0;
  std::unique_ptr<Registry> registry_;
  Process proc_;
};

}  // namespace sealift::testenv
