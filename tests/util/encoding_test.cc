#include "util/encoding.h"

#include <string>

#include <gtest/gtest.h>

#include "util/error.h"

namespace sealift::util {
namespace {

// RFC 4648 section 10 test vectors.
TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded) << plain;
    EXPECT_EQ(base64_decode(encoded), plain) << encoded;
  }
}

TEST(Base64, BinaryRoundTripWithStandardAlphabet) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  std::string enc = base64_encode(all);
  EXPECT_NE(enc.find('+'), std::string::npos);
  EXPECT_NE(enc.find('/'), std::string::npos);
  EXPECT_EQ(enc.find('-'), std::string::npos);
  EXPECT_EQ(base64_decode(enc), all);
  for (size_t n = 0; n < 70; ++n) EXPECT_EQ(base64_decode(base64_encode(all.substr(n, n))), all.substr(n, n)) << n;
}

TEST(Base64, IgnoresLineBreaksLikeGo) {
  // PEM bodies are wrapped at 64 columns.
  std::string text(120, 'x');
  std::string enc = base64_encode(text);
  std::string wrapped;
  for (size_t i = 0; i < enc.size(); i += 64) wrapped += enc.substr(i, 64) + "\r\n";
  EXPECT_EQ(base64_decode(wrapped), text);
}

TEST(Base64, RefusesMalformedInput) {
  for (std::string bad : {"Zg=", "Zm9", "Zm9v!A==", "Zm 9v", "Zm9-", "Zm9_", "=Zm9", "Z===", "Zg==Zg==", "Zg=A", "Zm=v"}) {
    try {
      std::string out = base64_decode(bad);
      ADD_FAILURE() << "decoded \"" << bad << "\" to " << out.size() << " bytes";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Input);
      EXPECT_NE(std::string(e.what()).find("invalid base64"), std::string::npos) << e.what();
    }
  }
}

TEST(Hex, EncodesLowercase) {
  EXPECT_EQ(hex_encode(""), "");
  EXPECT_EQ(hex_encode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(hex_encode("abc"), "616263");
}

}  // namespace
}  // namespace sealift::util
