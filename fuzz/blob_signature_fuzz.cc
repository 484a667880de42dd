// Detached signatures (sign::verify_blob), the `cosign sign-blob` text that signs a bundle's
// sealift.json and chart: base64 around ECDSA DER or Ed25519 bytes, checked against an ECDSA
// P-256 and an Ed25519 key. Random bytes must never verify.
#include "fuzz.h"
#include "io/stream.h"
#include "sign/blob.h"
#include "sign/key.h"
#include "sign/signature.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  static const sign::TrustedKeys trusted({sign::PrivateKey::generate(sign::KeyType::EcdsaP256).public_key(),
                                          sign::PrivateKey::generate(sign::KeyType::Ed25519).public_key()});
  static const std::string content = "{\"formatVersion\":1}\n";
  bool verified = false;
  fuzz::expect_clean_errors([&] {
    io::MemorySource src(content);
    sign::verify_blob(trusted, src, fuzz::text(data, size), "sealift.json");
    verified = true;
  });
  fuzz::require(!verified, "a signature by a key made in this process verified");
  return 0;
}
