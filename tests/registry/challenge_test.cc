#include "registry/challenge.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace sealift::registry {
namespace {

TEST(Challenge, HarborBearerWithCommaInsideQuotedScope) {
  auto cs = parse_challenges(
      R"(Bearer realm="https://harbor.example.com/service/token",service="harbor-registry",scope="repository:proj/app:pull,push")");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].scheme, "bearer");
  EXPECT_EQ(cs[0].param("realm"), "https://harbor.example.com/service/token");
  EXPECT_EQ(cs[0].param("service"), "harbor-registry");
  EXPECT_EQ(cs[0].param("scope"), "repository:proj/app:pull,push");
  EXPECT_EQ(cs[0].param("error"), "");
}

TEST(Challenge, SchemeAndParameterNamesAreCaseInsensitive) {
  auto cs = parse_challenges(R"(BASIC Realm="Registry Realm")");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].scheme, "basic");
  EXPECT_EQ(cs[0].param("realm"), "Registry Realm");
}

TEST(Challenge, SeveralChallengesInOneHeader) {
  auto cs = parse_challenges(R"(Basic realm="harbor", Bearer realm="https://a/t",service="s" ,  Negotiate)");
  ASSERT_EQ(cs.size(), 3u);
  EXPECT_EQ(cs[0].scheme, "basic");
  EXPECT_EQ(cs[0].param("realm"), "harbor");
  EXPECT_EQ(cs[1].scheme, "bearer");
  EXPECT_EQ(cs[1].param("realm"), "https://a/t");
  EXPECT_EQ(cs[1].param("service"), "s");
  EXPECT_EQ(cs[2].scheme, "negotiate");
  EXPECT_TRUE(cs[2].params.empty());
}

TEST(Challenge, UnquotedTokensSpacesAndEscapes) {
  auto cs = parse_challenges(R"(Bearer error=insufficient_scope , realm = "a \"quoted\" \\ value",scope="x")");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].param("error"), "insufficient_scope");
  EXPECT_EQ(cs[0].param("realm"), R"(a "quoted" \ value)");
  EXPECT_EQ(cs[0].param("scope"), "x");
}

TEST(Challenge, Token68) {
  auto cs = parse_challenges("Negotiate YIIB9wYJKoZIhvcSAQICAQBuggHmMIIB4qADAgEFoQMCAQ6iBwMFACAAAACjggEOYYIBCjCCAQ==");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].param(""), "YIIB9wYJKoZIhvcSAQICAQBuggHmMIIB4qADAgEFoQMCAQ6iBwMFACAAAACjggEOYYIBCjCCAQ==");
}

TEST(Challenge, MalformedHeadersAreRefusedWithAReason) {
  for (const char* bad : {"", "   ", ",,,", R"(Bearer realm="unterminated)", R"(Bearer realm="a",=x)",
                          R"(Bearer realm="a" junk="b" x)", R"(Bearer realm="a";service="b")", "=", "Bearer realm=\"a\\"}) {
    try {
      parse_challenges(bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Remote) << bad;
      EXPECT_NE(std::string(e.what()).find("malformed WWW-Authenticate"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace sealift::registry
