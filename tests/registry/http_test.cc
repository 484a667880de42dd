// The transport against real HTTP servers: the Harbor stand-in's /_test/ endpoints (redirects to
// another host, 429/503 with Retry-After, stalls) and a TLS docker-registry.
#include "registry/http.h"

#include <chrono>

#include <gtest/gtest.h>

#include "env/harbor.h"
#include "env/process.h"
#include "env/registry.h"
#include "registry/client.h"
#include "registry/url.h"
#include "util/error.h"

namespace sealift::registry {
namespace {

using testenv::HarborLike;
namespace fs = std::filesystem;

HttpOptions plain() {
  HttpOptions o;
  o.plain_http = true;
  return o;
}

HttpResponse get(HttpClient& http, const std::string& url, const std::string& authorization = "") {
  HttpRequest req;
  req.url = url;
  req.authorization = authorization;
  return http.send(req);
}

TEST(Http, AuthorizationFollowsRedirectsOnlyWithinTheSameHost) {
  HarborLike harbor;
  HttpClient http(plain());
  std::string same = harbor.url() + "/_test/echo-auth";
  // The same server under another name is another host as far as credentials go.
  std::string other = "http://localhost:" + harbor.host().substr(harbor.host().find(':') + 1) + "/_test/echo-auth";
  HttpResponse r = get(http, harbor.url() + "/_test/redirect?to=" + percent_encode(same), "Bearer secret-token");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "auth");
  r = get(http, harbor.url() + "/_test/redirect?to=" + percent_encode(other), "Bearer secret-token");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "none") << "Authorization must not reach another host";
  EXPECT_EQ(r.url, other);
  // A relative Location resolves against the request.
  r = get(http, harbor.url() + "/_test/redirect?to=echo-auth", "Bearer x");
  EXPECT_EQ(r.body, "auth");
  EXPECT_EQ(r.url, same);
}

TEST(Http, RetriesTransientStatusesWithinTheBudget) {
  HarborLike harbor;
  HttpClient http(plain());
  RetryPolicy fast;
  fast.retries = 3;
  fast.initial_delay_s = 0.01;
  HttpRequest req;
  req.url = harbor.url() + "/_test/flaky?id=a&fail=2&status=503";
  HttpResponse r = send_with_retries(http, req, fast);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok after 3");

  req.url = harbor.url() + "/_test/flaky?id=b&fail=10&status=502";
  r = send_with_retries(http, req, fast);
  EXPECT_EQ(r.status, 502) << "bounded: 1 + 3 attempts, then the last answer";
  EXPECT_EQ(get(http, req.url).body, "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"slow down\"}]}\n")
      << "the fifth request is still failing, so exactly four were made";

  req.url = harbor.url() + "/_test/flaky?id=c&fail=1&status=404";
  EXPECT_EQ(send_with_retries(http, req, fast).status, 404) << "a 404 is not retried";
  EXPECT_EQ(get(http, req.url).body, "ok after 2");
}

TEST(Http, HonoursRetryAfterButNotBeyondItsBound) {
  HarborLike harbor;
  HttpClient http(plain());
  RetryPolicy policy;
  policy.initial_delay_s = 0.01;
  policy.max_retry_after_s = 5;
  HttpRequest req;
  req.url = harbor.url() + "/_test/flaky?id=d&fail=1&status=429&retry_after=1";
  HttpResponse r = send_with_retries(http, req, policy);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok after 2");

  req.url = harbor.url() + "/_test/flaky?id=e&fail=1&status=429&retry_after=3600";
  r = send_with_retries(http, req, policy);
  EXPECT_EQ(r.status, 429) << "an hour is not waited for";
  EXPECT_EQ(r.header("retry-after"), "3600");
}

TEST(Http, StalledTransfersAreCutOff) {
  HarborLike harbor;
  HttpOptions o = plain();
  o.stall_timeout_s = 1;
  HttpClient http(o);
  HttpResponse r = get(http, harbor.url() + "/_test/stall");
  EXPECT_TRUE(r.failed());
  EXPECT_TRUE(r.retryable);
  EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
}

// First review, open item 13: a server that trickles (here 50 bytes/s) was never cut off, as
// the guard was 1 byte/s; now a transfer must keep HttpOptions::min_rate (1 KiB/s by default)
// over the stall timeout.
TEST(Http, TricklingTransfersAreCutOff) {
  HarborLike harbor;
  HttpOptions o = plain();
  o.stall_timeout_s = 2;
  ASSERT_EQ(o.min_rate, 1024u) << "the documented default";
  HttpClient http(o);
  const auto start = std::chrono::steady_clock::now();
  HttpResponse r = get(http, harbor.url() + "/_test/trickle?bytes=10&every_ms=200");
  EXPECT_TRUE(r.failed()) << "status " << r.status << ", " << r.body.size() << " bytes";
  EXPECT_TRUE(r.retryable);
  EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

// ... and every request has an overall deadline: here 1 s plus 1 MiB (the in-memory cap) at
// 1 MiB/s, for an answer that stalls after its first bytes, while the stall timeout alone would
// wait a minute.
TEST(Http, EveryRequestHasADeadlineScaledByItsSize) {
  HarborLike harbor;
  HttpOptions o = plain();
  o.stall_timeout_s = 60;
  o.min_rate = 1 << 20;
  o.request_base_s = 1;
  HttpClient http(o);
  const auto start = std::chrono::steady_clock::now();
  HttpResponse r = get(http, harbor.url() + "/_test/stall");
  EXPECT_TRUE(r.failed());
  EXPECT_TRUE(r.retryable);
  EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST(Http, PlainHttpIsRefusedUnlessAskedFor) {
  HarborLike harbor;
  HttpClient http(HttpOptions{});
  try {
    get(http, harbor.url() + "/_test/echo-auth");
    ADD_FAILURE() << "plain HTTP was used silently";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("refusing to talk plain HTTP to " + harbor.host()), std::string::npos);
    EXPECT_NE(e.hint().find("--plain-http"), std::string::npos);
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Tls, VerifiedByDefaultWithAPrivateCaFromCaFile) {
  testenv::RegistryOptions ro;
  ro.tls = true;
  testenv::Registry reg(ro);
  RegistryOptions untrusted;
  untrusted.retry.retries = 0;
  {
    testenv::ScopedEnv file("SSL_CERT_FILE", std::nullopt);
    testenv::ScopedEnv dir("SSL_CERT_DIR", std::nullopt);
    RegistryClient a(reg.host(), untrusted);
    EXPECT_EQ(error_of([&] { a.ping(); }),
              reg.host() + ": the TLS certificate of " + reg.host() +
                  " is not trusted: checked against /etc/ssl/certs/ca-certificates.crt (the system's CA bundle); pass "
                  "the CA that signed it with --ca-file FILE (PEM), or set SSL_CERT_FILE, while trying to reach " +
                  reg.host());
  }
  {
    // The environment's choice, as OpenSSL's own tools take it: a PEM file, or a hashed directory.
    testenv::ScopedEnv file("SSL_CERT_FILE", reg.ca_file().string());
    RegistryClient a(reg.host(), untrusted);
    a.ping();
  }
  {
    testenv::TempDir hashed("sealift-cert-dir");
    fs::copy_file(reg.ca_file(), hashed / "private-ca.pem");
    testenv::RunResult rehash = testenv::run({"openssl", "rehash", hashed.path().string()});
    ASSERT_EQ(rehash.exit_code, 0) << rehash.err;
    testenv::ScopedEnv dir("SSL_CERT_DIR", hashed.path().string());
    RegistryClient a(reg.host(), untrusted);
    a.ping();
    // SSL_CERT_FILE beside it is trusted too; the system bundle is not.
    testenv::ScopedEnv file("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt");
    RegistryClient both(reg.host(), untrusted);
    both.ping();
    testenv::ScopedEnv no_dir("SSL_CERT_DIR", std::nullopt);
    RegistryClient system(reg.host(), untrusted);
    EXPECT_NE(error_of([&] { system.ping(); }).find("checked against /etc/ssl/certs/ca-certificates.crt (SSL_CERT_FILE)"),
              std::string::npos);
  }

  RegistryOptions trusted;
  trusted.http.ca_file = reg.ca_file();
  RegistryClient b(reg.host(), trusted);
  b.ping();
  EXPECT_TRUE(b.list_tags("p/none").empty());

  RegistryOptions skip;
  skip.http.insecure_skip_verify = true;
  RegistryClient c(reg.host(), skip);
  c.ping();

  RegistryOptions bad_ca;
  bad_ca.http.ca_file = "/nonexistent/ca.pem";
  RegistryClient d(reg.host(), bad_ca);
  EXPECT_NE(error_of([&] { d.ping(); }).find("cannot use the CA certificates /nonexistent/ca.pem (--ca-file)"),
            std::string::npos);

  RegistryOptions bad_cert = trusted;
  bad_cert.http.client_cert = "/nonexistent/client.pem";
  RegistryClient e(reg.host(), bad_cert);
  EXPECT_NE(error_of([&] { e.ping(); }).find("cannot use the client certificate /nonexistent/client.pem"),
            std::string::npos);
}

}  // namespace
}  // namespace sealift::registry
