// A PKCS#11 token for the signing tests: SoftHSM2 (Debian's softhsm2, a real PKCS#11 module) with
// its token store in a scratch directory, initialised by softhsm2-util, holding key pairs made by
// openssl and imported as a vendor's HSM tool would put them there. The test process exports
// SOFTHSM2_CONF while the token lives, so sealift and the tools it runs find the same store.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "env/process.h"

namespace sealift::testenv {

class SoftHsm {
 public:
  static constexpr const char* kModule = "/usr/lib/softhsm/libsofthsm2.so";

  // Initialises token `label` with user PIN `pin`. Throws std::runtime_error with the tool's
  // output on failure.
  explicit SoftHsm(std::string label = "release", std::string pin = "2468");
  SoftHsm(const SoftHsm&) = delete;
  SoftHsm& operator=(const SoftHsm&) = delete;

  // Makes a key with `openssl genpkey` (algorithm "P-256", "RSA" or "ED25519") and imports the
  // pair into the token as object `object` with CKA_ID `id` (hex). Returns the public key's PEM
  // file (written by openssl from the same key, for comparisons).
  std::filesystem::path import_key(const std::string& object, const std::string& algorithm, const std::string& id);

  // "pkcs11:token=<label>;object=<object>".
  std::string uri(const std::string& object) const;
  const std::string& pin() const { return pin_; }
  // A file holding the PIN (0600), for --pin-file.
  const std::filesystem::path& pin_file() const { return pin_file_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  std::string label_, pin_;
  std::filesystem::path pin_file_;
  std::unique_ptr<ScopedEnv> conf_;
};

}  // namespace sealift::testenv
