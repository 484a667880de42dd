// A real registry for tests: Debian's docker-registry (CNCF distribution 2.8) on 127.0.0.1 and a
// free port, with its own temp storage, optionally htpasswd Basic auth, TLS from a throwaway CA, or
// token auth against a token service (see harbor.h). Stopped by its own pid on destruction.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "env/process.h"

namespace sealift::testenv {

struct RegistryOptions {
  bool basic_auth = false;             // htpasswd with user/password below
  std::string user = "sealift";
  std::string password = "s3cret-registry-pw";
  bool tls = false;                    // serve HTTPS with a cert from a throwaway CA
  // Token auth (Harbor style): realm URL, service name, issuer, and the PEM certificate bundle
  // whose keys sign the tokens. Empty realm = no token auth.
  std::string token_realm;
  std::string token_service = "harbor-registry";
  std::string token_issuer = "harbor-token-issuer";
  std::filesystem::path token_rootcert;
};

class Registry {
 public:
  explicit Registry(RegistryOptions opts = {});
  ~Registry();

  // "127.0.0.1:PORT"
  std::string host() const;
  int port() const { return port_; }
  // "http://127.0.0.1:PORT" or "https://..."
  std::string url() const;
  // PEM of the throwaway CA (TLS only).
  std::filesystem::path ca_file() const;
  const std::filesystem::path& storage() const;
  const RegistryOptions& options() const { return opts_; }

  // Simulate a crash (SIGKILL) and bring the same registry back on the same port and storage.
  void kill();
  void start();
  bool running();

 private:
  RegistryOptions opts_;
  std::unique_ptr<TempDir> dir_;
  std::filesystem::path storage_;
  int port_ = 0;
  Process proc_;
};

}  // namespace sealift::testenv
