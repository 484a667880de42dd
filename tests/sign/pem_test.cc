#include "sign/pem.h"

#include <gtest/gtest.h>

#include <string>

#include "util/error.h"

namespace sealift::sign {
namespace {

TEST(Pem, EncodesSixtyFourCharacterLinesAndAFinalNewline) {
  std::string body(100, '\x5a');  // 100 bytes -> 136 base64 characters
  std::string pem = pem_encode("PUBLIC KEY", body);
  EXPECT_EQ(pem.substr(0, 27), "-----BEGIN PUBLIC KEY-----\n");
  EXPECT_EQ(pem.substr(pem.size() - 25), "-----END PUBLIC KEY-----\n");
  std::string inner = pem.substr(27, pem.size() - 27 - 25);
  EXPECT_EQ(inner.find('\n'), 64u);
  EXPECT_EQ(inner.find('\n', 65), 129u);
  EXPECT_EQ(inner.size(), 136u + 3);
}

TEST(Pem, RoundTripsAndIgnoresSurroundingText) {
  std::string pem = "leading text\n" + pem_encode("ENCRYPTED SIGSTORE PRIVATE KEY", "payload bytes") + "trailer";
  PemBlock b = pem_decode(pem, "key");
  EXPECT_EQ(b.label, "ENCRYPTED SIGSTORE PRIVATE KEY");
  EXPECT_EQ(b.body, "payload bytes");
}

TEST(Pem, AcceptsCrLfLineEnds) {
  std::string pem = "-----BEGIN PUBLIC KEY-----\r\naGVsbG8=\r\n-----END PUBLIC KEY-----\r\n";
  EXPECT_EQ(pem_decode(pem, "key").body, "hello");
}

TEST(Pem, RejectsTextWithoutABlock) {
  try {
    pem_decode("just some text\n", "cosign.pub");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    EXPECT_NE(std::string(e.what()).find("cosign.pub is not a PEM file"), std::string::npos) << e.what();
  }
}

TEST(Pem, RejectsATruncatedBlock) {
  std::string pem = pem_encode("PUBLIC KEY", std::string(80, 'x'));
  try {
    pem_decode(pem.substr(0, pem.size() / 2), "cosign.pub");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no END line (truncated file?)"), std::string::npos) << e.what();
  }
}

TEST(Pem, RejectsABodyThatIsNotBase64) {
  EXPECT_THROW(pem_decode("-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n", "k"), Error);
  EXPECT_THROW(pem_decode("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n", "k"), Error);
}

}  // namespace
}  // namespace sealift::sign
