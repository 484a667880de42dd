// The chart sealift pushes is an ordinary OCI chart: a plain `helm install oci://TARGET/...` of
// helm 3 and of helm 4 installs it from the target, with the relocation values that
// `sealift-install export` writes, so every image comes from the target by digest. (A GitOps tool
// or an operator's own helm does exactly this.)
#include "env/cluster.h"
#include "harness.h"

namespace sealift::install::testing {
namespace {

fs::path scratch(const std::string& name) {
  static testenv::TempDir dir("sealift-oci-chart-test");
  return dir / name;
}

class PushedChart : public ::testing::TestWithParam<std::string> {};

TEST_P(PushedChart, PlainHelmInstallsItFromTheTarget) {
  const std::string helm = testenv::peer(GetParam());
  const auto& b = full_bundle();
  Target target;
  target.harbor().create_project("ai-saas");
  RunResult pushed = target.push(b.path);
  ASSERT_EQ(pushed.exit_code, 0) << said(pushed);

  const fs::path out = scratch(GetParam() + "-export");
  RunResult exported = install({"export", b.path.string(), "--key", factory().public_key().string(), "--registry",
                                target.host(), "--project", "ai-saas", "-o", out.string(), "--helm", helm, "--quiet"});
  ASSERT_EQ(exported.exit_code, 0) << said(exported);

  // helm reads registry credentials from a docker config.json (--registry-config).
  const fs::path config = scratch(GetParam() + "-registry.json");
  nlohmann::json auths;
  auths["auths"][target.host()]["auth"] =
      util::base64_encode(target.harbor().admin_user() + ":" + target.harbor().admin_password());
  util::write_file_atomic(config, auths.dump(), 0600);

  auto& cluster = testenv::Cluster::shared();
  const std::string ns = "oci-" + testenv::helm_case_name(GetParam());
  const std::string chart = "oci://" + target.host() + "/ai-saas/charts/sealift-test-app";
  std::vector<std::string> args = {"install", "app", chart, "--version", "1.0.0", "--registry-config",
                                   config.string(), "-n", ns, "--create-namespace", "--wait", "--timeout", "2m",
                                   "-f", (out / "relocation-values.yaml").string()};

  // The test target speaks plain HTTP, and both need --plain-http for it: helm 4 speaks HTTPS
  // unless told; helm 3 falls back to HTTP by itself, but oras-go then sends no credentials
  // across the downgrade (GHSA-vh4v-2xq2-g5cg), so the private project answers 401.
  RunResult https = cluster.helm(args, GetParam());
  EXPECT_NE(https.exit_code, 0) << said(https);
  EXPECT_NE(https.err.find(GetParam() == "helm4" ? "server gave HTTP response to HTTPS client" : "401"),
            std::string::npos)
      << said(https);

  args.push_back("--plain-http");
  RunResult installed = cluster.helm(args, GetParam());
  ASSERT_EQ(installed.exit_code, 0) << said(installed);
  EXPECT_NE(installed.out.find("STATUS: deployed"), std::string::npos) << said(installed);

  RunResult d = cluster.kubectl({"get", "deployments", "-n", ns, "-o", "json"});
  ASSERT_EQ(d.exit_code, 0) << said(d);
  const auto deployments = nlohmann::json::parse(d.out).at("items");
  EXPECT_EQ(deployments.size(), b.lock.images.size()) << d.out;
  for (const auto& deployment : deployments) {
    EXPECT_EQ(deployment["status"].value("readyReplicas", 0), 1) << deployment["status"].dump();
    for (const auto& c : deployment["spec"]["template"]["spec"]["containers"]) {
      const std::string image = c["image"];
      EXPECT_EQ(image.rfind(target.host() + "/ai-saas/", 0), 0u) << image << " is not pulled from the target";
      EXPECT_NE(image.find("@sha256:"), std::string::npos) << image << " is not pinned by digest";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(HelmVersions, PushedChart, ::testing::ValuesIn(testenv::helm_peers()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return testenv::helm_case_name(i.param); });

}  // namespace
}  // namespace sealift::install::testing
