// `sealift-bundle build` against a real registry holding the fixture images, checked with the
// tools a customer would use instead of sealift: GNU tar + zstd, skopeo, umoci and cosign.
#include <gtest/gtest.h>

#include <set>

#include "bundle/archive_reader.h"
#include "bundle/layout.h"
#include "bundle/root.h"
#include "env/fixture_lock.h"
#include "env/fixtures.h"
#include "env/process.h"
#include "env/registry.h"
#include "oci/digest.h"
#include "util/fs.h"

namespace sealift {
namespace {

namespace fs = std::filesystem;
using testenv::run;

const std::map<std::string, std::string> kPassword = {{"COSIGN_PASSWORD", "bundle-key-pw"},
                                                      {"SOURCE_DATE_EPOCH", "1767225600"}};

class BuildTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testenv::TempDir("sealift-build");
    upstream_ = new testenv::Registry();
    release1_ = new testenv::FixtureSet(testenv::push_fixtures(*upstream_, {.scale = "0.01"}));
    release2_ = new testenv::FixtureSet(testenv::push_fixtures(*upstream_, {.scale = "0.01", .release = 2, .only = {"backend"}}));
    testenv::fixture_lock(*release1_).save(*dir_ / "images.lock");
    auto lock2 = testenv::fixture_lock(*release1_);
    testenv::relock_image(lock2, "backend", release2_->image("backend"));
    lock2.save(*dir_ / "images-2.lock");
    for (const char* type : {"ecdsa-p256", "ed25519"}) {
      fs::create_directories(*dir_ / type);
      auto r = run({testenv::bundle_program(), "keygen", "--dir", (*dir_ / type).string(), "--key-type", type}, kPassword);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  static void TearDownTestSuite() {
    delete release2_;
    delete release1_;
    delete upstream_;
    delete dir_;
  }

  // Runs a build; returns the result of the program.
  testenv::RunResult build(const fs::path& out, std::vector<std::string> extra = {}, const std::string& key = "ecdsa-p256",
                           const std::string& lock = "images.lock", std::map<std::string, std::string> env = kPassword) {
    std::vector<std::string> argv = {testenv::bundle_program(), "build", "-o", out.string(), "--chart",
                                     (testenv::source_dir() / "chart").string(), "--lock", (*dir_ / lock).string(),
                                     "--key", (*dir_ / key / "cosign.key").string(), "--plain-http", "--quiet"};
    for (auto& m : testenv::mirror_flags(upstream_->host())) argv.push_back(m);
    for (auto& e : extra) argv.push_back(e);
    if (std::find(extra.begin(), extra.end(), "--cache") == extra.end()) {
      argv.push_back("--cache");
      argv.push_back((*dir_ / "cache").string());
    }
    return run(argv, env);
  }

  static std::set<std::string> blob_entries(const fs::path& bundle) {
    bundle::ArchiveReader r(bundle);
    std::set<std::string> out;
    for (const auto& e : r.entries())
      if (bundle::blob_digest(e.name)) out.insert(e.name);
    return out;
  }

  static bool leftovers(const fs::path& dir) {
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().filename().string().find("out") != std::string::npos ||
          e.path().filename().string().find(".tmp") != std::string::npos)
        return true;
    return false;
  }

  static testenv::TempDir* dir_;
  static testenv::Registry* upstream_;
  static testenv::FixtureSet* release1_;
  static testenv::FixtureSet* release2_;
};

testenv::TempDir* BuildTest::dir_;
testenv::Registry* BuildTest::upstream_;
testenv::FixtureSet* BuildTest::release1_;
testenv::FixtureSet* BuildTest::release2_;

TEST_F(BuildTest, StandardToolsReadTheBundle) {
  testenv::TempDir work("sealift-build-read");
  fs::path bundle = work / "b.tar.zst";
  auto r = build(bundle);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // Plain tar + zstd gives an OCI layout.
  fs::path x = work / "x";
  fs::create_directories(x);
  auto t = run({"tar", "--zstd", "-xf", bundle.string(), "-C", x.string()});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  for (const char* f : {"oci-layout", "index.json", "sealift.json", "sealift.json.sig"}) EXPECT_TRUE(fs::exists(x / f)) << f;

  // cosign verifies the signed root with the vendor's public key.
  auto c = run({testenv::peer("cosign"), "verify-blob", "--key", (*dir_ / "ecdsa-p256" / "cosign.pub").string(),
                "--signature", (x / "sealift.json.sig").string(), "--insecure-ignore-tlog=true",
                (x / "sealift.json").string()},
               {{"HOME", work.path().string()}});
  EXPECT_EQ(c.exit_code, 0) << c.err;

  // skopeo reads every image from the layout by its source reference, with the upstream digest.
  for (const auto& img : release1_->images) {
    if (img.name == "alpine" || img.name == "debian" || img.name == "nginx" || img.name == "python") continue;
    // Debian 12's skopeo (containers/image 5.23) resolves only OCI-typed index.json entries; the
    // bundle keeps Docker manifest lists byte for byte, so those are checked through the reader.
    if (img.media_type != "application/vnd.oci.image.index.v1+json") {
      bundle::ArchiveReader reader(bundle);
      EXPECT_EQ(oci::Digest::of(reader.read_small(bundle::blob_path(oci::Digest::parse(img.digest)))).str(), img.digest);
      continue;
    }
    auto s = run({"skopeo", "inspect", "--raw", "oci:" + x.string() + ":" + img.source});
    ASSERT_EQ(s.exit_code, 0) << img.source << ": " << s.err;
    EXPECT_EQ(oci::Digest::of(s.out).str(), img.digest) << img.source;
  }

  // skopeo copies one out again, reproducing the upstream digest; umoci unpacks a platform image.
  const auto& pg = release1_->image("postgres");
  fs::path copy = work / "copy";
  auto cp = run({"skopeo", "copy", "--all", "--preserve-digests", "oci:" + x.string() + ":" + pg.source,
                 "oci:" + copy.string() + ":pg"});
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  auto raw = run({"skopeo", "inspect", "--raw", "oci:" + copy.string() + ":pg"});
  EXPECT_EQ(oci::Digest::of(raw.out).str(), pg.digest);
  auto one = run({"skopeo", "copy", "--override-arch", "arm64", "oci:" + x.string() + ":" + pg.source,
                  "oci:" + (work / "pg-arm64").string() + ":1"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto u = run({"umoci", "unpack", "--rootless", "--image", (work / "pg-arm64").string() + ":1",
                (work / "rootfs-bundle").string()});
  EXPECT_EQ(u.exit_code, 0) << u.err;
  EXPECT_TRUE(fs::exists(work / "rootfs-bundle" / "rootfs"));
}

TEST_F(BuildTest, Ed25519BuildsAreByteIdentical) {
  testenv::TempDir work("sealift-build-repro");
  auto a = build(work / "a.tar.zst", {}, "ed25519");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  // A cold cache the second time: reproducibility must not depend on what was cached.
  auto b = build(work / "b.tar.zst", {"--cache", (work / "cache2").string()}, "ed25519");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(util::read_file(work / "a.tar.zst"), util::read_file(work / "b.tar.zst"));
}

TEST_F(BuildTest, EcdsaBuildsDifferOnlyInSignatures) {
  testenv::TempDir work("sealift-build-ecdsa");
  ASSERT_EQ(build(work / "a.tar.zst").exit_code, 0);
  ASSERT_EQ(build(work / "b.tar.zst").exit_code, 0);
  bundle::ArchiveReader a(work / "a.tar.zst"), b(work / "b.tar.zst");
  // Every image manifest, config and layer is the same; what differs is signature material only.
  auto root_a = bundle::Root::parse(a.read_small("sealift.json"));
  auto root_b = bundle::Root::parse(b.read_small("sealift.json"));
  ASSERT_EQ(root_a.images.size(), root_b.images.size());
  for (size_t i = 0; i < root_a.images.size(); ++i) EXPECT_EQ(root_a.images[i].digest, root_b.images[i].digest);
  std::set<std::string> signature_blobs;
  for (const auto* r : {&root_a, &root_b}) {
    for (const auto& img : r->images) signature_blobs.insert(bundle::blob_path(img.signature));
    signature_blobs.insert(bundle::blob_path(r->chart.signature));
  }
  std::set<std::string> only_a, only_b;
  auto ea = blob_entries(work / "a.tar.zst"), eb = blob_entries(work / "b.tar.zst");
  std::set_difference(ea.begin(), ea.end(), eb.begin(), eb.end(), std::inserter(only_a, only_a.end()));
  std::set_difference(eb.begin(), eb.end(), ea.begin(), ea.end(), std::inserter(only_b, only_b.end()));
  // Each differing blob is a signature manifest, or the payload/config it references.
  for (const auto* diff : {&only_a, &only_b}) {
    for (const auto& name : *diff) {
      const bundle::ArchiveReader& r = diff == &only_a ? a : b;
      std::string content = r.read_small(name);
      bool sig_manifest = signature_blobs.count(name) > 0;
      bool sig_config = content.find("\"rootfs\":{\"type\":\"layers\"") != std::string::npos &&
                        content.find("\"architecture\":\"\"") != std::string::npos;
      EXPECT_TRUE(sig_manifest || sig_config) << name << " differs between two builds: " << content.substr(0, 200);
    }
  }
  EXPECT_FALSE(only_a.empty());  // ECDSA signatures use fresh nonces
}

TEST_F(BuildTest, DeltaCarriesOnlyWhatTheBaseLacks) {
  testenv::TempDir work("sealift-build-delta");
  fs::path base = work / "v1.tar.zst", full = work / "v2.tar.zst", delta = work / "v2-delta.tar.zst";
  ASSERT_EQ(build(base).exit_code, 0);
  // Ed25519: deterministic signatures, so the full and the delta bundle sign identically.
  ASSERT_EQ(build(full, {}, "ed25519", "images-2.lock").exit_code, 0);
  auto d = build(delta, {"--base", base.string()}, "ed25519", "images-2.lock");
  ASSERT_EQ(d.exit_code, 0) << d.err;

  bundle::ArchiveReader dr(delta);
  auto root = bundle::Root::parse(dr.read_small("sealift.json"));
  ASSERT_TRUE(root.base.has_value());
  EXPECT_EQ(root.base->root, oci::Digest::of(bundle::ArchiveReader(base).read_small("sealift.json")));

  auto base_blobs = blob_entries(base), full_blobs = blob_entries(full), delta_blobs = blob_entries(delta);
  std::set<std::string> omitted;
  for (const auto& o : root.omitted_blobs) omitted.insert(bundle::blob_path(o));
  for (const auto& o : omitted) EXPECT_TRUE(base_blobs.count(o)) << o << " omitted but not in the base";
  // delta + base = the full set of blobs.
  for (const auto& f : full_blobs) {
    bool in_delta = delta_blobs.count(f) > 0;
    bool covered = in_delta || (omitted.count(f) && base_blobs.count(f));
    EXPECT_TRUE(covered) << f << " is neither in the delta nor carried by the base";
  }
  // Only the backend's changed layer is new data: the delta is a small fraction of the full bundle.
  auto full_size = fs::file_size(full), delta_size = fs::file_size(delta);
  EXPECT_LT(delta_size * 5, full_size) << "delta " << delta_size << " vs full " << full_size;
}

TEST_F(BuildTest, SplitPartsAreReadInPlace) {
  testenv::TempDir work("sealift-build-split");
  ASSERT_EQ(build(work / "whole.tar.zst", {}, "ed25519").exit_code, 0);
  auto r = build(work / "split.tar.zst", {"--split-size", "2M"}, "ed25519");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(work / "split.tar.zst"));
  ASSERT_TRUE(fs::exists(work / "split.tar.zst.000"));
  ASSERT_TRUE(fs::exists(work / "split.tar.zst.001"));
  // The checksum file is sha256sum's format, with names relative to its directory.
  auto check = run({"sh", "-c", "cd '" + work.path().string() + "' && sha256sum -c --quiet split.tar.zst.sha256"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  bundle::ArchiveReader whole(work / "whole.tar.zst"), parts(work / "split.tar.zst.000");
  ASSERT_EQ(whole.entries().size(), parts.entries().size());
  for (const auto& e : whole.entries()) {
    if (e.size > (64 << 20)) continue;
    EXPECT_EQ(whole.read_small(e.name, 64 << 20), parts.read_small(e.name, 64 << 20)) << e.name;
  }
}

TEST_F(BuildTest, FailuresLeaveNoBundleBehind) {
  testenv::TempDir work("sealift-build-fail");
  fs::path out = work / "out.tar.zst";

  // Wrong password.
  auto env = kPassword;
  env["COSIGN_PASSWORD"] = "not-the-password";
  auto r = build(out, {}, "ecdsa-p256", "images.lock", env);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("password"), std::string::npos) << r.err;
  EXPECT_FALSE(leftovers(work.path()));

  // Missing key.
  auto m = run({testenv::bundle_program(), "build", "-o", out.string(), "--lock", (*dir_ / "images.lock").string(),
                "--chart", (testenv::source_dir() / "chart").string(), "--key", (work / "nope.key").string()},
               kPassword);
  EXPECT_NE(m.exit_code, 0);
  EXPECT_NE(m.err.find("nope.key"), std::string::npos) << m.err;
  EXPECT_FALSE(leftovers(work.path()));

  // Unreachable registry: the error names it.
  int dead = testenv::free_port();
  std::vector<std::string> argv = {testenv::bundle_program(), "build", "-o", out.string(), "--chart",
                                   (testenv::source_dir() / "chart").string(), "--lock", (*dir_ / "images.lock").string(),
                                   "--key", (*dir_ / "ecdsa-p256" / "cosign.key").string(), "--plain-http", "--quiet",
                                   "--cache", (work / "cache").string()};
  for (auto& f : testenv::mirror_flags("127.0.0.1:" + std::to_string(dead))) argv.push_back(f);
  auto u = run(argv, kPassword, {}, 300);
  EXPECT_NE(u.exit_code, 0);
  EXPECT_NE(u.err.find("127.0.0.1:" + std::to_string(dead)), std::string::npos) << u.err;
  EXPECT_FALSE(leftovers(work.path()));

  // Disk full: the output file may not grow past 1 MiB (RLIMIT_FSIZE, SIGXFSZ ignored, so the
  // write fails with EFBIG like it would with ENOSPC). A warm blob cache first, so that the limit
  // hits the bundle rather than a cache file (each test may run in a process of its own).
  ASSERT_EQ(build(work / "warm.tar.zst").exit_code, 0);
  fs::remove(work / "warm.tar.zst");
  std::string cmd = "trap '' XFSZ; ulimit -f 1024; exec";
  for (const auto& a : std::vector<std::string>{testenv::bundle_program(), "build", "-o", out.string(), "--chart",
                                                (testenv::source_dir() / "chart").string(), "--lock",
                                                (*dir_ / "images.lock").string(), "--key",
                                                (*dir_ / "ecdsa-p256" / "cosign.key").string(), "--plain-http",
                                                "--quiet", "--cache", (*dir_ / "cache").string()})
    cmd += " '" + a + "'";
  for (auto& f : testenv::mirror_flags(upstream_->host())) cmd += " '" + f + "'";
  auto full = run({"bash", "-c", cmd}, kPassword);
  EXPECT_NE(full.exit_code, 0);
  EXPECT_NE(full.err.find(out.filename().string()), std::string::npos) << full.err;
  EXPECT_FALSE(leftovers(work.path()));
}

TEST_F(BuildTest, CorruptUpstreamBlobIsRefused) {
  // Damage one layer inside the upstream registry's own storage: it then serves bytes that do not
  // match their digest, and the build must refuse them.
  testenv::Registry upstream;
  auto fx = testenv::push_fixtures(upstream, {.scale = "0.01", .only = {"redis"}});
  const auto& redis = fx.image("redis");
  std::string layer = redis.platform("linux/amd64").layers.back();
  fs::path data = upstream.storage() / "docker/registry/v2/blobs/sha256" / layer.substr(7, 2) / layer.substr(7) / "data";
  ASSERT_TRUE(fs::exists(data)) << data;
  std::string bytes = util::read_file(data);
  bytes[bytes.size() / 2] ^= 0x01;
  util::write_file_atomic(data, bytes);

  testenv::TempDir work("sealift-build-corrupt");
  auto lock = testenv::fixture_lock(*release1_);
  testenv::relock_image(lock, "redis", redis);
  lock.images.erase(std::remove_if(lock.images.begin(), lock.images.end(),
                                   [](const lock::LockedImage& i) { return i.name != "redis"; }),
                    lock.images.end());
  lock.save(work / "images.lock");
  std::vector<std::string> argv = {testenv::bundle_program(), "build", "-o", (work / "out.tar.zst").string(),
                                   "--chart", (testenv::source_dir() / "chart").string(), "--lock",
                                   (work / "images.lock").string(), "--key",
                                   (*dir_ / "ecdsa-p256" / "cosign.key").string(), "--plain-http", "--quiet",
                                   "--cache", (work / "cache").string()};
  for (auto& f : testenv::mirror_flags(upstream.host())) argv.push_back(f);
  auto r = run(argv, kPassword, {}, 300);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(layer), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(work / "out.tar.zst"));
  // Nothing unverified was kept in the cache either.
  EXPECT_FALSE(fs::exists(work / "cache" / "blobs" / "sha256" / layer.substr(7)));
}

TEST_F(BuildTest, SerialAndParallelPullsGiveTheSameBundle) {
  // All images' blobs in flight at once, the archive written as they arrive: the bundle must not
  // depend on the order they arrive in. Ed25519 signs deterministically; cold caches both times.
  testenv::TempDir work("sealift-build-parallel");
  auto serial = build(work / "serial.tar.zst", {"--jobs", "1", "--cache", (work / "c1").string()}, "ed25519");
  ASSERT_EQ(serial.exit_code, 0) << serial.err;
  auto parallel = build(work / "parallel.tar.zst", {"--jobs", "16", "--cache", (work / "c2").string()}, "ed25519");
  ASSERT_EQ(parallel.exit_code, 0) << parallel.err;
  EXPECT_EQ(util::read_file(work / "serial.tar.zst"), util::read_file(work / "parallel.tar.zst"));
  // The stored (gzip) layers are standard zstd frames with checksums.
  auto t = run({"zstd", "-q", "-t", (work / "parallel.tar.zst").string()});
  EXPECT_EQ(t.exit_code, 0) << t.err;
}

TEST_F(BuildTest, CachedBlobDamagedBetweenRunsIsFetchedAgain) {
  testenv::TempDir work("sealift-build-cache-damage");
  fs::path cache = work / "cache";
  auto a = build(work / "a.tar.zst", {"--cache", cache.string()}, "ed25519");
  ASSERT_EQ(a.exit_code, 0) << a.err;

  // Flip one byte of a cached layer, keeping its size: only its hash can tell.
  std::string layer = release1_->image("redis").platform("linux/amd64").layers.back();
  fs::path cached = cache / "blobs" / "sha256" / layer.substr(7);
  ASSERT_TRUE(fs::exists(cached)) << cached;
  std::string bytes = util::read_file(cached);
  bytes[bytes.size() / 2] ^= 0x01;
  util::write_file_atomic(cached, bytes);

  auto b = build(work / "b.tar.zst", {"--cache", cache.string()}, "ed25519");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(util::read_file(work / "a.tar.zst"), util::read_file(work / "b.tar.zst"));
  // The damaged file was replaced by the fetched, verified layer.
  EXPECT_EQ(oci::Digest::of(util::read_file(cached)).str(), layer);
}

TEST_F(BuildTest, AFailingBlobInOneImageStopsTheWholeBuild) {
  // Every image pulled at once from an upstream where one layer of one image is damaged: the
  // build stops with an error naming that layer, and leaves no bundle behind.
  testenv::Registry upstream;
  auto fx = testenv::push_fixtures(upstream, {.scale = "0.01"});
  std::string layer = fx.image("redis").platform("linux/amd64").layers.back();
  fs::path data = upstream.storage() / "docker/registry/v2/blobs/sha256" / layer.substr(7, 2) / layer.substr(7) / "data";
  ASSERT_TRUE(fs::exists(data)) << data;
  std::string bytes = util::read_file(data);
  bytes[bytes.size() / 3] ^= 0x01;
  util::write_file_atomic(data, bytes);

  testenv::TempDir work("sealift-build-failing-blob");
  testenv::fixture_lock(fx).save(work / "images.lock");
  std::vector<std::string> argv = {testenv::bundle_program(), "build", "-o", (work / "out.tar.zst").string(),
                                   "--chart", (testenv::source_dir() / "chart").string(), "--lock",
                                   (work / "images.lock").string(), "--key",
                                   (*dir_ / "ecdsa-p256" / "cosign.key").string(), "--plain-http", "--quiet",
                                   "--cache", (work / "cache").string()};
  for (auto& f : testenv::mirror_flags(upstream.host())) argv.push_back(f);
  auto r = run(argv, kPassword, {}, 300);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(layer), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("not started"), std::string::npos) << r.err;
  EXPECT_FALSE(leftovers(work.path()));
  EXPECT_FALSE(fs::exists(work / "cache" / "blobs" / "sha256" / layer.substr(7)));
}

}  // namespace
}  // namespace sealift
