#include "sign/key.h"

#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "expect_error.h"
#include "sign/envelope.h"
#include "sign/pem.h"
#include "util/encoding.h"
#include "vectors.h"

namespace sealift::sign {
namespace {

Secret pw(std::string_view s) { return Secret::copy_of(s); }

std::string public_b64(const PrivateKey& k) { return util::base64_encode(k.public_key().der()); }

// DER of a key in an OpenSSL structure ("PrivateKeyInfo" = PKCS#8, "type-specific" = SEC1 for EC).
std::string encode(EVP_PKEY* pkey, const char* structure) {
  OSSL_ENCODER_CTX* ctx = OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_KEYPAIR, "DER", structure, nullptr);
  unsigned char* buf = nullptr;
  size_t len = 0;
  EXPECT_TRUE(ctx && OSSL_ENCODER_to_data(ctx, &buf, &len));
  OSSL_ENCODER_CTX_free(ctx);
  std::string out(reinterpret_cast<char*>(buf), len);
  OPENSSL_free(buf);
  return out;
}

// A key file holding arbitrary DER inside the envelope, as a third-party tool might write it.
std::string key_file_with(std::string_view der, std::string_view password) {
  return pem_encode(kSigstorePrivateKeyLabel,
                    encrypt_envelope(Secret::copy_of(der), Secret::copy_of(password), ScryptStrength::Legacy));
}

TEST(PrivateKey, DecryptsCosignAndSigstoreRsVectors) {
  struct Case {
    std::string_view pem, password, public_key;
  };
  for (const Case& c : {Case{vectors::kSigstoreLabelN32768, "hello", vectors::kSigstoreLabelN32768Public},
                        Case{vectors::kCosignLabelN32768, "hello", vectors::kCosignLabelN32768Public},
                        Case{vectors::kCosignGeneratedEmptyPassword, "", vectors::kCosignGeneratedEmptyPasswordPublic},
                        Case{vectors::kSigstoreRsEcdsa, "123", vectors::kSigstoreRsEcdsaPublic}}) {
    PrivateKey k = PrivateKey::from_encrypted_pem(c.pem, pw(c.password), "vector");
    EXPECT_EQ(k.type(), KeyType::EcdsaP256);
    EXPECT_EQ(public_b64(k), c.public_key);
    EXPECT_EQ(k.pkcs8().size(), 138u);
  }
}

TEST(PrivateKey, DecryptsSigstoreRsEd25519Vector) {
  PrivateKey k = PrivateKey::from_encrypted_pem(vectors::kSigstoreRsEd25519, pw("123"), "vector");
  EXPECT_EQ(k.type(), KeyType::Ed25519);
  EXPECT_EQ(k.public_key().der().size(), 44u);
}

TEST(PrivateKey, RejectsCosignsSec1Vector) {
  ExpectError([] { PrivateKey::from_encrypted_pem(vectors::kCosignLabelSec1Inside, pw("hello"), "pemcosigneckey"); },
              ErrorKind::Input, "pemcosigneckey: the encrypted key is a SEC1 \"EC PRIVATE KEY\", not PKCS#8");
}

TEST(PrivateKey, RejectsASec1KeyWeEncryptedOurselves) {
  PrivateKey k = PrivateKey::generate(KeyType::EcdsaP256);
  std::string sec1 = encode(k.evp(), "type-specific");
  ASSERT_EQ(static_cast<unsigned char>(sec1[0]), 0x30);
  ExpectError([&] { PrivateKey::from_encrypted_pem(key_file_with(sec1, "pw"), pw("pw"), "sec1.key"); },
              ErrorKind::Input, "SEC1");
}

TEST(PrivateKey, RejectsRsaAndOtherCurves) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}),
                                                          EVP_PKEY_free);
  ExpectError([&] { PrivateKey::from_encrypted_pem(key_file_with(encode(rsa.get(), "PrivateKeyInfo"), ""), pw(""), "rsa.key"); },
              ErrorKind::Input, "rsa.key: RSA keys are not supported");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"),
                                                           EVP_PKEY_free);
  ExpectError([&] { PrivateKey::from_encrypted_pem(key_file_with(encode(p384.get(), "PrivateKeyInfo"), ""), pw(""), "p384.key"); },
              ErrorKind::Input, "ECDSA curve secp384r1 is not supported");
}

TEST(PrivateKey, RejectsAWrongPassword) {
  ExpectError([] { PrivateKey::from_encrypted_pem(vectors::kSigstoreLabelN32768, pw("hellO"), "cosign.key"); },
              ErrorKind::Input, "cosign.key: wrong password");
  ExpectError([] { PrivateKey::from_encrypted_pem(vectors::kCosignGeneratedEmptyPassword, pw("x"), "cosign.key"); },
              ErrorKind::Input, "wrong password");
}

TEST(PrivateKey, RejectsGarbageTruncatedAndMislabelledFiles) {
  std::mt19937 rng(7);
  std::string garbage(300, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  ExpectError([&] { PrivateKey::from_encrypted_pem(garbage, pw("hello"), "g.key"); }, ErrorKind::Input,
              "g.key is not a PEM file");
  std::string text(vectors::kSigstoreLabelN32768);
  ExpectError([&] { PrivateKey::from_encrypted_pem(text.substr(0, 200), pw("hello"), "t.key"); }, ErrorKind::Input,
              "no END line");
  // Cut inside the base64 body, keeping the armour: the envelope JSON ends early.
  std::string end = "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----";
  std::string cut = text.substr(0, 300) + "\n" + end + "\n";
  ExpectError([&] { PrivateKey::from_encrypted_pem(cut, pw("hello"), "t.key"); }, ErrorKind::Input, "t.key");
  ExpectError([&] { PrivateKey::from_encrypted_pem(pem_encode("PUBLIC KEY", "x"), pw(""), "cosign.pub"); },
              ErrorKind::Input, "cosign.pub is a public key");
  ExpectError([&] { PrivateKey::from_encrypted_pem(pem_encode("EC PRIVATE KEY", "x"), pw(""), "ec.pem"); },
              ErrorKind::Input, "unencrypted \"EC PRIVATE KEY\"");
  ExpectError([&] { PrivateKey::from_encrypted_pem(key_file_with("not DER", "p"), pw("p"), "x.key"); },
              ErrorKind::Input, "not a PKCS#8 private key");
}

TEST(PrivateKey, GeneratesPkcs8ShapedAsGoWritesIt) {
  PrivateKey ec = PrivateKey::generate(KeyType::EcdsaP256);
  Secret der = ec.pkcs8();
  ASSERT_EQ(der.size(), 138u);
  // PrivateKeyInfo { 0, {id-ecPublicKey, prime256v1}, OCTET STRING { ECPrivateKey { 1, d, [1] pub } } }
  const std::string head = util::hex_encode(der.view().substr(0, 36));
  EXPECT_EQ(head, "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420");
  EXPECT_EQ(util::hex_encode(der.view().substr(68, 6)), "a14403420004");

  PrivateKey ed = PrivateKey::generate(KeyType::Ed25519);
  Secret ed_der = ed.pkcs8();
  ASSERT_EQ(ed_der.size(), 48u);
  EXPECT_EQ(util::hex_encode(ed_der.view().substr(0, 16)), "302e020100300506032b657004220420");
}

TEST(PrivateKey, RoundTripsThroughBothFileFormats) {
  for (KeyType type : {KeyType::EcdsaP256, KeyType::Ed25519}) {
    PrivateKey k = PrivateKey::generate(type);
    std::string current = k.to_encrypted_pem(pw("s3cret"));
    EXPECT_EQ(current.rfind("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n", 0), 0u);
    EXPECT_NE(pem_decode(current, "k").body.find(R"("N":65536)"), std::string::npos);
    std::string legacy = k.to_encrypted_pem(pw("s3cret"), KeyFileFormat::Legacy);
    EXPECT_EQ(legacy.rfind("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n", 0), 0u);
    EXPECT_NE(pem_decode(legacy, "k").body.find(R"("N":32768)"), std::string::npos);
    for (const auto& text : {current, legacy}) {
      PrivateKey back = PrivateKey::from_encrypted_pem(text, pw("s3cret"), "k");
      EXPECT_EQ(back.type(), type);
      EXPECT_EQ(back.public_key().der(), k.public_key().der());
    }
  }
}

TEST(PublicKey, WritesPkixPemAsCosignDoes) {
  PublicKey ec = PrivateKey::generate(KeyType::EcdsaP256).public_key();
  EXPECT_EQ(ec.der().size(), 91u);
  std::string pem = ec.pem();
  EXPECT_EQ(pem.rfind("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE", 0), 0u);
  EXPECT_EQ(pem.size(), 178u);  // the size of every cosign.pub for P-256
  EXPECT_EQ(PublicKey::from_pem(pem, "pub").der(), ec.der());
  EXPECT_EQ(ec.fingerprint().size(), 71u);

  PublicKey ed = PrivateKey::generate(KeyType::Ed25519).public_key();
  EXPECT_EQ(ed.der().size(), 44u);
  EXPECT_EQ(PublicKey::from_pem(ed.pem(), "pub").type(), KeyType::Ed25519);
}

TEST(PublicKey, RejectsPrivateKeysAndUnsupportedTypes) {
  ExpectError([] { PublicKey::from_pem(vectors::kSigstoreLabelN32768, "cosign.key"); }, ErrorKind::Input,
              "cosign.key is a private key");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}),
                                                          EVP_PKEY_free);
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(rsa.get(), &der);
  std::string pem = pem_encode("PUBLIC KEY", std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len)));
  OPENSSL_free(der);
  ExpectError([&] { PublicKey::from_pem(pem, "rsa.pub"); }, ErrorKind::Input, "RSA keys are not supported");
  ExpectError([] { PublicKey::from_pem(pem_encode("PUBLIC KEY", "garbage"), "g.pub"); }, ErrorKind::Input,
              "malformed public key");
}

TEST(KeyType, ParsesTheKeygenSpellings) {
  EXPECT_EQ(parse_key_type("ecdsa-p256"), KeyType::EcdsaP256);
  EXPECT_EQ(parse_key_type("ed25519"), KeyType::Ed25519);
  EXPECT_EQ(key_type_name(KeyType::Ed25519), "ed25519");
  ExpectError([] { parse_key_type("rsa"); }, ErrorKind::Usage, "unknown key type \"rsa\"");
}

}  // namespace
}  // namespace sealift::sign
