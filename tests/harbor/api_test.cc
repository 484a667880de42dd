// HarborApi against the Harbor stand-in (tests/env/harbor: Harbor's API and token service faked
// after its swagger, in front of a real docker-registry). A real Harbor cannot be built here.
#include "harbor/api.h"

#include <curl/curl.h>

#include <ctime>
#include <map>

#include <gtest/gtest.h>

#include "env/harbor.h"
#include "registry/client.h"
#include "registry/trust.h"
#include "util/error.h"

namespace sealift::harbor {
namespace {

using testenv::HarborLike;

registry::HttpOptions plain() {
  registry::HttpOptions h;
  h.plain_http = true;
  return h;
}

registry::Credentials admin(const HarborLike& h) { return {h.admin_user(), h.admin_password(), "test"}; }

Error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  return Error(ErrorKind::Internal, "(no error)");
}

TEST(ProjectName, HarborsRule) {
  for (const char* good : {"a", "ai-saas", "a.b_c-d", "x1", "0", "ab"})
    EXPECT_TRUE(valid_project_name(good)) << good;
  for (const char* bad : {"", "-a", "a-", "a..b", "a--b", "a-_b", "A", "a b", "a/b", "ä", ".", "a$"})
    EXPECT_FALSE(valid_project_name(bad)) << bad;
  EXPECT_TRUE(valid_project_name(std::string(255, 'a')));
  EXPECT_FALSE(valid_project_name(std::string(256, 'a')));
}

TEST(HarborApi, ProjectsExistOrAreCreatedPrivate) {
  HarborLike harbor(std::vector<std::string>{"existing"});
  HarborApi api(harbor.host(), plain(), admin(harbor));
  EXPECT_TRUE(api.project_exists("existing"));
  EXPECT_FALSE(api.project_exists("ai-saas"));
  EXPECT_TRUE(api.create_project("ai-saas"));
  EXPECT_TRUE(api.project_exists("ai-saas"));
  EXPECT_FALSE(api.create_project("ai-saas")) << "409 CONFLICT means it is there";
  api.ensure_project("ai-saas", false);
  api.ensure_project("fresh", true);
  EXPECT_TRUE(api.project_exists("fresh"));
  EXPECT_EQ(harbor.count_requests("POST", "/api/v2.0/projects"), 3u);

  // Private by default: anonymous pulls are refused by the token service.
  registry::RegistryOptions anon;
  anon.http.plain_http = true;
  registry::RegistryClient anonymous(harbor.host(), anon);
  Error e = error_of([&] { anonymous.resolve("ai-saas/x", "1"); });
  EXPECT_NE(std::string(e.what()).find("denied"), std::string::npos) << e.what();
}

TEST(HarborApi, MissingProjectWithoutCreationIsAClearError) {
  HarborLike harbor;
  HarborApi api(harbor.host(), plain(), admin(harbor));
  Error e = error_of([&] { api.ensure_project("ai-saas", false); });
  EXPECT_EQ(e.kind(), ErrorKind::Remote);
  EXPECT_EQ(std::string(e.what()), "project \"ai-saas\" does not exist on " + harbor.host());
  EXPECT_FALSE(api.project_exists("ai-saas")) << "nothing was created";
}

TEST(HarborApi, WrongPasswordAndMissingCredentials) {
  HarborLike harbor;
  std::string wrong = "definitely-Wr0ng";
  HarborApi api(harbor.host(), plain(), {harbor.admin_user(), wrong, "SEALIFT_REGISTRY_USER"});
  Error e = error_of([&] { api.project_exists("x"); });
  EXPECT_EQ(e.kind(), ErrorKind::Remote);
  EXPECT_EQ(std::string(e.what()), "login to Harbor " + harbor.host() +
                                       " failed for user \"admin\" (credentials from SEALIFT_REGISTRY_USER): 401 unauthorized");
  EXPECT_EQ(std::string(e.what()).find(wrong), std::string::npos);
  EXPECT_THROW(HarborApi(harbor.host(), plain(), {}), Error);
}

TEST(HarborApi, InvalidNamesAreRefusedBeforeAnyRequest) {
  HarborLike harbor;
  HarborApi api(harbor.host(), plain(), admin(harbor));
  for (const char* bad : {"", "Upper", "a//b", "-x", "x-", "a b", "a/b"}) {
    Error e = error_of([&] { api.create_project(bad); });
    EXPECT_EQ(e.kind(), ErrorKind::Input) << bad;
  }
  EXPECT_EQ(harbor.count_requests("POST", "/api/v2.0/projects"), 0u);
  EXPECT_EQ(error_of([&] { api.create_pull_robot("p", "a$b"); }).kind(), ErrorKind::Input);
}

TEST(HarborApi, PullRobotCanPullItsProjectAndNothingElse) {
  HarborLike harbor(std::vector<std::string>{"ai-saas", "other"});
  HarborApi api(harbor.host(), plain(), admin(harbor));
  RobotAccount robot = api.create_pull_robot("ai-saas", "cluster-pull");
  EXPECT_EQ(robot.name, "robot$ai-saas+cluster-pull");
  EXPECT_GE(robot.secret.size(), 16u);
  EXPECT_GT(robot.id, 0);
  Error dup = error_of([&] { api.create_pull_robot("ai-saas", "cluster-pull"); });
  EXPECT_NE(std::string(dup.what()).find("already exists"), std::string::npos) << dup.what();
  EXPECT_FALSE(api.try_create_pull_robot("ai-saas", "cluster-pull").has_value());
  auto second = api.try_create_pull_robot("ai-saas", "cluster-pull-2");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->name, "robot$ai-saas+cluster-pull-2");
  EXPECT_NE(second->secret, robot.secret);
  EXPECT_EQ(error_of([&] { api.create_pull_robot("missing", "r"); }).kind(), ErrorKind::Remote);

  // Content pushed by the admin...
  registry::RegistryOptions ao;
  ao.http.plain_http = true;
  ao.credentials = admin(harbor);
  registry::RegistryClient admin_client(harbor.host(), ao);
  std::string config = R"({"architecture":"amd64","os":"linux"})";
  oci::Descriptor cfg;
  cfg.media_type = oci::media::kOciConfig;
  cfg.digest = oci::Digest::of(config);
  cfg.size = static_cast<int64_t>(config.size());
  auto open = [&](uint64_t off) { return std::make_unique<io::MemorySource>(std::span<const std::byte>(
                                      reinterpret_cast<const std::byte*>(config.data()) + off, config.size() - off)); };
  for (const char* repo : {"ai-saas/backend", "other/backend"}) admin_client.push_blob(repo, cfg, open);

  // ...the robot can pull from its project,
  registry::RegistryOptions ro;
  ro.http.plain_http = true;
  ro.credentials = {robot.name, robot.secret, "robot"};
  registry::RegistryClient robot_client(harbor.host(), ro);
  io::StringSink sink;
  robot_client.fetch_blob("ai-saas/backend", cfg, sink);
  EXPECT_EQ(sink.out, config);
  // but not push there, and not pull elsewhere.
  Error e = error_of([&] { robot_client.push_blob("ai-saas/backend2", cfg, open); });
  EXPECT_NE(std::string(e.what()).find("no push permission"), std::string::npos) << e.what();
  e = error_of([&] { robot_client.check_push_access("ai-saas/backend"); });
  EXPECT_NE(std::string(e.what()).find("push ai-saas/backend: 401 denied"), std::string::npos) << e.what();
  admin_client.check_push_access("ai-saas/backend");
  e = error_of([&] { admin_client.check_push_access("missing/backend"); });
  // Harbor says the project does not exist (a 401 with an empty challenge), and so does sealift.
  EXPECT_NE(std::string(e.what()).find("project \"missing\" does not exist on " + harbor.host()), std::string::npos)
      << e.what();
  io::StringSink other;
  e = error_of([&] { robot_client.fetch_blob("other/backend", cfg, other); });
  EXPECT_NE(std::string(e.what()).find("denied: no pull permission"), std::string::npos) << e.what();
}

// A robot expires: --robot-duration's days reach Harbor, which lists the robot with them; -1 (never)
// only when asked for, and nonsense is refused before any request.
TEST(HarborApi, PullRobotsExpireAfterTheirDuration) {
  HarborLike harbor(std::vector<std::string>{"ai-saas"});
  HarborApi api(harbor.host(), plain(), admin(harbor));
  RobotAccount by_default = api.create_pull_robot("ai-saas", "default", "sealift: test");
  RobotAccount month = api.create_pull_robot("ai-saas", "month", "sealift: test", 30);
  RobotAccount never = api.create_pull_robot("ai-saas", "never", "sealift: test", -1);
  for (int bad : {0, -2, -365})
    EXPECT_EQ(error_of([&] { api.create_pull_robot("ai-saas", "bad", "sealift: test", bad); }).kind(), ErrorKind::Usage)
        << bad;
  EXPECT_EQ(harbor.count_requests("POST", "/api/v2.0/robots"), 3u);

  std::map<std::string, RobotInfo> listed;
  for (auto& r : api.list_project_robots("ai-saas")) listed[r.name] = r;
  ASSERT_EQ(listed.size(), 3u);
  const auto& d = listed.at(by_default.name);
  EXPECT_EQ(d.id, by_default.id);
  EXPECT_EQ(d.description, "sealift: test");
  EXPECT_EQ(d.duration, 365);
  EXPECT_FALSE(d.creation_time.empty());
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  EXPECT_NEAR(static_cast<double>(d.expires_at), static_cast<double>(now + 365 * 86400), 120.0);
  EXPECT_EQ(listed.at(month.name).duration, 30);
  EXPECT_NEAR(static_cast<double>(listed.at(month.name).expires_at), static_cast<double>(now + 30 * 86400), 120.0);
  EXPECT_EQ(listed.at(never.name).duration, -1);
  EXPECT_EQ(listed.at(never.name).expires_at, -1);
}

// Listing pages through every robot of the project (Harbor pages by 10 unless asked), and only of
// that project; a deleted robot is gone, its credentials stop working, and deleting it again is
// not an error.
TEST(HarborApi, ListsAllPagesAndDeletesRobots) {
  HarborLike harbor(std::vector<std::string>{"ai-saas", "other"});
  HarborApi api(harbor.host(), plain(), admin(harbor));
  for (int i = 0; i < 105; ++i) api.create_pull_robot("ai-saas", "r" + std::to_string(i), "sealift: test");
  RobotAccount elsewhere = api.create_pull_robot("other", "r0", "sealift: test");
  auto robots = api.list_project_robots("ai-saas");
  ASSERT_EQ(robots.size(), 105u);
  EXPECT_EQ(harbor.count_requests("GET", "/api/v2.0/robots"), 2u);
  for (const auto& r : robots) EXPECT_NE(r.name, elsewhere.name);
  EXPECT_EQ(api.list_project_robots("other").size(), 1u);
  EXPECT_EQ(error_of([&] { api.list_project_robots("missing"); }).kind(), ErrorKind::Remote);

  RobotAccount victim = api.create_pull_robot("ai-saas", "victim", "sealift: test");
  registry::RegistryOptions ro;
  ro.http.plain_http = true;
  ro.credentials = {victim.name, victim.secret, "robot"};
  RobotInfo info{victim.id, victim.name, "sealift: test", 365, 0, ""};
  api.delete_robot(info);
  EXPECT_EQ(harbor.count_requests("DELETE", "/api/v2.0/robots/" + std::to_string(victim.id)), 1u);
  EXPECT_EQ(api.list_project_robots("ai-saas").size(), 105u);
  registry::RegistryClient gone(harbor.host(), ro);
  Error e = error_of([&] { gone.resolve("ai-saas/x", "1"); });
  EXPECT_EQ(e.kind(), ErrorKind::Remote) << e.what();
  api.delete_robot(info);
}

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

// A POST the way a client with libcurl's cookie engine on would send it, after one earlier call.
long post_with_cookie_engine(const HarborLike& harbor) {
  CURL* c = curl_easy_init();
  std::string userpwd = harbor.admin_user() + ":" + harbor.admin_password();
  std::string head = harbor.url() + "/api/v2.0/projects?project_name=x";
  curl_easy_setopt(c, CURLOPT_COOKIEFILE, "");
  curl_easy_setopt(c, CURLOPT_USERPWD, userpwd.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_URL, head.c_str());
  curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  curl_easy_perform(c);
  std::string post = harbor.url() + "/api/v2.0/projects";
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, post.c_str());
  curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, R"({"project_name":"cookie"})");
  long code = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return code;
}

TEST(HarborApi, NeverReplaysHarborsSessionCookie) {
  // The stand-in sets a `sid` cookie on every answer and, like Harbor's CSRF check, refuses a POST
  // that carries it. A client with a cookie engine fails there...
  HarborLike harbor;
  EXPECT_EQ(post_with_cookie_engine(harbor), 403);
  // ...sealift's does not, however many calls came before.
  HarborApi api(harbor.host(), plain(), admin(harbor));
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(api.project_exists("p" + std::to_string(i)));
    EXPECT_TRUE(api.create_project("p" + std::to_string(i)));
  }
}

TEST(HarborApi, OverTls) {
  testenv::HarborLikeOptions ho;
  ho.tls = true;
  HarborLike harbor(ho);
  registry::HttpOptions untrusted;
  HarborApi bad(harbor.host(), untrusted, admin(harbor));
  Error e = error_of([&] { bad.project_exists("x"); });
  EXPECT_EQ(e.kind(), ErrorKind::Network);
  EXPECT_EQ(std::string(e.what()), harbor.host() + ": the TLS certificate of " + harbor.host() + " is not trusted: checked against " +
                                       registry::find_trust({}).describe() +
                                       "; pass the CA that signed it with --ca-file FILE (PEM), or set SSL_CERT_FILE, "
                                       "while trying to look up project \"x\"");
  registry::HttpOptions trusted;
  trusted.ca_file = harbor.ca_file();
  HarborApi api(harbor.host(), trusted, admin(harbor));
  EXPECT_TRUE(api.create_project("x"));
  EXPECT_TRUE(api.project_exists("x"));
}

}  // namespace
}  // namespace sealift::harbor
