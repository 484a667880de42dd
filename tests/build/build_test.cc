// `sealift-bundle build` against a real registry holding the fixture images, checked with the
// tools a customer would use instead of sealift: GNU tar + zstd, skopeo, umoci and cosign.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "bundle/archive_reader.h"
#include "bundle/blob_cache.h"
#include "bundle/build.h"
#include "bundle/layout.h"
#include "bundle/resume.h"
#include "bundle/root.h"
#include "env/fixture_lock.h"
#include "env/fixtures.h"
#include "env/process.h"
#include "env/softhsm.h"
#include "env/registry.h"
#include "oci/digest.h"
#include "sign/key.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/progress.h"

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

  // The command line of a build of the chart with `lock_file`, signed with `key`, pulling from
  // `upstream` (the fixtures' sources mirrored there).
  static std::vector<std::string> build_argv(const fs::path& out, const fs::path& lock_file, const std::string& upstream,
                                             const std::string& key = "ecdsa-p256") {
    std::vector<std::string> argv = {testenv::bundle_program(), "build", "-o", out.string(), "--chart",
                                     (testenv::source_dir() / "chart").string(), "--lock", lock_file.string(),
                                     "--key", (*dir_ / key / "cosign.key").string(), "--plain-http", "--quiet"};
    for (auto& m : testenv::mirror_flags(upstream)) argv.push_back(m);
    return argv;
  }

  // Runs a build; returns the result of the program.
  testenv::RunResult build(const fs::path& out, std::vector<std::string> extra = {}, const std::string& key = "ecdsa-p256",
                           const std::string& lock = "images.lock", std::map<std::string, std::string> env = kPassword) {
    std::vector<std::string> argv = build_argv(out, *dir_ / lock, upstream_->host(), key);
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
    for (const auto& img : r->images) {
      signature_blobs.insert(bundle::blob_path(img.signature));
      signature_blobs.insert(bundle::blob_path(img.referrer));
      // SBOM attestations are signed too (there when syft is on PATH: --sbom auto).
      for (const auto& d : img.sboms) signature_blobs.insert(bundle::blob_path(d));
    }
    signature_blobs.insert(bundle::blob_path(r->chart.signature));
    signature_blobs.insert(bundle::blob_path(r->chart.referrer));
  }
  std::set<std::string> only_a, only_b;
  auto ea = blob_entries(work / "a.tar.zst"), eb = blob_entries(work / "b.tar.zst");
  std::set_difference(ea.begin(), ea.end(), eb.begin(), eb.end(), std::inserter(only_a, only_a.end()));
  std::set_difference(eb.begin(), eb.end(), ea.begin(), ea.end(), std::inserter(only_b, only_b.end()));
  // Each differing blob is a signature or attestation manifest (either form), the config of a .sig,
  // or a Sigstore bundle.
  for (const auto* diff : {&only_a, &only_b}) {
    for (const auto& name : *diff) {
      const bundle::ArchiveReader& r = diff == &only_a ? a : b;
      std::string content = r.read_small(name);
      bool sig_manifest = signature_blobs.count(name) > 0;
      bool sig_config = content.find("\"rootfs\":{\"type\":\"layers\"") != std::string::npos &&
                        content.find("\"architecture\":\"\"") != std::string::npos;
      bool sigstore_bundle = content.find("\"dsseEnvelope\"") != std::string::npos;
      EXPECT_TRUE(sig_manifest || sig_config || sigstore_bundle) << name << " differs between two builds: " << content.substr(0, 200);
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
  // write fails with EFBIG like it would with ENOSPC). A complete blob cache first, so that the
  // limit hits the bundle rather than a cache file (each test may run in a process of its own), and
  // no SBOMs (syft's own scratch files would meet the limit first). A build streams most layers
  // into its bundle without caching them, so the cache is filled from a finished bundle, the way a
  // resumed build reads back an unfinished one.
  ASSERT_EQ(build(work / "warm.tar.zst").exit_code, 0);
  {
    bundle::BlobCache cache(*dir_ / "cache");
    bundle::harvest_archive({work / "warm.tar.zst"}, cache);
  }
  fs::remove(work / "warm.tar.zst");
  std::string cmd = "trap '' XFSZ; ulimit -f 1024; exec";
  for (const auto& a : std::vector<std::string>{testenv::bundle_program(), "build", "-o", out.string(), "--chart",
                                                (testenv::source_dir() / "chart").string(), "--lock",
                                                (*dir_ / "images.lock").string(), "--key",
                                                (*dir_ / "ecdsa-p256" / "cosign.key").string(), "--plain-http",
                                                "--quiet", "--cache", (*dir_ / "cache").string(), "--sbom", "none"})
    cmd += " '" + a + "'";
  for (auto& f : testenv::mirror_flags(upstream_->host())) cmd += " '" + f + "'";
  auto full = run({"bash", "-c", cmd}, kPassword);
  EXPECT_NE(full.exit_code, 0);
  EXPECT_NE(full.err.find(out.filename().string()), std::string::npos) << full.err;
  EXPECT_FALSE(leftovers(work.path()));
}

// The vendor's key in a PKCS#11 token (SoftHSM2): `public-key` exports cosign.pub, the build
// signs everything through the token, and the customer's verify and cosign (v2 and v3) accept
// it; a wrong PIN or an RSA key stop the build before anything is pulled, leaving no file.
TEST_F(BuildTest, AKeyInAPkcs11TokenSignsTheBundle) {
  testenv::TempDir work("sealift-build-pkcs11");
  testenv::SoftHsm hsm;
  const fs::path openssl_pub = hsm.import_key("vendor-2026", "P-256", "2026");
  hsm.import_key("rsa", "RSA", "0bad");
  const std::vector<std::string> token = {"--pkcs11-module", testenv::SoftHsm::kModule, "--pin-file",
                                          hsm.pin_file().string()};
  auto with_key = [&](std::vector<std::string> argv, const std::string& key) {
    auto at = std::find(argv.begin(), argv.end(), "--key");
    *(at + 1) = key;
    argv.insert(argv.end(), token.begin(), token.end());
    return argv;
  };

  const fs::path pub = work / "cosign.pub";
  auto exported = run({testenv::bundle_program(), "public-key", "--key", hsm.uri("vendor-2026"), "--pkcs11-module",
                       testenv::SoftHsm::kModule, "-o", pub.string()});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(sign::PublicKey::from_file(pub).fingerprint(), sign::PublicKey::from_file(openssl_pub).fingerprint());

  const fs::path bundle = work / "hsm.tar.zst";
  std::vector<std::string> argv = with_key(build_argv(bundle, *dir_ / "images.lock", upstream_->host()), hsm.uri("vendor-2026"));
  argv.insert(argv.end(), {"--cache", (*dir_ / "cache").string(), "--sbom", "none"});
  auto built = run(argv, {{"SOURCE_DATE_EPOCH", "1767225600"}});
  ASSERT_EQ(built.exit_code, 0) << built.err;
  auto v = run({testenv::install_program(), "verify", bundle.string(), "--key", pub.string()});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  auto stranger = run({testenv::install_program(), "verify", bundle.string(), "--key", (*dir_ / "ecdsa-p256" / "cosign.pub").string()});
  EXPECT_EQ(stranger.exit_code, static_cast<int>(ErrorKind::Integrity)) << stranger.err;
  fs::path x = work / "x";
  fs::create_directories(x);
  ASSERT_EQ(run({"tar", "--zstd", "-xf", bundle.string(), "-C", x.string(), "sealift.json", "sealift.json.sig"}).exit_code, 0);
  for (const char* cosign : {"cosign", "cosign3"}) {
    auto c = run({testenv::peer(cosign), "verify-blob", "--key", pub.string(), "--signature",
                  (x / "sealift.json.sig").string(), "--insecure-ignore-tlog=true", (x / "sealift.json").string()},
                 {{"HOME", work.path().string()}});
    EXPECT_EQ(c.exit_code, 0) << cosign << ": " << c.err;
  }

  // Refusals come before any pull: the mirror is a dead port, so a pull would fail differently.
  const std::string dead = "127.0.0.1:" + std::to_string(testenv::free_port());
  const fs::path wrong_pin = work / "wrong-pin";
  util::write_file_atomic(wrong_pin, "1111\n", 0600);
  std::vector<std::string> refused_argv = with_key(build_argv(work / "out.tar.zst", *dir_ / "images.lock", dead), hsm.uri("vendor-2026"));
  refused_argv.insert(refused_argv.end(), {"--cache", (work / "cache").string()});
  auto pin_at = std::find(refused_argv.begin(), refused_argv.end(), "--pin-file");
  *(pin_at + 1) = wrong_pin.string();
  auto r = run(refused_argv, {});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorKind::Remote)) << r.err;
  EXPECT_NE(r.err.find("PKCS#11 token \"release\" refused the PIN"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(dead), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(work / "cache"));
  EXPECT_FALSE(leftovers(work.path()));

  std::vector<std::string> rsa_argv = with_key(build_argv(work / "out.tar.zst", *dir_ / "images.lock", dead), hsm.uri("rsa"));
  rsa_argv.insert(rsa_argv.end(), {"--cache", (work / "cache").string()});
  auto rsa = run(rsa_argv, {});
  EXPECT_EQ(rsa.exit_code, static_cast<int>(ErrorKind::Input)) << rsa.err;
  EXPECT_NE(rsa.err.find("object \"rsa\" is an RSA key"), std::string::npos) << rsa.err;
  EXPECT_FALSE(fs::exists(work / "cache"));
  EXPECT_FALSE(leftovers(work.path()));
}

// An external signer (here a script around `openssl pkeyutl`, standing in for a KMS client) signs
// the whole bundle; one that signs with another key stops the build, leaving no file.
TEST_F(BuildTest, AnExternalSignerSignsTheBundle) {
  testenv::TempDir work("sealift-build-signer");
  for (const char* name : {"kms", "other"}) {
    const fs::path key = work / (std::string(name) + ".pem");
    ASSERT_EQ(run({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key.string()}).exit_code, 0);
    ASSERT_EQ(run({"openssl", "pkey", "-in", key.string(), "-pubout", "-out", (work / (std::string(name) + ".pub")).string()}).exit_code, 0);
  }
  const fs::path script = work / "sign.sh";
  util::write_file_atomic(script, "#!/bin/sh\nexec openssl pkeyutl -sign -inkey \"$1\"\n", 0755);
  auto with_signer = [&](const fs::path& out, const std::string& key) {
    std::vector<std::string> argv = build_argv(out, *dir_ / "images.lock", upstream_->host());
    auto at = std::find(argv.begin(), argv.end(), "--key");
    argv.erase(at, at + 2);
    argv.insert(argv.end(), {"--signer-command", script.string() + " '" + (work / (key + ".pem")).string() + "'",
                             "--signer-public-key", (work / "kms.pub").string(), "--cache", (*dir_ / "cache").string(),
                             "--sbom", "none"});
    return run(argv, {{"SOURCE_DATE_EPOCH", "1767225600"}});
  };
  auto built = with_signer(work / "kms.tar.zst", "kms");
  ASSERT_EQ(built.exit_code, 0) << built.err;
  auto v = run({testenv::install_program(), "verify", (work / "kms.tar.zst").string(), "--key", (work / "kms.pub").string()});
  EXPECT_EQ(v.exit_code, 0) << v.err;

  auto lied = with_signer(work / "out.tar.zst", "other");
  EXPECT_EQ(lied.exit_code, static_cast<int>(ErrorKind::Integrity)) << lied.err;
  EXPECT_NE(lied.err.find("does not verify with its public key " + sign::PublicKey::from_file(work / "kms.pub").fingerprint()),
            std::string::npos) << lied.err;
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
  std::vector<std::string> argv = build_argv(work / "out.tar.zst", work / "images.lock", upstream.host());
  argv.insert(argv.end(), {"--cache", (work / "cache").string()});
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
  // --keep-cache: every layer stays in the cache (by default most stream into the bundle only).
  auto a = build(work / "a.tar.zst", {"--cache", cache.string(), "--keep-cache"}, "ed25519");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  for (const auto& image : release1_->images)
    for (const auto& m : image.manifests)
      for (const auto& layer : m.layers)
        EXPECT_TRUE(fs::exists(cache / "blobs" / "sha256" / layer.substr(7))) << layer << " is not in the cache";

  // Flip one byte of a cached layer, keeping its size: only its hash can tell.
  std::string layer = release1_->image("redis").platform("linux/amd64").layers.back();
  fs::path cached = cache / "blobs" / "sha256" / layer.substr(7);
  ASSERT_TRUE(fs::exists(cached)) << cached;
  std::string bytes = util::read_file(cached);
  bytes[bytes.size() / 2] ^= 0x01;
  util::write_file_atomic(cached, bytes);

  auto b = build(work / "b.tar.zst", {"--cache", cache.string(), "--keep-cache"}, "ed25519");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(util::read_file(work / "a.tar.zst"), util::read_file(work / "b.tar.zst"));
  // The damaged file was replaced by the fetched, verified layer.
  EXPECT_EQ(oci::Digest::of(util::read_file(cached)).str(), layer);
}

// A cache file replaced after the build verified it (by another user who can write the cache, or
// anything else) must fail the build naming the blob: the vendor key must not sign a bundle whose
// bytes do not match their digests, leaving the customer's verify to find out. In this process
// for the test seam, which swaps the first layer's cache file for bytes of the same size.
TEST_F(BuildTest, ACacheFileSwappedAfterItsCheckFailsTheBuildNamingTheBlob) {
  testenv::TempDir work("sealift-build-cache-swap");
  util::write_file_atomic(work / "password", kPassword.at("COSIGN_PASSWORD"), 0600);
  bundle::BuildOptions o;
  o.chart_dir = testenv::source_dir() / "chart";
  o.lock_file = *dir_ / "images.lock";
  o.signer.key = *dir_ / "ed25519" / "cosign.key";
  o.signer.password.password_file = work / "password";
  o.output = work / "out.tar.zst";
  o.cache_dir = work / "cache";
  const std::string host = upstream_->host();
  o.mirrors = {{"docker.io", host}, {"ghcr.io", host}, {"registry.k8s.io", host}};
  o.http.plain_http = true;
  o.sbom = bundle::BuildOptions::Sbom::None;
  o.keep_cache = true;
  std::optional<oci::Digest> swapped;
  o.seams.cached_blob_verified = [&](const fs::path& cached, const oci::Descriptor& d) {
    if (swapped) return;
    swapped = d.digest;
    std::string bytes = util::read_file(cached);
    bytes[bytes.size() / 2] ^= 0x01;
    util::write_file_atomic(cached, bytes);
  };
  util::Progress quiet(util::Progress::Mode::Quiet);
  try {
    bundle::build(o, quiet);
    ADD_FAILURE() << "built a bundle with a swapped layer";
  } catch (const Error& e) {
    ASSERT_TRUE(swapped);
    EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
    EXPECT_NE(std::string(e.what()).find("blob " + swapped->str() + " changed after it was verified"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(o.output));
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
  std::vector<std::string> argv = build_argv(work / "out.tar.zst", work / "images.lock", upstream.host());
  argv.insert(argv.end(), {"--cache", (work / "cache").string()});
  auto r = run(argv, kPassword, {}, 300);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(layer), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("not started"), std::string::npos) << r.err;
  EXPECT_FALSE(leftovers(work.path()));
  EXPECT_FALSE(fs::exists(work / "cache" / "blobs" / "sha256" / layer.substr(7)));
}

// A fake helm for another machine: a valid 64-bit AArch64 ELF header and some bytes.
std::string arm64_elf() {
  std::string h(4096, 'x');
  std::string ident = std::string("\x7f" "ELF\x02\x01\x01\x00", 8) + std::string(8, '\0');
  h.replace(0, 16, ident);
  h[16] = 2, h[17] = 0, h[18] = static_cast<char>(183), h[19] = 0;
  return h;
}

TEST_F(BuildTest, IncludeHelmCarriesTheBinaryAsAToolArtifact) {
  testenv::TempDir work("sealift-build-helm");
  const fs::path helm = fs::canonical(testenv::peer("helm"));
  const std::string binary = util::read_file(helm);
  fs::path bundle = work / "h.tar.zst";
  auto r = build(bundle, {"--include-helm", helm.string()}, "ed25519");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  bundle::ArchiveReader reader(bundle);
  std::string root_bytes = reader.read_small("sealift.json");
  auto root = bundle::Root::parse(root_bytes);
  ASSERT_EQ(root.tools.size(), 1u) << root_bytes;
  const bundle::RootTool& t = root.tools[0];
  EXPECT_EQ(t.name, "helm");
  EXPECT_EQ(t.version, "v3.21.4");
  EXPECT_EQ(t.platform, "linux/amd64");
  EXPECT_EQ(t.reference, "sealift/tools/helm:v3.21.4");
  EXPECT_EQ(t.binary, oci::Digest::of(binary));
  EXPECT_EQ(t.size, static_cast<int64_t>(binary.size()));
  EXPECT_EQ(bundle::Root::parse(root.serialize()).tools.size(), 1u);
  EXPECT_EQ(root.serialize(), root_bytes);

  // index.json lists the artifact like the chart: by its reference, with its kind and artifactType.
  auto entries = bundle::parse_index_json(reader.read_small("index.json"));
  auto tool = std::find_if(entries.begin(), entries.end(),
                           [](const bundle::LayoutEntry& e) { return e.kind == bundle::EntryKind::Tool; });
  ASSERT_NE(tool, entries.end());
  EXPECT_EQ(tool->reference, t.reference);
  EXPECT_EQ(tool->descriptor.digest, t.manifest);
  EXPECT_EQ(tool->descriptor.size, t.manifest_size);
  EXPECT_EQ(tool->descriptor.artifact_type, "application/vnd.sealift.tool.v1");
  auto m = nlohmann::json::parse(reader.read_small(bundle::blob_path(t.manifest)));
  EXPECT_EQ(m["config"]["mediaType"], "application/vnd.oci.empty.v1+json");
  EXPECT_EQ(reader.read_small(bundle::blob_path(oci::Digest::parse(m["config"]["digest"].get<std::string>()))), "{}");
  EXPECT_EQ(m["layers"][0]["digest"], t.binary.str());
  EXPECT_EQ(m["annotations"]["dev.sealift.tool.platform"], "linux/amd64");

  // The binary, byte for byte: through the reader, and through plain zstd and tar.
  EXPECT_TRUE(reader.read_small(bundle::blob_path(t.binary), 1ull << 30) == binary);
  fs::path x = work / "x";
  fs::create_directories(x);
  auto t1 = run({"sh", "-c", "zstd -dc '" + bundle.string() + "' | tar -x -C '" + x.string() + "'"});
  ASSERT_EQ(t1.exit_code, 0) << t1.err;
  EXPECT_TRUE(util::read_file(x / bundle::blob_path(t.binary)) == binary);

  // It verifies, and inspect lists it.
  auto v = run({testenv::install_program(), "verify", bundle.string(), "--key", (*dir_ / "ed25519" / "cosign.pub").string()});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("tool:      helm v3.21.4 for linux/amd64"), std::string::npos) << v.out;
  auto i = run({testenv::bundle_program(), "inspect", bundle.string()});
  EXPECT_NE(i.out.find("tool: helm v3.21.4 for linux/amd64 (sealift/tools/helm:v3.21.4)"), std::string::npos) << i.out;
  auto ij = run({testenv::bundle_program(), "inspect", "--json", bundle.string()});
  auto j = nlohmann::json::parse(ij.out);
  ASSERT_EQ(j["tools"].size(), 1u);
  EXPECT_EQ(j["tools"][0]["binary"], t.binary.str());

  // Without --include-helm, sealift.json has no tools field at all (the bytes stay as they were).
  auto plain = build(work / "plain.tar.zst", {}, "ed25519");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  std::string plain_root = bundle::ArchiveReader(work / "plain.tar.zst").read_small("sealift.json");
  EXPECT_EQ(plain_root.find("\"tools\""), std::string::npos) << plain_root;
  std::cout << "[ size ] without helm " << fs::file_size(work / "plain.tar.zst") << " bytes, with helm "
            << fs::file_size(bundle) << " bytes (helm binary " << binary.size() << " bytes)\n";
}

TEST_F(BuildTest, DeltaStillCarriesTheHelmBinary) {
  testenv::TempDir work("sealift-build-helm-delta");
  const std::string helm = fs::canonical(testenv::peer("helm")).string();
  fs::path base = work / "v1.tar.zst", delta = work / "v2-delta.tar.zst";
  ASSERT_EQ(build(base, {"--include-helm", helm}).exit_code, 0);
  auto d = build(delta, {"--base", base.string(), "--include-helm", helm}, "ed25519", "images-2.lock");
  ASSERT_EQ(d.exit_code, 0) << d.err;
  bundle::ArchiveReader reader(delta);
  auto root = bundle::Root::parse(reader.read_small("sealift.json"));
  ASSERT_TRUE(root.base.has_value());
  ASSERT_EQ(root.tools.size(), 1u);
  EXPECT_NE(reader.find(bundle::blob_path(root.tools[0].binary)), nullptr);
  EXPECT_EQ(std::count(root.omitted_blobs.begin(), root.omitted_blobs.end(), root.tools[0].binary), 0);
  EXPECT_FALSE(root.omitted_blobs.empty());  // a real delta: the base's layers stay out
  EXPECT_TRUE(reader.read_small(bundle::blob_path(root.tools[0].binary), 1ull << 30) == util::read_file(helm));
  auto v = run({testenv::install_program(), "verify", delta.string(), "--key", (*dir_ / "ed25519" / "cosign.pub").string()});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(BuildTest, IncludeHelmRefusesWhatIsNotAHelmBinaryBeforePulling) {
  testenv::TempDir work("sealift-build-helm-bad");
  fs::path out = work / "out.tar.zst";
  util::write_file_atomic(work / "helm.sh", "#!/bin/sh\necho v3.21.4\n", 0755);
  util::write_file_atomic(work / "helm-arm64", arm64_elf(), 0755);
  // Every registry is a dead port: an error about the registry would mean the pull came first.
  int dead = testenv::free_port();
  auto attempt = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {testenv::bundle_program(), "build", "-o", out.string(), "--chart",
                                     (testenv::source_dir() / "chart").string(), "--lock", (*dir_ / "images.lock").string(),
                                     "--key", (*dir_ / "ecdsa-p256" / "cosign.key").string(), "--plain-http", "--quiet",
                                     "--cache", (work / "cache").string()};
    for (auto& f : testenv::mirror_flags("127.0.0.1:" + std::to_string(dead))) argv.push_back(f);
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = run(argv, kPassword, {}, 120);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.err.find("127.0.0.1:" + std::to_string(dead)), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));
    EXPECT_FALSE(leftovers(work.path()));
    return r.err;
  };
  std::string missing = attempt({"--include-helm", (work / "no-such-helm").string()});
  EXPECT_NE(missing.find((work / "no-such-helm").string() + ": no such file"), std::string::npos) << missing;
  std::string script = attempt({"--include-helm", (work / "helm.sh").string()});
  EXPECT_NE(script.find((work / "helm.sh").string() + ": not an ELF executable"), std::string::npos) << script;
  std::string foreign = attempt({"--include-helm", (work / "helm-arm64").string()});
  EXPECT_NE(foreign.find("linux/arm64"), std::string::npos) << foreign;
  EXPECT_NE(foreign.find("--helm-version"), std::string::npos) << foreign;
  std::string alone = attempt({"--helm-version", "v3.21.4"});
  EXPECT_NE(alone.find("--include-helm"), std::string::npos) << alone;
}

TEST_F(BuildTest, IncludeHelmForAnotherPlatformTakesItsVersionFromTheFlag) {
  testenv::TempDir work("sealift-build-helm-arm64");
  util::write_file_atomic(work / "helm", arm64_elf(), 0755);
  auto r = build(work / "b.tar.zst", {"--include-helm", (work / "helm").string(), "--helm-version", "v3.21.4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto root = bundle::Root::parse(bundle::ArchiveReader(work / "b.tar.zst").read_small("sealift.json"));
  ASSERT_EQ(root.tools.size(), 1u);
  EXPECT_EQ(root.tools[0].platform, "linux/arm64");
  EXPECT_EQ(root.tools[0].version, "v3.21.4");
}

}  // namespace
}  // namespace sealift
