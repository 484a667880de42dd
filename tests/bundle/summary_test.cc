// `sealift-bundle inspect` on bundles made by `sealift-bundle build`: platforms and sizes agree
// with the upstream manifests as crane reads them; shared layers, signatures, chart and base.
#include "bundle/summary.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "env/bundles.h"
#include "env/process.h"

namespace sealift::bundle {
namespace {

namespace fs = std::filesystem;
using testenv::RunResult;

testenv::BundleFactory& factory() {
  static testenv::BundleFactory f;
  return f;
}

nlohmann::json inspect(const fs::path& bundle) {
  RunResult r = testenv::run({testenv::bundle_program(), "inspect", bundle.string(), "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

// config + layers of one platform manifest, as crane reads it from the upstream registry.
uint64_t upstream_size(const std::string& repository, const std::string& digest) {
  RunResult r = testenv::run({testenv::peer("crane"), "manifest", "--insecure",
                              factory().upstream().host() + "/" + repository + "@" + digest});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto m = nlohmann::json::parse(r.out);
  uint64_t size = m["config"]["size"].get<uint64_t>();
  for (const auto& l : m["layers"]) size += l["size"].get<uint64_t>();
  return size;
}

TEST(Inspect, ShowsImagesPlatformsSizesSignaturesAndChart) {
  testenv::TempDir dir("sealift-inspect");
  auto b = factory().build({}, dir / "app.tar.zst");
  nlohmann::json j = inspect(b.path);
  EXPECT_EQ(j["name"], "sealift-test-app");
  EXPECT_TRUE(j["signed"].get<bool>());
  EXPECT_EQ(j["fileSize"].get<uint64_t>(), fs::file_size(b.path));
  EXPECT_EQ(j["entries"].get<size_t>(), ArchiveReader(b.path).entries().size());
  ASSERT_EQ(j["images"].size(), b.lock.images.size());

  uint64_t images_size = 0;
  for (const auto& image : j["images"]) {
    const testenv::FixtureImage* fixture = nullptr;
    for (const auto& f : b.fixtures.images)
      if (f.source == image["source"]) fixture = &f;
    ASSERT_NE(fixture, nullptr) << image.dump();
    EXPECT_EQ(image["digest"], fixture->digest);
    EXPECT_TRUE(image["signature"].get<bool>());
    EXPECT_TRUE(image["sigstoreBundle"].get<bool>());
    ASSERT_EQ(image["platforms"].size(), fixture->manifests.size());
    for (size_t i = 0; i < fixture->manifests.size(); ++i) {
      const auto& p = image["platforms"][i];
      // The index adds the variant ("linux/arm64/v8") that the fixture summary leaves out.
      std::string platform = p["platform"];
      EXPECT_EQ(platform.substr(0, fixture->manifests[i].platform.size()), fixture->manifests[i].platform);
      EXPECT_EQ(p["digest"], fixture->manifests[i].digest);
      EXPECT_EQ(p["size"].get<uint64_t>(), upstream_size(fixture->repository, fixture->manifests[i].digest));
    }
    images_size += image["size"].get<uint64_t>();
  }
  EXPECT_EQ(j["imagesSize"].get<uint64_t>(), images_size);
  // postgres and redis are both built on debian: its layers are stored once.
  EXPECT_GT(j["sharedLayerSavings"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["sharedLayerSavings"].get<uint64_t>(), images_size - j["uniqueSize"].get<uint64_t>());
  EXPECT_EQ(j["chart"]["name"], "sealift-test-app");
  EXPECT_EQ(j["chart"]["version"], "1.0.0");
  EXPECT_TRUE(j["chart"]["signature"].get<bool>());
  EXPECT_TRUE(j["chart"]["sigstoreBundle"].get<bool>());
  EXPECT_GT(j["chart"]["packageSize"].get<uint64_t>(), 0u);
  EXPECT_TRUE(j["base"].is_null());

  RunResult text = testenv::run({testenv::bundle_program(), "inspect", b.path.string()});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("docker.io/library/postgres:16.4"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(", signatures listed (.sig + Sigstore bundle), not verified"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("signed"), std::string::npos) << "inspect verifies nothing:\n" << text.out;
  EXPECT_NE(text.out.find("linux/arm64"), std::string::npos);
  EXPECT_NE(text.out.find("saves"), std::string::npos);
}

TEST(Inspect, ShowsTheBaseOfADeltaAndAMissingSignature) {
  testenv::TempDir dir("sealift-inspect");
  testenv::BundleSpec spec;
  spec.images = {"redis", "backend"};
  auto base = factory().build(spec, dir / "base.tar.zst");
  spec.release = 2;
  spec.base = base.path;
  spec.split_size = "256K";
  auto delta = factory().build(spec, dir / "delta.tar.zst");

  nlohmann::json j = inspect(delta.files.front());
  ASSERT_TRUE(j["base"].is_object()) << j.dump();
  EXPECT_EQ(j["base"]["name"], "sealift-test-app");
  Root root = Root::parse(ArchiveReader(delta.path).read_small("sealift.json"));
  EXPECT_EQ(j["base"]["omittedBlobs"].get<size_t>(), root.omitted_blobs.size());
  EXPECT_GT(j["base"]["omittedSize"].get<uint64_t>(), j["carriedSize"].get<uint64_t>())
      << "a one-layer change should leave most bytes in the base";
  EXPECT_EQ(j["files"].size(), delta.files.size());

  // Without its signature the bundle still inspects, and says so.
  fs::path unsigned_bundle = dir / "unsigned.tar.zst";
  testenv::rewrite_bundle(base.path, unsigned_bundle, {{"sealift.json.sig", std::nullopt}});
  EXPECT_FALSE(inspect(unsigned_bundle)["signed"].get<bool>());
  RunResult text = testenv::run({testenv::bundle_program(), "inspect", unsigned_bundle.string()});
  EXPECT_NE(text.out.find("unsigned"), std::string::npos) << text.out;
}

// Review 2026-12-07 I3: inspect reads a bundle nobody verified (here sealift.json was changed
// after signing): what it prints from it cannot drive the operator's terminal.
TEST(Inspect, EscapesControlCharactersFromTheBundle) {
  testenv::TempDir dir("sealift-inspect");
  testenv::BundleSpec spec;
  spec.images = {"redis"};
  auto b = factory().build(spec, dir / "plain.tar.zst");
  Root root = Root::parse(ArchiveReader(b.path).read_small("sealift.json"));
  root.tool = "sealift\x1b]0;owned\x07";
  root.created = "2026-12-07\x1b[2J\r\n";
  fs::path hostile = dir / "hostile.tar.zst";
  testenv::rewrite_bundle(b.path, hostile, {{"sealift.json", root.serialize()}});

  RunResult text = testenv::run({testenv::bundle_program(), "inspect", hostile.string()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  for (char c : text.out) EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << "byte " << int{c} << " in\n" << text.out;
  EXPECT_NE(text.out.find("created 2026-12-07\\x1b[2J\\x0d\\x0a by sealift\\x1b]0;owned\\x07)"), std::string::npos)
      << text.out;
  nlohmann::json j = inspect(hostile);
  EXPECT_EQ(j["tool"], root.tool) << "JSON carries the string as it is, escaped by JSON";
}

}  // namespace
}  // namespace sealift::bundle
