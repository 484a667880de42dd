#include "sign/envelope.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "expect_error.h"
#include "util/encoding.h"
#include "util/error.h"
#include "vectors.h"

namespace sealift::sign {
namespace {

Secret pw(std::string_view s) { return Secret::copy_of(s); }

TEST(Envelope, DecryptsGoSecureSystemsLibVectorsForAllThreeParameterSets) {
  for (auto v : {vectors::kEnvelopeLegacy, vectors::kEnvelopeStandard, vectors::kEnvelopeOwasp}) {
    Secret plain = decrypt_envelope(v, pw("supersecret"), "vector");
    EXPECT_EQ(plain.view(), vectors::kEnvelopeVectorPlaintext);
  }
  EXPECT_EQ(decrypt_envelope(vectors::kEnvelopeDecrypt, pw("supersecret"), "vector").view(), "reallyimportant");
}

TEST(Envelope, RejectsUnsupportedScryptParameters) {
  ExpectError([] { decrypt_envelope(vectors::kEnvelopeUnsupportedParams, pw("supersecret"), "k.key"); },
              ErrorKind::Input, "k.key: unsupported scrypt parameters N=99 r=99 p=99");
}

TEST(Envelope, RejectsAWrongPasswordWithoutNamingIt) {
  try {
    decrypt_envelope(vectors::kEnvelopeDecrypt, pw("not-the-password"), "k.key");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    std::string msg = std::string(e.what()) + e.hint();
    EXPECT_NE(msg.find("wrong password"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("not-the-password"), std::string::npos) << msg;
  }
}

TEST(Envelope, WritesGoFieldOrderAndRoundTripsEveryStrength) {
  Secret plain = Secret::copy_of("PKCS#8 bytes would go here");
  for (auto [strength, n] : {std::pair{ScryptStrength::Legacy, 32768}, std::pair{ScryptStrength::Standard, 65536},
                             std::pair{ScryptStrength::Owasp, 131072}}) {
    std::string env = encrypt_envelope(plain, pw(""), strength);
    std::string prefix = R"({"kdf":{"name":"scrypt","params":{"N":)" + std::to_string(n) + R"(,"r":8,"p":1},"salt":")";
    EXPECT_EQ(env.substr(0, prefix.size()), prefix);
    auto j = nlohmann::json::parse(env);
    EXPECT_EQ(util::base64_decode(j["kdf"]["salt"].get<std::string>()).size(), 32u);
    EXPECT_EQ(util::base64_decode(j["cipher"]["nonce"].get<std::string>()).size(), 24u);
    EXPECT_EQ(util::base64_decode(j["ciphertext"].get<std::string>()).size(), plain.size() + 16);
    EXPECT_NE(env.find(R"(},"cipher":{"name":"nacl/secretbox","nonce":")"), std::string::npos);
    EXPECT_EQ(decrypt_envelope(env, pw(""), "k").view(), plain.view());
  }
}

TEST(Envelope, FreshSaltAndNonceEachTime) {
  Secret plain = Secret::copy_of("x");
  EXPECT_NE(encrypt_envelope(plain, pw("p"), ScryptStrength::Legacy),
            encrypt_envelope(plain, pw("p"), ScryptStrength::Legacy));
}

TEST(Envelope, RejectsMalformedEnvelopesByName) {
  std::string good = encrypt_envelope(Secret::copy_of("x"), pw("p"), ScryptStrength::Legacy);
  auto with = [&](std::string_view from, std::string_view to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  ExpectError([&] { decrypt_envelope(good.substr(0, good.size() / 2), pw("p"), "k"); }, ErrorKind::Input,
              "not a JSON object");
  ExpectError([&] { decrypt_envelope(with("\"scrypt\"", "\"pbkdf2\""), pw("p"), "k"); }, ErrorKind::Input,
              "unsupported key derivation \"pbkdf2\"");
  ExpectError([&] { decrypt_envelope(with("nacl/secretbox", "aes-gcm"), pw("p"), "k"); }, ErrorKind::Input,
              "unsupported cipher \"aes-gcm\"");
  auto j = nlohmann::json::parse(good);
  j["cipher"]["nonce"] = util::base64_encode(std::string(12, 'n'));
  ExpectError([&] { decrypt_envelope(j.dump(), pw("p"), "k"); }, ErrorKind::Input, "the nonce is 12 bytes, not 24");
  j = nlohmann::json::parse(good);
  j["ciphertext"] = util::base64_encode("short");
  ExpectError([&] { decrypt_envelope(j.dump(), pw("p"), "k"); }, ErrorKind::Input, "shorter than its authenticator");
  j = nlohmann::json::parse(good);
  j.erase("ciphertext");
  ExpectError([&] { decrypt_envelope(j.dump(), pw("p"), "k"); }, ErrorKind::Input, "missing \"ciphertext\"");
}

}  // namespace
}  // namespace sealift::sign
