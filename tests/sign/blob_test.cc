#include "sign/blob.h"

#include <gtest/gtest.h>

#include "expect_error.h"
#include "util/encoding.h"

namespace sealift::sign {
namespace {

TEST(Blob, SignatureIsBase64WithoutNewlineAndVerifies) {
  for (KeyType type : {KeyType::EcdsaP256, KeyType::Ed25519}) {
    PrivateKey k = PrivateKey::generate(type);
    std::string content = "apiVersion: v2\nname: chart\n";
    io::MemorySource src(content);
    std::string sig = sign_blob(k, src);
    EXPECT_EQ(sig.find('\n'), std::string::npos);
    EXPECT_NO_THROW(util::base64_decode(sig));
    TrustedKeys trusted({k.public_key()});
    for (std::string text : {sig, sig + "\n", "  " + sig + "\r\n"}) {
      io::MemorySource again(content);
      EXPECT_EQ(verify_blob(trusted, again, text, "chart.tgz").der(), k.public_key().der());
    }
  }
}

TEST(Blob, RejectsTamperedContentWrongKeyAndJunkSignatures) {
  PrivateKey k = PrivateKey::generate(KeyType::EcdsaP256);
  std::string content = "sealift.json";
  io::MemorySource src(content);
  std::string sig = sign_blob(k, src);
  TrustedKeys trusted({k.public_key()});
  std::string altered = "sealift.jsoN";
  io::MemorySource a(altered);
  ExpectError([&] { verify_blob(trusted, a, sig, "sealift.json"); }, ErrorKind::Integrity,
              "the signature of sealift.json does not verify with any trusted key");
  TrustedKeys other({PrivateKey::generate(KeyType::EcdsaP256).public_key()});
  io::MemorySource b(content);
  ExpectError([&] { verify_blob(other, b, sig, "sealift.json"); }, ErrorKind::Integrity, "does not verify");
  io::MemorySource c(content);
  ExpectError([&] { verify_blob(trusted, c, "%%%not base64%%%", "sealift.json"); }, ErrorKind::Input, "not base64");
  io::MemorySource d(content);
  ExpectError([&] { verify_blob(trusted, d, "\n", "sealift.json"); }, ErrorKind::Input, "is empty");
  io::MemorySource e(content);
  ExpectError([&] { verify_blob(TrustedKeys(), e, sig, "sealift.json"); }, ErrorKind::Usage, "no trusted public key");
}

}  // namespace
}  // namespace sealift::sign
