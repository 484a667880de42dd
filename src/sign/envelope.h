// The encrypted envelope inside a cosign key file (go-securesystemslib "encrypted"): scrypt derives
// a 32-byte key from the password, NaCl secretbox seals the plaintext, and compact JSON carries both:
//   {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"…"},
//    "cipher":{"name":"nacl/secretbox","nonce":"…"},"ciphertext":"…"}
#pragma once

#include <string>
#include <string_view>

#include "sign/secret.h"

namespace sealift::sign {

// The three scrypt parameter sets cosign accepts (r=8, p=1); any other set is refused on read,
// as go-securesystemslib does, so a crafted file cannot demand unbounded memory.
enum class ScryptStrength {
  Legacy,    // N=32768: the only set cosign <= 2.1 reads
  Standard,  // N=65536: what cosign >= 2.2 writes
  Owasp,     // N=131072
};

// Seals `plaintext` under `password` with a fresh random 32-byte salt and 24-byte nonce.
std::string encrypt_envelope(const Secret& plaintext, const Secret& password,
                             ScryptStrength strength = ScryptStrength::Standard);

// Opens an envelope. `what` names the key file in errors. Throws Error(Input) for malformed
// JSON, an unknown kdf or cipher, unsupported scrypt parameters, a nonce that is not 24 bytes,
// and for a wrong password (secretbox authentication fails).
Secret decrypt_envelope(std::string_view json, const Secret& password, std::string_view what);

}  // namespace sealift::sign
