// `sealift-bundle build` pulling from the upstream registry through the fault proxy, with an
// Ed25519 key and SOURCE_DATE_EPOCH so that every complete build is byte-identical: each faulted
// build either succeeds through its retries or ends by itself with an error naming what failed
// and no output file; the re-run (same blob cache) then writes exactly the bytes of a clean build.
// Also: the output and the blob cache on a full disk.
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "bundle/archive_reader.h"
#include "bundle/blob_cache.h"
#include "bundle/layout.h"
#include "bundle/resume.h"
#include "harness.h"
#include "oci/digest.h"
#include "util/fs.h"

namespace sealift::faults::testing {
namespace {

const std::map<std::string, std::string> kBuildEnv = {{"COSIGN_PASSWORD", "faults-key-pw"},
                                                      {"SOURCE_DATE_EPOCH", "1767225600"}};

// An Ed25519 signing key (deterministic signatures), made once per process.
const fs::path& ed25519_key() {
  static const fs::path key = [] {
    fs::path dir = factory().dir() / "ed25519";
    fs::create_directories(dir);
    RunResult r = testenv::run({testenv::bundle_program(), "keygen", "--dir", dir.string(), "--key-type", "ed25519"}, kBuildEnv);
    if (r.exit_code != 0) throw std::runtime_error("keygen failed: " + said(r));
    return dir / "cosign.key";
  }();
  return key;
}

std::vector<std::string> build_argv(const std::string& host, const fs::path& out, const fs::path& cache) {
  const auto& b = vendor_bundle();
  std::vector<std::string> argv = {testenv::bundle_program(), "build", "--chart", b.chart_dir.string(), "--lock",
                                   b.lock_file.string(), "--key", ed25519_key().string(), "-o", out.string(), "--cache",
                                   cache.string(), "--plain-http", "--stall-timeout", kStallTimeout, "-q",
                                   // Without SBOMs the layers stream into the archive as they arrive
                                   // (with them, syft needs whole images first): the path under test.
                                   "--sbom", "none"};
  for (const auto& m : testenv::mirror_flags(host)) argv.push_back(m);
  return argv;
}

RunResult build(const std::string& host, const fs::path& out, const fs::path& cache, const std::string& prefix = {}) {
  std::string cmd = prefix.empty() ? "" : prefix;
  std::vector<std::string> argv = build_argv(host, out, cache);
  if (!prefix.empty()) {
    // Through a shell that limits the process first (ulimit).
    for (const auto& a : argv) cmd += " '" + a + "'";
    return testenv::run({"bash", "-c", cmd}, kBuildEnv, {}, kHangLimit);
  }
  return testenv::run(argv, kBuildEnv, {}, kHangLimit);
}

// The bytes of a clean build, straight from the upstream registry.
const std::string& clean_build() {
  static const std::string bytes = [] {
    testenv::TempDir work("sealift-faults-clean");
    RunResult r = build(factory().upstream().host(), work / "clean.tar.zst", work / "cache");
    if (r.exit_code != 0) throw std::runtime_error("the clean build failed: " + said(r));
    return util::read_file(work / "clean.tar.zst");
  }();
  return bytes;
}

// Anything in `dir` but the cache: an output or a temporary file left behind.
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename() != "cache") out.push_back(e.path().filename().string());
  return out;
}

// Every blob file in the cache holds what its name says (nothing unverified, nothing half-written).
void expect_cache_sound(const fs::path& cache) {
  fs::path blobs = cache / "blobs" / "sha256";
  if (!fs::exists(blobs)) return;
  for (const auto& e : fs::directory_iterator(blobs)) {
    std::string name = e.path().filename().string();
    if (name.size() != 64) {
      ADD_FAILURE() << "a stray file in the blob cache: " << e.path();
      continue;
    }
    EXPECT_EQ(oci::Digest::of(util::read_file(e.path())).str(), "sha256:" + name) << e.path();
  }
}

std::vector<std::pair<std::string, uint64_t>> layers_by_size() {
  const auto& b = vendor_bundle();
  bundle::ArchiveReader reader(b.path);
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& image : b.fixtures.images)
    for (const auto& m : image.manifests)
      for (const auto& layer : m.layers) {
        if (std::any_of(out.begin(), out.end(), [&](const auto& l) { return l.first == layer; })) continue;
        if (const bundle::TocEntry* e = reader.find(bundle::blob_path(oci::Digest::parse(layer))))
          out.emplace_back(layer, e->size);
      }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

struct Scenario {
  Scenario(std::string n, std::vector<FaultRule> r, bool must = true, std::vector<std::string> what = {})
      : name(std::move(n)), rules(std::move(r)), must_succeed(must), names(std::move(what)) {}
  std::string name;
  std::vector<FaultRule> rules;
  bool must_succeed = true;
  std::vector<std::string> names;  // when it fails, the error says these
};

FaultRule shaped(FaultRule r, Fault fault, uint64_t after, bool from_body, double stall_s = -1) {
  r.fault = fault;
  r.after_bytes = after;
  r.from_body = from_body;
  r.stall_s = stall_s;
  return r;
}

void run_scenarios(const std::vector<Scenario>& scenarios) {
  const std::string& clean = clean_build();
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < scenarios.size();) {
      const Scenario& s = scenarios[i];
      SCOPED_TRACE(s.name);
      testenv::TempDir work("sealift-faults-build");
      FaultProxy proxy(factory().upstream().port());
      std::vector<int> rules;
      for (const auto& r : s.rules) rules.push_back(proxy.add(r));
      fs::path out = work / "bundle.tar.zst";
      RunResult first = build(proxy.host(), out, work / "cache");
      EXPECT_TRUE(ended_by_itself(first)) << "the build hung: " << said(first);
      for (int r : rules) EXPECT_GE(proxy.faults(r), 1u) << "rule " << r << " never fired; requests: " << proxy.requests();
      if (first.exit_code == 0) {
        EXPECT_TRUE(util::read_file(out) == clean) << "a build that went through faults differs from a clean one";
      } else {
        EXPECT_FALSE(s.must_succeed) << "the retries should have carried the build through: " << said(first)
                                     << "\nthe proxy saw:\n" << proxy_log(proxy);
        for (const auto& n : s.names) EXPECT_NE(first.err.find(n), std::string::npos) << "should name " << n << ": " << said(first);
        EXPECT_EQ(leftovers(work.path()), std::vector<std::string>{}) << "a failed build left files behind";
      }
      expect_cache_sound(work / "cache");
      proxy.clear();
      fs::remove(out);
      RunResult again = build(proxy.host(), out, work / "cache");
      ASSERT_EQ(again.exit_code, 0) << said(again);
      EXPECT_TRUE(util::read_file(out) == clean) << "the re-run's bundle differs from a clean build";
    }
  };
  std::vector<std::jthread> workers;
  for (int w = 0; w < 6; ++w) workers.emplace_back(worker);
  for (auto& w : workers) w.join();
}

TEST(BuildFaults, EachFaultKindAtSeveralPoints) {
  auto layers = layers_by_size();
  ASSERT_GE(layers.size(), 3u);
  const auto& [big, big_size] = layers[0];
  const auto& [second, second_size] = layers[1];
  FaultRule blob_get;
  blob_get.method = "GET";
  blob_get.path_part = "/blobs/" + big;
  FaultRule second_get = blob_get;
  second_get.path_part = "/blobs/" + second;
  FaultRule manifest_get;
  manifest_get.method = "GET";
  manifest_get.path_part = "/manifests/";
  auto nth = [](FaultRule r, int n) {
    r.nth = n;
    return r;
  };
  auto times = [](FaultRule r, int t) {
    r.times = t;
    return r;
  };
  FaultRule too_many = FaultRule::respond("GET", "/blobs/", 429, 2);
  too_many.retry_after = "1";
  std::vector<Scenario> scenarios = {
      {"drop the largest layer's download half-way", {shaped(blob_get, Fault::DropResponse, big_size / 2, true)}},
      {"drop the largest layer's download right after its head, twice",
       {times(shaped(blob_get, Fault::DropResponse, 0, true), 2)}},
      {"drop the second layer's request before it reaches the registry", {shaped(second_get, Fault::DropRequest, 0, false)}},
      {"drop the first manifest request", {shaped(manifest_get, Fault::DropRequest, 0, false)}},
      {"drop the third manifest's answer mid-body", {nth(shaped(manifest_get, Fault::DropResponse, 50, true), 3)}},
      {"stall the largest layer's download half-way, for good",
       {shaped(blob_get, Fault::StallResponse, big_size / 2, true)}},
      {"stall the second layer's answer before its head, for good", {shaped(second_get, Fault::StallResponse, 0, false)}},
      {"stall every blob answer for 1 s (below the stall timeout)",
       {times(shaped(FaultRule::respond("GET", "/blobs/", 0), Fault::StallResponse, 0, false, 1), -1)}},
      {"slow the largest layer's download to 256 KiB/s",
       {[&] {
         FaultRule r = blob_get;
         r.fault = Fault::Slow;
         r.bytes_per_s = 256 << 10;
         return r;
       }()}},
      {"500 on the first manifest", {FaultRule::respond("GET", "/manifests/", 500)}},
      {"500 on the largest layer, three times", {FaultRule::respond("GET", "/blobs/" + big, 500, 3)}},
      {"429 with Retry-After on two blob downloads", {too_many}},
      {"502 on the fluent-bit index, twice", {FaultRule::respond("GET", "fluent/fluent-bit/manifests/", 502, 2)}},
      {"502 on the second layer", {FaultRule::respond("GET", "/blobs/" + second, 502)}},
  };
  run_scenarios(scenarios);
}

TEST(BuildFaults, PermanentFaultsEndWithAClearErrorAndNoBundle) {
  auto layers = layers_by_size();
  const std::string big = layers[0].first;
  FaultRule stall = FaultRule::respond("GET", "/blobs/" + big, 0, -1);
  stall.fault = Fault::StallResponse;
  std::vector<Scenario> scenarios = {
      {"502 on every download of the largest layer", {FaultRule::respond("GET", "/blobs/" + big, 502, -1)}, false,
       {big, "502", "after 6 attempts"}},
      {"500 on every manifest", {FaultRule::respond("GET", "/manifests/", 500, -1)}, false, {"500", "after 6 attempts"}},
      {"the largest layer's answer stalled for good", {stall}, false, {big, "timed out", "after 6 attempts"}},
  };
  run_scenarios(scenarios);
}

// Disk full: on a cold start (the bundle file or the blob cache, whichever the streamed layers fill
// first; tests/build covers the bundle file with a warm cache), and the bundle file itself.
// RLIMIT_FSIZE with SIGXFSZ ignored makes writes past the limit fail with EFBIG, as they would with
// ENOSPC.
TEST(BuildFaults, DiskFullLeavesNoBundleAndNoHalfWrittenCacheEntry) {
  const std::string& clean = clean_build();
  auto layers = layers_by_size();
  uint64_t limit_kib = std::max<uint64_t>(layers[0].second / 2048, 4);
  testenv::TempDir work("sealift-faults-disk");
  fs::path out = work / "bundle.tar.zst";
  RunResult cold =
      build(factory().upstream().host(), out, work / "cache", "trap '' XFSZ; ulimit -f " + std::to_string(limit_kib) + "; exec");
  EXPECT_TRUE(ended_by_itself(cold)) << said(cold);
  EXPECT_NE(cold.exit_code, 0) << said(cold);
  EXPECT_NE(cold.err.find("File too large"), std::string::npos) << "should say why: " << said(cold);
  // Layers stream into the bundle; only what arrives out of order goes to the cache: either file
  // may hit the limit first, and the message names the one that did.
  EXPECT_TRUE(cold.err.find((work / "cache").string()) != std::string::npos ||
              cold.err.find(out.string()) != std::string::npos)
      << "should name the file: " << said(cold);
  EXPECT_EQ(leftovers(work.path()), std::vector<std::string>{});
  expect_cache_sound(work / "cache");

  // With the cache warm, the bundle file hits the limit: the limit is now below its size and above
  // any one blob.
  ASSERT_EQ(build(factory().upstream().host(), work / "warm.tar.zst", work / "cache").exit_code, 0);
  fs::remove(work / "warm.tar.zst");
  uint64_t below = std::max<uint64_t>(clean.size() / 2048, 4);
  RunResult full =
      build(factory().upstream().host(), out, work / "cache", "trap '' XFSZ; ulimit -f " + std::to_string(below) + "; exec");
  EXPECT_NE(full.exit_code, 0) << said(full);
  EXPECT_NE(full.err.find(out.filename().string()), std::string::npos) << said(full);
  EXPECT_EQ(leftovers(work.path()), std::vector<std::string>{});

  RunResult again = build(factory().upstream().host(), out, work / "cache");
  ASSERT_EQ(again.exit_code, 0) << said(again);
  EXPECT_TRUE(util::read_file(out) == clean);
}

// The blobs a cache directory holds (complete files named by their digest).
std::set<std::string> cached_blobs(const fs::path& cache) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cache / "blobs" / "sha256", ec))
    if (e.path().filename().string().size() == 64) out.insert("sha256:" + e.path().filename().string());
  return out;
}

// Digests of the blobs GET through the proxy from log entry `from` on.
std::set<std::string> fetched_blobs(const FaultProxy& proxy, size_t from) {
  std::set<std::string> out;
  auto log = proxy.log();
  for (size_t i = from; i < log.size(); ++i) {
    auto at = log[i].path.find("/blobs/sha256:");
    if (log[i].method == "GET" && at != std::string::npos) out.insert(log[i].path.substr(at + 7, 71));
  }
  return out;
}

// The build streams blobs into the archive without caching them, so what a build holds when it is
// interrupted is the cache plus its unfinished bundle. Killed (SIGKILL, no clean-up at all) or
// failed (the largest layer refused for good), the next build downloads none of what the first
// one held, and writes the bytes of a clean build.
TEST(BuildFaults, AnInterruptedBuildResumesWithoutDownloadingWhatItHolds) {
  const std::string& clean = clean_build();
  auto layers = layers_by_size();
  const auto& [big, big_size] = layers[0];
  FaultRule big_get;
  big_get.method = "GET";
  big_get.path_part = "/blobs/" + big;
  for (bool killed : {true, false}) {
    SCOPED_TRACE(killed ? "killed while the largest layer stalls" : "failed on the largest layer");
    testenv::TempDir work("sealift-faults-resume");
    fs::path out = work / "bundle.tar.zst", cache = work / "cache";
    FaultProxy proxy(factory().upstream().port());
    std::set<std::string> held;
    if (killed) {
      FaultRule stall = shaped(big_get, Fault::StallResponse, big_size / 2, true);
      stall.times = -1;  // the retries (with a Range from where the stall began) stall too
      proxy.add(stall);
      testenv::TempDir logs("sealift-faults-resume-log");
      testenv::Process first(build_argv(proxy.host(), out, cache), logs / "first.log", kBuildEnv);
      ASSERT_TRUE(proxy.wait_for_faults(1, kHangLimit));
      // The transfers released beside the stalled one finish; the writer waits on the stall.
      std::this_thread::sleep_for(std::chrono::seconds(2));
      ASSERT_TRUE(first.running()) << first.log_tail();
      first.kill();
      std::vector<fs::path> left;
      std::string seen;
      for (const auto& e : fs::directory_iterator(work.path())) {
        seen += " " + e.path().filename().string();
        if (e.path().filename().string().starts_with(".bundle.tar.zst.tmp-")) left.push_back(e.path());
      }
      ASSERT_EQ(left.size(), 1u) << "the killed build's unfinished bundle; found:" << seen;
      // What it holds: its cache, and the complete blobs of its unfinished bundle (read into a
      // cache of the test's own, so that the build under test finds the file untouched).
      held = cached_blobs(cache);
      testenv::TempDir probe("sealift-faults-probe");
      bundle::BlobCache probe_cache(probe.path());
      bundle::Harvest h = bundle::harvest_archive(left, probe_cache);
      for (const auto& d : cached_blobs(probe.path())) held.insert(d);
      EXPECT_GT(h.blobs, 0u) << "the unfinished bundle held no complete blob: nothing was streamed";
    } else {
      proxy.add(FaultRule::respond("GET", "/blobs/" + big, 502, -1));
      RunResult first = build(proxy.host(), out, cache);
      ASSERT_NE(first.exit_code, 0) << said(first);
      EXPECT_NE(first.err.find(big), std::string::npos) << said(first);
      EXPECT_EQ(leftovers(work.path()), std::vector<std::string>{}) << "the failed build left files behind";
      expect_cache_sound(cache);
      held = cached_blobs(cache);
    }
    EXPECT_EQ(held.count(big), 0u);
    EXPECT_GE(held.size(), 2u) << "the first build held almost nothing: the test proves nothing";
    proxy.clear();
    size_t from = proxy.log().size();
    RunResult again = build(proxy.host(), out, cache);
    ASSERT_EQ(again.exit_code, 0) << said(again);
    EXPECT_TRUE(util::read_file(out) == clean) << "the resumed build differs from a clean build";
    std::set<std::string> fetched = fetched_blobs(proxy, from);
    EXPECT_EQ(fetched.count(big), 1u) << "the largest layer was never complete: it must be fetched";
    for (const auto& d : fetched) EXPECT_EQ(held.count(d), 0u) << d << " was held, yet downloaded again";
    EXPECT_EQ(leftovers(work.path()), std::vector<std::string>{"bundle.tar.zst"}) << "the leftover was not removed";
    expect_cache_sound(cache);
  }
}

}  // namespace
}  // namespace sealift::faults::testing
