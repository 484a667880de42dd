// Signing with a key in a PKCS#11 token, against SoftHSM2 (a real PKCS#11 module) through libp11:
// the signatures verify with the token's public key, the PIN and the key type are checked before
// anything is signed, and every signer's signature is checked before it is used.
#include "sign/pkcs11.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "env/softhsm.h"
#include "expect_error.h"
#include "sign/blob.h"
#include "sign/signature.h"
#include "sign/signer.h"
#include "util/fs.h"

namespace sealift::sign {
namespace {

namespace fs = std::filesystem;

// One token for the suite, with a P-256 key and an RSA key in it.
class Pkcs11Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    hsm_ = new testenv::SoftHsm();
    p256_pub_ = new fs::path(hsm_->import_key("vendor", "P-256", "01"));
    hsm_->import_key("rsa", "RSA", "02");
  }
  static void TearDownTestSuite() {
    delete p256_pub_;
    delete hsm_;
  }
  static Pkcs11Options options(const fs::path& pin_file) {
    Pkcs11Options o;
    o.module = testenv::SoftHsm::kModule;
    o.pin.password_file = pin_file;
    return o;
  }
  static Pkcs11Options options() { return options(hsm_->pin_file()); }

  static testenv::SoftHsm* hsm_;
  static fs::path* p256_pub_;
};
testenv::SoftHsm* Pkcs11Test::hsm_;
fs::path* Pkcs11Test::p256_pub_;

TEST_F(Pkcs11Test, SignsWithTheKeyInTheToken) {
  auto key = Pkcs11Key::open(hsm_->uri("vendor"), options());
  const PublicKey expected = PublicKey::from_file(*p256_pub_);
  EXPECT_EQ(key->public_key().fingerprint(), expected.fingerprint());
  EXPECT_EQ(key->type(), KeyType::EcdsaP256);
  EXPECT_NE(key->name().find("token \"release\""), std::string::npos) << key->name();

  // Raw and blob signatures, checked with the public key openssl wrote, not the token's.
  const std::string message = "sealift.json as signed";
  std::string sig = sign(*key, message);
  EXPECT_TRUE(verify(expected, message, sig));
  EXPECT_FALSE(verify(expected, message + ".", sig));
  io::MemorySource content(message);
  std::string b64 = sign_blob(*key, content);
  io::MemorySource again(message);
  EXPECT_EQ(verify_blob(TrustedKeys({expected}), again, b64, "sealift.json").fingerprint(), expected.fingerprint());

  // Without logging in, the public key object answers; by id as well as by label.
  EXPECT_EQ(Pkcs11Key::read_public_key(hsm_->uri("vendor"), options("/nonexistent")).fingerprint(), expected.fingerprint());
  EXPECT_EQ(Pkcs11Key::open("pkcs11:token=release;id=%01;type=private", options())->public_key().fingerprint(),
            expected.fingerprint());
  // The module from the URI, the PIN from the environment (as cosign reads them).
  testenv::ScopedEnv pin("COSIGN_PKCS11_PIN", hsm_->pin());
  Pkcs11Options from_env;
  EXPECT_EQ(Pkcs11Key::open(hsm_->uri("vendor") + "?module-path=" + testenv::SoftHsm::kModule, from_env)
                ->public_key()
                .fingerprint(),
            expected.fingerprint());
}

TEST_F(Pkcs11Test, AWrongPinIsRefusedNamingTheToken) {
  const fs::path wrong = hsm_->dir() / "wrong-pin";
  util::write_file_atomic(wrong, "0000\n", 0600);
  ExpectError([&] { Pkcs11Key::open(hsm_->uri("vendor"), options(wrong)); }, ErrorKind::Remote,
              "PKCS#11 token \"release\" refused the PIN");
  // No PIN anywhere and no terminal: a usage error naming where a PIN may come from.
  testenv::ScopedEnv no_pin("COSIGN_PKCS11_PIN", std::nullopt);
  ExpectError([&] { Pkcs11Key::open(hsm_->uri("vendor"), options(fs::path())); }, ErrorKind::Usage,
              "no PIN: set COSIGN_PKCS11_PIN or --pin-file");
}

TEST_F(Pkcs11Test, KeysOtherThanP256AreRefused) {
  ExpectError([&] { Pkcs11Key::open(hsm_->uri("rsa"), options()); }, ErrorKind::Input,
              "token \"release\", object \"rsa\" is an RSA key: sealift signs with ECDSA P-256 or Ed25519");
  ExpectError([&] { Pkcs11Key::read_public_key(hsm_->uri("rsa"), options()); }, ErrorKind::Input, "is an RSA key");
  ExpectError([&] { Pkcs11Key::open("pkcs11:token=release;object=nosuch", options()); }, ErrorKind::Input,
              "object \"nosuch\": no such private key in the token");
  // libp11 0.4.12 cannot list a token that holds an Ed25519 key (seen with SoftHSM2 2.6); the
  // message says so. A token of its own, so the suite's stays usable.
  {
    testenv::SoftHsm edwards("edwards", "1357");
    edwards.import_key("ed", "ED25519", "03");
    try {
      Pkcs11Key::open(edwards.uri("ed"), options(edwards.pin_file()));
      ADD_FAILURE() << "an Ed25519 object in the token was used";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Input) << e.what();
      EXPECT_NE(std::string(e.what()).find("token \"edwards\", object \"ed\""), std::string::npos) << e.what();
      EXPECT_NE(e.hint().find("Ed25519"), std::string::npos) << e.hint();
    }
  }
  ExpectError([&] { Pkcs11Key::open("pkcs11:token=nosuch;object=vendor", options()); }, ErrorKind::Input,
              "PKCS#11 token \"nosuch\" not found");
}

// keygen --pkcs11: the pair is made in the token (libp11 0.4.12 cannot), found again by --key's
// URI, and never shadows a key in use.
TEST_F(Pkcs11Test, GeneratesAP256KeyPairThatSignsFromTheToken) {
  const std::string uri = hsm_->uri("made-here");
  const PublicKey pub = Pkcs11Key::generate(uri, options());
  auto key = Pkcs11Key::open(uri, options());
  EXPECT_EQ(key->public_key().fingerprint(), pub.fingerprint());
  EXPECT_NE(pub.fingerprint(), PublicKey::from_file(*p256_pub_).fingerprint());
  const std::string message = "made in the token";
  EXPECT_TRUE(verify(pub, message, sign(*key, message)));
  // Without logging in, the public half answers (what `public-key` exports).
  EXPECT_EQ(Pkcs11Key::read_public_key(uri, options("/nonexistent")).fingerprint(), pub.fingerprint());

  ExpectError([&] { Pkcs11Key::generate(uri, options()); }, ErrorKind::Usage,
              "object \"made-here\": the token already holds an object with this label");
  ExpectError([&] { Pkcs11Key::generate("pkcs11:token=release;object=other;id=%01", options()); }, ErrorKind::Usage,
              "the token already holds an object with id 01");
  ExpectError([&] { Pkcs11Key::generate("pkcs11:token=release;id=%09", options()); }, ErrorKind::Usage, "no object=");
  const fs::path wrong = hsm_->dir() / "wrong-pin-keygen";
  util::write_file_atomic(wrong, "0000\n", 0600);
  ExpectError([&] { Pkcs11Key::generate(hsm_->uri("not-made"), options(wrong)); }, ErrorKind::Remote,
              "PKCS#11 token \"release\" refused the PIN");
  ExpectError([&] { Pkcs11Key::open(hsm_->uri("not-made"), options()); }, ErrorKind::Input, "no such private key");

  // A token libp11 cannot list (it holds an Ed25519 key): the new pair would be unusable, so it is
  // removed again. Asking twice proves the removal: a leftover would be refused by its label.
  testenv::SoftHsm edwards("edwards-keygen", "1357");
  edwards.import_key("ed", "ED25519", "03");
  for (int attempt = 0; attempt < 2; ++attempt)
    ExpectError([&] { Pkcs11Key::generate(edwards.uri("new"), options(edwards.pin_file())); }, ErrorKind::Input,
                "the new key pair cannot be used through libp11 and was removed again");
}

TEST_F(Pkcs11Test, UrisAreReadStrictly) {
  Pkcs11Uri u = Pkcs11Uri::parse("pkcs11:token=my%20token;object=k;serial=1a?module-path=/x/y.so&pin-source=file:/p");
  EXPECT_EQ(u.token, "my token");
  EXPECT_EQ(u.object, "k");
  EXPECT_EQ(u.serial, "1a");
  EXPECT_EQ(u.module_path, "/x/y.so");
  EXPECT_EQ(u.pin_source, "/p");
  ExpectError([] { Pkcs11Uri::parse("pkcs11:token=t;object=k?pin-value=1234"); }, ErrorKind::Usage, "pin-value is refused");
  ExpectError([] { Pkcs11Uri::parse("pkcs11:object=k"); }, ErrorKind::Usage, "no token=");
  ExpectError([] { Pkcs11Uri::parse("pkcs11:token=t"); }, ErrorKind::Usage, "no object= or id=");
  ExpectError([] { Pkcs11Uri::parse("pkcs11:token=t;object=k;type=public"); }, ErrorKind::Usage, "type=public");
  ExpectError([] { Pkcs11Uri::parse("pkcs11:token=t;object=k;colour=red"); }, ErrorKind::Usage, "\"colour\"");
  ExpectError([] { Pkcs11Uri::parse("pkcs11:token=t%2;object=k"); }, ErrorKind::Usage, "two hex digits");
  ExpectError([] { open_signer({}); }, ErrorKind::Usage, "no signing key given");
}

// A signer that answers with another key's signatures, or with garbage: sign() refuses both.
class LyingSigner final : public Signer {
 public:
  explicit LyingSigner(bool garbage) : garbage_(garbage) {}
  KeyType type() const override { return KeyType::EcdsaP256; }
  PublicKey public_key() const override { return claimed_.public_key(); }
  std::string name() const override { return "the lying signer"; }
  std::string sign_prepared(const Sha256Bytes& sha256, std::string_view message) const override {
    if (garbage_) return "not a signature";
    return other_.sign_prepared(sha256, message);
  }

 private:
  bool garbage_;
  PrivateKey claimed_ = PrivateKey::generate(KeyType::EcdsaP256);
  PrivateKey other_ = PrivateKey::generate(KeyType::EcdsaP256);
};

TEST(SignerCheck, ASignatureThatDoesNotVerifyIsNeverUsed) {
  for (bool garbage : {false, true}) {
    LyingSigner liar(garbage);
    ExpectError([&] { sign(liar, "payload"); }, ErrorKind::Integrity,
                "the lying signer made a signature that does not verify with its public key sha256:");
    const std::string payload = "payload";  // MemorySource keeps a view: not of a temporary
    io::MemorySource content(payload);
    ExpectError([&] { sign_blob(liar, content); }, ErrorKind::Integrity, "does not verify");
  }
}

// Per-signature time through the token, printed for the record (no bound: a loaded machine is
// slower, and the number is SoftHSM's, not sealift's).
TEST_F(Pkcs11Test, PerSignatureTime) {
  auto token = Pkcs11Key::open(hsm_->uri("vendor"), options());
  PrivateKey file = PrivateKey::generate(KeyType::EcdsaP256);
  auto time_of = [](const Signer& s) {
    constexpr int kRounds = 200;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRounds; ++i) sign(s, "payload " + std::to_string(i));
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / kRounds;
  };
  double t_token = time_of(*token), t_file = time_of(file);
  std::printf("per signature (with its check): SoftHSM2 through libp11 %.0f us, file key %.0f us\n", t_token, t_file);
  RecordProperty("pkcs11_us_per_signature", std::to_string(t_token));
  RecordProperty("file_key_us_per_signature", std::to_string(t_file));
}

}  // namespace
}  // namespace sealift::sign
