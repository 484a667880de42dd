// helm failing in the middle of `sealift-install upgrade` (issue 9), against the real cluster
// (kwok nodes, real rollouts): the upgrade's pods can never be scheduled, so helm's --wait runs
// out. With --atomic (the default) helm rolls back; with --no-atomic the release is left failed.
// Either way the previous release's pods keep running with the old image digests, and sealift's
// error says what happened and how to go on. Also: an older, validly signed bundle presented for
// an upgrade is refused unless --allow-downgrade. One cluster start per helm: the test runs with
// helm 3 (--atomic) and with helm 4 (--rollback-on-failure), the flags sealift picks for each.
#include "env/cluster.h"
#include "harness.h"
#include "install/release.h"
#include "sign/key.h"
#include "util/error.h"

namespace sealift::install::testing {
namespace {

fs::path scratch(const std::string& name) {
  static testenv::TempDir dir("sealift-upgrade-failure-test");
  return dir / name;
}

TEST(UpgradeFailure, VersionsCompareAsSemVer) {
  EXPECT_EQ(compare_versions("1.0.0", "1.1.0"), -1);
  EXPECT_EQ(compare_versions("1.10.0", "1.9.0"), 1);
  EXPECT_EQ(compare_versions("v2.0.0", "2.0.0+build.7"), 0);
  EXPECT_EQ(compare_versions("1.0.0-rc.1", "1.0.0"), -1);
  EXPECT_EQ(compare_versions("1.0.0-rc.2", "1.0.0-rc.10"), -1);
  EXPECT_EQ(compare_versions("1.0.0-alpha", "1.0.0-1"), 1);
  EXPECT_EQ(compare_versions("1.0.0-alpha", "1.0.0-alpha.1"), -1);
  EXPECT_EQ(compare_versions("1.0", "1.0.0"), std::nullopt);
  EXPECT_EQ(compare_versions("latest", "1.0.0"), std::nullopt);
  EXPECT_EQ(compare_versions("1.0.0-", "1.0.0"), std::nullopt);
}

class UpgradeFailureWith : public ::testing::TestWithParam<std::string> {};

TEST_P(UpgradeFailureWith, ThePreviousReleaseKeepsRunningAndOlderBundlesNeedAFlag) {
  const std::string helm = testenv::peer(GetParam());
  testenv::BundleSpec one;
  one.images = {"redis", "backend"};
  auto r1 = factory().build(one, scratch("r1.tar.zst"));
  testenv::BundleSpec two = one;
  two.release = 2;
  two.chart_version = "1.1.0";
  auto r2 = factory().build(two, scratch("r2.tar.zst"));
  const std::string backend_v1 = r1.fixtures.image("backend").digest, backend_v2 = r2.fixtures.image("backend").digest;
  ASSERT_NE(backend_v1, backend_v2);

  Target target;
  target.harbor().create_project("ai-saas");
  auto& cluster = testenv::Cluster::shared();
  const std::string ns = "upgrade-failure", name = "sealift-test-app";
  const fs::path never = scratch("never-schedulable.yaml");
  util::write_file_atomic(never, "nodeSelector:\n  sealift.dev/no-such-node: \"true\"\n");

  auto release = [&](const std::string& verb, const fs::path& bundle, std::vector<std::string> more) {
    std::vector<std::string> args = {verb, bundle.string(), "--key", factory().public_key().string(), "--registry",
                                     target.host(), "--project", "ai-saas", "--plain-http", "-n", ns, "--helm",
                                     helm, "--kubeconfig", cluster.kubeconfig().string(), "--kubectl",
                                     testenv::peer("kubectl"), "--quiet"};
    args.insert(args.end(), more.begin(), more.end());
    auto env = target.env();
    for (const auto& [k, v] : cluster.env()) env[k] = v;
    return install(args, env);
  };
  auto history = [&] {
    RunResult h = cluster.helm({"history", name, "-n", ns, "-o", "json"}, GetParam());
    EXPECT_EQ(h.exit_code, 0) << said(h);
    return h.exit_code == 0 ? nlohmann::json::parse(h.out) : nlohmann::json::array();
  };
  // The images of the backend's pods that run (not the ones waiting for a node).
  auto running_backend_images = [&] {
    RunResult r = cluster.kubectl({"get", "pods", "-n", ns, "-l", "app=backend", "-o", "json"});
    EXPECT_EQ(r.exit_code, 0) << said(r);
    std::vector<std::string> images;
    const auto pods = nlohmann::json::parse(r.out);
    for (const auto& pod : pods["items"])
      if (pod["status"].value("phase", "") == "Running" && !pod["metadata"].contains("deletionTimestamp"))
        images.push_back(pod["spec"]["containers"][0]["image"].get<std::string>());
    return images;
  };
  auto expect_backend_runs = [&](const std::string& digest, const std::string& when) {
    auto images = running_backend_images();
    ASSERT_FALSE(images.empty()) << when << ": no backend pod runs\n"
                                 << cluster.kubectl({"get", "pods", "-n", ns, "-o", "wide", "--show-labels"}).out;
    for (const auto& image : images)
      EXPECT_NE(image.find("@" + digest), std::string::npos) << when << ": a pod runs " << image;
  };

  RunResult installed = release("install", r1.path, {"--timeout", "2m"});
  ASSERT_EQ(installed.exit_code, 0) << said(installed);
  expect_backend_runs(backend_v1, "after the install");
  if (HasFailure()) return;

  // --atomic (default): the new backend pod never gets a node; helm gives up and rolls back.
  RunResult atomic = release("upgrade", r2.path, {"-f", never.string(), "--timeout", "20s"});
  EXPECT_EQ(atomic.exit_code, static_cast<int>(sealift::ErrorKind::Tool)) << said(atomic);
  EXPECT_NE(atomic.err.find("helm upgrade failed"), std::string::npos) << said(atomic);
  EXPECT_NE(atomic.err.find("release " + name + " in " + ns + " is at revision 3 (deployed"), std::string::npos)
      << said(atomic);
  EXPECT_NE(atomic.err.find("helm rolled back: the previous release keeps running"), std::string::npos) << said(atomic);
  EXPECT_NE(atomic.err.find("--skip-push"), std::string::npos) << said(atomic);
  // Why, from the cluster: the nodes are fine, and the scheduler's events name the node selector
  // (the rollback removed the pending pod itself).
  EXPECT_NE(atomic.err.find("what the cluster reports:"), std::string::npos) << said(atomic);
  EXPECT_NE(atomic.err.find("nodes: all 3 Ready"), std::string::npos) << said(atomic);
  EXPECT_NE(atomic.err.find("FailedScheduling"), std::string::npos) << said(atomic);
  auto h = history();
  ASSERT_EQ(h.size(), 3u) << h.dump();
  EXPECT_EQ(h[1]["status"], "failed");
  EXPECT_EQ(h[2]["status"], "deployed");
  EXPECT_EQ(h[2]["chart"], name + "-1.0.0");
  expect_backend_runs(backend_v1, "after the rolled-back upgrade");

  // Without the impossible node selector the upgrade goes through after the rolled-back one.
  RunResult fixed = release("upgrade", r2.path, {"--timeout", "2m"});
  ASSERT_EQ(fixed.exit_code, 0) << said(fixed);
  expect_backend_runs(backend_v2, "after the fixed upgrade");
  ASSERT_EQ(history().size(), 4u);

  // Release 1, complete and validly signed, presented as an upgrade: a downgrade, refused before
  // anything is pushed or installed, unless asked for.
  size_t puts = target.harbor().count_requests("PUT", "/v2/");
  RunResult back = release("upgrade", r1.path, {"--timeout", "2m"});
  EXPECT_EQ(back.exit_code, static_cast<int>(sealift::ErrorKind::Usage)) << said(back);
  EXPECT_NE(back.err.find("chart sealift-test-app 1.0.0 is older than sealift-test-app 1.1.0"), std::string::npos)
      << said(back);
  EXPECT_NE(back.err.find("--allow-downgrade"), std::string::npos) << said(back);
  EXPECT_EQ(target.harbor().count_requests("PUT", "/v2/"), puts);
  EXPECT_EQ(history().size(), 4u);
  // `install` of an existing release is an upgrade too.
  RunResult back_install = release("install", r1.path, {"--timeout", "2m"});
  EXPECT_EQ(back_install.exit_code, static_cast<int>(sealift::ErrorKind::Usage)) << said(back_install);

  RunResult allowed = release("upgrade", r1.path, {"--timeout", "2m", "--allow-downgrade"});
  ASSERT_EQ(allowed.exit_code, 0) << said(allowed);
  expect_backend_runs(backend_v1, "after the downgrade on purpose");

  // --no-atomic: helm leaves the release failed; the running pod (release 1 again) still serves,
  // as no new one ever becomes ready.
  RunResult kept = release("upgrade", r2.path, {"-f", never.string(), "--timeout", "15s", "--no-atomic", "--skip-push"});
  EXPECT_EQ(kept.exit_code, static_cast<int>(sealift::ErrorKind::Tool)) << said(kept);
  EXPECT_NE(kept.err.find("is at revision 6 (failed"), std::string::npos) << said(kept);
  EXPECT_NE(kept.err.find("helm rollback " + name + " -n " + ns), std::string::npos) << said(kept);
  // The kept pod that never got a node, with the scheduler's reason.
  EXPECT_NE(kept.err.find(": Pending: PodScheduled=False (Unschedulable"), std::string::npos) << said(kept);
  expect_backend_runs(backend_v1, "after the failed, kept upgrade");
}

// A vendor rotates its signing key: 1.0.0 is signed with key A, 1.1.0 with key B. A site that
// trusts both (--key-dir) installs one and upgrades to the other, and the report names the key
// that verified each; a site that trusts only A refuses 1.1.0 before anything is pushed, naming
// the key that signed (from the chart signature's key hint) and the key it tried.
TEST(KeyRotation, TheUpgradeSignedWithTheNewKeyNeedsItTrusted) {
  testenv::BundleSpec one;
  one.images = {"backend"};
  auto r1 = factory().build(one, scratch("rot-1.0.0.tar.zst"));
  testenv::BundleSpec two = one;
  two.release = 2;
  two.chart_version = "1.1.0";
  const fs::path key_b = factory().other_key("rotated-b");
  two.signing_key = key_b.parent_path() / "cosign.key";
  auto r2 = factory().build(two, scratch("rot-1.1.0.tar.zst"));
  const std::string fp_a = sign::PublicKey::from_file(factory().public_key()).fingerprint();
  const std::string fp_b = sign::PublicKey::from_file(key_b).fingerprint();

  // The site's directory of trusted vendor keys: both, private to the site's admin.
  const fs::path keys = scratch("vendor-keys");
  fs::create_directories(keys);
  fs::permissions(keys, fs::perms::owner_all);
  fs::copy_file(factory().public_key(), keys / "vendor-2025.pub");
  fs::copy_file(key_b, keys / "vendor-2026.pub");
  for (const char* f : {"vendor-2025.pub", "vendor-2026.pub"})
    fs::permissions(keys / f, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);

  Target target;
  target.harbor().create_project("ai-saas");
  auto& cluster = testenv::Cluster::shared();
  const std::string ns = "key-rotation";
  auto release = [&](const std::string& verb, const fs::path& bundle, std::vector<std::string> trust,
                     const fs::path& report) {
    std::vector<std::string> args = {verb, bundle.string(), "--registry", target.host(), "--project", "ai-saas",
                                     "--plain-http", "-n", ns, "--helm", testenv::peer("helm"), "--kubeconfig",
                                     cluster.kubeconfig().string(), "--kubectl", testenv::peer("kubectl"), "--quiet",
                                     "--timeout", "2m", "--report", report.string()};
    args.insert(args.end(), trust.begin(), trust.end());
    auto env = target.env();
    for (const auto& [k, v] : cluster.env()) env[k] = v;
    return install(args, env);
  };
  auto signer_in = [](const fs::path& report) {
    return nlohmann::json::parse(util::read_file(report))["bundle"]["signer"].get<std::string>();
  };

  RunResult installed = release("install", r1.path, {"--key-dir", keys.string()}, scratch("rot-install.json"));
  ASSERT_EQ(installed.exit_code, 0) << said(installed);
  EXPECT_EQ(signer_in(scratch("rot-install.json")), fp_a);

  // Only the old key trusted: refused before any push, naming both keys.
  const size_t puts = target.harbor().count_requests("PUT", "/v2/");
  const size_t posts = target.harbor().count_requests("POST", "/blobs/uploads");
  RunResult refused = release("upgrade", r2.path, {"--key", factory().public_key().string()}, scratch("rot-refused.json"));
  EXPECT_EQ(refused.exit_code, static_cast<int>(sealift::ErrorKind::Integrity)) << said(refused);
  EXPECT_NE(refused.err.find("does not verify with any trusted key (tried " + fp_a + ")"), std::string::npos) << said(refused);
  EXPECT_NE(refused.err.find("signatures name the key " + fp_b), std::string::npos) << said(refused);
  EXPECT_EQ(target.harbor().count_requests("PUT", "/v2/"), puts);
  EXPECT_EQ(target.harbor().count_requests("POST", "/blobs/uploads"), posts);

  RunResult upgraded = release("upgrade", r2.path, {"--key-dir", keys.string()}, scratch("rot-upgrade.json"));
  ASSERT_EQ(upgraded.exit_code, 0) << said(upgraded);
  EXPECT_EQ(signer_in(scratch("rot-upgrade.json")), fp_b);

  // A key directory others can write to is refused, as is a key file in it they can write to.
  fs::permissions(keys, fs::perms::group_write, fs::perm_options::add);
  RunResult open_dir = install({"verify", r2.path.string(), "--key-dir", keys.string()});
  EXPECT_EQ(open_dir.exit_code, static_cast<int>(sealift::ErrorKind::Usage)) << said(open_dir);
  EXPECT_NE(open_dir.err.find("the trusted key directory " + keys.string() + " is writable by other users"),
            std::string::npos) << said(open_dir);
  fs::permissions(keys, fs::perms::group_write, fs::perm_options::remove);
  fs::permissions(keys / "vendor-2026.pub", fs::perms::others_write, fs::perm_options::add);
  RunResult open_file = install({"verify", r2.path.string(), "--key-dir", keys.string()});
  EXPECT_EQ(open_file.exit_code, static_cast<int>(sealift::ErrorKind::Usage)) << said(open_file);
  EXPECT_NE(open_file.err.find("vendor-2026.pub is writable by other users"), std::string::npos) << said(open_file);
}

INSTANTIATE_TEST_SUITE_P(HelmVersions, UpgradeFailureWith, ::testing::ValuesIn(testenv::helm_peers()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return testenv::helm_case_name(i.param); });

}  // namespace
}  // namespace sealift::install::testing
