#include "cmd_sign.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "cli/flags.h"
#include "sign/blob.h"
#include "sign/key.h"
#include "sign/password.h"
#include "util/fs.h"

namespace sealift::bundler {

namespace {
struct SignBlobFlags {
  std::string key;
  std::string password_file;
  std::string file;
  std::string output_signature;
  cli::OutputFlags out;
};

void run_sign_blob(const SignBlobFlags& f) {
  const sign::PrivateKey key = sign::PrivateKey::from_file(f.key, sign::read_password({f.password_file}));
  util::FileSource content(f.file);
  util::write_file_atomic(f.output_signature, sign::sign_blob(key, content));
  std::string fingerprint = key.public_key().fingerprint();
  if (f.out.json) {
    fmt::print("{}\n", nlohmann::ordered_json{{"file", f.file}, {"signature", f.output_signature}, {"key", fingerprint}}.dump());
  } else if (!f.out.quiet) {
    fmt::print("Signature of {} written to {} (key {})\n", f.file, f.output_signature, fingerprint);
  }
}

struct PublicKeyFlags {
  std::string key;
  std::string password_file;
  std::string output;
};

void run_public_key(const PublicKeyFlags& f) {
  const sign::PrivateKey key = sign::PrivateKey::from_file(f.key, sign::read_password({f.password_file}));
  std::string pem = key.public_key().pem();
  if (f.output.empty()) {
    fmt::print("{}", pem);
  } else {
    util::write_file_atomic(f.output, pem);
  }
}
}  // namespace

void add_sign_commands(CLI::App& app) {
  auto s = std::make_shared<SignBlobFlags>();
  CLI::App* sign = app.add_subcommand(
      "sign-blob", "Sign a file as `cosign sign-blob` does: `cosign verify-blob` and `openssl dgst -sha256 -verify` accept it");
  sign->add_option("FILE", s->file, "The file to sign")->required()->check(CLI::ExistingFile);
  sign->add_option("--key", s->key, "cosign.key to sign with")->required();
  sign->add_option("--password-file", s->password_file, "Key password file (default: COSIGN_PASSWORD, else a prompt)");
  sign->add_option("--output-signature", s->output_signature, "Write the signature (base64) here")->required();
  cli::add_output_flags(sign, s->out);
  sign->callback([s] { run_sign_blob(*s); });

  auto p = std::make_shared<PublicKeyFlags>();
  CLI::App* pub = app.add_subcommand("public-key", "Write the public key (cosign.pub) of a cosign.key");
  pub->add_option("--key", p->key, "cosign.key")->required();
  pub->add_option("--password-file", p->password_file, "Key password file (default: COSIGN_PASSWORD, else a prompt)");
  pub->add_option("-o,--output", p->output, "Write it to this file (default: stdout)");
  pub->callback([p] { run_public_key(*p); });
}

}  // namespace sealift::bundler
