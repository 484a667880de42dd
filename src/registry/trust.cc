#include "registry/trust.h"

#include <cstdlib>
#include <system_error>

#include <fmt/format.h>

namespace sealift::registry {

namespace fs = std::filesystem;

const std::vector<fs::path>& system_ca_bundles() {
  static const std::vector<fs::path> bundles = {
      "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu (and Gentoo, Arch)
      "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // RHEL, Fedora, CentOS (update-ca-trust)
      "/etc/pki/tls/certs/ca-bundle.crt",                   // RHEL's older path, a link to the above
      "/etc/ssl/ca-bundle.pem",                             // SUSE, openSUSE
      "/etc/ssl/cert.pem",                                  // Alpine
  };
  return bundles;
}

std::string Trust::describe() const {
  if (origin.empty()) {
    std::string looked;
    for (const auto& p : system_ca_bundles()) looked += (looked.empty() ? "" : ", ") + p.string();
    return fmt::format("no CA bundle found (looked for {})", looked);
  }
  if (!file.empty() && !dir.empty()) return fmt::format("{} and {} ({})", file.string(), dir.string(), origin);
  return fmt::format("{} ({})", (file.empty() ? dir : file).string(), origin);
}

Trust choose_trust(const fs::path& ca_file, const char* ssl_cert_file, const char* ssl_cert_dir,
                   const std::vector<fs::path>& system_bundles) {
  if (!ca_file.empty()) return {ca_file, {}, "--ca-file"};
  bool env_file = ssl_cert_file && *ssl_cert_file;
  bool env_dir = ssl_cert_dir && *ssl_cert_dir;
  if (env_file || env_dir) {
    Trust t;
    if (env_file) t.file = ssl_cert_file;
    if (env_dir) t.dir = ssl_cert_dir;
    t.origin = env_file && env_dir ? "SSL_CERT_FILE and SSL_CERT_DIR" : env_file ? "SSL_CERT_FILE" : "SSL_CERT_DIR";
    return t;
  }
  for (const auto& p : system_bundles) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return {p, {}, "the system's CA bundle"};
  }
  return {};
}

Trust find_trust(const fs::path& ca_file) {
  return choose_trust(ca_file, std::getenv("SSL_CERT_FILE"), std::getenv("SSL_CERT_DIR"), system_ca_bundles());
}

}  // namespace sealift::registry
