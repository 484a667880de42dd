// `sealift-install push` into registries that are not Harbor: Debian's docker-registry 2.8 (no
// referrers API) and the ociregistry peer (with it), anonymous and with htpasswd Basic auth. The
// push finds out what the target is, says so on stderr, pushes with the distribution API alone,
// and refuses Harbor-only flags there; the Harbor stand-in is still Harbor.
#include <gtest/gtest.h>

#include "env/cluster.h"
#include "env/registry.h"
#include "harness.h"
#include "ref/reference.h"

namespace sealift::install::testing {
namespace {

using testenv::Registry;
using testenv::RegistryKind;
using testenv::RegistryOptions;

// A docker config with this registry's credentials, for crane and cosign (anonymous: empty).
struct PlainTarget {
  explicit PlainTarget(RegistryOptions o) : registry(std::move(o)), home("sealift-anyreg-client") {
    nlohmann::json config = nlohmann::json::object();
    if (registry.options().basic_auth)
      config["auths"][registry.host()]["auth"] =
          util::base64_encode(registry.options().user + ":" + registry.options().password);
    util::write_file_atomic(home / "config.json", config.dump(), 0600);
  }

  std::map<std::string, std::string> env() const {
    std::map<std::string, std::string> e = {{"DOCKER_CONFIG", home.path().string()}};
    if (registry.options().basic_auth) {
      e["SEALIFT_REGISTRY_USER"] = registry.options().user;
      e["SEALIFT_REGISTRY_PASSWORD"] = registry.options().password;
    }
    return e;
  }

  RunResult push(const fs::path& bundle, const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"push", bundle.string(), "--key", factory().public_key().string(), "--registry",
                                     registry.host(), "--project", "ai-saas", "--plain-http", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return install(args, env());
  }

  std::string crane_digest(const std::string& reference) const {
    RunResult r = testenv::run({testenv::peer("crane"), "digest", "--insecure", reference}, env());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string d = r.out;
    while (!d.empty() && (d.back() == '\n' || d.back() == ' ')) d.pop_back();
    return d;
  }

  RunResult cosign_verify(const std::string& reference, const std::string& cosign = "cosign3",
                          const fs::path& key = factory().public_key()) const {
    return cosign_verify_offline(reference, key, cosign, home.path());
  }

  Registry registry;
  testenv::TempDir home;
};

void expect_pushed_to_plain_registry(const PlainTarget& t, bool referrers_api) {
  const auto& b = full_bundle();
  RunResult r = t.push(b.path);
  ASSERT_EQ(r.exit_code, 0) << said(r);
  // One line on stderr says what the target is and what that means for the push.
  EXPECT_NE(r.err.find("note: " + t.registry.host() + " is an OCI registry that is not Harbor "
                       "(GET /api/v2.0/systeminfo answered 404): pushing with the OCI distribution API only"),
            std::string::npos)
      << said(r);
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["registryType"], "oci");
  EXPECT_FALSE(j["projectCreated"].get<bool>());
  EXPECT_EQ(j["tagsWritten"].get<size_t>(), b.lock.images.size() + 1);
  EXPECT_EQ(j["signaturesVerified"].get<size_t>(), b.lock.images.size() + 1);
  EXPECT_EQ(j["referrersVerified"].get<size_t>(), b.lock.images.size() + 1);
  // With the referrers API the registry indexes each referrer; without it, the referrers tag does.
  EXPECT_EQ(j["referrersTagged"].get<size_t>(), referrers_api ? 0u : b.lock.images.size() + 1) << r.out;

  bundle::Root root = root_of(b.path);
  for (const auto& image : root.images) {
    ref::Reference source = ref::Reference::parse(image.source);
    std::string repository = t.registry.host() + "/ai-saas/" + source.repository;
    EXPECT_EQ(t.crane_digest(repository + ":" + source.tag), image.digest.str()) << image.source;
  }
  // cosign v2 and v3 find the Sigstore bundle the way this registry serves it (referrers API or
  // tag), cosign v3 also the .sig; a key that signed nothing is refused.
  for (const auto& image : root.images) {
    std::string pinned = t.registry.host() + "/ai-saas/" + ref::Reference::parse(image.source).repository + "@" + image.digest.str();
    for (const std::string cosign : {"cosign", "cosign3", "cosign3-legacy"}) {
      RunResult v = t.cosign_verify(pinned, cosign);
      EXPECT_EQ(v.exit_code, 0) << cosign << " " << image.source << "\n" << said(v);
    }
    EXPECT_NE(t.cosign_verify(pinned, "cosign3", factory().other_key("stranger")).exit_code, 0) << image.source;
  }
  EXPECT_EQ(t.crane_digest(t.registry.host() + "/ai-saas/charts/sealift-test-app:1.0.0"), root.chart.manifest.str());

  // Again: nothing moves.
  RunResult again = t.push(b.path);
  ASSERT_EQ(again.exit_code, 0) << said(again);
  EXPECT_EQ(nlohmann::json::parse(again.out)["blobsUploaded"].get<int>(), 0);
}

TEST(AnyRegistry, PushIntoDockerRegistry28Anonymous) {
  PlainTarget t(RegistryOptions{});
  expect_pushed_to_plain_registry(t, false);
}

TEST(AnyRegistry, PushIntoDockerRegistry28WithHtpasswd) {
  PlainTarget t(RegistryOptions{.basic_auth = true});
  expect_pushed_to_plain_registry(t, false);
  // Wrong credentials: the registry's own refusal, after detection (which needs none).
  auto env = t.env();
  env["SEALIFT_REGISTRY_PASSWORD"] = "not-the-password";
  RunResult wrong = install({"push", full_bundle().path.string(), "--key", factory().public_key().string(), "--registry",
                             t.registry.host(), "--project", "ai-saas", "--plain-http"},
                            env);
  EXPECT_NE(wrong.exit_code, 0) << said(wrong);
  EXPECT_EQ(wrong.err.find("not-the-password"), std::string::npos);
}

TEST(AnyRegistry, PushIntoTheReferrersRegistryAnonymousAndWithHtpasswd) {
  PlainTarget anon(RegistryOptions{.kind = RegistryKind::OciRegistry});
  expect_pushed_to_plain_registry(anon, true);
  PlainTarget basic(RegistryOptions{.kind = RegistryKind::OciRegistry, .basic_auth = true});
  expect_pushed_to_plain_registry(basic, true);
}

// Token auth on a registry that is not Harbor: the docker-registry behind the Harbor stand-in,
// reached directly, sends its Bearer challenge naming the stand-in's token service.
TEST(AnyRegistry, PushIntoARegistryWithTokenAuth) {
  testenv::HarborLike harbor(std::vector<std::string>{"ai-saas"});
  RunResult r = install({"push", full_bundle().path.string(), "--key", factory().public_key().string(), "--registry",
                         harbor.registry().host(), "--project", "ai-saas", "--plain-http", "--json"},
                        {{"SEALIFT_REGISTRY_USER", harbor.admin_user()},
                         {"SEALIFT_REGISTRY_PASSWORD", harbor.admin_password()}});
  ASSERT_EQ(r.exit_code, 0) << said(r);
  EXPECT_NE(r.err.find("note: " + harbor.registry().host() + " is an OCI registry that is not Harbor"), std::string::npos)
      << said(r);
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["registryType"], "oci");
  EXPECT_EQ(j["tagsWritten"].get<size_t>(), full_bundle().lock.images.size() + 1);
  EXPECT_GT(harbor.count_requests("GET", "/service/token"), 0u) << "no token was asked for";
  EXPECT_EQ(harbor.count_requests("HEAD", "/api/v2.0/projects"), 0u);
}

TEST(AnyRegistry, HarborOnlyFlagsAreUsageErrorsNamingTheRegistry) {
  PlainTarget t(RegistryOptions{});
  RunResult create = t.push(full_bundle().path, {"--create-project"});
  EXPECT_EQ(create.exit_code, 2) << said(create);
  EXPECT_NE(create.err.find("--create-project: Harbor only, and " + t.registry.host() +
                            " is an OCI registry that is not Harbor (GET /api/v2.0/systeminfo answered 404)"),
            std::string::npos)
      << said(create);
  EXPECT_TRUE(t.registry.running());

  std::vector<std::string> install_args = {"install", full_bundle().path.string(), "--key", factory().public_key().string(),
                                           "--registry", t.registry.host(), "--project", "ai-saas", "--plain-http",
                                           "--create-pull-robot", "--robot-duration", "30", "--dry-run"};
  RunResult robot = install(install_args, t.env());
  EXPECT_EQ(robot.exit_code, 2) << said(robot);
  EXPECT_NE(robot.err.find("--create-pull-robot, --robot-duration: Harbor only"), std::string::npos) << said(robot);

  RunResult prune = install({"robots", "prune", "--release", "x", "--registry", t.registry.host(), "--project", "ai-saas",
                             "--plain-http", "--helm", testenv::peer("helm")},
                            t.env());
  EXPECT_EQ(prune.exit_code, 2) << said(prune);
  EXPECT_NE(prune.err.find("robots prune: Harbor only"), std::string::npos) << said(prune);

  // Saying it is Harbor when it is not: the project check then fails on Harbor's missing API.
  RunResult told = t.push(full_bundle().path, {"--registry-type", "harbor", "--username", "u", "--password-stdin"});
  EXPECT_NE(told.exit_code, 0) << said(told);
  RunResult bad = t.push(full_bundle().path, {"--registry-type", "quay"});
  EXPECT_NE(bad.exit_code, 0) << said(bad);
  EXPECT_NE(bad.err.find("--registry-type: quay not in {auto,harbor,oci}"), std::string::npos) << said(bad);
}

// Review 2026-12-07 L6: outside Harbor there is no pull robot, and the push credentials (which
// may write) reach the cluster's pull secret only when the user says so. Without a choice, a
// usage error naming both ways, before anything is pushed or installed.
TEST(AnyRegistry, InstallWithCredentialsMustSayWhatThePullSecretHolds) {
  PlainTarget t(RegistryOptions{.basic_auth = true});
  auto args = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> a = {"install", full_bundle().path.string(), "--key", factory().public_key().string(),
                                  "--registry", t.registry.host(), "--project", "ai-saas", "--plain-http", "--quiet",
                                  "--helm", testenv::peer("helm"), "--kubeconfig", "/nonexistent/kubeconfig"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  RunResult none = install(args({}), t.env());
  EXPECT_EQ(none.exit_code, 2) << said(none);
  EXPECT_NE(none.err.find(t.registry.host() + " is an OCI registry that is not Harbor: it has no pull robots, so say "
                                              "what the chart's pull secret holds"),
            std::string::npos)
      << said(none);
  EXPECT_NE(none.err.find("--pull-username NAME"), std::string::npos) << said(none);
  EXPECT_NE(none.err.find("--pull-secret-from-push-credentials to give the cluster the credentials of \"" +
                          t.registry.options().user + "\""),
            std::string::npos)
      << said(none);
  EXPECT_EQ(none.err.find(t.registry.options().password), std::string::npos) << "the password reached a message";

  auto env = t.env();
  env["SEALIFT_PULL_PASSWORD"] = "pull-pw";
  RunResult both = install(args({"--pull-username", "puller", "--pull-secret-from-push-credentials"}), env);
  EXPECT_EQ(both.exit_code, 2) << said(both);
  EXPECT_NE(both.err.find("each choose the chart's pull secret"), std::string::npos) << said(both);

  RunResult catalog = testenv::run({testenv::peer("crane"), "catalog", "--insecure", t.registry.host()}, t.env());
  EXPECT_EQ(catalog.exit_code, 0) << said(catalog);
  EXPECT_EQ(catalog.out, "") << "pushed before the pull secret was chosen";
}

// First review, open item 14: `install --skip-push` into Harbor calls none of Harbor's API unless
// it makes a pull robot, so it needs no credentials (the images are there already and the
// cluster pulls with its own). Only the anonymous detection (systeminfo, ping) asks Harbor anything.
TEST(AnyRegistry, InstallWithSkipPushNeedsNoHarborCredentials) {
  testenv::BundleSpec spec;
  spec.images = {"redis"};
  auto b = factory().build(spec, factory().dir() / "skip-push.tar.zst");
  Target target;
  ASSERT_EQ(target.push(b.path, {"--create-project"}).exit_code, 0);
  auto api_requests = [&] {
    size_t n = 0;
    for (const char* method : {"GET", "HEAD", "POST", "PUT", "DELETE"}) n += target.harbor().count_requests(method, "/api/");
    return n;
  };
  auto systeminfo = [&] { return target.harbor().count_requests("GET", "/api/v2.0/systeminfo"); };
  auto ping = [&] { return target.harbor().count_requests("GET", "/api/v2.0/ping"); };
  const size_t api_before = api_requests(), systeminfo_before = systeminfo(), ping_before = ping();
  auto& cluster = testenv::Cluster::shared();
  testenv::TempDir home("sealift-skip-push-client");
  util::write_file_atomic(home / "config.json", "{}", 0600);
  auto env = cluster.env();
  env["DOCKER_CONFIG"] = home.path().string();
  RunResult r = install({"install", b.path.string(), "--key", factory().public_key().string(), "--registry",
                         target.host(), "--project", "ai-saas", "--plain-http", "--skip-push", "--dry-run", "-n",
                         "skip-push", "--helm", testenv::peer("helm"), "--kubeconfig", cluster.kubeconfig().string()},
                        env);
  EXPECT_EQ(r.exit_code, 0) << said(r);
  EXPECT_EQ(r.err.find("needs a user name and password"), std::string::npos) << said(r);
  // The anonymous detection: systeminfo and ping (no credentials, so no signed-in systeminfo).
  EXPECT_EQ(systeminfo() - systeminfo_before, 1u) << target.harbor().request_log();
  EXPECT_EQ(ping() - ping_before, 1u) << target.harbor().request_log();
  EXPECT_EQ(api_requests() - api_before, 2u) << "more of Harbor's API than the detection\n"
      << target.harbor().request_log();
}

TEST(AnyRegistry, TheHarborStandInIsStillHarbor) {
  Target target;
  RunResult r = target.push(full_bundle().path, {"--create-project"});
  ASSERT_EQ(r.exit_code, 0) << said(r);
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["registryType"], "harbor");
  EXPECT_TRUE(j["projectCreated"].get<bool>());
  EXPECT_EQ(r.err.find("not Harbor"), std::string::npos) << said(r);
  // Asked anonymously, then signed in for its version (Harbor 2.13 and later give it only to
  // signed-in callers); and Harbor's ping, once.
  EXPECT_EQ(target.harbor().count_requests("GET", "/api/v2.0/systeminfo"), 2u);
  EXPECT_EQ(target.harbor().count_requests("GET", "/api/v2.0/ping"), 1u);
}

}  // namespace
}  // namespace sealift::install::testing
