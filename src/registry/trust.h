// Which certificates sealift trusts for TLS, decided in one place for every connection it makes.
//
// A libcurl/OpenSSL linked statically (the portable release binaries) carries the CA path of the
// machine it was built on, which is wrong on most others: Debian keeps the system's bundle in one
// file, RHEL and SUSE in others. So sealift never relies on the built-in default when it can find
// the system's bundle itself, and says which one it used when a certificate is not trusted.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace sealift::registry {

// The system CA bundles sealift looks for, first found wins: Debian/Ubuntu, RHEL/Fedora (and its
// older compatibility link), SUSE, Alpine. Go's crypto/x509 and curl's configure probe the same.
const std::vector<std::filesystem::path>& system_ca_bundles();

struct Trust {
  std::filesystem::path file;  // PEM bundle (CURLOPT_CAINFO); empty: none
  std::filesystem::path dir;   // OpenSSL hashed directory (CURLOPT_CAPATH); empty: none
  // Where the choice came from, for messages: "--ca-file", "SSL_CERT_FILE", "SSL_CERT_DIR",
  // "SSL_CERT_FILE and SSL_CERT_DIR", "the system's CA bundle"; empty when nothing was found and
  // libcurl's built-in default applies.
  std::string origin;

  // "/etc/ssl/certs/ca-certificates.crt (the system's CA bundle)", "no CA bundle found (looked
  // for ...)": what a certificate was checked against, in the user's words.
  std::string describe() const;
};

// In order: `ca_file` (--ca-file) alone; else SSL_CERT_FILE and/or SSL_CERT_DIR from `ssl_cert_file`,
// `ssl_cert_dir` (set and non-empty), exactly those; else the first of `system_bundles` that is a
// file. Nothing is read here: a file that cannot be used fails the handshake, which says so.
Trust choose_trust(const std::filesystem::path& ca_file, const char* ssl_cert_file, const char* ssl_cert_dir,
                   const std::vector<std::filesystem::path>& system_bundles);

// choose_trust with this process's SSL_CERT_FILE, SSL_CERT_DIR and system_ca_bundles().
Trust find_trust(const std::filesystem::path& ca_file);

}  // namespace sealift::registry
