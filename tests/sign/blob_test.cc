#include "sign/blob.h"

#include <gtest/gtest.h>

#include <set>

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

// A signature whose text was altered in any bit is refused, for every length an ECDSA signature
// takes (70 to 72 DER bytes, so one, two or no padding characters, and unused bits before them).
// Found by CI: a flip in the unused bits of a 71-byte signature used to decode to the same bytes.
TEST(Blob, EveryBitFlipOfTheSignatureTextIsRefused) {
  PrivateKey k = PrivateKey::generate(KeyType::EcdsaP256);
  TrustedKeys trusted({k.public_key()});
  std::string content = "sealift.json";
  std::set<size_t> lengths;
  for (int tries = 0; tries < 200 && lengths.size() < 3; ++tries) {
    io::MemorySource src(content);
    std::string sig = sign_blob(k, src);
    if (!lengths.insert(util::base64_decode(sig).size()).second) continue;
    for (size_t i = 0; i < sig.size(); ++i)
      for (int bit = 0; bit < 8; ++bit) {
        std::string bad = sig;
        bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
        io::MemorySource again(content);
        EXPECT_THROW(verify_blob(trusted, again, bad, "sealift.json"), Error)
            << "length " << sig.size() << " char " << i << " bit " << bit;
      }
  }
  EXPECT_GE(lengths.size(), 2u);  // 72 and 71 bytes are common; 70 is rarer
}

}  // namespace
}  // namespace sealift::sign
