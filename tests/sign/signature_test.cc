#include "sign/signature.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <gtest/gtest.h>

#include <set>

#include "env/process.h"
#include "expect_error.h"
#include "util/encoding.h"
#include "util/fs.h"
#include "vectors.h"

namespace sealift::sign {
namespace {

TEST(Signature, VerifiesARealCosignSignatureFromContainersImage) {
  PublicKey key = PublicKey::from_pem(vectors::kContainersImagePublicKey, "cosign.pub");
  std::string sig = util::base64_decode(vectors::kContainersImageSignature);
  EXPECT_TRUE(verify(key, vectors::kContainersImagePayload, sig));
  std::string tampered(vectors::kContainersImagePayload);
  tampered[tampered.find("634a")] = '7';
  EXPECT_FALSE(verify(key, tampered, sig));
  std::string bad_sig = sig;
  bad_sig[10] ^= 1;
  EXPECT_FALSE(verify(key, vectors::kContainersImagePayload, bad_sig));
  EXPECT_FALSE(verify(key, vectors::kContainersImagePayload, "not DER"));
  EXPECT_FALSE(verify(key, vectors::kContainersImagePayload, ""));
}

TEST(Signature, EcdsaIsDerAndFreshEachTime) {
  PrivateKey k = PrivateKey::generate(KeyType::EcdsaP256);
  std::string a = sign(k, "message"), b = sign(k, "message");
  EXPECT_NE(a, b);
  EXPECT_EQ(static_cast<unsigned char>(a[0]), 0x30);
  EXPECT_GE(a.size(), 68u);
  EXPECT_LE(a.size(), 72u);
  EXPECT_TRUE(verify(k.public_key(), "message", a));
  EXPECT_FALSE(verify(k.public_key(), "messagE", a));
  EXPECT_FALSE(verify(PrivateKey::generate(KeyType::EcdsaP256).public_key(), "message", a));
}

TEST(Signature, Ed25519IsDeterministicPureEd25519) {
  PrivateKey k = PrivateKey::generate(KeyType::Ed25519);
  std::string a = sign(k, "message");
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a, sign(k, "message"));
  EXPECT_TRUE(verify(k.public_key(), "message", a));
  EXPECT_FALSE(verify(k.public_key(), "messagE", a));
  EXPECT_FALSE(verify(PrivateKey::generate(KeyType::Ed25519).public_key(), "message", a));
}

// cosign 2.x's `sign` uses Ed25519ph for Ed25519 keys; libsodium makes one here independently.
TEST(Signature, Ed25519KeysAlsoAcceptEd25519ph) {
  PrivateKey k = PrivateKey::generate(KeyType::Ed25519);
  unsigned char seed[32], pk[32], sk[64], sig[64];
  size_t len = sizeof seed;
  ASSERT_EQ(EVP_PKEY_get_raw_private_key(k.evp(), seed, &len), 1);
  ASSERT_EQ(crypto_sign_seed_keypair(pk, sk, seed), 0);
  crypto_sign_ed25519ph_state st;
  crypto_sign_ed25519ph_init(&st);
  crypto_sign_ed25519ph_update(&st, reinterpret_cast<const unsigned char*>("message"), 7);
  ASSERT_EQ(crypto_sign_ed25519ph_final_create(&st, sig, nullptr, sk), 0);
  sodium_memzero(seed, sizeof seed);
  sodium_memzero(sk, sizeof sk);
  std::string ph(reinterpret_cast<char*>(sig), sizeof sig);
  EXPECT_NE(ph, sign(k, "message"));
  EXPECT_TRUE(verify(k.public_key(), "message", ph));
  EXPECT_FALSE(verify(k.public_key(), "messagE", ph));
}

TEST(Signature, StreamingAndInMemorySignaturesAgree) {
  std::string big(3 << 20, 'z');
  for (KeyType type : {KeyType::EcdsaP256, KeyType::Ed25519}) {
    PrivateKey k = PrivateKey::generate(type);
    io::MemorySource src(big);
    std::string sig = sign(k, src);
    EXPECT_TRUE(verify(k.public_key(), big, sig));
    TrustedKeys trusted({k.public_key()});
    io::MemorySource again(big);
    EXPECT_NE(trusted.signer_of(again, sig), nullptr);
  }
}

// The openssl command line is an independent implementation: it must accept our ECDSA
// signatures, and we must accept its.
TEST(Signature, InteroperatesWithTheOpensslCli) {
  testenv::TempDir dir;
  PrivateKey k = PrivateKey::generate(KeyType::EcdsaP256);
  util::write_file_atomic(dir / "pub.pem", k.public_key().pem());
  util::write_file_atomic(dir / "msg", "signed by sealift");
  util::write_file_atomic(dir / "sig.der", sign(k, std::string_view("signed by sealift")));
  auto ok = testenv::run({"openssl", "dgst", "-sha256", "-verify", (dir / "pub.pem").string(), "-signature",
                          (dir / "sig.der").string(), (dir / "msg").string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("Verified OK"), std::string::npos);

  util::write_file_atomic(dir / "msg2", "tampered");
  auto bad = testenv::run({"openssl", "dgst", "-sha256", "-verify", (dir / "pub.pem").string(), "-signature",
                           (dir / "sig.der").string(), (dir / "msg2").string()});
  EXPECT_NE(bad.exit_code, 0);

  auto gen = testenv::run({"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", (dir / "ec.pem").string()});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto pub = testenv::run({"openssl", "ec", "-in", (dir / "ec.pem").string(), "-pubout", "-out", (dir / "ec.pub").string()});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  auto s = testenv::run({"openssl", "dgst", "-sha256", "-sign", (dir / "ec.pem").string(), "-out",
                         (dir / "ossl.sig").string(), (dir / "msg").string()});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  PublicKey theirs = PublicKey::from_file(dir / "ec.pub");
  EXPECT_TRUE(verify(theirs, "signed by sealift", util::read_file(dir / "ossl.sig")));
  EXPECT_FALSE(verify(theirs, "tampered", util::read_file(dir / "ossl.sig")));
}

TEST(TrustedKeys, FindsWhichKeySignedAndFailsClosed) {
  PrivateKey a = PrivateKey::generate(KeyType::EcdsaP256), b = PrivateKey::generate(KeyType::Ed25519),
             c = PrivateKey::generate(KeyType::EcdsaP256);
  TrustedKeys trusted({a.public_key(), b.public_key()});
  const PublicKey* by_b = trusted.signer_of("m", sign(b, "m"));
  ASSERT_NE(by_b, nullptr);
  EXPECT_EQ(by_b->der(), b.public_key().der());
  EXPECT_EQ(trusted.signer_of("m", sign(c, "m")), nullptr);
  EXPECT_EQ(trusted.signer_of("m", ""), nullptr);
  ExpectError([] { TrustedKeys().signer_of("m", "sig"); }, ErrorKind::Usage, "no trusted public key");
}

}  // namespace
}  // namespace sealift::sign
