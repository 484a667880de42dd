// For the private key targets only: scrypt at cosign's parameters costs 32 to 128 MiB and a tenth
// of a second or more per call, which would make the fuzzer spend nearly all its time deriving
// keys. This definition takes the place of libsodium's (the program's own symbol wins at link
// time) with a cheap, deterministic derivation of the same shape, so every parsing step before
// and after the key derivation runs at full speed. The real scrypt is tested in tests/sign.
#pragma once

#include <sodium.h>

#include <cstring>

extern "C" int crypto_pwhash_scryptsalsa208sha256_ll(const uint8_t* passwd, size_t passwdlen, const uint8_t* salt,
                                                     size_t saltlen, uint64_t N, uint32_t r, uint32_t p,
                                                     uint8_t* buf, size_t buflen) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, buflen);
  crypto_generichash_update(&st, passwd, passwdlen);
  crypto_generichash_update(&st, salt, saltlen);
  uint64_t params[3] = {N, r, p};
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(params), sizeof params);
  crypto_generichash_final(&st, buf, buflen);
  return 0;
}
