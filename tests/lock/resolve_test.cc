// `sealift-bundle lock` against the fixture images in a real registry (docker-registry): every
// declared image resolves to its fixture, the committed images.lock is exactly the lock of the
// reference release at scale 0.01, and `lock --check` fails readably once a fixture changes.
#include <gtest/gtest.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "chart/package.h"
#include "env/fixtures.h"
#include "env/process.h"
#include "env/registry.h"
#include "lock/resolve.h"
#include "oci/manifest.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::lock {
namespace {

namespace fs = std::filesystem;

fs::path chart_dir() { return testenv::source_dir() / "chart"; }
fs::path committed_lock() { return testenv::source_dir() / "images.lock"; }

// The scale and release the committed images.lock was made from (docs/images-lock.md).
testenv::FixtureOptions reference_release() {
  testenv::FixtureOptions o;
  o.scale = "0.01";
  o.release = 1;
  return o;
}

ResolveOptions mirrored_to(const testenv::Registry& registry) {
  ResolveOptions o;
  for (const char* upstream : {"docker.io", "ghcr.io", "registry.k8s.io"}) o.mirrors[upstream] = registry.host();
  o.http.plain_http = true;
  return o;
}

std::vector<std::string> mirror_args(const testenv::Registry& registry) {
  std::vector<std::string> out;
  for (const char* upstream : {"docker.io", "ghcr.io", "registry.k8s.io"}) {
    out.push_back("--mirror");
    out.push_back(std::string(upstream) + "=" + registry.host());
  }
  out.push_back("--plain-http");
  return out;
}

class LockAgainstFixtures : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = std::make_unique<testenv::Registry>();
    fixtures_ = std::make_unique<testenv::FixtureSet>(testenv::push_fixtures(*registry_, reference_release()));
  }
  static void TearDownTestSuite() {
    fixtures_.reset();
    registry_.reset();
  }
  static std::unique_ptr<testenv::Registry> registry_;
  static std::unique_ptr<testenv::FixtureSet> fixtures_;
};
std::unique_ptr<testenv::Registry> LockAgainstFixtures::registry_;
std::unique_ptr<testenv::FixtureSet> LockAgainstFixtures::fixtures_;

TEST_F(LockAgainstFixtures, ResolvesEveryDeclaredImageToItsFixture) {
  std::vector<std::string> seen;
  ResolveOptions o = mirrored_to(*registry_);
  o.on_image = [&seen](const LockedImage& img) { seen.push_back(img.name); };
  const ImageLock lock = resolve(chart_dir(), o);
  EXPECT_EQ(seen.size(), 14u);
  ASSERT_EQ(lock.images.size(), 14u);
  io::StringSink package;
  EXPECT_EQ(lock.chart.digest, chart::write_package(chart_dir(), package).digest);
  EXPECT_EQ(lock.chart.name, "ai-saas-dashboard");
  for (const auto& img : lock.images) {
    const auto& f = fixtures_->image(img.name);
    EXPECT_EQ(img.source.str(), f.source);
    EXPECT_EQ(img.digest.str(), f.digest) << img.name;
    EXPECT_EQ(img.media_type, f.media_type) << img.name;
    ASSERT_EQ(img.platforms.size(), f.manifests.size()) << img.name;
    for (size_t i = 0; i < img.platforms.size(); ++i) {
      EXPECT_EQ(img.platforms[i].str(), f.manifests[i].platform == "linux/arm64" ? "linux/arm64/v8" : f.manifests[i].platform)
          << img.name;
      EXPECT_EQ(img.platforms[i].digest.str(), f.manifests[i].digest) << img.name;
      EXPECT_EQ(img.platforms[i].size, f.manifests[i].size) << img.name;
    }
  }
  // Docker schema 2 upstreams stay Docker manifest lists.
  EXPECT_EQ(lock.find("prometheus")->media_type, "application/vnd.docker.distribution.manifest.list.v2+json");
  EXPECT_EQ(lock.find("postgres")->values_paths, (std::vector<std::string>{"postgresql.image", "backup.image"}));
}

TEST_F(LockAgainstFixtures, TheCommittedLockIsTheLockOfTheReferenceRelease) {
  const CheckResult r = check(chart_dir(), committed_lock(), mirrored_to(*registry_));
  for (const auto& d : r.differences) ADD_FAILURE() << d;
  EXPECT_EQ(r.fresh.to_yaml(), util::read_file(committed_lock())) << "regenerate with sealift-bundle lock (docs/images-lock.md)";
}

TEST_F(LockAgainstFixtures, CheckNamesAChangedChartAMissingImageAndAMissingFile) {
  testenv::TempDir tmp;
  fs::copy(chart_dir(), tmp.path() / "chart", fs::copy_options::recursive);
  util::write_file_atomic(tmp.path() / "chart/templates/NOTES.txt", "Installed.\n");
  auto changed = check(tmp.path() / "chart", committed_lock(), mirrored_to(*registry_));
  ASSERT_EQ(changed.differences.size(), 1u);
  EXPECT_NE(changed.differences[0].find("chart: digest"), std::string::npos) << changed.differences[0];
  EXPECT_NE(changed.differences[0].find("(the chart's files changed)"), std::string::npos);

  ImageLock without_redis = ImageLock::load(committed_lock());
  without_redis.images.erase(std::find_if(without_redis.images.begin(), without_redis.images.end(),
                                          [](const LockedImage& i) { return i.name == "redis"; }));
  without_redis.save(tmp.path() / "images.lock");
  auto missing = check(chart_dir(), tmp.path() / "images.lock", mirrored_to(*registry_));
  EXPECT_EQ(missing.differences, (std::vector<std::string>{"image redis: docker.io/library/redis:7.4 is missing from the lock"}));

  auto absent = check(chart_dir(), tmp.path() / "none.lock", mirrored_to(*registry_));
  ASSERT_EQ(absent.differences.size(), 1u);
  EXPECT_NE(absent.differences[0].find("none.lock does not exist"), std::string::npos);
}

TEST_F(LockAgainstFixtures, RefusesAChartWhoseValuesDisagreeWithItsAnnotation) {
  testenv::TempDir tmp;
  fs::copy(chart_dir(), tmp.path() / "chart", fs::copy_options::recursive);
  std::string values = util::read_file(tmp.path() / "chart/values.yaml");
  const std::string from = "repository: prom/prometheus\n    tag: v2.54.1";
  ASSERT_NE(values.find(from), std::string::npos);
  values.replace(values.find(from), from.size(), "repository: prom/prometheus\n    tag: v2.55.0");
  util::write_file_atomic(tmp.path() / "chart/values.yaml", values);
  try {
    resolve(tmp.path() / "chart", mirrored_to(*registry_));
    FAIL() << "a chart whose values disagree with its annotation was locked";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    EXPECT_NE(std::string(e.what()).find("prometheus.image (prometheus): values.yaml selects docker.io/prom/prometheus:v2.55.0"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(LockAgainstFixtures, ASingleManifestImageTakesItsPlatformFromItsConfig) {
  // crane copies one platform of the busybox fixture as a plain image manifest.
  const std::string single = registry_->host() + "/single/busybox:1";
  auto r = testenv::run({testenv::peer("crane"), "copy", "--insecure", "--platform", "linux/arm64",
                         registry_->host() + "/library/busybox:1.36", single});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  testenv::TempDir tmp;
  const fs::path copy = tmp.path() / "chart";
  fs::copy(chart_dir(), copy, fs::copy_options::recursive);
  auto replace = [](const fs::path& file, const std::string& from, const std::string& to) {
    std::string text = util::read_file(file);
    ASSERT_NE(text.find(from), std::string::npos) << from;
    text.replace(text.find(from), from.size(), to);
    util::write_file_atomic(file, text);
  };
  replace(copy / "Chart.yaml", "image: docker.io/library/busybox:1.36", "image: " + single);
  replace(copy / "values.yaml", "registry: docker.io\n    repository: library/busybox\n    tag: \"1.36\"",
          "registry: \"" + registry_->host() + "\"\n    repository: single/busybox\n    tag: \"1\"");
  const ImageLock lock = resolve(copy, mirrored_to(*registry_));
  const LockedImage* busybox = lock.find("busybox");
  ASSERT_NE(busybox, nullptr);
  EXPECT_EQ(busybox->source.str(), single);
  EXPECT_TRUE(oci::media::is_manifest(busybox->media_type)) << busybox->media_type;
  ASSERT_EQ(busybox->platforms.size(), 1u);
  EXPECT_EQ(busybox->platforms[0].os, "linux");
  EXPECT_EQ(busybox->platforms[0].architecture, "arm64");
  EXPECT_EQ(busybox->platforms[0].digest, busybox->digest);
  EXPECT_EQ(busybox->digest.str(), fixtures_->image("busybox").platform("linux/arm64").digest);
  // The lock it makes reads back.
  EXPECT_EQ(ImageLock::parse(lock.to_yaml()), lock);
}

TEST_F(LockAgainstFixtures, CommandJsonIsOneDocumentAndQuietPrintsOnlyDifferences) {
  testenv::TempDir tmp;
  const std::string written = (tmp.path() / "images.lock").string();
  auto lock_cmd = [](std::vector<std::string> args) {
    std::vector<std::string> argv = {testenv::bundle_program(), "lock", "--chart", chart_dir().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto mirrors = mirror_args(*registry_);
    argv.insert(argv.end(), mirrors.begin(), mirrors.end());
    return testenv::run(argv);
  };

  auto wrote = lock_cmd({"--lock", written, "--json"});
  ASSERT_EQ(wrote.exit_code, 0) << wrote.err;
  EXPECT_EQ(wrote.err, "");
  const auto j = nlohmann::json::parse(wrote.out);
  EXPECT_EQ(j.at("lock"), written);
  const ImageLock committed = ImageLock::load(committed_lock());
  EXPECT_EQ(j.at("chart").at("name"), committed.chart.name);
  EXPECT_EQ(j.at("chart").at("version"), committed.chart.version);
  EXPECT_EQ(j.at("chart").at("digest"), committed.chart.digest.str());
  ASSERT_EQ(j.at("images").size(), committed.images.size());
  for (size_t i = 0; i < committed.images.size(); ++i) {
    const auto& image = j.at("images")[i];
    const LockedImage& want = committed.images[i];
    EXPECT_EQ(image.at("name"), want.name);
    EXPECT_EQ(image.at("source"), want.source.str());
    EXPECT_EQ(image.at("digest"), want.digest.str());
    ASSERT_EQ(image.at("platforms").size(), want.platforms.size()) << want.name;
    EXPECT_EQ(image.at("platforms")[0].at("platform"), want.platforms[0].str()) << want.name;
    EXPECT_EQ(image.at("platforms")[0].at("digest"), want.platforms[0].digest.str()) << want.name;
  }
  EXPECT_EQ(util::read_file(written), util::read_file(committed_lock()));

  auto quiet = lock_cmd({"--lock", written, "--quiet"});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.out, "");
  EXPECT_EQ(quiet.err, "");

  auto fresh = lock_cmd({"--lock", committed_lock().string(), "--check", "--json"});
  EXPECT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(fresh.err, "");
  EXPECT_EQ(nlohmann::json::parse(fresh.out),
            (nlohmann::json{{"lock", committed_lock().string()}, {"upToDate", true}, {"differences", nlohmann::json::array()}}));

  ImageLock without_redis = committed;
  without_redis.images.erase(std::find_if(without_redis.images.begin(), without_redis.images.end(),
                                          [](const LockedImage& i) { return i.name == "redis"; }));
  without_redis.save(written);
  auto stale = lock_cmd({"--lock", written, "--check", "--json"});
  EXPECT_EQ(stale.exit_code, 1) << stale.out << stale.err;
  EXPECT_EQ(stale.err, "");
  EXPECT_EQ(nlohmann::json::parse(stale.out),
            (nlohmann::json{{"lock", written},
                            {"upToDate", false},
                            {"differences", {"image redis: docker.io/library/redis:7.4 is missing from the lock"}}}));

  auto stale_quiet = lock_cmd({"--lock", written, "--check", "--quiet"});
  EXPECT_EQ(stale_quiet.exit_code, 1) << stale_quiet.out << stale_quiet.err;
  EXPECT_EQ(stale_quiet.out, "");
  EXPECT_NE(stale_quiet.err.find("images.lock is stale (1 difference):\n"
                                 "  - image redis: docker.io/library/redis:7.4 is missing from the lock\n"),
            std::string::npos)
      << stale_quiet.err;
}

TEST(LockCommand, ChecksTheCommittedLockAndFailsReadablyWhenAFixtureChanges) {
  testenv::Registry registry;
  testenv::push_fixtures(registry, reference_release());
  testenv::TempDir tmp;

  std::vector<std::string> write = {testenv::bundle_program(), "lock", "--chart", chart_dir().string(), "--lock",
                                    (tmp.path() / "images.lock").string()};
  auto args = mirror_args(registry);
  write.insert(write.end(), args.begin(), args.end());
  auto wrote = testenv::run(write);
  ASSERT_EQ(wrote.exit_code, 0) << wrote.err;
  EXPECT_NE(wrote.out.find("14 images of ai-saas-dashboard 1.0.0"), std::string::npos) << wrote.out;
  EXPECT_EQ(util::read_file(tmp.path() / "images.lock"), util::read_file(committed_lock()));

  std::vector<std::string> check_cmd = {testenv::bundle_program(), "lock", "--check", "--chart", chart_dir().string(),
                                        "--lock", committed_lock().string()};
  check_cmd.insert(check_cmd.end(), args.begin(), args.end());
  auto ok = testenv::run(check_cmd);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("is up to date: 14 images"), std::string::npos) << ok.out;

  // The same tag, other content: what happens when an upstream image is rebuilt.
  testenv::FixtureOptions changed = reference_release();
  changed.scale = "0.02";
  changed.only = {"postgres"};
  testenv::push_fixtures(registry, changed);
  auto stale = testenv::run(check_cmd);
  EXPECT_EQ(stale.exit_code, 1) << stale.out << stale.err;
  EXPECT_NE(stale.err.find("images.lock is stale (3 differences):"), std::string::npos) << stale.err;
  EXPECT_NE(stale.err.find("  - image postgres: docker.io/library/postgres:16.4 now resolves to sha256:"), std::string::npos)
      << stale.err;
  EXPECT_NE(stale.err.find("  - image postgres: platform linux/amd64 digest sha256:"), std::string::npos) << stale.err;
  EXPECT_NE(stale.err.find("hint: run `sealift-bundle lock` to update it"), std::string::npos) << stale.err;
}

}  // namespace
}  // namespace sealift::lock
