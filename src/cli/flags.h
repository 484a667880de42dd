// Command-line flags that both programs share (registry transport, credentials, output mode), so
// sealift-bundle and sealift-install spell and document them the same way.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "registry/credentials.h"
#include "registry/http.h"
#include "sign/signer.h"
#include "util/progress.h"

namespace sealift::cli {

struct RegistryFlags {
  bool plain_http = false;
  std::string ca_file;
  std::string client_cert;
  std::string client_key;
  bool insecure_skip_tls_verify = false;
  std::string username;
  bool password_stdin = false;
  double stall_timeout_s = 60;
  std::string min_rate = "1K";  // --min-rate: registry::HttpOptions::min_rate, checked by parse_size
  std::vector<std::string> allow_token_realms;

  registry::HttpOptions http() const;
  registry::CredentialFlags credentials() const;
};

// --plain-http, --ca-file, --cert-file, --key-file, --insecure-skip-tls-verify, --username,
// --password-stdin, --stall-timeout, --min-rate, --allow-token-realm. Passwords are never taken from argv: only stdin, SEALIFT_REGISTRY_PASSWORD or
// the docker config.
void add_registry_flags(CLI::App* cmd, RegistryFlags& flags, const std::string& which = "registry");

struct OutputFlags {
  bool quiet = false;
  bool json = false;
  util::Progress::Mode mode() const;
};
void add_output_flags(CLI::App* cmd, OutputFlags& flags);

// How the vendor signs (sealift-bundle build, public-key): a cosign key file or a key in a PKCS#11
// token.
struct SignerFlags {
  std::string key;
  std::string password_file;
  std::string pin_file;
  std::string pkcs11_module;
  std::string signer_command;
  std::string signer_public_key;
  double signer_timeout_s = 60;
  sign::SignerOptions options() const;
};
// --key, --password-file, --pin-file, --pkcs11-module, --signer-command, --signer-public-key,
// --signer-timeout.
void add_signer_flags(CLI::App* cmd, SignerFlags& flags);

// "4G", "500M", "1024" (binary units: 4G = 4 GiB). Throws Error(Usage).
uint64_t parse_size(const std::string& text);
// "SRC=DEST" pairs. Throws Error(Usage).
std::map<std::string, std::string> parse_mappings(const std::vector<std::string>& pairs, const std::string& flag);

}  // namespace sealift::cli
