// What a cosign key file holds once decrypted: PKCS#8 (v1, or v2 as sigstore-rs writes it), or a
// SEC1 key to be refused by name. The input is sealed in a real envelope and PEM (under the cheap
// key derivation of scrypt_stub.h), so it reaches the DER checks of PrivateKey::from_encrypted_pem.
// An accepted key must sign with its own public key, and write a key file that reads back.
#include "fuzz.h"
#include "scrypt_stub.h"
#include "sign/envelope.h"
#include "sign/key.h"
#include "sign/pem.h"
#include "sign/secret.h"
#include "sign/signature.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  static const sign::Secret password = sign::Secret::copy_of("fuzz-password");
  auto der = sign::Secret::copy_of(fuzz::text(data, size));
  std::string pem = sign::pem_encode(sign::kSigstorePrivateKeyLabel, sign::encrypt_envelope(der, password));
  fuzz::expect_clean_errors([&] {
    auto key = sign::PrivateKey::from_encrypted_pem(pem, password, "cosign.key");
    auto pub = key.public_key();
    fuzz::require(sign::verify(pub, "message", sign::sign(key, "message")), "the key's own signature does not verify");
    auto again = sign::PrivateKey::from_encrypted_pem(key.to_encrypted_pem(password), password, "cosign.key");
    fuzz::require(again.public_key().der() == pub.der(), "to_encrypted_pem does not read back");
  });
  return 0;
}
