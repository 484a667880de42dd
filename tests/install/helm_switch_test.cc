// A site moving from helm 3 to helm 4 in the middle of a release's life: release 1 installed by
// sealift with helm 3, release 2 upgraded by sealift with helm 4 (helm 4 keeps the release's
// client-side apply: --server-side defaults to "auto"), then each helm reads the history the other
// wrote, and helm 3 rolls back what helm 4 upgraded. One cluster start: one TEST.
#include <set>

#include "env/cluster.h"
#include "harness.h"

namespace sealift::install::testing {
namespace {

fs::path scratch(const std::string& name) {
  static testenv::TempDir dir("sealift-helm-switch-test");
  return dir / name;
}

TEST(HelmSwitch, AReleaseInstalledWithHelm3UpgradesWithHelm4AndRollsBackWithHelm3) {
  testenv::BundleSpec one;
  one.images = {"redis", "backend"};
  auto r1 = factory().build(one, scratch("r1.tar.zst"));
  testenv::BundleSpec two = one;
  two.release = 2;
  two.chart_version = "1.1.0";
  auto r2 = factory().build(two, scratch("r2.tar.zst"));
  const std::string backend_v1 = r1.fixtures.image("backend").digest, backend_v2 = r2.fixtures.image("backend").digest;

  Target target;
  target.harbor().create_project("ai-saas");
  auto& cluster = testenv::Cluster::shared();
  const std::string ns = "helm-switch", name = "sealift-test-app";
  auto env = target.env();
  for (const auto& [k, v] : cluster.env()) env[k] = v;
  auto release = [&](const std::string& verb, const fs::path& bundle, const std::string& helm) {
    return install({verb, bundle.string(), "--key", factory().public_key().string(), "--registry", target.host(),
                    "--project", "ai-saas", "--plain-http", "-n", ns, "--helm", testenv::peer(helm), "--kubeconfig",
                    cluster.kubeconfig().string(), "--timeout", "2m"},
                   env);
  };
  auto backend_image = [&] {
    RunResult r = cluster.kubectl(
        {"get", "deployment", "backend", "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[0].image}"});
    EXPECT_EQ(r.exit_code, 0) << said(r);
    return r.out;
  };
  auto status = [&](const std::string& helm) {
    RunResult r = install({"status", "--release", name, "-n", ns, "--helm", testenv::peer(helm), "--kubeconfig",
                           cluster.kubeconfig().string(), "--json"},
                          cluster.env());
    EXPECT_EQ(r.exit_code, 0) << said(r);
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  };

  RunResult installed = release("install", r1.path, "helm");
  ASSERT_EQ(installed.exit_code, 0) << said(installed);
  EXPECT_NE(installed.out.find("using helm v3."), std::string::npos) << said(installed);
  EXPECT_NE(backend_image().find("@" + backend_v1), std::string::npos);

  RunResult upgraded = release("upgrade", r2.path, "helm4");
  ASSERT_EQ(upgraded.exit_code, 0) << said(upgraded);
  EXPECT_NE(upgraded.out.find("using helm v4."), std::string::npos) << said(upgraded);
  EXPECT_NE(upgraded.out.find("revision 2, deployed"), std::string::npos) << said(upgraded);
  EXPECT_NE(backend_image().find("@" + backend_v2), std::string::npos);
  // helm 4 updated the objects helm 3 made the way helm 3 did (client-side: Update, not Apply).
  RunResult d = cluster.kubectl({"get", "deployment", "backend", "-n", ns, "-o", "json", "--show-managed-fields"});
  ASSERT_EQ(d.exit_code, 0) << said(d);
  std::set<std::string> helm_operations;
  const auto deployment = nlohmann::json::parse(d.out);
  for (const auto& m : deployment["metadata"]["managedFields"])
    if (m.value("manager", "").rfind("helm", 0) == 0) helm_operations.insert(m.value("operation", ""));
  EXPECT_EQ(helm_operations, std::set<std::string>{"Update"}) << d.out;

  // Each helm reads what the other wrote.
  for (const char* helm : {"helm", "helm4"}) {
    auto s = status(helm);
    EXPECT_EQ(s.value("revision", 0), 2) << helm << ": " << s.dump();
    EXPECT_EQ(s.value("chart", ""), name + "-1.1.0") << helm << ": " << s.dump();
  }

  // helm 3 rolls back the revision helm 4 made; helm 4 sees the rollback.
  RunResult back = cluster.helm({"rollback", name, "1", "-n", ns, "--wait", "--timeout", "2m"}, "helm");
  ASSERT_EQ(back.exit_code, 0) << said(back);
  EXPECT_NE(backend_image().find("@" + backend_v1), std::string::npos);
  RunResult history = cluster.helm({"history", name, "-n", ns, "-o", "json"}, "helm4");
  ASSERT_EQ(history.exit_code, 0) << said(history);
  const auto h = nlohmann::json::parse(history.out);
  ASSERT_EQ(h.size(), 3u) << h.dump();
  EXPECT_EQ(h[2]["status"], "deployed");
  EXPECT_EQ(h[2]["description"], "Rollback to 1");
}

}  // namespace
}  // namespace sealift::install::testing
