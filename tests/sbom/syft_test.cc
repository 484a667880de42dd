// SBOMs: made by the real syft from the bundler's blob cache, signed as cosign attestations,
// carried from upstream as the publisher attached them, pushed as OCI referrers, and checked at the
// target by the real cosign (v2 and v3) with `verify-attestation`.
#include "sbom/syft.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <set>

#include "bundle/build.h"
#include "install/harness.h"
#include "oci/manifest.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/progress.h"

namespace sealift::install::testing {
namespace {

fs::path scratch(const std::string& name) {
  static testenv::TempDir dir("sealift-sbom-test");
  return dir / name;
}

std::string syft() { return testenv::peer("syft"); }

nlohmann::json json_of(const RunResult& r) {
  EXPECT_EQ(r.exit_code, 0) << said(r);
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

// The statements inside the SBOM attestations of image `i` of a bundle, as the bundle carries them
// (read, not verified: that is verify's job, tested below).
std::vector<nlohmann::json> statements(const fs::path& bundle, size_t i) {
  bundle::ArchiveReader reader(bundle);
  bundle::Root root = bundle::Root::parse(reader.read_small("sealift.json"));
  std::vector<nlohmann::json> out;
  for (const auto& d : root.images.at(i).sboms) {
    auto m = nlohmann::json::parse(reader.read_small(bundle::blob_path(d)));
    auto b = nlohmann::json::parse(
        reader.read_small(bundle::blob_path(oci::Digest::parse(m["layers"][0]["digest"].get<std::string>())), 64 << 20));
    out.push_back(nlohmann::json::parse(util::base64_decode(b["dsseEnvelope"]["payload"].get<std::string>())));
  }
  return out;
}

// name -> version of the packages an SPDX document lists.
std::map<std::string, std::string> packages(const nlohmann::json& spdx) {
  std::map<std::string, std::string> out;
  for (const auto& p : spdx["packages"]) out[p["name"].get<std::string>()] = p.value("versionInfo", "");
  return out;
}

// The statements cosign printed (`--output json`: one DSSE envelope per line), decoded.
std::string payloads(const RunResult& r) {
  std::string out;
  for (size_t at = 0; (at = r.out.find("\"payload\":\"", at)) != std::string::npos;) {
    at += 11;
    out += util::base64_decode(r.out.substr(at, r.out.find('"', at) - at));
  }
  return out;
}

size_t index_of(const bundle::Root& root, const std::string& fragment) {
  for (size_t i = 0; i < root.images.size(); ++i)
    if (root.images[i].source.find(fragment) != std::string::npos) return i;
  throw std::runtime_error("no image " + fragment);
}

TEST(SbomNormalize, ReplacesOnlyWhatVariesFromRunToRun) {
  sbom::ScanInput in;
  in.source = "docker.io/library/postgres:16.4";
  in.manifest.digest = oci::Digest::of("manifest");
  const std::string doc =
      R"({"spdxVersion":"SPDX-2.3","name":"docker.io/library/postgres","documentNamespace":"https://anchore.com/syft/image/docker.io/library/postgres-2e5d9185","creationInfo":{"creators":["Tool: syft-v1.57.1"],"created":"2026-12-04T14:55:49Z"},"packages":[{"name":"libc6","versionInfo":"2.36-9+deb12u8"}]})";
  auto out = nlohmann::json::parse(sbom::normalize_spdx(doc, in, "2023-11-14T22:13:20Z"));
  EXPECT_EQ(out["documentNamespace"], "https://sealift.dev/spdx/docker.io/library/postgres/" + std::string(in.manifest.digest.hex()));
  EXPECT_EQ(out["creationInfo"]["created"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(out["creationInfo"]["creators"][0], "Tool: syft-v1.57.1");
  EXPECT_EQ(packages(out), (std::map<std::string, std::string>{{"libc6", "2.36-9+deb12u8"}}));
  EXPECT_EQ(sbom::normalize_spdx(sbom::normalize_spdx(doc, in, "x"), in, "x"), sbom::normalize_spdx(doc, in, "x"));
  for (const char* bad : {R"({"bomFormat":"CycloneDX","specVersion":"1.6"})", R"({"spdxVersion":"SPDX-2.2","creationInfo":{}})",
                          "not json", "[]"}) {
    SCOPED_TRACE(bad);
    try {
      sbom::normalize_spdx(bad, in, "x");
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Tool);
      EXPECT_NE(std::string(e.what()).find(in.source), std::string::npos) << e.what();
    }
  }
}

// The main path: every platform image gets an SPDX SBOM naming the packages its package database
// lists (the fixtures carry a dpkg status file and an apk database), signed by the vendor's key;
// inspect lists them, verify checks them, the same inputs give the same SBOMs, and after a push
// cosign v2 and v3 `verify-attestation` accept them while `cosign verify` still finds the
// signatures.
TEST(Sbom, EveryPlatformImageGetsASignedSpdxThatCosignVerifiesAtTheTarget) {
  testenv::BundleSpec spec;
  spec.images = {"postgres", "frontend"};
  spec.build_args = {"--sbom", "syft", "--syft", syft()};
  auto b = factory().build(spec, scratch("sbom.tar.zst"));
  bundle::Root root = root_of(b.path);
  ASSERT_EQ(root.format_version, 3);
  const size_t postgres = index_of(root, "postgres"), frontend = index_of(root, "frontend");

  for (size_t i : {postgres, frontend}) {
    SCOPED_TRACE(root.images[i].source);
    ASSERT_EQ(root.images[i].sboms.size(), 2u) << "one per platform";
    for (const auto& st : statements(b.path, i)) {
      EXPECT_EQ(st["predicateType"], "https://spdx.dev/Document");
      EXPECT_EQ(st["subject"][0]["digest"]["sha256"], std::string(root.images[i].digest.hex()));
      EXPECT_EQ(st["predicate"]["spdxVersion"], "SPDX-2.3");
      auto p = packages(st["predicate"]);
      if (i == postgres) {
        EXPECT_EQ(p["libc6"], "2.36-9+deb12u8");
        EXPECT_EQ(p["base-files"], "12.4+deb12u7");
        EXPECT_EQ(p["tzdata"], "2024a-0+deb12u1");
      } else {
        EXPECT_EQ(p["musl"], "1.2.5-r0");
        EXPECT_EQ(p["busybox"], "1.36.1-r29");
      }
    }
  }

  nlohmann::json inspected = json_of(testenv::run({testenv::bundle_program(), "inspect", b.path.string(), "--json"}));
  for (const auto& image : inspected["images"]) {
    std::set<std::string> platforms;
    for (const auto& a : image["attestations"]) {
      EXPECT_EQ(a["by"], "vendor");
      EXPECT_EQ(a["type"], "https://spdx.dev/Document");
      platforms.insert(a["platform"].get<std::string>());
    }
    EXPECT_EQ(platforms, (std::set<std::string>{"linux/amd64", "linux/arm64/v8"})) << image["source"];
  }
  RunResult text = testenv::run({testenv::bundle_program(), "inspect", b.path.string()});
  EXPECT_NE(text.out.find("SBOM (listed as the vendor's, not verified): https://spdx.dev/Document for linux/arm64/v8"), std::string::npos)
      << said(text);

  nlohmann::json verified = json_of(install({"verify", b.path.string(), "--key", factory().public_key().string(), "--json"}));
  EXPECT_EQ(verified["sboms"].get<int>(), 4);
  EXPECT_EQ(verified["sbomsVerified"].get<int>(), 4);

  // Reproducible: the same images and syft give the same SBOMs (the signatures differ: ECDSA).
  // The SBOM cache is emptied first, so that syft really scans again.
  fs::remove_all(factory().dir() / "cache" / "sboms");
  auto again = factory().build(spec, scratch("sbom-again.tar.zst"));
  for (size_t i : {postgres, frontend}) EXPECT_EQ(statements(again.path, i), statements(b.path, i));

  // An image scanned before is not scanned again (sealift's SBOM cache): a syft that counts its
  // scans sees none, and the SBOMs from the cache are the same bytes.
  const fs::path counting = scratch("counting-syft"), scans = scratch("scans.log");
  util::write_file_atomic(counting, "#!/bin/sh\nif [ \"$1\" = scan ]; then echo \"$*\" >>" + scans.string() +
                                        "; fi\nexec " + syft() + " \"$@\"\n", 0755);
  testenv::BundleSpec counted = spec;
  counted.build_args = {"--sbom", "syft", "--syft", counting.string()};
  auto cached = factory().build(counted, scratch("sbom-cached.tar.zst"));
  EXPECT_FALSE(fs::exists(scans)) << util::read_file(scans);
  for (size_t i : {postgres, frontend}) EXPECT_EQ(statements(cached.path, i), statements(b.path, i));
  // The counting syft does scan what is not cached.
  fs::remove_all(factory().dir() / "cache" / "sboms");
  factory().build(counted, scratch("sbom-counted.tar.zst"));
  const std::string counted_scans = fs::exists(scans) ? util::read_file(scans) : "";
  EXPECT_EQ(std::count(counted_scans.begin(), counted_scans.end(), '\n'), 4) << "one scan per platform image";

  Target target;
  nlohmann::json pushed = json_of(target.push(b.path, {"--create-project", "--json"}));
  EXPECT_EQ(pushed["attestationsListed"].get<int>(), 4);
  const fs::path stranger = factory().other_key("stranger");
  for (size_t i : {postgres, frontend}) {
    const auto& image = root.images[i];
    const std::string pinned =
        target.host() + "/ai-saas/" + ref::Reference::parse(image.source).repository + "@" + image.digest.str();
    SCOPED_TRACE(pinned);
    for (const std::string cosign : {"cosign", "cosign3"}) {
      RunResult att = target.cosign_verify_attestation(pinned, factory().public_key(), cosign);
      EXPECT_EQ(att.exit_code, 0) << cosign << "\n" << said(att);
      EXPECT_NE(target.cosign_verify_attestation(pinned, stranger, cosign).exit_code, 0) << cosign;
      EXPECT_EQ(target.cosign_verify(pinned, factory().public_key(), cosign).exit_code, 0) << cosign;
    }
    // What cosign v3 verified is the SBOM: its payload names the packages.
    RunResult att = target.cosign_verify_attestation(pinned, factory().public_key(), "cosign3");
    EXPECT_NE(payloads(att).find(i == postgres ? "\"libc6\"" : "\"musl\""), std::string::npos) << said(att);
  }
  nlohmann::json second = json_of(target.push(b.path, {"--json"}));
  EXPECT_EQ(second["referrersPushed"].get<int>(), 0);
  EXPECT_EQ(second["attestationsListed"].get<int>(), 4);
}

// An image whose publisher attached an SBOM (cosign v3 `attest --type spdxjson`) keeps it: carried
// as found, checked with --upstream-key, pushed beside the vendor's signatures, and cosign verifies
// it at the target with the publisher's key; syft makes none for it. With a key that does not
// verify it, the attestation stays behind and syft makes the SBOM.
TEST(Sbom, AnUpstreamSbomTravelsAsFoundAndVerifiesWithThePublishersKey) {
  testenv::BundleSpec spec;
  spec.images = {"busybox"};
  auto plain = factory().build(spec, scratch("upstream-plain.tar.zst"));
  const auto& image = plain.lock.images[0];
  const std::string upstream = factory().upstream().host() + "/" + image.source.repository + "@" + image.digest.str();
  const fs::path publisher = factory().other_key("publisher");
  const fs::path predicate = scratch("publisher-sbom.json");
  util::write_file_atomic(predicate, R"({"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT",)"
                                     R"("name":"busybox","documentNamespace":"https://publisher.example/busybox",)"
                                     R"("creationInfo":{"created":"2024-06-01T00:00:00Z","creators":["Organization: Publisher"]},)"
                                     R"("packages":[{"name":"busybox-from-the-publisher","SPDXID":"SPDXRef-p","versionInfo":"1.36.1",)"
                                     R"("downloadLocation":"NOASSERTION"}]})");
  testenv::TempDir home("sealift-publisher");
  RunResult attest = testenv::run({testenv::peer("cosign3"), "attest", "--key", (publisher.parent_path() / "cosign.key").string(),
                                   "--type", "spdxjson", "--predicate", predicate.string(), "--tlog-upload=false",
                                   "--use-signing-config=false", "-y", "--allow-http-registry", upstream},
                                  {{"COSIGN_PASSWORD", factory().key_password()}, {"HOME", home.path().string()}});
  ASSERT_EQ(attest.exit_code, 0) << said(attest);

  spec.build_args = {"--sbom", "syft", "--syft", syft(), "--upstream-key", publisher.string()};
  auto b = factory().build(spec, scratch("upstream-sbom.tar.zst"));
  bundle::Root root = root_of(b.path);
  ASSERT_EQ(root.images.at(0).upstream_attestations.size(), 1u);
  EXPECT_TRUE(root.images.at(0).sboms.empty()) << "the publisher's SBOM stands; syft makes none";

  nlohmann::json verified = json_of(install({"verify", b.path.string(), "--key", factory().public_key().string(),
                                             "--upstream-key", publisher.string(), "--json"}));
  EXPECT_EQ(verified["upstreamAttestationsVerified"].get<int>(), 1);
  const fs::path stranger = factory().other_key("stranger");
  RunResult wrong = install({"verify", b.path.string(), "--key", factory().public_key().string(), "--upstream-key",
                             stranger.string()});
  EXPECT_NE(wrong.exit_code, 0) << said(wrong);
  EXPECT_NE(wrong.err.find("no signature in its DSSE envelope"), std::string::npos) << said(wrong);

  Target target;
  nlohmann::json pushed = json_of(target.push(b.path, {"--create-project", "--json"}));
  EXPECT_EQ(pushed["attestationsListed"].get<int>(), 1);
  const std::string pinned = target.host() + "/ai-saas/" + image.source.repository + "@" + image.digest.str();
  RunResult att = target.cosign_verify_attestation(pinned, publisher, "cosign3");
  ASSERT_EQ(att.exit_code, 0) << said(att);
  EXPECT_NE(payloads(att).find("busybox-from-the-publisher"), std::string::npos) << said(att);
  EXPECT_EQ(target.cosign_verify(pinned, factory().public_key(), "cosign3").exit_code, 0);

  // A key that does not verify it: left behind with a note, syft's SBOMs instead.
  spec.build_args = {"--sbom", "syft", "--syft", syft(), "--upstream-key", stranger.string()};
  auto s = factory().build(spec, scratch("upstream-stranger.tar.zst"));
  bundle::Root sr = root_of(s.path);
  EXPECT_TRUE(sr.images.at(0).upstream_attestations.empty());
  EXPECT_EQ(sr.images.at(0).sboms.size(), 2u);
}

// An SBOM pushed as a plain referrer (`oras attach`) is signed by nobody: anyone who can push to
// the source repository can attach one. It travels as found, but the image still gets the
// vendor's own signed SBOM, one per platform, which verify checks.
TEST(Sbom, AnUnsignedUpstreamSbomDoesNotReplaceTheVendorsOwn) {
  testenv::BundleSpec spec;
  spec.images = {"redis"};
  auto plain = factory().build(spec, scratch("oras-plain.tar.zst"));
  const auto& image = plain.lock.images[0];
  const std::string upstream = factory().upstream().host() + "/" + image.source.repository + "@" + image.digest.str();
  const fs::path dir = scratch("oras-attach");
  fs::create_directories(dir);
  util::write_file_atomic(dir / "sbom.spdx.json",
                          R"({"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"redis",)"
                          R"("packages":[{"name":"nothing-to-see-here","SPDXID":"SPDXRef-p","versionInfo":"1"}]})");
  testenv::TempDir home("sealift-oras");
  // oras takes the file's path as its title and wants it relative.
  RunResult attach = testenv::run({"sh", "-c", "cd '" + dir.string() + "' && exec '" + testenv::peer("oras") +
                                                   "' attach --plain-http --artifact-type application/spdx+json '" +
                                                   upstream + "' sbom.spdx.json:application/spdx+json"},
                                  {{"HOME", home.path().string()}});
  ASSERT_EQ(attach.exit_code, 0) << said(attach);

  spec.build_args = {"--sbom", "syft", "--syft", syft()};
  auto b = factory().build(spec, scratch("oras-sbom.tar.zst"));
  bundle::Root root = root_of(b.path);
  EXPECT_EQ(root.images.at(0).upstream_attestations.size(), 1u) << "the upstream SBOM travels as found";
  const size_t platforms = image.platforms.size();
  EXPECT_EQ(root.images.at(0).sboms.size(), platforms) << "one vendor SBOM per platform";
  for (const auto& st : statements(b.path, 0)) EXPECT_FALSE(packages(st["predicate"]).count("nothing-to-see-here"));
  nlohmann::json verified = json_of(install({"verify", b.path.string(), "--key", factory().public_key().string(), "--json"}));
  EXPECT_EQ(verified["sbomsVerified"].get<size_t>(), platforms);
}

// syft reads a config from its working directory; one there (a commit to the product repository
// the vendor builds from) must not take packages out of the SBOM the vendor key signs.
TEST(Sbom, ASyftConfigInTheWorkingDirectoryDoesNotShapeTheSbom) {
  // syft must really scan: no SBOM an earlier build in this process left in the cache.
  fs::remove_all(factory().dir() / "cache" / "sboms");
  const fs::path cwd = scratch("syft-config-cwd");
  fs::create_directories(cwd);
  util::write_file_atomic(cwd / ".syft.yaml", "exclude: ['**']\n");
  struct Chdir {
    fs::path old = fs::current_path();
    explicit Chdir(const fs::path& to) { fs::current_path(to); }
    ~Chdir() { fs::current_path(old); }
  };
  testenv::BundleSpec spec;
  spec.images = {"frontend"};
  spec.build_args = {"--sbom", "syft", "--syft", syft()};
  std::optional<testenv::BuiltBundle> b;
  {
    Chdir in(cwd);
    b = factory().build(spec, scratch("syft-config.tar.zst"));
  }
  auto sboms = statements(b->path, 0);
  ASSERT_EQ(sboms.size(), 2u);
  for (const auto& st : sboms) {
    auto p = packages(st["predicate"]);
    EXPECT_EQ(p["musl"], "1.2.5-r0");
    EXPECT_EQ(p["busybox"], "1.36.1-r29");
  }
}

// syft's input is staged in a directory of its own and reached through its descriptor: another
// directory put under its name after staging (what a user who could write the cache could do
// before syft starts) changes nothing in the SBOM the vendor key signs. Run in this process for
// the test seam; the seam renames the staged directory aside and leaves an empty one in its place.
TEST(Sbom, AStagingDirectorySwappedBeforeSyftStartsDoesNotChangeTheSbom) {
  // syft must really scan: no SBOM an earlier build in this process left in the cache.
  fs::remove_all(factory().dir() / "cache" / "sboms");
  testenv::BundleSpec spec;
  spec.images = {"frontend"};
  auto inputs = factory().build(spec, scratch("staged-inputs.tar.zst"));
  const fs::path password = scratch("vendor-password");
  util::write_file_atomic(password, factory().key_password(), 0600);
  bundle::BuildOptions o;
  o.chart_dir = inputs.chart_dir;
  o.lock_file = inputs.lock_file;
  o.signer.key = factory().private_key();
  o.signer.password.password_file = password;
  o.output = scratch("staged-swapped.tar.zst");
  const std::string host = factory().upstream().host();
  o.mirrors = {{"docker.io", host}, {"ghcr.io", host}, {"registry.k8s.io", host}};
  o.http.plain_http = true;
  o.cache_dir = factory().dir() / "cache";
  o.sbom = bundle::BuildOptions::Sbom::Syft;
  o.syft = syft();
  int swapped = 0;
  o.seams.syft_staged = [&](const fs::path& dir) {
    fs::rename(dir, fs::path(dir.string() + ".aside"));
    fs::create_directories(dir);
    ++swapped;
  };
  util::Progress quiet(util::Progress::Mode::Quiet);
  bundle::BuildResult r = bundle::build(o, quiet);
  EXPECT_EQ(swapped, 2);
  EXPECT_EQ(r.sboms_generated, 2u);
  for (const auto& st : statements(o.output, 0)) {
    auto p = packages(st["predicate"]);
    EXPECT_EQ(p["musl"], "1.2.5-r0");
    EXPECT_EQ(p["busybox"], "1.36.1-r29");
  }
}

// `--sbom syft` without a working syft stops before anything is pulled, naming the problem, and
// leaves no bundle behind.
TEST(Sbom, AMissingOrWrongSyftIsRefusedBeforeAnyPull) {
  testenv::BundleSpec spec;
  spec.images = {"busybox"};
  const fs::path fake = scratch("not-syft");
  util::write_file_atomic(fake, "#!/bin/sh\necho '{\"application\":\"grype\"}'\n", 0755);
  for (const auto& [args, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--sbom", "syft", "--syft", (scratch("nowhere") / "syft").string()}, "nowhere/syft: no such file"},
           {{"--sbom", "syft", "--syft", fake.string()}, "is not syft"}}) {
    spec.build_args = args;
    const fs::path out = scratch("refused.tar.zst");
    try {
      factory().build(spec, out);
      ADD_FAILURE() << "built with " << args.back();
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(out));
  }
}

// Scans run beside each other and beside the build: one that fails stops the build with syft's
// own words, naming the image, whatever the other scans do, and leaves no bundle and no staging
// directory behind.
TEST(Sbom, AScanThatFailsStopsTheBuildNamingTheImage) {
  testenv::BundleSpec spec;
  spec.images = {"postgres", "frontend", "busybox"};
  const fs::path failing = scratch("failing-syft");
  util::write_file_atomic(failing,
                          "#!/bin/sh\nif [ \"$1\" = scan ]; then case \"$*\" in *frontend*) echo 'cannot unpack layer' >&2; "
                          "exit 1 ;; esac; fi\nexec " + syft() + " \"$@\"\n",
                          0755);
  fs::remove_all(factory().dir() / "cache" / "sboms");
  spec.build_args = {"--sbom", "syft", "--syft", failing.string()};
  const fs::path out = scratch("failed-scan.tar.zst");
  try {
    factory().build(spec, out);
    ADD_FAILURE() << "built although syft failed";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("syft could not scan"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("frontend"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot unpack layer"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(out));
  const fs::path staging = factory().dir() / "cache" / "sbom-scratch";
  if (fs::exists(staging)) {
    EXPECT_TRUE(fs::is_empty(staging)) << "a syft staging directory was left";
  }
}

}  // namespace
}  // namespace sealift::install::testing
