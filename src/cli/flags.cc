#include "cli/flags.h"

#include <cctype>

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::cli {

registry::HttpOptions RegistryFlags::http() const {
  registry::HttpOptions h;
  h.plain_http = plain_http;
  h.ca_file = ca_file;
  h.client_cert = client_cert;
  h.client_key = client_key;
  h.insecure_skip_verify = insecure_skip_tls_verify;
  h.stall_timeout_s = stall_timeout_s;
  h.min_rate = parse_size(min_rate);
  h.allowed_token_realms = allow_token_realms;
  return h;
}

registry::CredentialFlags RegistryFlags::credentials() const {
  registry::CredentialFlags c;
  c.username = username;
  c.password_stdin = password_stdin;
  return c;
}

void add_registry_flags(CLI::App* cmd, RegistryFlags& f, const std::string& which) {
  cmd->add_flag("--plain-http", f.plain_http, fmt::format("Talk plain HTTP to the {} (never chosen silently)", which));
  cmd->add_option("--ca-file", f.ca_file,
                  fmt::format("CA certificates (PEM) the {} is checked against, instead of SSL_CERT_FILE/SSL_CERT_DIR "
                              "or the system's CA bundle (a private CA)",
                              which));
  cmd->add_option("--cert-file", f.client_cert, "Client certificate (PEM) for mutual TLS");
  cmd->add_option("--key-file", f.client_key, "Key of the client certificate (PEM)");
  cmd->add_flag("--insecure-skip-tls-verify", f.insecure_skip_tls_verify,
                "Accept any server certificate (dangerous; prefer --ca-file)");
  cmd->add_option("--username", f.username,
                  fmt::format("User for the {} (else SEALIFT_REGISTRY_USER or ~/.docker/config.json)", which));
  cmd->add_flag("--password-stdin", f.password_stdin,
                "Read the password from stdin (else SEALIFT_REGISTRY_PASSWORD or ~/.docker/config.json)");
  cmd->add_option("--stall-timeout", f.stall_timeout_s,
                  "Seconds without a byte moving before a transfer is cut off and retried")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 3600.0));
  cmd->add_option("--min-rate", f.min_rate,
                  "Bytes per second (K, M suffixes) a transfer must keep up over --stall-timeout, else it is cut off "
                  "and retried; each request must also end within 5 minutes plus its size at this rate")
      ->capture_default_str()
      ->check([](const std::string& text) -> std::string {
        try {
          parse_size(text);
          return {};
        } catch (const Error& e) {
          return e.what();
        }
      });
  cmd->add_option("--allow-token-realm", f.allow_token_realms,
                  fmt::format("Token service host (HOST or HOST:PORT) that may receive the credentials for {} "
                              "although it is neither their host nor in their domain; repeatable",
                              which))
      ->type_name("HOST")
      ->check([](const std::string& host) -> std::string {
        if (host.empty() || host.find_first_of("/?#@ ") != std::string::npos)
          return fmt::format("\"{}\" is not a host or host:port", host);
        return {};
      });
}

util::Progress::Mode OutputFlags::mode() const {
  if (json) return util::Progress::Mode::Json;
  if (quiet) return util::Progress::Mode::Quiet;
  return util::Progress::Mode::Auto;
}

void add_output_flags(CLI::App* cmd, OutputFlags& f) {
  cmd->add_flag("-q,--quiet", f.quiet, "Print only errors");
  cmd->add_flag("--json", f.json, "Machine-readable output: JSON lines for progress, a JSON result");
}

sign::SignerOptions SignerFlags::options() const {
  sign::SignerOptions o;
  o.key = key;
  o.password.password_file = password_file;
  o.pkcs11.module = pkcs11_module;
  o.pkcs11.pin.password_file = pin_file;
  o.command.command = signer_command;
  o.command.public_key = signer_public_key;
  o.command.timeout_seconds = signer_timeout_s;
  return o;
}

void add_signer_flags(CLI::App* cmd, SignerFlags& f) {
  cmd->add_option("--key", f.key,
                              "cosign.key to sign with, or a key in a PKCS#11 token: pkcs11:token=LABEL;object=KEY "
                              "(RFC 7512; the key stays in the token)");
  cmd->add_option("--password-file", f.password_file, "Key password file (default: COSIGN_PASSWORD, else a prompt)");
  cmd->add_option("--pin-file", f.pin_file, "PKCS#11: the token's PIN file (default: COSIGN_PKCS11_PIN, else a prompt)");
  cmd->add_option("--pkcs11-module", f.pkcs11_module,
                  "PKCS#11: the token's module (default: the URI's module-path, else COSIGN_PKCS11_MODULE_PATH)");
  cmd->add_option("--signer-command", f.signer_command,
                  "Sign by running this command (split into words, no shell): the SHA-256 (P-256) or the message "
                  "(Ed25519) on its stdin, the signature (DER, raw or base64) on its stdout; instead of --key");
  cmd->add_option("--signer-public-key", f.signer_public_key,
                  "The public key (cosign.pub) of --signer-command: every signature is checked with it");
  cmd->add_option("--signer-timeout", f.signer_timeout_s, "Seconds one --signer-command run may take")
      ->capture_default_str();
}

uint64_t parse_size(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) throw Error(ErrorKind::Usage, fmt::format("invalid size \"{}\": expected a number like 4G or 500M", text));
  uint64_t n = std::stoull(text.substr(0, i));
  std::string unit = text.substr(i);
  uint64_t mult = 1;
  if (unit == "" || unit == "B") mult = 1;
  else if (unit == "K" || unit == "KiB" || unit == "k") mult = 1ull << 10;
  else if (unit == "M" || unit == "MiB") mult = 1ull << 20;
  else if (unit == "G" || unit == "GiB") mult = 1ull << 30;
  else if (unit == "T" || unit == "TiB") mult = 1ull << 40;
  else throw Error(ErrorKind::Usage, fmt::format("invalid size \"{}\": unknown unit \"{}\" (use K, M, G or T)", text, unit));
  if (n == 0) throw Error(ErrorKind::Usage, fmt::format("invalid size \"{}\": must be greater than zero", text));
  return n * mult;
}

std::map<std::string, std::string> parse_mappings(const std::vector<std::string>& pairs, const std::string& flag) {
  std::map<std::string, std::string> out;
  for (const auto& p : pairs) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == p.size())
      throw Error(ErrorKind::Usage, fmt::format("{} \"{}\": expected SRC=DEST", flag, p));
    out[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return out;
}

}  // namespace sealift::cli
