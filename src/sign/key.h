// cosign-compatible keys. A private key lives in `cosign.key`: PEM "ENCRYPTED SIGSTORE PRIVATE KEY"
// around the encrypted envelope (envelope.h) around PKCS#8 DER. The public key lives in
// `cosign.pub`: PEM "PUBLIC KEY" around PKIX SubjectPublicKeyInfo DER. sealift signs with ECDSA
// P-256 (cosign's default) or Ed25519.
#pragma once

#include <openssl/types.h>

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "sign/envelope.h"
#include "sign/secret.h"

namespace sealift::sign {

enum class KeyType { EcdsaP256, Ed25519 };

// "ecdsa-p256" / "ed25519", the spelling of `keygen --key-type`.
std::string_view key_type_name(KeyType type);
// The reason of OpenSSL's (or libp11's) most recent error, and clears the queue.
std::string openssl_reason();
// Throws Error(Usage) naming the accepted values.
KeyType parse_key_type(std::string_view name);

enum class KeyFileFormat {
  Current,  // label ENCRYPTED SIGSTORE PRIVATE KEY, scrypt N=65536: what cosign >= 2.2 writes and reads
  Legacy,   // label ENCRYPTED COSIGN PRIVATE KEY, scrypt N=32768: readable by every cosign release
};

inline constexpr std::string_view kSigstorePrivateKeyLabel = "ENCRYPTED SIGSTORE PRIVATE KEY";
inline constexpr std::string_view kCosignPrivateKeyLabel = "ENCRYPTED COSIGN PRIVATE KEY";
inline constexpr std::string_view kPublicKeyLabel = "PUBLIC KEY";

class PublicKey {
 public:
  // Parses PEM "PUBLIC KEY" (PKIX). `what` names the source in errors. Throws Error(Input) for
  // other PEM types, malformed DER and key types other than P-256 and Ed25519.
  static PublicKey from_pem(std::string_view text, std::string_view what);
  static PublicKey from_file(const std::filesystem::path& path);

  KeyType type() const { return type_; }
  // PKIX SubjectPublicKeyInfo DER.
  const std::string& der() const { return der_; }
  // The `cosign.pub` text.
  std::string pem() const;
  // "sha256:<hex>" of the DER: names a key in messages and logs without printing it.
  std::string fingerprint() const;

  EVP_PKEY* evp() const { return pkey_.get(); }

 private:
  PublicKey(std::shared_ptr<EVP_PKEY> pkey, KeyType type, std::string der);
  std::shared_ptr<EVP_PKEY> pkey_;
  KeyType type_;
  std::string der_;
};

// Whatever makes the vendor's signatures: a cosign key file (PrivateKey below), a key that stays
// in a PKCS#11 token (Pkcs11Key, pkcs11.h), an external command (CommandSigner, command_signer.h).
// Everything sealift signs goes through sign() of signature.h, which checks each signature
// against the signer's public key before it is used: a token or command that answers with another
// key's signature, or with garbage, stops the build.
using Sha256Bytes = std::array<unsigned char, 32>;

class Signer {
 public:
  virtual ~Signer() = default;

  virtual KeyType type() const = 0;
  virtual PublicKey public_key() const = 0;
  // Names the key in messages, never its secret: "cosign.key", "pkcs11:token=…;object=…".
  virtual std::string name() const = 0;

  // The raw signature (not base64): ECDSA P-256 over `sha256`, the SHA-256 of the message, as
  // ASN.1 DER; Ed25519 over `message` itself (passed only to Ed25519 signers: ECDSA needs only
  // the digest, so a large message is never held in memory for it).
  virtual std::string sign_prepared(const Sha256Bytes& sha256, std::string_view message) const = 0;

 protected:
  Signer() = default;
  Signer(const Signer&) = default;
  Signer(Signer&&) = default;
  Signer& operator=(const Signer&) = default;
  Signer& operator=(Signer&&) = default;
};

class PrivateKey final : public Signer {
 public:
  static PrivateKey generate(KeyType type);
  // Decrypts a cosign key file: either PEM label, any of the three scrypt parameter sets,
  // PKCS#8 P-256 or Ed25519 inside. `what` names the file in errors. Throws Error(Input) for a
  // wrong password, unsupported parameters or key types, a SEC1 key inside, truncated or garbage
  // input.
  static PrivateKey from_encrypted_pem(std::string_view text, const Secret& password, std::string_view what);
  static PrivateKey from_file(const std::filesystem::path& path, const Secret& password);

  // The `cosign.key` text: this key as PKCS#8, encrypted under `password`.
  std::string to_encrypted_pem(const Secret& password, KeyFileFormat format = KeyFileFormat::Current) const;
  // PKCS#8 PrivateKeyInfo DER, as Go's x509.MarshalPKCS8PrivateKey writes it.
  Secret pkcs8() const;

  KeyType type() const override { return type_; }
  PublicKey public_key() const override { return public_key_; }
  std::string name() const override { return name_; }
  std::string sign_prepared(const Sha256Bytes& sha256, std::string_view message) const override;

  EVP_PKEY* evp() const { return pkey_.get(); }

 private:
  struct Free {
    void operator()(EVP_PKEY* p) const;
  };
  PrivateKey(std::unique_ptr<EVP_PKEY, Free> pkey, KeyType type, std::string name);
  std::unique_ptr<EVP_PKEY, Free> pkey_;
  KeyType type_;
  std::string name_;
  // Derived once: every signature is checked against it before use (sign() in signature.h).
  PublicKey public_key_;
};

}  // namespace sealift::sign
