// Installs on the test cluster's real node (kubelet, containerd, runc, CNI; env/cluster.h): the
// runtime pulls every image from the target, by digest, with the pull secret sealift gave the
// chart, through the registry configuration the README tells a site to write, and runs it.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "env/cluster.h"
#include "env/harbor.h"
#include "env/registry.h"
#include "harbor/api.h"
#include "harness.h"
#include "util/encoding.h"

namespace sealift::install::testing {
namespace {

using testenv::Cluster;

// The digests in the real node's content store (`ctr content ls`).
std::set<std::string> content_store(const Cluster& cluster) {
  RunResult r = cluster.ctr({"content", "ls", "-q"});
  EXPECT_EQ(r.exit_code, 0) << said(r);
  std::set<std::string> digests;
  std::istringstream in(r.out);
  for (std::string d; in >> d;) digests.insert(d);
  return digests;
}

// Image name -> digest, from `ctr images ls` (columns REF TYPE DIGEST ...).
std::map<std::string, std::string> node_images(const Cluster& cluster) {
  RunResult r = cluster.ctr({"images", "ls"});
  EXPECT_EQ(r.exit_code, 0) << said(r);
  std::map<std::string, std::string> images;
  std::istringstream in(r.out);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string ref, type, digest;
    if (fields >> ref >> type >> digest) images[ref] = digest;
  }
  return images;
}

// The node's platform, as the fixtures name it: the real node is this machine.
std::string node_platform() {
  RunResult r = testenv::run({"uname", "-m"});
  return r.out.rfind("aarch64", 0) == 0 ? "linux/arm64" : "linux/amd64";
}

// Every test here needs the real node; a machine that cannot run it (not root, no containerd)
// skips them, naming why, and runs the rest of the suite.
class RealNode : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = Cluster::real_node_unavailable(); !why.empty()) GTEST_SKIP() << "no real node: " << why;
  }
};

// The real-node tests' bundle: the frontend alone (its entrypoint answers its probe on 8080).
testenv::BuiltBundle frontend_bundle() {
  testenv::BundleSpec spec;
  spec.images = {"frontend"};
  return factory().build(spec, factory().dir() / "real-node.tar.zst");
}

// `sealift-install install` of bundle `b` into `ns`, the pod of `component` (its values key) on
// the real node with its readiness probe on `port`; the caller adds the target's flags.
std::vector<std::string> install_args(const testenv::BuiltBundle& b, const Cluster& cluster, const std::string& host,
                                      const std::string& ns, const std::string& component = "frontend",
                                      const std::string& port = "8080", const std::string& timeout = "5m") {
  std::vector<std::string> args = {"install", b.path.string(), "--key", factory().public_key().string(), "--registry",
                                   host, "--project", "ai-saas", "--plain-http", "-n", ns, "--helm", testenv::peer("helm"),
                                   "--kubeconfig", cluster.kubeconfig().string(), "--kubectl", testenv::peer("kubectl"),
                                   "--timeout", timeout, "--quiet", "--set", component + ".readinessProbe.httpGet.path=/healthz",
                                   "--set", component + ".readinessProbe.httpGet.port=" + port,
                                   "--set", component + ".readinessProbe.periodSeconds=2"};
  for (const auto& v : Cluster::real_node_values()) args.insert(args.end(), {"--set", v});
  return args;
}

// The one pod of `ns` (after an install that waited): on the real node, Ready through its HTTP
// probe on `port`, and running what the runtime resolved `pinned` to, which must be `pinned` itself.
nlohmann::json expect_ready_on_real_node(const Cluster& cluster, const std::string& ns, const std::string& pinned,
                                         const std::string& port = "8080") {
  RunResult pods = cluster.kubectl({"get", "pods", "-n", ns, "-o", "json"});
  EXPECT_EQ(pods.exit_code, 0) << said(pods);
  const nlohmann::json listed = nlohmann::json::parse(pods.out);
  const nlohmann::json& items = listed["items"];
  EXPECT_EQ(items.size(), 1u) << pods.out;
  if (items.size() != 1) return {};
  const nlohmann::json& pod = items[0];
  EXPECT_EQ(pod["spec"]["nodeName"], Cluster::kRealNode);
  EXPECT_FALSE(pod["status"].value("podIP", "").empty()) << pod["status"].dump();
  bool ready = false;
  for (const auto& c : pod["status"]["conditions"])
    if (c["type"] == "Ready") ready = c["status"] == "True";
  EXPECT_TRUE(ready) << pod["status"].dump();
  EXPECT_EQ(pod["spec"]["containers"][0]["image"], pinned);
  EXPECT_EQ(pod["status"]["containerStatuses"][0]["imageID"], pinned) << pod["status"].dump();
  // Its probe answers from this host through the pod network.
  RunResult probe = testenv::run({"busybox", "wget", "-q", "-O", "-", "http://" + pod["status"].value("podIP", "") + ":" + port + "/healthz"});
  EXPECT_EQ(probe.exit_code, 0) << said(probe);
  EXPECT_EQ(probe.out, "ok\n");
  return pod;
}

// The images the node pulled (all but its own pause image), as `ctr images ls` names them.
std::vector<std::string> pulled_refs(const Cluster& cluster) {
  std::vector<std::string> refs;
  for (const auto& [ref, digest] : node_images(cluster))
    if (ref.rfind("localhost/sealift-pause", 0) != 0) refs.push_back(ref);
  return refs;
}

// Once the pull secret no longer works: the running pod goes on, a new one cannot pull, and
// `status` says why, with the image each container runs. The node must pull again, so the pulled
// images go from its store first; then `pod` is deleted and its Deployment makes another.
void expect_status_says_the_pull_fails(const Cluster& cluster, const std::string& ns, const nlohmann::json& pod,
                                       const std::string& pinned, const std::string& secret) {
  std::vector<std::string> rm = {"images", "rm"};
  for (const auto& ref : pulled_refs(cluster)) rm.push_back(ref);
  RunResult removed = cluster.ctr(rm);
  ASSERT_EQ(removed.exit_code, 0) << said(removed);
  RunResult deleted = cluster.kubectl({"delete", "pod", "-n", ns, pod["metadata"]["name"].get<std::string>(), "--wait=false"});
  ASSERT_EQ(deleted.exit_code, 0) << said(deleted);
  auto status = [&](const std::string& format) {
    std::vector<std::string> a = {"status", "--release", "sealift-test-app", "-n", ns, "--helm", testenv::peer("helm"),
                                  "--kubeconfig", cluster.kubeconfig().string(), "--kubectl", testenv::peer("kubectl")};
    if (!format.empty()) a.push_back(format);
    return install(a, cluster.env());
  };
  // The replacement pod waits in ContainerCreating first; its pull fails once its sandbox is up.
  auto pull_failed = [](const std::string& reason) {
    return reason.rfind("ErrImagePull", 0) == 0 || reason.rfind("ImagePullBackOff", 0) == 0;
  };
  std::string waiting, last;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (!pull_failed(waiting) && std::chrono::steady_clock::now() < deadline) {
    RunResult s = status("--json");
    ASSERT_EQ(s.exit_code, 0) << said(s);
    last = s.out;
    // Parsed into a local: a range-for over a member of the temporary parse() result dangles.
    const nlohmann::json listed = nlohmann::json::parse(s.out);
    for (const auto& c : listed["containers"])
      if (c["waiting"].is_string() && c["pod"] != pod["metadata"]["name"]) waiting = c["waiting"].get<std::string>();
    if (!pull_failed(waiting)) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  ASSERT_TRUE(pull_failed(waiting)) << waiting << "\n" << last << cluster.diagnosis();
  // The registry refused the node's credentials.
  EXPECT_NE(waiting.find("401 Unauthorized"), std::string::npos) << waiting;
  RunResult text = status("");
  EXPECT_EQ(text.exit_code, 0) << said(text);
  EXPECT_NE(text.out.find(", waiting: " + waiting.substr(0, waiting.find(':'))), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(" frontend: " + pinned + "\n"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find(secret), std::string::npos);
  EXPECT_EQ(last.find(secret), std::string::npos);
}

// docker-registry 2.8 with htpasswd; the chart's pull secret holds the push credentials. One helm
// (3): the pull is the runtime's business, and helm 4 installs the same chart in the other suites.
// Then the pull secret goes wrong (the account's password changed), and `status` shows the pull
// failing on the real node.
TEST_F(RealNode, InstallFromDockerRegistryWithCredentialsPullsByDigestFromTheTargetOnlyAndStatusSaysWhenAPullFails) {
  auto b = frontend_bundle();
  const testenv::FixtureImage& frontend = b.fixtures.image("frontend");

  auto& cluster = Cluster::shared_with_real_node();
  testenv::Registry target(testenv::RegistryOptions{.basic_auth = true});
  cluster.trust_registry(target.host());
  const std::set<std::string> before = content_store(cluster);

  // Nothing can come from upstream: it is down for the whole install.
  factory().upstream().kill();
  auto env = cluster.env();
  env["SEALIFT_REGISTRY_USER"] = target.options().user;
  env["SEALIFT_REGISTRY_PASSWORD"] = target.options().password;
  const std::string ns = "real-node";
  std::vector<std::string> args = install_args(b, cluster, target.host(), ns);
  args.push_back("--pull-secret-from-push-credentials");
  RunResult installed = install(args, env);
  factory().upstream().start();
  ASSERT_EQ(installed.exit_code, 0) << said(installed) << cluster.diagnosis();

  const std::string pinned = target.host() + "/ai-saas/sealift/frontend@" + frontend.digest;
  const nlohmann::json pod = expect_ready_on_real_node(cluster, ns, pinned);

  // containerd pulled exactly the node's platform of the bundle's image: the index, the platform's
  // manifest, config and layers, nothing else (the other platform's blobs never moved). The
  // runnable layer was there already: the node's pause image shares it.
  const testenv::FixtureManifest& m = frontend.platform(node_platform());
  std::set<std::string> expected = before;
  expected.insert({frontend.digest, m.digest, m.config});
  expected.insert(m.layers.begin(), m.layers.end());
  EXPECT_EQ(content_store(cluster), expected);
  EXPECT_GT(expected.size(), before.size() + m.layers.size()) << "the frontend's own layers were pulled";
  // Every image the node holds, but its own pause image, is the target's, by the bundle's digest.
  const auto images = node_images(cluster);
  for (const auto& ref : pulled_refs(cluster)) {
    if (ref.rfind("sha256:", 0) == 0) continue;  // the runtime's name for the image by its config
    EXPECT_EQ(ref.rfind(target.host() + "/ai-saas/", 0), 0u) << ref;
    EXPECT_EQ(images.at(ref), frontend.digest) << ref;
  }
  if (HasFailure()) return;

  RunResult wrong = cluster.kubectl({"create", "secret", "docker-registry", "registry-credentials", "-n", ns,
                                     "--docker-server=" + target.host(), "--docker-username=" + target.options().user,
                                     "--docker-password=not-the-password", "--dry-run=client", "-o", "yaml"});
  ASSERT_EQ(wrong.exit_code, 0) << said(wrong);
  ASSERT_EQ(cluster.kubectl({"apply", "-f", "-"}, wrong.out).exit_code, 0);
  expect_status_says_the_pull_fails(cluster, ns, pod, pinned, "not-the-password");
  cluster.kubectl({"delete", "namespace", ns, "--wait=false"});
}

// The Harbor stand-in: sealift creates a pull-only robot for the release and the chart's pull
// secret holds it; the node pulls with it through the stand-in's token service. Then the robot is
// deleted (an administrator's cleanup, or its expiry) and a new pod cannot pull.
TEST_F(RealNode, InstallFromHarborWithAPullRobotRunsOnTheRealNodeAndStatusSaysWhenTheRobotIsGone) {
  auto b = frontend_bundle();
  const testenv::FixtureImage& frontend = b.fixtures.image("frontend");
  auto& cluster = Cluster::shared_with_real_node();
  testenv::HarborLike target(std::vector<std::string>{"ai-saas"});
  cluster.trust_registry(target.host());

  factory().upstream().kill();
  auto env = cluster.env();
  env["SEALIFT_REGISTRY_USER"] = target.admin_user();
  env["SEALIFT_REGISTRY_PASSWORD"] = target.admin_password();
  const std::string ns = "real-node-harbor";
  std::vector<std::string> args = install_args(b, cluster, target.host(), ns);
  args.push_back("--create-pull-robot");
  RunResult installed = install(args, env);
  factory().upstream().start();
  ASSERT_EQ(installed.exit_code, 0) << said(installed) << cluster.diagnosis();

  const std::string pinned = target.host() + "/ai-saas/sealift/frontend@" + frontend.digest;
  const nlohmann::json pod = expect_ready_on_real_node(cluster, ns, pinned);
  if (HasFailure()) return;
  // The node authenticated as the robot, not as the administrator sealift pushed with.
  harbor::HarborApi api(target.host(), [] {
    registry::HttpOptions h;
    h.plain_http = true;
    return h;
  }(), {target.admin_user(), target.admin_password(), "test"});
  const auto robots = api.list_project_robots("ai-saas");
  ASSERT_EQ(robots.size(), 1u);
  RunResult secret = cluster.kubectl({"get", "secret", "registry-credentials", "-n", ns, "-o", "jsonpath={.data.\\.dockerconfigjson}"});
  ASSERT_EQ(secret.exit_code, 0) << said(secret);
  const nlohmann::json config = nlohmann::json::parse(util::base64_decode(secret.out));
  const std::string auth = util::base64_decode(config["auths"][target.host()]["auth"].get<std::string>());
  EXPECT_EQ(auth.rfind(robots[0].name + ":", 0), 0u) << "the pull secret is not the robot's";

  api.delete_robot(robots[0]);
  expect_status_says_the_pull_fails(cluster, ns, pod, pinned, target.admin_password());
  cluster.kubectl({"delete", "namespace", ns, "--wait=false"});
}

// An upgrade to a bundle whose new backend exits at once: helm's wait fails, sealift rolls the
// release back (atomic, its default), and the node runs the previous backend, by its digest.
TEST_F(RealNode, AnUpgradeWhoseBackendExitsAtOnceFailsAndIsRolledBackToThePreviousBackend) {
  testenv::BundleSpec spec;
  spec.images = {"backend"};
  auto good = factory().build(spec, factory().dir() / "real-node-backend.tar.zst");
  spec.backend_exits = true;
  auto bad = factory().build(spec, factory().dir() / "real-node-backend-exits.tar.zst");
  const std::string good_digest = good.fixtures.image("backend").digest;
  ASSERT_NE(good_digest, bad.fixtures.image("backend").digest);

  auto& cluster = Cluster::shared_with_real_node();
  testenv::Registry target;
  cluster.trust_registry(target.host());
  const std::string ns = "real-node-upgrade";
  RunResult installed = install(install_args(good, cluster, target.host(), ns, "backend", "8000"), cluster.env());
  ASSERT_EQ(installed.exit_code, 0) << said(installed) << cluster.diagnosis();
  const std::string pinned = target.host() + "/ai-saas/sealift/backend@" + good_digest;
  expect_ready_on_real_node(cluster, ns, pinned, "8000");
  if (HasFailure()) return;

  // helm waits its whole timeout for a container that keeps exiting, so it is short: nothing has
  // to become ready in it (the rollback's wait finds the previous revision's pod, which never
  // stopped, ready).
  RunResult upgraded = install(install_args(bad, cluster, target.host(), ns, "backend", "8000", "45s"), cluster.env());
  EXPECT_NE(upgraded.exit_code, 0) << said(upgraded);
  RunResult history = cluster.helm({"history", "sealift-test-app", "-n", ns, "-o", "json"});
  ASSERT_EQ(history.exit_code, 0) << said(history);
  const nlohmann::json revisions = nlohmann::json::parse(history.out);
  ASSERT_EQ(revisions.size(), 3u) << history.out;
  EXPECT_EQ(revisions[1]["status"], "failed") << history.out;
  EXPECT_EQ(revisions[2]["status"], "deployed") << history.out;
  EXPECT_NE(revisions[2].value("description", "").find("Rollback to 1"), std::string::npos) << history.out;

  // The failed revision's pod goes; what stays is the previous backend, Ready, by its digest.
  bool one_pod = false;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
       !one_pod && std::chrono::steady_clock::now() < deadline;) {
    RunResult pods = cluster.kubectl({"get", "pods", "-n", ns, "-o", "name"});
    one_pod = pods.exit_code == 0 && std::count(pods.out.begin(), pods.out.end(), '\n') == 1;
    if (!one_pod) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  ASSERT_TRUE(one_pod) << cluster.diagnosis();
  expect_ready_on_real_node(cluster, ns, pinned, "8000");
  cluster.kubectl({"delete", "namespace", ns, "--wait=false"});
}

}  // namespace
}  // namespace sealift::install::testing
