// harbor::detect_target against real peers: the Harbor stand-in (which answers /api/v2.0/ping and
// /systeminfo as Harbor does), docker-registry 2.8 and the ociregistry peer, anonymous and with
// htpasswd. Answers that do not settle the question (401, 5xx, a 200 that is not Harbor's, TLS
// failures) are errors, never "not Harbor".
#include "harbor/detect.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "env/fault_proxy.h"
#include "env/harbor.h"
#include "env/process.h"
#include "env/registry.h"
#include "util/error.h"

namespace sealift::harbor {
namespace {

using testenv::RegistryKind;
using testenv::RegistryOptions;

registry::HttpOptions plain() {
  registry::HttpOptions o;
  o.plain_http = true;
  return o;
}

registry::RetryPolicy quick() {
  registry::RetryPolicy p;
  p.retries = 2;
  p.initial_delay_s = 0.05;
  return p;
}

int port_of(const std::string& host) { return std::stoi(host.substr(host.rfind(':') + 1)); }

registry::Credentials user_of(const testenv::Registry& reg) {
  return {reg.options().user, reg.options().password, "test"};
}

// The Error detect_target throws, or a failed expectation.
Error detection_error(const std::string& host, const registry::HttpOptions& http, const registry::Credentials& c) {
  try {
    TargetKind k = detect_target(host, http, c, RegistryType::Auto, quick());
    ADD_FAILURE() << host << " was taken for " << k.describe() << " (" << k.evidence << ")";
  } catch (const Error& e) {
    return e;
  }
  return Error(ErrorKind::Internal, "(no error)");
}

// Harbor 2.15 tells anyone Harbor's system info and "Pong", and its version only to a signed-in
// caller (shared/reference/harbor-2.15-observed.md; the stand-in answers the same,
// standin_test.cc): anonymous it is Harbor of no known version, signed in the version is asked.
TEST(Detect, Harbor215IsHarborAnonymouslyAndTellsItsVersionSignedIn) {
  testenv::HarborLike harbor;
  TargetKind anon = detect_target(harbor.host(), plain(), {}, RegistryType::Auto, quick());
  EXPECT_TRUE(anon.harbor);
  EXPECT_EQ(anon.harbor_version, "");
  EXPECT_EQ(anon.describe(), "Harbor");
  EXPECT_EQ(anon.evidence, "GET /api/v2.0/systeminfo answered Harbor's system info and GET /api/v2.0/ping \"Pong\"");
  // Anonymous: no password was sent to find out.
  EXPECT_EQ(harbor.count_requests("GET", "/api/v2.0/systeminfo"), 1u) << harbor.request_log();
  EXPECT_EQ(harbor.count_requests("GET", "/api/v2.0/ping"), 1u) << harbor.request_log();

  TargetKind admin =
      detect_target(harbor.host(), plain(), {harbor.admin_user(), harbor.admin_password(), "test"}, RegistryType::Auto, quick());
  EXPECT_TRUE(admin.harbor);
  EXPECT_EQ(admin.harbor_version, "v2.15.2-080b0220");
  EXPECT_EQ(admin.describe(), "Harbor v2.15.2-080b0220");
  EXPECT_FALSE(sigstore_bundles_are_plain_accessories(admin));
  // Anonymous first, then signed in for the version.
  EXPECT_EQ(harbor.count_requests("GET", "/api/v2.0/systeminfo"), 3u) << harbor.request_log();

  // A wrong password: Harbor answers it as anyone, so it is Harbor still, of no known version.
  TargetKind wrong = detect_target(harbor.host(), plain(), {harbor.admin_user(), "wrong", "test"}, RegistryType::Auto, quick());
  EXPECT_TRUE(wrong.harbor);
  EXPECT_EQ(wrong.harbor_version, "");
  EXPECT_NE(wrong.evidence.find("it did not tell user \"admin\" its version"), std::string::npos) << wrong.evidence;
}

// Up to 2.12 Harbor told anyone its version (goharbor/harbor #21672 stopped that in 2.13); a 2.14
// is older than 2.15, which is the first to count Sigstore bundle referrers as signatures.
TEST(Detect, OlderHarborsAndTheirVersions) {
  testenv::HarborLikeOptions v212;
  v212.version = "v2.12.2-73072d0d";
  testenv::HarborLike h212(v212);
  TargetKind old = detect_target(h212.host(), plain(), {}, RegistryType::Auto, quick());
  EXPECT_TRUE(old.harbor);
  EXPECT_EQ(old.harbor_version, "v2.12.2-73072d0d");
  EXPECT_TRUE(sigstore_bundles_are_plain_accessories(old));

  testenv::HarborLikeOptions v214;
  v214.version = "v2.14.1-3a72a95e";
  testenv::HarborLike h214(v214);
  TargetKind k = detect_target(h214.host(), plain(), {h214.admin_user(), h214.admin_password(), "test"},
                               RegistryType::Auto, quick());
  EXPECT_EQ(k.harbor_version, "v2.14.1-3a72a95e");
  EXPECT_TRUE(sigstore_bundles_are_plain_accessories(k));

  EXPECT_FALSE(sigstore_bundles_are_plain_accessories({true, "", "--registry-type harbor"})) << "an unknown version";
  EXPECT_FALSE(sigstore_bundles_are_plain_accessories({false, "", "GET /api/v2.0/systeminfo answered 404"}));
  ASSERT_TRUE(parse_harbor_release("v2.15.0"));
  EXPECT_EQ(parse_harbor_release("v2.15.0")->minor, 15);
  EXPECT_FALSE(parse_harbor_release("2.15.0"));
  EXPECT_FALSE(parse_harbor_release("v2.15"));
  EXPECT_FALSE(parse_harbor_release("v2.15.0rc1"));
}

TEST(Detect, DockerRegistry28IsNotHarborWithOrWithoutAuth) {
  testenv::Registry anon;
  TargetKind a = detect_target(anon.host(), plain(), {}, RegistryType::Auto, quick());
  EXPECT_FALSE(a.harbor);
  EXPECT_EQ(a.evidence, "GET /api/v2.0/systeminfo answered 404");
  testenv::Registry basic(RegistryOptions{.basic_auth = true});
  EXPECT_FALSE(detect_target(basic.host(), plain(), user_of(basic), RegistryType::Auto, quick()).harbor);
  EXPECT_FALSE(detect_target(basic.host(), plain(), {}, RegistryType::Auto, quick()).harbor);
}

TEST(Detect, OciRegistryIsNotHarborButA401WithoutCredentialsSettlesNothing) {
  testenv::Registry anon(RegistryOptions{.kind = RegistryKind::OciRegistry});
  EXPECT_FALSE(detect_target(anon.host(), plain(), {}, RegistryType::Auto, quick()).harbor);

  // With htpasswd, this registry answers 401 on every path: asked again with the user's
  // credentials it answers 404, which settles it; without credentials there is no telling.
  testenv::Registry basic(RegistryOptions{.kind = RegistryKind::OciRegistry, .basic_auth = true});
  TargetKind k = detect_target(basic.host(), plain(), user_of(basic), RegistryType::Auto, quick());
  EXPECT_FALSE(k.harbor);
  Error e = detection_error(basic.host(), plain(), {});
  EXPECT_EQ(e.kind(), ErrorKind::Remote);
  EXPECT_NE(std::string(e.what()).find("cannot tell whether " + basic.host() + " is Harbor"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("401"), std::string::npos) << e.what();
  EXPECT_NE(e.hint().find("--registry-type"), std::string::npos) << e.hint();
}

TEST(Detect, AnUnwellHarborIsAnErrorNotAPlainRegistry) {
  testenv::HarborLike harbor;
  const registry::Credentials admin{harbor.admin_user(), harbor.admin_password(), "test"};
  testenv::FaultProxy proxy(port_of(harbor.host()));

  // 5xx, after the retries.
  proxy.add(testenv::FaultRule::respond("GET", "/api/v2.0/systeminfo", 503, -1));
  Error unavailable = detection_error(proxy.host(), plain(), admin);
  EXPECT_NE(std::string(unavailable.what()).find("503"), std::string::npos) << unavailable.what();
  proxy.clear();

  // 401 even with the credentials (an SSO front, say).
  proxy.add(testenv::FaultRule::respond("GET", "/api/v2.0/systeminfo", 401, -1));
  Error refused = detection_error(proxy.host(), plain(), admin);
  EXPECT_NE(std::string(refused.what()).find("401"), std::string::npos) << refused.what();
  EXPECT_NE(std::string(refused.what()).find("asked as \"admin\""), std::string::npos) << refused.what();
  proxy.clear();

  // A 200 that is not Harbor's answer (a web UI that serves its page on every path).
  proxy.add(testenv::FaultRule::respond("GET", "/api/v2.0/systeminfo", 200, -1));
  Error other = detection_error(proxy.host(), plain(), admin);
  EXPECT_NE(std::string(other.what()).find("not with Harbor's system info"), std::string::npos) << other.what();
  proxy.clear();

  // Harbor's system info, but the ping answers something else than Harbor's "Pong".
  proxy.add(testenv::FaultRule::respond("GET", "/api/v2.0/ping", 404, -1));
  Error no_pong = detection_error(proxy.host(), plain(), admin);
  EXPECT_NE(std::string(no_pong.what()).find("GET /api/v2.0/ping answered 404"), std::string::npos) << no_pong.what();
  EXPECT_NE(no_pong.hint().find("--registry-type"), std::string::npos) << no_pong.hint();
  proxy.clear();

  // Through the healthy proxy, Harbor again.
  EXPECT_TRUE(detect_target(proxy.host(), plain(), admin, RegistryType::Auto, quick()).harbor);
}

TEST(Detect, SomethingThatIsNoRegistryAtAllIsAnError) {
  testenv::HarborLike harbor;
  testenv::FaultProxy proxy(port_of(harbor.host()));
  proxy.add(testenv::FaultRule::respond("GET", "", 404, -1));
  Error e = detection_error(proxy.host(), plain(), {});
  EXPECT_NE(std::string(e.what()).find("neither Harbor"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("nor an OCI registry"), std::string::npos) << e.what();
}

TEST(Detect, ATlsFailureIsANetworkErrorNotAPlainRegistry) {
  testenv::HarborLikeOptions tls;
  tls.tls = true;
  testenv::HarborLike harbor(tls);
  registry::HttpOptions untrusting;  // HTTPS, without the throwaway CA
  Error e = detection_error(harbor.host(), untrusting, {});
  EXPECT_EQ(e.kind(), ErrorKind::Network) << e.what();
  EXPECT_NE(std::string(e.what()).find("while asking whether it is Harbor"), std::string::npos) << e.what();
  registry::HttpOptions trusting;
  trusting.ca_file = harbor.ca_file();
  EXPECT_TRUE(detect_target(harbor.host(), trusting, {}, RegistryType::Auto, quick()).harbor);
}

TEST(Detect, RegistryTypeSkipsTheQuestion) {
  // Nothing listens on this port: neither answer needs one.
  const std::string nowhere = "127.0.0.1:" + std::to_string(testenv::free_port());
  EXPECT_TRUE(detect_target(nowhere, plain(), {}, RegistryType::Harbor).harbor);
  TargetKind oci = detect_target(nowhere, plain(), {}, RegistryType::Oci);
  EXPECT_FALSE(oci.harbor);
  EXPECT_EQ(oci.evidence, "--registry-type oci");
  EXPECT_EQ(parse_registry_type("harbor"), RegistryType::Harbor);
  EXPECT_THROW(parse_registry_type("quay"), Error);
}

}  // namespace
}  // namespace sealift::harbor
