// Which signer a program signs with, from its flags: `--key cosign.key` (a cosign key file and its
// password), `--key pkcs11:…` (a key in a PKCS#11 token and its PIN) or `--signer-command` (any
// KMS through its command-line client, checked with --signer-public-key).
#pragma once

#include <memory>
#include <string>

#include "sign/command_signer.h"
#include "sign/key.h"
#include "sign/password.h"
#include "sign/pkcs11.h"

namespace sealift::sign {

struct SignerOptions {
  std::string key;            // a cosign.key path or a pkcs11: URI
  PasswordOptions password;   // of a key file
  Pkcs11Options pkcs11;       // module and PIN of a token
  CommandSignerOptions command;  // an external signer, instead of `key`
};

// Opens the signer: reads the password or PIN, decrypts the file or logs in to the token, or reads
// the external signer's public key. Throws Error(Usage) when no key or both a key and a command
// are given, and what PrivateKey::from_file, Pkcs11Key::open or CommandSigner throw.
std::unique_ptr<Signer> open_signer(const SignerOptions& options);

// The public key of `key` (a pkcs11: URI, or a cosign.key whose password is read), or the
// external signer's.
PublicKey signer_public_key(const SignerOptions& options);

}  // namespace sealift::sign
