// Authentication against real servers: an anonymous registry, a docker-registry with htpasswd
// Basic auth, and Bearer tokens from the Harbor stand-in's token service that the real registry
// verifies. Wrong passwords and missing projects must give clear errors, and no password may
// appear in any log.
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "env/harbor.h"
#include "env/registry.h"
#include "registry/client.h"
#include "registry/content.h"
#include "registry/image.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::registry {
namespace {

using test::MemoryContent;
using test::random_bytes;
using testenv::HarborLike;
using testenv::HarborLikeOptions;
using testenv::Registry;

RegistryOptions plain(Credentials c = {}) {
  RegistryOptions o;
  o.http.plain_http = true;
  o.retry.initial_delay_s = 0.05;
  o.credentials = std::move(c);
  return o;
}

Error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  return Error(ErrorKind::Internal, "(no error)");
}

// Pushes a small image and pulls it back; returns the pulled root digest.
oci::Digest round_trip(RegistryClient& client, const std::string& repository) {
  MemoryContent src;
  auto m = src.add_image({random_bytes(5000, 7), random_bytes(300, 8)}, R"({"os":"linux","architecture":"amd64"})");
  TransferScheduler scheduler(2);
  push_image(client, scheduler, repository, m.descriptor(), src, {"v1"});
  MemoryContent dst;
  auto pulled = pull_image(client, scheduler, repository, "v1", {}, dst);
  EXPECT_EQ(dst.blobs, src.blobs);
  return pulled.root.digest;
}

// Collects the request log; transfer workers call it several at once.
std::function<void(std::string_view)> logger(std::string& log) {
  auto mu = std::make_shared<std::mutex>();
  return [&log, mu](std::string_view line) {
    std::lock_guard lock(*mu);
    log += std::string(line) + "\n";
  };
}

// Everything a log could leak the password as.
void expect_not_in(const std::string& text, const std::string& user, const std::string& password, const std::string& where) {
  EXPECT_EQ(text.find(password), std::string::npos) << "password in " << where;
  EXPECT_EQ(text.find(util::base64_encode(user + ":" + password)), std::string::npos) << "Basic credentials in " << where;
}

TEST(Auth, Anonymous) {
  Registry reg;
  RegistryClient client(reg.host(), plain());
  EXPECT_FALSE(round_trip(client, "anon/app").empty());
}

TEST(Auth, HtpasswdBasic) {
  testenv::RegistryOptions ro;
  ro.basic_auth = true;
  Registry reg(ro);
  std::string log;
  RegistryOptions o = plain({ro.user, ro.password, "--username/--password-stdin"});
  o.http.log = logger(log);
  RegistryClient client(reg.host(), o);
  EXPECT_FALSE(round_trip(client, "basic/app").empty());
  EXPECT_NE(log.find("-> 201"), std::string::npos) << log;
  expect_not_in(log, ro.user, ro.password, "the request log");
  expect_not_in(util::read_file(reg.log()), ro.user, ro.password, "the registry log");

  // Without credentials: a clear "requires authentication".
  RegistryClient nobody(reg.host(), plain());
  Error e = error_of([&] { nobody.resolve("basic/app", "v1"); });
  EXPECT_EQ(e.kind(), ErrorKind::Remote);
  EXPECT_EQ(std::string(e.what()), reg.host() + " requires authentication: 401 unauthorized");
  EXPECT_NE(e.hint().find("--password-stdin"), std::string::npos);

  // A wrong password names the user and where the credentials came from, never the password.
  std::string wrong = "not-the-Right-pw-42";
  RegistryClient bad(reg.host(), plain({ro.user, wrong, "SEALIFT_REGISTRY_USER"}));
  e = error_of([&] { bad.resolve("basic/app", "v1"); });
  EXPECT_EQ(e.kind(), ErrorKind::Remote);
  EXPECT_NE(std::string(e.what()).find("login to " + reg.host() + " failed for user \"sealift\" (credentials from "
                                       "SEALIFT_REGISTRY_USER): 401"),
            std::string::npos)
      << e.what();
  expect_not_in(std::string(e.what()) + e.hint(), ro.user, wrong, "the error");
}

TEST(Auth, BearerTokensFromTheHarborStandIn) {
  HarborLike harbor(std::vector<std::string>{"ai-saas"});
  std::string log;
  RegistryOptions o = plain({harbor.admin_user(), harbor.admin_password(), "--username/--password-stdin"});
  o.http.log = logger(log);
  RegistryClient client(harbor.host(), o);
  oci::Digest pushed = round_trip(client, "ai-saas/backend");
  // The real registry checked the tokens: the requests went through it.
  EXPECT_GE(harbor.count_requests("GET", "/service/token"), 1u);
  EXPECT_GE(harbor.count_requests("PUT", "/v2/ai-saas/backend/manifests/v1"), 1u);
  // Tokens are cached per scope: far fewer token requests than registry requests.
  EXPECT_LE(harbor.count_requests("GET", "/service/token"), 3u) << harbor.request_log();

  // Anonymous pulls from a private project are refused, in words.
  RegistryClient anonymous(harbor.host(), plain());
  Error e = error_of([&] { anonymous.resolve("ai-saas/backend", "v1"); });
  EXPECT_EQ(e.kind(), ErrorKind::Remote);
  EXPECT_NE(std::string(e.what()).find("denied: no pull permission"), std::string::npos) << e.what();

  // Public projects can be pulled anonymously.
  harbor.create_project("public-stuff", true);
  round_trip(client, "public-stuff/tool");
  EXPECT_EQ(anonymous.resolve("public-stuff/tool", "v1").media_type, oci::media::kOciManifest);

  // Wrong password: the token service refuses the login.
  std::string wrong = "Wr0ng-harbor-password";
  RegistryClient bad(harbor.host(), plain({harbor.admin_user(), wrong, "/home/u/.docker/config.json"}));
  e = error_of([&] { bad.resolve("ai-saas/backend", "v1"); });
  EXPECT_EQ(std::string(e.what()),
            "login to " + harbor.host() + " failed for user \"admin\" (credentials from /home/u/.docker/config.json): "
            "401 unauthorized: invalid user name or password");
  expect_not_in(std::string(e.what()) + e.hint(), harbor.admin_user(), wrong, "the error");

  // A project that does not exist: Harbor says so (a 401 with an empty challenge), in words.
  MemoryContent src;
  auto d = src.add_blob(random_bytes(100, 9), "application/octet-stream");
  e = error_of([&] { client.push_blob("no-such-project/backend", d, [&](uint64_t off) { return src.open_blob(d, off); }); });
  EXPECT_EQ(e.kind(), ErrorKind::Remote);
  std::string what = e.what();
  EXPECT_EQ(what.rfind("push no-such-project/backend", 0), 0u) << what;
  EXPECT_NE(what.find(": project \"no-such-project\" does not exist on " + harbor.host()), std::string::npos) << what;
  EXPECT_NE(e.hint().find("--create-project"), std::string::npos) << e.hint();

  for (const auto& file : harbor.logs()) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    expect_not_in(text.str(), harbor.admin_user(), harbor.admin_password(), file.string());
    expect_not_in(text.str(), harbor.admin_user(), wrong, file.string());
  }
  expect_not_in(log, harbor.admin_user(), harbor.admin_password(), "the request log");
  EXPECT_EQ(log.find("Bearer"), std::string::npos) << "tokens are not logged";
  EXPECT_FALSE(pushed.empty());
}

// The Bearer challenge names the token service, and the registry's password goes there as Basic
// credentials: only to the registry's own host or domain, or to a host the user allowed. The same
// stand-in reached as "localhost" names its realm as 127.0.0.1, another host as far as credentials go.
TEST(Auth, CredentialsGoOnlyToATokenRealmTheUserTrusts) {
  HarborLike harbor(std::vector<std::string>{"ai-saas", "open:public"});
  Credentials admin{harbor.admin_user(), harbor.admin_password(), "--username/--password-stdin"};
  RegistryClient direct(harbor.host(), plain(admin));
  round_trip(direct, "ai-saas/backend");
  round_trip(direct, "open/tool");
  const std::string port = harbor.host().substr(harbor.host().find(':') + 1);
  const std::string elsewhere = "localhost:" + port;

  size_t tokens = harbor.count_requests("GET", "/service/token");
  RegistryClient refused(elsewhere, plain(admin));
  Error e = error_of([&] { refused.resolve("ai-saas/backend", "v1"); });
  EXPECT_EQ(e.kind(), ErrorKind::Remote);
  EXPECT_EQ(std::string(e.what()),
            "the token service of " + elsewhere + " is on another host (127.0.0.1:" + port +
                "): the credentials of user \"admin\" are not sent there")
      << e.what();
  EXPECT_NE(e.hint().find("--allow-token-realm 127.0.0.1"), std::string::npos) << e.hint();
  EXPECT_EQ(harbor.count_requests("GET", "/service/token"), tokens) << "the token service was asked";

  // Without credentials there is nothing to leak: anonymous tokens come from any realm.
  RegistryClient anonymous(elsewhere, plain());
  EXPECT_EQ(anonymous.resolve("open/tool", "v1").media_type, oci::media::kOciManifest);
  EXPECT_GT(harbor.count_requests("GET", "/service/token"), tokens);

  // Allowed by the user (--allow-token-realm): the private project's manifest is readable, so the
  // credentials reached the token service.
  RegistryOptions o = plain(admin);
  o.http.allowed_token_realms = {"127.0.0.1"};
  RegistryClient allowed(elsewhere, o);
  EXPECT_EQ(allowed.resolve("ai-saas/backend", "v1").media_type, oci::media::kOciManifest);
}

TEST(Auth, ExpiredTokensAreRenewed) {
  // Tokens that live 2 s (the registry allows 60 s of clock skew, so the client's own expiry
  // decides): pushes spread over longer than that keep working.
  HarborLikeOptions ho;
  ho.projects = {"p"};
  ho.token_ttl_s = 2;
  HarborLike harbor(ho);
  RegistryClient client(harbor.host(), plain({harbor.admin_user(), harbor.admin_password(), "test"}));
  round_trip(client, "p/one");
  size_t tokens = harbor.count_requests("GET", "/service/token");
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  round_trip(client, "p/one");
  EXPECT_GT(harbor.count_requests("GET", "/service/token"), tokens) << "an expired token is not reused";
}

}  // namespace
}  // namespace sealift::registry
