#include "sign/key.h"

#include <openssl/crypto.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "oci/digest.h"
#include "sign/pem.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::sign {

namespace fs = std::filesystem;

namespace {

// P-256 and Ed25519 only: what cosign's SIGNATURE_SPEC requires, and all sealift signs with.
KeyType key_type_of(EVP_PKEY* pkey, std::string_view what) {
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_ED25519:
      return KeyType::Ed25519;
    case EVP_PKEY_EC: {
      char group[64] = {0};
      size_t len = 0;
      if (!EVP_PKEY_get_group_name(pkey, group, sizeof group, &len))
        throw Error(ErrorKind::Input, fmt::format("{}: ECDSA key without a named curve", what));
      if (std::string_view(group, len) != "prime256v1")
        throw Error(ErrorKind::Input, fmt::format("{}: ECDSA curve {} is not supported", what, std::string_view(group, len)),
                    "sealift signs with ECDSA P-256 (cosign's default) or Ed25519");
      return KeyType::EcdsaP256;
    }
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      throw Error(ErrorKind::Input, fmt::format("{}: RSA keys are not supported", what),
                  "sealift signs with ECDSA P-256 (cosign's default) or Ed25519");
    default:
      throw Error(ErrorKind::Input, fmt::format("{}: unsupported key type {}", what, EVP_PKEY_get0_type_name(pkey)),
                  "sealift signs with ECDSA P-256 (cosign's default) or Ed25519");
  }
}

std::string public_der(EVP_PKEY* pkey) {
  int len = i2d_PUBKEY(pkey, nullptr);
  if (len <= 0) throw Error(ErrorKind::Internal, "cannot encode a public key: " + openssl_reason());
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_PUBKEY(pkey, &p);
  return der;
}

// Just enough DER to tell key encodings apart; OpenSSL does the real parsing.
struct Tlv {
  unsigned tag = 0;
  size_t start = 0, header = 0, length = 0;
  size_t end() const { return start + header + length; }
  size_t content() const { return start + header; }
};

std::optional<Tlv> read_tlv(std::string_view der, size_t pos) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(der[i]); };
  if (pos + 2 > der.size()) return std::nullopt;
  Tlv t{byte(pos), pos, 2, byte(pos + 1)};
  if (t.length & 0x80) {
    size_t n = t.length & 0x7f;
    if (n == 0 || n > 4 || pos + 2 + n > der.size()) return std::nullopt;
    t.length = 0;
    for (size_t k = 0; k < n; ++k) t.length = (t.length << 8) | byte(pos + 2 + k);
    t.header += n;
  }
  if (t.end() > der.size()) return std::nullopt;
  return t;
}

// A SEC1 ECPrivateKey is SEQUENCE { INTEGER 1, OCTET STRING d, ... }; PKCS#8 is
// SEQUENCE { INTEGER, SEQUENCE algorithm, OCTET STRING key, ... }. The tag after the version
// tells them apart, so a SEC1 key gets an error that says what it is.
bool looks_like_sec1(std::string_view der) {
  auto outer = read_tlv(der, 0);
  if (!outer || outer->tag != 0x30) return false;
  auto version = read_tlv(der, outer->content());
  if (!version || version->tag != 0x02) return false;
  auto next = read_tlv(der, version->end());
  return next && next->tag == 0x04;
}

// PKCS#8 v2 (RFC 5958 OneAsymmetricKey: version 1, a trailing [1] publicKey), as sigstore-rs
// writes Ed25519 keys. Go's parser ignores the trailing fields and OpenSSL 3.0 rejects them, so
// the v1 form is rebuilt from version, algorithm and private key. Empty when `der` is not v2.
Secret pkcs8_v1_of_v2(std::string_view der) {
  auto outer = read_tlv(der, 0);
  if (!outer || outer->tag != 0x30 || outer->end() != der.size()) return {};
  auto version = read_tlv(der, outer->content());
  if (!version || version->tag != 0x02 || version->length != 1 || der[version->content()] != 1) return {};
  auto algorithm = read_tlv(der, version->end());
  if (!algorithm || algorithm->tag != 0x30) return {};
  auto key = read_tlv(der, algorithm->end());
  if (!key || key->tag != 0x04) return {};
  size_t body = 3 + (key->end() - algorithm->start);
  if (body > 0xffff) return {};
  Secret v1(body + (body < 0x80 ? 2 : body < 0x100 ? 3 : 4));
  unsigned char* p = v1.data();
  *p++ = 0x30;
  if (body >= 0x100) *p++ = 0x82, *p++ = static_cast<unsigned char>(body >> 8);
  else if (body >= 0x80) *p++ = 0x81;
  *p++ = static_cast<unsigned char>(body & 0xff);
  *p++ = 0x02, *p++ = 0x01, *p++ = 0x00;
  std::memcpy(p, der.data() + algorithm->start, key->end() - algorithm->start);
  return v1;
}

std::string_view label_for(KeyFileFormat format) {
  return format == KeyFileFormat::Legacy ? kCosignPrivateKeyLabel : kSigstorePrivateKeyLabel;
}

}  // namespace

std::string openssl_reason() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no reason given";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string_view key_type_name(KeyType type) { return type == KeyType::Ed25519 ? "ed25519" : "ecdsa-p256"; }

KeyType parse_key_type(std::string_view name) {
  if (name == "ecdsa-p256") return KeyType::EcdsaP256;
  if (name == "ed25519") return KeyType::Ed25519;
  throw Error(ErrorKind::Usage, fmt::format("unknown key type \"{}\"", name), "use ecdsa-p256 or ed25519");
}

// --- PublicKey ---------------------------------------------------------------------------------

PublicKey::PublicKey(std::shared_ptr<EVP_PKEY> pkey, KeyType type, std::string der)
    : pkey_(std::move(pkey)), type_(type), der_(std::move(der)) {}

PublicKey PublicKey::from_pem(std::string_view text, std::string_view what) {
  PemBlock block = pem_decode(text, what);
  if (block.label != kPublicKeyLabel) {
    if (block.label.find("PRIVATE KEY") != std::string::npos)
      throw Error(ErrorKind::Input, fmt::format("{} is a private key; verification needs the public key", what),
                  "pass cosign.pub, not cosign.key");
    throw Error(ErrorKind::Input, fmt::format("{}: unsupported PEM type \"{}\", expected \"PUBLIC KEY\"", what, block.label));
  }
  const auto* p = reinterpret_cast<const unsigned char*>(block.body.data());
  EVP_PKEY* raw = d2i_PUBKEY(nullptr, &p, static_cast<long>(block.body.size()));
  if (!raw) {
    ERR_clear_error();
    throw Error(ErrorKind::Input, fmt::format("{}: malformed public key", what));
  }
  std::shared_ptr<EVP_PKEY> pkey(raw, EVP_PKEY_free);
  if (p != reinterpret_cast<const unsigned char*>(block.body.data()) + block.body.size())
    throw Error(ErrorKind::Input, fmt::format("{}: trailing data after the public key", what));
  KeyType type = key_type_of(raw, what);
  return PublicKey(std::move(pkey), type, std::move(block.body));
}

PublicKey PublicKey::from_file(const fs::path& path) { return from_pem(util::read_file(path), path.string()); }

std::string PublicKey::pem() const { return pem_encode(kPublicKeyLabel, der_); }

std::string PublicKey::fingerprint() const { return oci::Digest::of(der_).str(); }

// --- PrivateKey --------------------------------------------------------------------------------

void PrivateKey::Free::operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }

PrivateKey PrivateKey::generate(KeyType type) {
  EVP_PKEY* raw = type == KeyType::Ed25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                           : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!raw) throw Error(ErrorKind::Internal, "key generation failed: " + openssl_reason());
  return PrivateKey(std::unique_ptr<EVP_PKEY, Free>(raw), type, "a generated key");
}

PrivateKey PrivateKey::from_encrypted_pem(std::string_view text, const Secret& password, std::string_view what) {
  PemBlock block = pem_decode(text, what);
  if (block.label != kSigstorePrivateKeyLabel && block.label != kCosignPrivateKeyLabel) {
    if (block.label == kPublicKeyLabel)
      throw Error(ErrorKind::Input, fmt::format("{} is a public key; signing needs the private key", what),
                  "pass cosign.key, not cosign.pub");
    if (block.label == "PRIVATE KEY" || block.label == "EC PRIVATE KEY")
      throw Error(ErrorKind::Input, fmt::format("{} is an unencrypted \"{}\"; cosign key files are encrypted", what, block.label),
                  "import it with `cosign import-key-pair --key FILE` to get an encrypted cosign.key");
    throw Error(ErrorKind::Input,
                fmt::format("{}: unsupported PEM type \"{}\", expected \"{}\"", what, block.label, kSigstorePrivateKeyLabel));
  }
  Secret der = decrypt_envelope(block.body, password, what);
  if (looks_like_sec1(der.view()))
    throw Error(ErrorKind::Input,
                fmt::format("{}: the encrypted key is a SEC1 \"EC PRIVATE KEY\", not PKCS#8; cosign rejects it too", what),
                "generate a new key with `sealift-bundle keygen` or `cosign generate-key-pair`");
  if (Secret v1 = pkcs8_v1_of_v2(der.view()); !v1.empty()) der = std::move(v1);
  const unsigned char* p = der.data();
  PKCS8_PRIV_KEY_INFO* p8 = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size()));
  if (!p8) {
    ERR_clear_error();
    throw Error(ErrorKind::Input, fmt::format("{}: the decrypted key is not a PKCS#8 private key", what));
  }
  bool trailing = p != der.data() + der.size();
  EVP_PKEY* raw = trailing ? nullptr : EVP_PKCS82PKEY(p8);
  PKCS8_PRIV_KEY_INFO_free(p8);
  if (trailing) throw Error(ErrorKind::Input, fmt::format("{}: trailing data after the PKCS#8 private key", what));
  if (!raw) {
    ERR_clear_error();
    throw Error(ErrorKind::Input, fmt::format("{}: the PKCS#8 private key cannot be read (unsupported algorithm?)", what));
  }
  std::unique_ptr<EVP_PKEY, Free> pkey(raw);
  KeyType type = key_type_of(raw, what);
  return PrivateKey(std::move(pkey), type, std::string(what));
}

PrivateKey PrivateKey::from_file(const fs::path& path, const Secret& password) {
  return from_encrypted_pem(util::read_file(path), password, path.string());
}

Secret PrivateKey::pkcs8() const {
  OSSL_ENCODER_CTX* ctx =
      OSSL_ENCODER_CTX_new_for_pkey(pkey_.get(), EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", nullptr);
  unsigned char* buf = nullptr;
  size_t len = 0;
  bool ok = ctx && OSSL_ENCODER_CTX_get_num_encoders(ctx) > 0 && OSSL_ENCODER_to_data(ctx, &buf, &len);
  OSSL_ENCODER_CTX_free(ctx);
  if (!ok) throw Error(ErrorKind::Internal, "cannot encode the private key as PKCS#8: " + openssl_reason());
  Secret der = Secret::copy_of(std::string_view(reinterpret_cast<const char*>(buf), len));
  OPENSSL_clear_free(buf, len);
  return der;
}

std::string PrivateKey::to_encrypted_pem(const Secret& password, KeyFileFormat format) const {
  ScryptStrength strength = format == KeyFileFormat::Legacy ? ScryptStrength::Legacy : ScryptStrength::Standard;
  return pem_encode(label_for(format), encrypt_envelope(pkcs8(), password, strength));
}

PrivateKey::PrivateKey(std::unique_ptr<EVP_PKEY, Free> pkey, KeyType type, std::string name)
    : pkey_(std::move(pkey)),
      type_(type),
      name_(std::move(name)),
      public_key_(PublicKey::from_pem(pem_encode(kPublicKeyLabel, public_der(pkey_.get())), "public key")) {}

}  // namespace sealift::sign
