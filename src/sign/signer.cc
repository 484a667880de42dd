#include "sign/signer.h"

#include "util/error.h"

namespace sealift::sign {

std::unique_ptr<Signer> open_signer(const SignerOptions& o) {
  if (!o.command.command.empty()) {
    if (!o.key.empty()) throw Error(ErrorKind::Usage, "--key and --signer-command exclude each other");
    return std::make_unique<CommandSigner>(o.command);
  }
  if (o.key.empty())
    throw Error(ErrorKind::Usage, "no signing key given (--key)",
                "make one with `sealift-bundle keygen`, or name a key in a token with --key pkcs11:token=…;object=…");
  if (is_pkcs11_uri(o.key)) return Pkcs11Key::open(o.key, o.pkcs11);
  return std::make_unique<PrivateKey>(PrivateKey::from_file(o.key, read_password(o.password)));
}

PublicKey signer_public_key(const SignerOptions& o) {
  if (o.key.empty() && !o.command.command.empty()) return open_signer(o)->public_key();
  if (is_pkcs11_uri(o.key)) return Pkcs11Key::read_public_key(o.key, o.pkcs11);
  return open_signer(o)->public_key();
}

}  // namespace sealift::sign
