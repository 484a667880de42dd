// Raw signatures as cosign makes and checks them: ECDSA P-256 over SHA-256(message) as ASN.1 DER,
// or Ed25519 over the message itself. Verification takes a set of trusted keys and fails closed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "io/stream.h"
#include "sign/key.h"

namespace sealift::sign {

// The signature bytes (not base64). Deterministic for Ed25519; ECDSA uses a fresh nonce each time.
// Every signature is verified with the signer's public key before it is returned; one that does
// not verify (a token or command answering with another key, or garbage) throws Error(Integrity)
// naming the signer.
std::string sign(const Signer& signer, std::string_view message);
// Same, reading the message once from a stream. ECDSA only needs its SHA-256; Ed25519 signs the
// whole message, so it is held in memory (up to 256 MiB, else Error(Input)).
std::string sign(const Signer& signer, io::Source& message);

// The raw signature with an OpenSSL key of `type`, as Signer::sign_prepared describes it: a key
// read from a file, or one whose operations run in a PKCS#11 token (libp11).
std::string sign_with_evp(EVP_PKEY* pkey, KeyType type, const Sha256Bytes& sha256, std::string_view message);

// True when `signature` over `message` was made by `key`. An Ed25519 key accepts pure Ed25519
// and Ed25519ph (SHA-512 prehash, empty context): cosign 2.x signs images with Ed25519ph and
// blobs with pure Ed25519.
bool verify(const PublicKey& key, std::string_view message, std::string_view signature);

// The public keys a verifier trusts. Verification with an empty set is an error, never a pass.
class TrustedKeys {
 public:
  TrustedKeys() = default;
  explicit TrustedKeys(std::vector<PublicKey> keys) : keys_(std::move(keys)) {}
  // Reads each `cosign.pub`-style file; throws Error(Input) naming a bad one.
  static TrustedKeys from_files(const std::vector<std::filesystem::path>& paths);
  // Adds every `*.pub` in `dir` (a site's trusted vendor keys, old and new across a rotation), in
  // name order. Throws Error(Usage) when the directory or a key in it is writable by other users
  // (group or world write, or owned by another user than this one or root: whoever can write
  // there can make sealift trust any bundle), or when it holds no *.pub; Error(Input) naming a
  // bad key file.
  void add_dir(const std::filesystem::path& dir);
  // "sha256:…, sha256:…": the fingerprints, for messages.
  std::string fingerprints() const;

  void add(PublicKey key) { keys_.push_back(std::move(key)); }
  bool empty() const { return keys_.empty(); }
  const std::vector<PublicKey>& keys() const { return keys_; }

  // The trusted key that made `signature` over `message`, or nullptr when none did.
  // Throws Error(Usage) when the set is empty.
  const PublicKey* signer_of(std::string_view message, std::string_view signature) const;
  // Same, reading the message once from a stream.
  const PublicKey* signer_of(io::Source& message, std::string_view signature) const;

 private:
  void require_keys() const;
  std::vector<PublicKey> keys_;
};

}  // namespace sealift::sign
