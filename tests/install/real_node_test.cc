// Installs on the test cluster's real node (kubelet, containerd, runc, CNI; env/cluster.h): the
// runtime pulls every image from the target, by digest, with the pull secret sealift gave the
// chart, through the registry configuration the README tells a site to write, and runs it.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <sstream>
#include <thread>

#include "env/cluster.h"
#include "env/registry.h"
#include "harness.h"

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

// docker-registry 2.8 with htpasswd; the chart's pull secret holds the push credentials. One helm
// (3): the pull is the runtime's business, and helm 4 installs the same chart in the other suites.
// Then the pull secret goes wrong, and `status` shows the pull failing on the real node.
TEST_F(RealNode, InstallFromDockerRegistryWithCredentialsPullsByDigestFromTheTargetOnlyAndStatusSaysWhenAPullFails) {
  testenv::BundleSpec spec;
  spec.images = {"frontend"};
  auto b = factory().build(spec, factory().dir() / "real-node.tar.zst");
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
  std::vector<std::string> args = {"install", b.path.string(), "--key", factory().public_key().string(), "--registry",
                                   target.host(), "--project", "ai-saas", "--plain-http",
                                   "--pull-secret-from-push-credentials", "-n", ns, "--helm", testenv::peer("helm"),
                                   "--kubeconfig", cluster.kubeconfig().string(), "--kubectl", testenv::peer("kubectl"),
                                   "--timeout", "5m", "--quiet", "--set", "frontend.readinessProbe.httpGet.path=/healthz",
                                   "--set", "frontend.readinessProbe.httpGet.port=8080",
                                   "--set", "frontend.readinessProbe.periodSeconds=2"};
  for (const auto& v : Cluster::real_node_values()) args.insert(args.end(), {"--set", v});
  RunResult installed = install(args, env);
  factory().upstream().start();
  ASSERT_EQ(installed.exit_code, 0) << said(installed) << cluster.diagnosis();

  // The pod runs on the real node, Ready through its HTTP probe, and the runtime reports the
  // bundle's digest for the image it runs, resolved at the target.
  RunResult pods = cluster.kubectl({"get", "pods", "-n", ns, "-o", "json"});
  ASSERT_EQ(pods.exit_code, 0) << said(pods);
  const auto items = nlohmann::json::parse(pods.out)["items"];
  ASSERT_EQ(items.size(), 1u) << pods.out;
  const auto& pod = items[0];
  EXPECT_EQ(pod["spec"]["nodeName"], Cluster::kRealNode);
  EXPECT_FALSE(pod["status"].value("podIP", "").empty()) << pod["status"].dump();
  bool ready = false;
  for (const auto& c : pod["status"]["conditions"])
    if (c["type"] == "Ready") ready = c["status"] == "True";
  EXPECT_TRUE(ready) << pod["status"].dump();
  const std::string pinned = target.host() + "/ai-saas/sealift/frontend@" + frontend.digest;
  EXPECT_EQ(pod["spec"]["containers"][0]["image"], pinned);
  EXPECT_EQ(pod["status"]["containerStatuses"][0]["imageID"], pinned) << pod["status"].dump();
  // Its probe answers from this host through the pod network.
  RunResult probe = testenv::run({"busybox", "wget", "-q", "-O", "-", "http://" + pod["status"].value("podIP", "") + ":8080/healthz"});
  EXPECT_EQ(probe.exit_code, 0) << said(probe);
  EXPECT_EQ(probe.out, "ok\n");

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
  std::vector<std::string> pulled_refs;
  for (const auto& [ref, digest] : node_images(cluster)) {
    if (ref.rfind("localhost/sealift-pause", 0) == 0) continue;
    pulled_refs.push_back(ref);
    if (ref.rfind("sha256:", 0) == 0) continue;  // the runtime's name for the image by its config
    EXPECT_EQ(ref.rfind(target.host() + "/ai-saas/", 0), 0u) << ref;
    EXPECT_EQ(digest, frontend.digest) << ref;
  }
  if (HasFailure()) return;

  // A pull secret that stops working (the account's password changed, a robot deleted): the
  // running pod goes on, a new one cannot pull, and `status` says why, with the image ID of what
  // runs. The node must pull again, so the image goes from its store first.
  RunResult wrong = cluster.kubectl({"create", "secret", "docker-registry", "registry-credentials", "-n", ns,
                                     "--docker-server=" + target.host(), "--docker-username=" + target.options().user,
                                     "--docker-password=not-the-password", "--dry-run=client", "-o", "yaml"});
  ASSERT_EQ(wrong.exit_code, 0) << said(wrong);
  ASSERT_EQ(cluster.kubectl({"apply", "-f", "-"}, wrong.out).exit_code, 0);
  std::vector<std::string> rm = {"images", "rm"};
  rm.insert(rm.end(), pulled_refs.begin(), pulled_refs.end());
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
  ASSERT_TRUE(pull_failed(waiting)) << waiting << "\n" << last;
  RunResult text = status("");
  EXPECT_EQ(text.exit_code, 0) << said(text);
  EXPECT_NE(text.out.find(", waiting: " + waiting.substr(0, waiting.find(':'))), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(" frontend: " + pinned + "\n"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("not-the-password"), std::string::npos);
}

}  // namespace
}  // namespace sealift::install::testing
