// cosign public keys (sign::PublicKey::from_pem): PEM "PUBLIC KEY" around PKIX DER, as
// `sealift-install --key cosign.pub` reads them. An accepted key writes back to the same DER.
#include "fuzz.h"
#include "sign/key.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  fuzz::expect_clean_errors([&] {
    auto key = sign::PublicKey::from_pem(fuzz::text(data, size), "cosign.pub");
    auto again = sign::PublicKey::from_pem(key.pem(), "cosign.pub");
    fuzz::require(again.der() == key.der() && again.type() == key.type(), "pem() does not read back");
    (void)key.fingerprint();
  });
  return 0;
}
