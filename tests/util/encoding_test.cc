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

// `text` is refused as Error(Input) "invalid base64 ...".
void ExpectInvalid(const std::string& text) {
  try {
    std::string out = base64_decode(text);
    ADD_FAILURE() << "decoded \"" << text << "\" to " << out.size() << " bytes";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    EXPECT_NE(std::string(e.what()).find("invalid base64"), std::string::npos) << e.what();
  }
}

TEST(Base64, RefusesMalformedInput) {
  for (std::string bad : {"Zg=", "Zm9", "Zm9v!A==", "Zm 9v", "Zm9-", "Zm9_", "=Zm9", "Z===", "Zg==Zg==", "Zg=A", "Zm=v"})
    ExpectInvalid(bad);
}

// Every byte string has exactly one encoding: the bits after the last byte are zero. Go's default
// decoder ignores them, so a signature with one of them flipped would still verify; sealift
// refuses the altered text instead (no encoder writes it).
TEST(Base64, RefusesNonCanonicalPaddingBits) {
  EXPECT_EQ(base64_decode("Zg=="), "f");
  EXPECT_EQ(base64_decode("Zm8="), "fo");
  for (std::string bad : {"Zh==", "Zv==", "Zm9=", "Zm+=", "AAF=", "AB=="}) ExpectInvalid(bad);
  // Every single-bit change of an encoding is refused or decodes to other bytes.
  const std::string sig = std::string(71, '\x5a');
  const std::string enc = base64_encode(sig);
  for (size_t i = 0; i < enc.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = enc;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      try {
        EXPECT_NE(base64_decode(bad), sig) << "byte " << i << " bit " << bit;
      } catch (const Error&) {
      }
    }
}

TEST(Hex, EncodesLowercase) {
  EXPECT_EQ(hex_encode(""), "");
  EXPECT_EQ(hex_encode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(hex_encode("abc"), "616263");
}

// Review 2026-12-07 I3: what inspect and serve print from untrusted input cannot drive a terminal.
TEST(EscapeControls, EveryControlAndNonAsciiByteIsWrittenAsHex) {
  EXPECT_EQ(escape_controls("docker.io/library/redis:7.4 ~!"), "docker.io/library/redis:7.4 ~!");
  EXPECT_EQ(escape_controls("a\x1b]0;owned\x07" "b\r\nc"), "a\\x1b]0;owned\\x07b\\x0d\\x0ac");
  EXPECT_EQ(escape_controls(std::string("\x00\x7f\xc2\x9b", 4)), "\\x00\\x7f\\xc2\\x9b");
  for (int b = 0; b < 256; ++b) {
    const std::string out = escape_controls(std::string(1, static_cast<char>(b)));
    for (unsigned char c : out) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "byte " << b << " came out as " << int{c};
  }
}

}  // namespace
}  // namespace sealift::util
