#include "cmd_keygen.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "cli/flags.h"
#include "sign/key.h"
#include "sign/keypair.h"
#include "sign/password.h"
#include "sign/pkcs11.h"
#include "sign/signer.h"
#include "util/fs.h"
#include "util/error.h"

namespace sealift::bundler {

namespace {
struct KeygenFlags {
  std::string output_prefix;
  std::string dir;
  std::string key_type = "ecdsa-p256";
  std::string password_file;
  bool force = false;
  bool legacy_format = false;
  std::string pkcs11_uri;
  std::string pin_file;
  std::string pkcs11_module;
  cli::OutputFlags out;
};

// `text` unless --json or --quiet; with --json, what was written and the key's fingerprint.
void print_result(const KeygenFlags& f, const std::string& text, const std::string& private_key,
                  const std::filesystem::path& public_key, const sign::PublicKey& key) {
  if (f.out.json)
    fmt::print("{}\n", nlohmann::ordered_json{{"privateKey", private_key},
                                              {"publicKey", public_key.string()},
                                              {"fingerprint", key.fingerprint()}}
                           .dump());
  else if (!f.out.quiet)
    fmt::print("{}", text);
}

// The key pair is made in the token; only cosign.pub is written.
void run_keygen_pkcs11(const KeygenFlags& f, const sign::KeyPairFiles& files) {
  if (f.key_type != "ecdsa-p256")
    throw Error(ErrorKind::Usage, "keygen --pkcs11 makes ECDSA P-256 keys only",
                "libp11 0.4.12 (Debian 12), which sealift signs through, cannot use Ed25519 keys in a token");
  std::error_code ec;
  if (!f.force && std::filesystem::exists(std::filesystem::symlink_status(files.public_key, ec)))
    throw Error(ErrorKind::Usage, fmt::format("{} already exists; not overwriting it", files.public_key.string()),
                "pass --force to replace it, or choose another --output-prefix / --dir");
  sign::Pkcs11Options options;
  options.module = f.pkcs11_module;
  options.pin.password_file = f.pin_file;
  const sign::PublicKey key = sign::Pkcs11Key::generate(f.pkcs11_uri, options);
  util::write_file_atomic(files.public_key, key.pem(), 0644);
  print_result(f,
               fmt::format("Private key {}\nPublic key written to {}\nFingerprint {}\n", f.pkcs11_uri,
                           files.public_key.string(), key.fingerprint()),
               f.pkcs11_uri, files.public_key, key);
}

void run_keygen(const KeygenFlags& f) {
  std::filesystem::path prefix = "cosign";
  if (!f.output_prefix.empty()) prefix = f.output_prefix;
  if (!f.dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(f.dir, ec);
    if (ec) throw Error(ErrorKind::Io, fmt::format("cannot create {}: {}", f.dir, ec.message()));
    prefix = std::filesystem::path(f.dir) / "cosign";
  }
  auto files = sign::KeyPairFiles::with_prefix(prefix);
  if (!f.pkcs11_uri.empty()) return run_keygen_pkcs11(f, files);
  sign::KeyType type = sign::parse_key_type(f.key_type);
  sign::Secret password = sign::read_password({f.password_file, /*confirm=*/true});
  const sign::PrivateKey key = sign::PrivateKey::generate(type);
  sign::write_key_pair(files, key, password,
                       f.legacy_format ? sign::KeyFileFormat::Legacy : sign::KeyFileFormat::Current, f.force);
  print_result(f,
               fmt::format("Private key written to {}\nPublic key written to {}\n", files.private_key.string(),
                           files.public_key.string()),
               files.private_key.string(), files.public_key, key.public_key());
}
struct PublicKeyFlags {
  cli::SignerFlags signer;
  std::string output;
  cli::OutputFlags out;
};

void run_public_key(const PublicKeyFlags& f) {
  sign::PublicKey key = sign::signer_public_key(f.signer.options());
  if (f.output.empty()) {
    if (!f.out.json) fmt::print("{}", key.pem());
  } else {
    util::write_file_atomic(f.output, key.pem(), 0644);
  }
  if (f.out.json)
    fmt::print("{}\n", nlohmann::ordered_json{{"publicKey", f.output.empty() ? key.pem() : f.output},
                                              {"fingerprint", key.fingerprint()}}
                           .dump());
}
}  // namespace

void add_public_key_command(CLI::App& app) {
  auto flags = std::make_shared<PublicKeyFlags>();
  CLI::App* cmd = app.add_subcommand("public-key", "Write the cosign.pub of a signing key (a key file or a PKCS#11 URI)");
  cli::add_signer_flags(cmd, flags->signer);
  cmd->add_option("-o,--output", flags->output, "Write the public key to this file (default: standard output)");
  cli::add_output_flags(cmd, flags->out);
  cmd->callback([flags] { run_public_key(*flags); });
}

void add_keygen_command(CLI::App& app) {
  auto flags = std::make_shared<KeygenFlags>();
  CLI::App* cmd = app.add_subcommand("keygen", "Create a cosign-compatible key pair: cosign.key (encrypted) and cosign.pub");
  auto* prefix = cmd->add_option("--output-prefix", flags->output_prefix,
                                 "Write <prefix>.key and <prefix>.pub (default: cosign)");
  cmd->add_option("--dir", flags->dir, "Write cosign.key and cosign.pub into this directory")->excludes(prefix);
  cmd->add_option("--key-type", flags->key_type, "ecdsa-p256 (cosign's default) or ed25519")
      ->check(CLI::IsMember({"ecdsa-p256", "ed25519"}));
  cmd->add_flag("--force", flags->force, "Replace an existing key pair");
  auto* password = cmd->add_option("--password-file", flags->password_file,
                                   "Read the key password from this file (default: COSIGN_PASSWORD, else a prompt)");
  auto* legacy = cmd->add_flag("--legacy-format", flags->legacy_format,
                               "Write the COSIGN PEM label and scrypt N=32768, readable by cosign releases before 2.2");
  cmd->add_option("--pkcs11", flags->pkcs11_uri,
                  "Make a P-256 key pair in a PKCS#11 token instead, named by an RFC 7512 URI "
                  "(pkcs11:token=LABEL;object=NEWKEY); only the public key file is written")
      ->excludes(password)
      ->excludes(legacy);
  cmd->add_option("--pin-file", flags->pin_file, "PKCS#11: the token's PIN file (default: COSIGN_PKCS11_PIN, else a prompt)");
  cmd->add_option("--pkcs11-module", flags->pkcs11_module,
                  "PKCS#11: the token's module (default: the URI's module-path, else COSIGN_PKCS11_MODULE_PATH)");
  cli::add_output_flags(cmd, flags->out);
  cmd->callback([flags] { run_keygen(*flags); });
}

}  // namespace sealift::bundler
