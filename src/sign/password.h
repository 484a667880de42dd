// The password of a cosign key file, from where cosign users keep it.
#pragma once

#include <filesystem>
#include <string>

#include "sign/secret.h"

namespace sealift::sign {

struct PasswordOptions {
  // --password-file: the whole file is the password, minus one trailing newline.
  std::filesystem::path password_file;
  // Ask twice when prompting (a new key): a typo would lock the key away.
  bool confirm = false;
  // Where else the secret may come from, and what it is called in the prompt and errors: a token's
  // PIN is read the same way, from COSIGN_PKCS11_PIN (as cosign does).
  std::string env_var = "COSIGN_PASSWORD";
  std::string what = "password";
  std::string prompt = "Enter password for private key: ";
  std::string confirm_prompt = "Enter password for private key again: ";
};

// In order: --password-file; env_var (COSIGN_PASSWORD) when set, even to "" (an empty password is
// valid, as for cosign); a prompt on the terminal (echo off) when stdin is one. Otherwise throws
// Error(Usage) "no password: set COSIGN_PASSWORD or --password-file". The password is never
// echoed, logged or put in an error message.
Secret read_password(const PasswordOptions& options);

}  // namespace sealift::sign
