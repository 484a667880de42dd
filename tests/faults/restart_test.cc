// The registry killed (SIGKILL) in the middle of a `sealift-install push` and of a
// `sealift-bundle build`, as the programs run (tests/install covers push_bundle called in-process
// with the registry killed for good): back within the retry budget, the program finishes by
// itself; gone for good, it ends with an error naming what failed, no tag is written and no bundle
// left, and a re-run after the restart completes with the content of a clean run.
#include "harness.h"
#include "util/fs.h"

namespace sealift::faults::testing {
namespace {

// Holds the n-th layer upload (or download) for a moment, so that the test kills the registry
// while the program is in the middle of its blobs.
FaultRule hold_nth(const std::string& method, const std::string& path_part, int n) {
  FaultRule r;
  r.method = method;
  r.path_part = path_part;
  r.nth = n;
  r.fault = Fault::StallRequest;
  r.stall_s = 0.5;
  return r;
}

TEST(RegistryRestart, MidPush) {
  Target target;
  const Content& clean = clean_push();
  testenv::Registry& registry = target.harbor().registry();

  // Back 2 s later: within the retries (the Harbor front answers 502 meanwhile).
  {
    FaultProxy proxy(target.port());
    proxy.add(hold_nth("PUT", "/blobs/uploads/", 3));
    RunResult result;
    std::jthread push([&] { result = target.push(proxy.host(), "back-soon", vendor_bundle().path); });
    ASSERT_TRUE(proxy.wait_for_faults(1, kHangLimit));
    registry.kill();
    std::this_thread::sleep_for(std::chrono::seconds(2));
    registry.start();
    push.join();
    EXPECT_TRUE(ended_by_itself(result)) << said(result);
    EXPECT_EQ(result.exit_code, 0) << said(result);
    Content c = target.walk("back-soon", true);
    EXPECT_TRUE(c.missing.empty());
    EXPECT_EQ(c.tags, clean.tags);
    EXPECT_EQ(c.reachable, clean.reachable);
  }

  // Gone for good (until the push gave up): a clear error, no image tag; after the restart a
  // re-run completes.
  {
    FaultProxy proxy(target.port());
    proxy.add(hold_nth("PUT", "/blobs/uploads/", 3));
    RunResult result;
    std::jthread push([&] { result = target.push(proxy.host(), "gone", vendor_bundle().path); });
    ASSERT_TRUE(proxy.wait_for_faults(1, kHangLimit));
    registry.kill();
    push.join();
    registry.start();
    EXPECT_TRUE(ended_by_itself(result)) << said(result);
    EXPECT_EQ(result.exit_code, 5) << said(result);
    EXPECT_NE(result.err.find("after 6 attempts"), std::string::npos) << said(result);
    EXPECT_NE(result.err.find("push gone/"), std::string::npos) << "should name what it was pushing: " << said(result);
    Content during = target.walk("gone");
    EXPECT_TRUE(during.missing.empty());
    for (const auto& [tag, digest] : during.tags)
      EXPECT_NE(tag.find(".sig"), std::string::npos) << "an image tag was written before its content: " << tag;
    RunResult again = target.push(proxy.host(), "gone", vendor_bundle().path);
    EXPECT_EQ(again.exit_code, 0) << said(again);
    Content c = target.walk("gone", true);
    EXPECT_EQ(c.tags, clean.tags);
    EXPECT_EQ(c.reachable, clean.reachable);
  }
}

TEST(RegistryRestart, MidBuild) {
  const auto& b = vendor_bundle();
  testenv::Registry& upstream = factory().upstream();
  auto build = [&](const std::string& host, const fs::path& out, const fs::path& cache) {
    std::vector<std::string> argv = {testenv::bundle_program(), "build", "--chart", b.chart_dir.string(), "--lock",
                                     b.lock_file.string(), "--key", factory().private_key().string(), "-o",
                                     out.string(), "--cache", cache.string(), "--plain-http", "--stall-timeout",
                                     kStallTimeout, "-q", "--jobs", "2"};
    for (const auto& m : testenv::mirror_flags(host)) argv.push_back(m);
    return testenv::run(argv, {{"COSIGN_PASSWORD", factory().key_password()}}, {}, kHangLimit);
  };
  testenv::TempDir work("sealift-faults-restart");

  for (bool back_soon : {true, false}) {
    SCOPED_TRACE(back_soon ? "back 2 s later" : "gone until the build gave up");
    fs::path out = work / (back_soon ? "soon.tar.zst" : "gone.tar.zst");
    fs::path cache = work / (back_soon ? "cache-soon" : "cache-gone");
    FaultProxy proxy(upstream.port());
    proxy.add(hold_nth("GET", "/blobs/", 3));
    RunResult result;
    std::jthread run([&] { result = build(proxy.host(), out, cache); });
    ASSERT_TRUE(proxy.wait_for_faults(1, kHangLimit));
    upstream.kill();
    if (back_soon) {
      std::this_thread::sleep_for(std::chrono::seconds(2));
      upstream.start();
    }
    run.join();
    if (!back_soon) upstream.start();
    EXPECT_TRUE(ended_by_itself(result)) << said(result);
    if (back_soon) {
      EXPECT_EQ(result.exit_code, 0) << said(result);
    } else {
      EXPECT_EQ(result.exit_code, 5) << said(result);
      EXPECT_NE(result.err.find("after 6 attempts"), std::string::npos) << said(result);
      EXPECT_NE(result.err.find(proxy.host()), std::string::npos) << said(result);
      EXPECT_FALSE(fs::exists(out));
      proxy.clear();
      RunResult again = build(proxy.host(), out, cache);
      EXPECT_EQ(again.exit_code, 0) << said(again);
    }
    // Whatever happened on the way, the bundle holds every blob of the lock, verified.
    ASSERT_TRUE(fs::exists(out));
    RunResult verify = testenv::run({testenv::install_program(), "verify", out.string(), "--key",
                                     factory().public_key().string()});
    EXPECT_EQ(verify.exit_code, 0) << said(verify);
  }
}

}  // namespace
}  // namespace sealift::faults::testing
