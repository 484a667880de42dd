// Token responses and the token cache; the flows against real servers are in auth_test.cc.
#include "registry/auth.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace sealift::registry {
namespace {

using namespace std::chrono_literals;

TEST(TokenResponse, TokenOrAccessToken) {
  auto now = SteadyClock::now();
  auto t = parse_token_response(R"({"token":"abc","access_token":"abc","expires_in":1800,"issued_at":"2026-01-01T00:00:00Z"})", now);
  EXPECT_EQ(t.value, "abc");
  EXPECT_EQ(t.expires, now + 1770s);
  EXPECT_EQ(parse_token_response(R"({"access_token":"xyz","expires_in":300})", now).value, "xyz");
  EXPECT_EQ(parse_token_response(R"({"token":"","access_token":"xyz"})", now).value, "xyz");
}

TEST(TokenResponse, DefaultLifetimeIsSixtySeconds) {
  auto now = SteadyClock::now();
  EXPECT_EQ(parse_token_response(R"({"token":"a"})", now).expires, now + 54s);
  EXPECT_EQ(parse_token_response(R"({"token":"a","expires_in":0})", now).expires, now + 54s);
  EXPECT_EQ(parse_token_response(R"({"token":"a","expires_in":-5})", now).expires, now + 54s);
}

// Found by fuzzing (token_response): a huge expires_in overflowed the clock (undefined behaviour).
TEST(TokenResponse, LifetimeIsAtMostADay) {
  auto now = SteadyClock::now();
  EXPECT_EQ(parse_token_response(R"({"token":"a","expires_in":86400})", now).expires, now + 86370s);
  for (const char* huge : {R"({"token":"a","expires_in":86401})", R"({"token":"a","expires_in":1e300})",
                           R"({"token":"a","expires_in":18446744073709551615})"})
    EXPECT_EQ(parse_token_response(huge, now).expires, now + 86370s) << huge;
}

TEST(TokenResponse, MalformedAnswers) {
  auto now = SteadyClock::now();
  for (const char* bad : {"", "not json", "[]", R"({})", R"({"token":42})", R"({"token":""})", R"({"token":"a\r\nX: y"})",
                          R"({"token":"a","expires_in":"soon"})"}) {
    try {
      parse_token_response(bad, now);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Remote) << bad;
    }
  }
}

TEST(TokenCache, ExpiresAndForgetsOnlyTheRejectedToken) {
  TokenCache cache;
  auto now = SteadyClock::now();
  cache.put("repository:a:pull", {"t1", now + 10s});
  EXPECT_EQ(cache.get("repository:a:pull", now), "t1");
  EXPECT_FALSE(cache.get("repository:a:pull,push", now));
  EXPECT_FALSE(cache.get("repository:a:pull", now + 10s));
  cache.put("repository:a:pull", {"t2", now + 10s});
  cache.forget("repository:a:pull", "t1");  // a stale rejection must not drop the renewed token
  EXPECT_EQ(cache.get("repository:a:pull", now), "t2");
  cache.forget("repository:a:pull", "t2");
  EXPECT_FALSE(cache.get("repository:a:pull", now));
}

TEST(TokenRealm, TheRegistrysHostAndDomainAreTrusted) {
  EXPECT_TRUE(token_realm_trusted("harbor.example.com", "https://harbor.example.com/service/token", {}));
  EXPECT_TRUE(token_realm_trusted("harbor.example.com", "https://auth.example.com/token", {}));
  EXPECT_TRUE(token_realm_trusted("Harbor.Example.COM:8443", "https://x.y.example.com./token", {}));
  EXPECT_TRUE(token_realm_trusted("docker.io", "https://auth.docker.io/token", {}));
  EXPECT_TRUE(token_realm_trusted("registry-1.docker.io", "https://auth.docker.io/token", {}));
  EXPECT_TRUE(token_realm_trusted("registry.gitlab.example.com", "https://gitlab.example.com/jwt/auth", {}));
  EXPECT_TRUE(token_realm_trusted("127.0.0.1:5000", "http://127.0.0.1:5001/token", {})) << "ports may differ";
  EXPECT_TRUE(token_realm_trusted("localhost:5000", "http://localhost/token", {}));
  EXPECT_TRUE(token_realm_trusted("[::1]:5000", "http://[::1]:8080/token", {}));
}

TEST(TokenRealm, OtherHostsAreTrustedOnlyWhenAllowed) {
  EXPECT_FALSE(token_realm_trusted("harbor.example.com", "https://tokens.example.net/token", {}));
  EXPECT_FALSE(token_realm_trusted("harbor.example.com", "https://example.com.evil.net/token", {}));
  EXPECT_FALSE(token_realm_trusted("example.com", "https://notexample.com/token", {}));
  // IP addresses and single-label names have no domain: only the same host.
  EXPECT_FALSE(token_realm_trusted("10.1.2.3", "https://10.9.2.3/token", {}));
  EXPECT_FALSE(token_realm_trusted("127.0.0.1:5000", "http://localhost:5000/token", {}));
  EXPECT_FALSE(token_realm_trusted("localhost:5000", "http://127.0.0.1:5000/token", {}));
  EXPECT_FALSE(token_realm_trusted("registry", "http://auth/token", {}));
  EXPECT_FALSE(token_realm_trusted("[::1]:5000", "http://[::2]:5000/token", {}));
  // The registrable domain comes from the Public Suffix List, not the last two labels: siblings
  // under a public suffix, or under a cloud's shared domain, belong to different owners.
  EXPECT_FALSE(token_realm_trusted("harbor.corp.co.uk", "https://evil.co.uk/token", {}));
  EXPECT_TRUE(token_realm_trusted("harbor.corp.co.uk", "https://auth.corp.co.uk/token", {}));
  EXPECT_FALSE(token_realm_trusted("1234.dkr.ecr.us-east-1.amazonaws.com",
                                   "https://x.execute-api.us-east-1.amazonaws.com/token", {}));
  EXPECT_FALSE(token_realm_trusted("1234.dkr.ecr.eu-west-1.amazonaws.com",
                                   "https://x.execute-api.eu-west-1.amazonaws.com/token", {}));
  EXPECT_FALSE(token_realm_trusted("a.azurecr.io", "https://b.azurecr.io/oauth2/token", {}));
  EXPECT_TRUE(token_realm_trusted("a.azurecr.io", "https://a.azurecr.io/oauth2/token", {}));
  EXPECT_FALSE(token_realm_trusted("app.github.io", "https://evil.github.io/token", {}));
  EXPECT_FALSE(token_realm_trusted("co.uk", "https://evil.co.uk/token", {}));

  EXPECT_TRUE(token_realm_trusted("harbor.example.com", "https://tokens.example.net/token", {"Tokens.Example.NET"}));
  EXPECT_TRUE(token_realm_trusted("localhost:5000", "http://127.0.0.1:5001/token", {"127.0.0.1"}));
  // With a port, only that port.
  EXPECT_TRUE(token_realm_trusted("h.example.com", "https://10.0.0.7:8443/token", {"10.0.0.7:8443"}));
  EXPECT_FALSE(token_realm_trusted("h.example.com", "https://10.0.0.7:9443/token", {"10.0.0.7:8443"}));
  EXPECT_TRUE(token_realm_trusted("h.example.com", "https://tokens.example.net/token", {"tokens.example.net:443"}));
  EXPECT_FALSE(token_realm_trusted("h.example.com", "https://tokens.example.net/token", {"other.example.net"}));
}

TEST(Scope, RepositoryScope) { EXPECT_EQ(repository_scope("proj/app", "pull,push"), "repository:proj/app:pull,push"); }

}  // namespace
}  // namespace sealift::registry
