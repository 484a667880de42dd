#include "cmd_sign.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "cli/flags.h"
#include "sign/blob.h"
#include "sign/signer.h"
#include "util/fs.h"

namespace sealift::bundler {

namespace {
struct SignBlobFlags {
  cli::SignerFlags signer;
  std::string file;
  std::string output_signature;
  cli::OutputFlags out;
};

void run_sign_blob(const SignBlobFlags& f) {
  const std::unique_ptr<sign::Signer> signer = sign::open_signer(f.signer.options());
  util::FileSource content(f.file);
  util::write_file_atomic(f.output_signature, sign::sign_blob(*signer, content));
  std::string fingerprint = signer->public_key().fingerprint();
  if (f.out.json) {
    fmt::print("{}\n", nlohmann::ordered_json{{"file", f.file}, {"signature", f.output_signature}, {"key", fingerprint}}.dump());
  } else if (!f.out.quiet) {
    fmt::print("Signature of {} written to {} (key {})\n", f.file, f.output_signature, fingerprint);
  }
}
}  // namespace

// `public-key` is in cmd_keygen.cc: it takes the same signer flags.
void add_sign_commands(CLI::App& app) {
  auto s = std::make_shared<SignBlobFlags>();
  CLI::App* sign = app.add_subcommand(
      "sign-blob", "Sign a file as `cosign sign-blob` does: `cosign verify-blob` and `openssl dgst -sha256 -verify` accept it");
  sign->add_option("FILE", s->file, "The file to sign")->required()->check(CLI::ExistingFile);
  cli::add_signer_flags(sign, s->signer);
  sign->add_option("--output-signature", s->output_signature, "Write the signature (base64) here")->required();
  cli::add_output_flags(sign, s->out);
  sign->callback([s] { run_sign_blob(*s); });
}

}  // namespace sealift::bundler
