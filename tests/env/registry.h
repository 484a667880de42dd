// A real registry for tests on 127.0.0.1 and a free port, in one of two kinds:
//   - Debian's docker-registry (CNCF distribution 2.8, no OCI 1.1 referrers API), with its own
//     temp storage, optionally htpasswd Basic auth, TLS from a throwaway CA, or token auth against
//     a token service (see harbor.h);
//   - the referrers-capable peer `ociregistry` (scripts/peers/tools/ociregistry: CUE's ociserver over an
//     in-memory store), optionally with htpasswd Basic auth; no TLS or token auth. Its content
//     lives in the process, so kill() loses it.
// Stopped by its own pid on destruction, which also removes its directory; if the test process
// crashes, the registry dies with it (setpriv --pdeathsig).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "env/process.h"

namespace sealift::testenv {

enum class RegistryKind {
  Distribution28,  // Debian's docker-registry 2.8: no referrers API
  OciRegistry,     // the peer ociregistry: serves GET /v2/<name>/referrers/<digest>
};

struct RegistryOptions {
  RegistryKind kind = RegistryKind::Distribution28;
  bool basic_auth = false;             // htpasswd with user/password below
  std::string user = "sealift";
  std::string password = "s3cret-registry-pw";
  bool tls = false;                    // serve HTTPS with a cert from a throwaway CA
  // Token auth (Harbor style): realm URL, service name, issuer, and the PEM certificate bundle
  // whose keys sign the tokens. Empty realm = no token auth.
  std::string token_realm = {};
  std::string token_service = "harbor-registry";
  std::string token_issuer = "harbor-token-issuer";
  std::filesystem::path token_rootcert = {};
};

class Registry {
 public:
  explicit Registry(RegistryOptions opts = {});
  ~Registry();

  // "127.0.0.1:PORT"
  std::string host() const;
  // "docker-registry 2.8" or "ociregistry", for messages.
  std::string name() const;
  int port() const { return port_; }
  // "http://127.0.0.1:PORT" or "https://..."
  std::string url() const;
  // PEM of the throwaway CA (TLS only).
  std::filesystem::path ca_file() const;
  // The directory holding only that CA: skopeo --cert-dir, docker certs.d style (TLS only).
  std::filesystem::path cert_dir() const;
  // A docker config.json (0600) with this registry's Basic credentials: skopeo --authfile,
  // helm --registry-config, DOCKER_CONFIG=its directory for crane and cosign (basic_auth only).
  std::filesystem::path auth_file() const;
  // The registry's own log (warnings and errors; the password never appears in it).
  std::filesystem::path log() const;
  const std::filesystem::path& storage() const;
  const RegistryOptions& options() const { return opts_; }
  pid_t pid() const { return proc_.pid(); }

  // Simulate a crash (SIGKILL) and bring the same registry back on the same port and storage.
  // start() returns once GET /v2/ answers; it throws with the tail of the log if the registry dies.
  void kill();
  void start();
  bool running();

 private:
  void write_config() const;
  // False when the registry exited before answering (e.g. someone else took the port).
  bool launch();

  RegistryOptions opts_;
  std::unique_ptr<TempDir> dir_;
  std::filesystem::path storage_;
  int port_ = 0;
  Process proc_;
};

}  // namespace sealift::testenv
