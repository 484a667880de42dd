// cosign private key files (sign::PrivateKey::from_encrypted_pem): PEM, either label ("ENCRYPTED
// SIGSTORE PRIVATE KEY" or "ENCRYPTED COSIGN PRIVATE KEY"), around the scrypt + secretbox JSON
// envelope around PKCS#8. The key derivation is replaced by a cheap one (scrypt_stub.h), so the
// inputs exercise the PEM and envelope parsing; private_key_der_fuzz covers what is inside.
#include "fuzz.h"
#include "scrypt_stub.h"
#include "sign/key.h"
#include "sign/secret.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  static const sign::Secret password = sign::Secret::copy_of("fuzz-password");
  fuzz::expect_clean_errors([&] {
    auto key = sign::PrivateKey::from_encrypted_pem(fuzz::text(data, size), password, "cosign.key");
    (void)key.public_key();
  });
  return 0;
}
