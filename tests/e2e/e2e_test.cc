// The whole customer job against real peers: a bundle built from a real registry, verified and
// pushed into the Harbor-like target, installed with real helm into a real kube-apiserver whose
// pods kwok makes Ready, upgraded to the next release with a delta bundle, rolled back with helm;
// once with helm 3 and once with helm 4.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "env/cluster.h"
#include "env/fixture_lock.h"
#include "env/fixtures.h"
#include "env/harbor.h"
#include "env/process.h"
#include "env/registry.h"
#include "harbor/api.h"
#include "install/robots.h"
#include "util/encoding.h"
#include "util/fs.h"

namespace sealift {
namespace {

namespace fs = std::filesystem;
using testenv::run;

class EndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testenv::TempDir("sealift-e2e");
    upstream_ = new testenv::Registry();
    auto r1 = testenv::push_fixtures(*upstream_, {.scale = "0.01"});
    auto r2 = testenv::push_fixtures(*upstream_, {.scale = "0.01", .release = 2, .only = {"backend"}});
    backend_v1_ = r1.image("backend").digest;
    backend_v2_ = r2.image("backend").digest;
    testenv::fixture_lock(r1).save(*dir_ / "v1.lock");
    auto lock2 = testenv::fixture_lock(r1);
    testenv::relock_image(lock2, "backend", r2.image("backend"));
    lock2.save(*dir_ / "v2.lock");

    auto k = run({testenv::bundle_program(), "keygen", "--dir", dir_->path().string()}, env());
    ASSERT_EQ(k.exit_code, 0) << k.err;
    build("v1.lock", "1.0.0", *dir_ / "v1.tar.zst");
    build("v2.lock", "1.1.0", *dir_ / "v2-delta.tar.zst", {"--base", (*dir_ / "v1.tar.zst").string()});
    harbor_ = new testenv::HarborLike();
  }
  static void TearDownTestSuite() {
    delete harbor_;
    delete upstream_;
    delete dir_;
  }

  static std::map<std::string, std::string> env() {
    return {{"COSIGN_PASSWORD", "e2e-key-pw"}, {"SOURCE_DATE_EPOCH", "1767225600"}};
  }

  static void build(const std::string& lock, const std::string& version, const fs::path& out,
                    std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {testenv::bundle_program(), "build", "-o", out.string(), "--chart",
                                     (testenv::source_dir() / "chart").string(), "--lock", (*dir_ / lock).string(),
                                     "--key", (*dir_ / "cosign.key").string(), "--bundle-version", version,
                                     "--plain-http", "--quiet", "--cache", (*dir_ / "cache").string()};
    for (auto& m : testenv::mirror_flags(upstream_->host())) argv.push_back(m);
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = run(argv, env());
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // sealift-install install|upgrade with the admin's credentials from stdin.
  static testenv::RunResult installer(const std::string& verb, const fs::path& bundle, const std::string& ns,
                                      std::vector<std::string> extra = {}, const std::string& helm_peer = "helm") {
    auto& cluster = testenv::Cluster::shared();
    std::vector<std::string> argv = {testenv::install_program(), verb, bundle.string(), "--key",
                                     (*dir_ / "cosign.pub").string(), "--registry", harbor_->host(), "--project",
                                     "ai-saas", "--plain-http", "--username", harbor_->admin_user(),
                                     "--password-stdin", "-n", ns, "--helm", testenv::peer(helm_peer),
                                     "--kubeconfig", cluster.kubeconfig().string(), "--timeout", "4m", "--quiet"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto e = cluster.env();
    return run(argv, e, harbor_->admin_password() + "\n", 900);
  }

  // Every container image of every pod in the chart's namespaces.
  static std::vector<std::string> pod_images() {
    auto& cluster = testenv::Cluster::shared();
    std::vector<std::string> out;
    for (const char* ns : {"app-frontend", "app-backend", "shared"}) {
      auto r = cluster.kubectl({"get", "pods", "-n", ns, "-o", "json"});
      EXPECT_EQ(r.exit_code, 0) << r.err;
      auto j = nlohmann::json::parse(r.out);
      for (const auto& pod : j["items"])
        for (const char* kind : {"containers", "initContainers"})
          if (pod["spec"].contains(kind))
            for (const auto& c : pod["spec"][kind]) out.push_back(c["image"].get<std::string>());
    }
    return out;
  }

  static std::string deployment_image(const std::string& ns, const std::string& name) {
    auto r = testenv::Cluster::shared().kubectl(
        {"get", "deployment", name, "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[0].image}"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  static testenv::TempDir* dir_;
  static testenv::Registry* upstream_;
  static testenv::HarborLike* harbor_;
  static std::string backend_v1_, backend_v2_;
};

testenv::TempDir* EndToEnd::dir_;
testenv::Registry* EndToEnd::upstream_;
testenv::HarborLike* EndToEnd::harbor_;
std::string EndToEnd::backend_v1_;
std::string EndToEnd::backend_v2_;

// GetParam(): the helm peer ("helm" is helm 3, "helm4" helm 4) that installs, upgrades and rolls back.
class EndToEndWith : public EndToEnd, public ::testing::WithParamInterface<std::string> {};

TEST_P(EndToEndWith, InstallUpgradeWithDeltaAndRollBack) {
  const std::string ns = "ai-saas";
  const std::string helm = GetParam();
  auto& cluster = testenv::Cluster::shared();

  // v1: verify, push (creating the project), install with the production values.
  auto i = installer("install", *dir_ / "v1.tar.zst", ns,
                     {"--create-project", "-f", (testenv::source_dir() / "chart/values-prod.yaml").string(),
                      "--create-pull-robot", "--robot-duration", "30"},
                     helm);
  ASSERT_EQ(i.exit_code, 0) << i.out << i.err;
  // The pull robot expires (--robot-duration) and its description names the release it serves.
  harbor::HarborApi api(harbor_->host(), [] {
    registry::HttpOptions h;
    h.plain_http = true;
    return h;
  }(), {harbor_->admin_user(), harbor_->admin_password(), "test"});
  auto robots = api.list_project_robots("ai-saas");
  ASSERT_EQ(robots.size(), 1u);
  EXPECT_EQ(robots[0].name, "robot$ai-saas+ai-saas-dashboard-1-0-0");
  EXPECT_EQ(robots[0].duration, 30);
  EXPECT_EQ(robots[0].description, install::pull_robot_description("ai-saas-dashboard", ns));
  auto pods = pod_images();
  ASSERT_FALSE(pods.empty());
  const std::string prefix = harbor_->host() + "/ai-saas/";
  for (const auto& image : pods) {
    EXPECT_EQ(image.rfind(prefix, 0), 0u) << image << " is not pulled from the target";
    EXPECT_NE(image.find("@sha256:"), std::string::npos) << image << " is not pinned by digest";
  }
  EXPECT_EQ(deployment_image("app-backend", "backend"), prefix + "sealift/backend@" + backend_v1_);

  // v2 as a delta bundle: only the backend's new layer travels; the upgrade rolls out.
  auto u = installer("upgrade", *dir_ / "v2-delta.tar.zst", ns,
                     {"-f", (testenv::source_dir() / "chart/values-prod.yaml").string()}, helm);
  ASSERT_EQ(u.exit_code, 0) << u.out << u.err;
  EXPECT_EQ(deployment_image("app-backend", "backend"), prefix + "sealift/backend@" + backend_v2_);
  auto rollout = cluster.kubectl({"rollout", "status", "deployment/backend", "-n", "app-backend", "--timeout=120s"});
  EXPECT_EQ(rollout.exit_code, 0) << rollout.out << rollout.err;

  // status names the bundle the release came from.
  auto st = run({testenv::install_program(), "status", "--release", "ai-saas-dashboard", "-n", ns, "--helm",
                 testenv::peer(helm), "--kubeconfig", cluster.kubeconfig().string(), "--json"},
                cluster.env());
  ASSERT_EQ(st.exit_code, 0) << st.err;
  auto status = nlohmann::json::parse(st.out);
  EXPECT_EQ(status["revision"], 2);
  EXPECT_NE(status["bundle"].get<std::string>().find("1.1.0"), std::string::npos) << st.out;

  // Rollback with plain helm: the release is an ordinary helm release.
  auto rb = cluster.helm({"rollback", "ai-saas-dashboard", "1", "-n", ns, "--wait", "--timeout", "3m"}, helm);
  ASSERT_EQ(rb.exit_code, 0) << rb.out << rb.err;
  EXPECT_EQ(deployment_image("app-backend", "backend"), prefix + "sealift/backend@" + backend_v1_);
  auto hist = cluster.helm({"history", "ai-saas-dashboard", "-n", ns, "-o", "json"}, helm);
  ASSERT_EQ(hist.exit_code, 0) << hist.err;
  EXPECT_EQ(nlohmann::json::parse(hist.out).size(), 3u);

  // The target's signatures are cosign's: cosign v3 verifies the backend as the cluster pulls it,
  // and so does cosign v2 given an empty trusted root (it reads the Sigstore bundle too).
  testenv::TempDir home("sealift-e2e-cosign");
  util::write_file_atomic(home / "trusted_root.json", R"({"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"})");
  for (const std::string cosign : {"cosign3", "cosign"}) {
    std::vector<std::string> args = {testenv::peer(cosign), "verify", "--key", (*dir_ / "cosign.pub").string(),
                                     "--insecure-ignore-tlog=true", "--allow-http-registry", "--registry-username",
                                     harbor_->admin_user(), "--registry-password", harbor_->admin_password()};
    if (cosign == "cosign") args.insert(args.end(), {"--trusted-root", (home / "trusted_root.json").string()});
    args.push_back(prefix + "sealift/backend@" + backend_v2_);
    auto cv = run(args, {{"HOME", home.path().string()}}, {}, 300);
    EXPECT_EQ(cv.exit_code, 0) << cosign << "\n" << cv.out << cv.err;
  }

  // Running the v1 install again with --create-pull-robot (a retry, say): Harbor shows a robot's
  // secret only once, so the taken name is answered 409 and a second robot is made under the next
  // name; the first, which revision 1 uses, is kept.
  auto robots_before = harbor_->count_requests("POST", "/api/v2.0/robots");
  auto again = installer("upgrade", *dir_ / "v1.tar.zst", ns,
                         {"-f", (testenv::source_dir() / "chart/values-prod.yaml").string(), "--create-pull-robot"}, helm);
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(harbor_->count_requests("POST", "/api/v2.0/robots") - robots_before, 2u);

  // Both robots are named by revisions in the history (the first by 1 and by 3, the rollback to it;
  // the second by 4): prune keeps them.
  auto prune = run({testenv::install_program(), "robots", "prune", "--release", "ai-saas-dashboard", "-n", ns,
                    "--registry", harbor_->host(), "--project", "ai-saas", "--plain-http", "--username",
                    harbor_->admin_user(), "--password-stdin", "--helm", testenv::peer(helm), "--kubeconfig",
                    cluster.kubeconfig().string(), "--min-age", "0", "--json"},
                   cluster.env(), harbor_->admin_password() + "\n");
  ASSERT_EQ(prune.exit_code, 0) << prune.out << prune.err;
  auto pruned = nlohmann::json::parse(prune.out);
  EXPECT_TRUE(pruned["deleted"].empty()) << prune.out;
  EXPECT_EQ(pruned["kept"].size(), 2u) << prune.out;
}

INSTANTIATE_TEST_SUITE_P(HelmVersions, EndToEndWith, ::testing::ValuesIn(testenv::helm_peers()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return testenv::helm_case_name(i.param); });

TEST_F(EndToEnd, DryRunChangesNothing) {
  const std::string ns = "ai-saas";
  auto revisions = [&] {
    auto h = testenv::Cluster::shared().helm({"history", "ai-saas-dashboard", "-n", ns, "-o", "json"});
    return h.exit_code == 0 ? nlohmann::json::parse(h.out).size() : 0u;
  };
  auto before_revisions = revisions();
  auto before_puts = harbor_->count_requests("PUT", "/manifests/");
  // The push-permission probe may open and cancel an upload session; no upload may complete.
  auto before_uploads = harbor_->count_requests("PUT", "/blobs/uploads/");
  auto r = installer("install", *dir_ / "v1.tar.zst", ns, {"--dry-run", "--create-project"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(harbor_->count_requests("PUT", "/manifests/"), before_puts);
  EXPECT_EQ(harbor_->count_requests("PUT", "/blobs/uploads/"), before_uploads);
  EXPECT_EQ(revisions(), before_revisions);
}

// Registries that are not Harbor: install pushes with the distribution API alone. With htpasswd
// (docker-registry 2.8) the chart gets a pull secret holding the user's own credentials, since
// there are no robot accounts to make; anonymous (the referrers-capable ociregistry) gets none.
// Each in its own release and namespaces, beside the Harbor one.
struct PlainInstall {
  testenv::RunResult result;
  std::string prefix;  // namespaces "<prefix>-frontend" ...
};

PlainInstall install_into(const testenv::Registry& target, const fs::path& bundle, const fs::path& key,
                          const std::string& name) {
  auto& cluster = testenv::Cluster::shared();
  std::vector<std::string> argv = {testenv::install_program(), "install", bundle.string(), "--key", key.string(),
                                   "--registry", target.host(), "--project", "ai-saas", "--plain-http", "-n", name,
                                   "--release", name, "--helm", testenv::peer("helm"), "--kubeconfig",
                                   cluster.kubeconfig().string(), "--timeout", "4m"};
  for (const char* part : {"frontend", "backend", "shared"})
    argv.insert(argv.end(), {"--set", fmt::format("namespaces.{}={}-{}", part, name, part)});
  std::string stdin_data;
  if (target.options().basic_auth) {
    argv.insert(argv.end(), {"--username", target.options().user, "--password-stdin", "--pull-secret-from-push-credentials"});
    stdin_data = target.options().password + "\n";
  }
  return {run(argv, cluster.env(), stdin_data, 900), name};
}

void expect_pods_pull_from(const testenv::Registry& target, const std::string& ns) {
  auto pods = testenv::Cluster::shared().kubectl({"get", "pods", "-n", ns, "-o", "json"});
  ASSERT_EQ(pods.exit_code, 0) << pods.err;
  auto items = nlohmann::json::parse(pods.out)["items"];
  ASSERT_FALSE(items.empty());
  for (const auto& pod : items)
    for (const auto& c : pod["spec"]["containers"]) {
      std::string image = c["image"].get<std::string>();
      EXPECT_EQ(image.rfind(target.host() + "/ai-saas/", 0), 0u) << image;
      EXPECT_NE(image.find("@sha256:"), std::string::npos) << image;
    }
}

TEST_F(EndToEnd, InstallIntoARegistryThatIsNotHarborWithTheUsersPullSecret) {
  testenv::Registry plain({.basic_auth = true});
  PlainInstall i = install_into(plain, *dir_ / "v1.tar.zst", *dir_ / "cosign.pub", "plainreg");
  const auto& r = i.result;
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("is an OCI registry that is not Harbor"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pull secret holds the push credentials of \"" + plain.options().user + "\""), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(plain.options().password), std::string::npos) << "the password reached a message";
  expect_pods_pull_from(plain, "plainreg-backend");
  auto secret = testenv::Cluster::shared().kubectl(
      {"get", "secret", "registry-credentials", "-n", "plainreg-backend", "-o", "jsonpath={.data.\\.dockerconfigjson}"});
  ASSERT_EQ(secret.exit_code, 0) << secret.err;
  auto config = nlohmann::json::parse(util::base64_decode(secret.out));
  EXPECT_EQ(config["auths"][plain.host()]["auth"],
            util::base64_encode(plain.options().user + ":" + plain.options().password));
}

TEST_F(EndToEnd, InstallIntoTheReferrersRegistryAnonymouslyWithoutPullSecret) {
  testenv::Registry oci({.kind = testenv::RegistryKind::OciRegistry});
  PlainInstall i = install_into(oci, *dir_ / "v1.tar.zst", *dir_ / "cosign.pub", "ocireg");
  ASSERT_EQ(i.result.exit_code, 0) << i.result.out << i.result.err;
  EXPECT_EQ(i.result.err.find("pull secret"), std::string::npos) << i.result.err;
  expect_pods_pull_from(oci, "ocireg-backend");
  auto secret = testenv::Cluster::shared().kubectl({"get", "secret", "registry-credentials", "-n", "ocireg-backend"});
  EXPECT_NE(secret.exit_code, 0) << "an anonymous install made a pull secret: " << secret.out;
}

}  // namespace
}  // namespace sealift
