// images.lock: the documented schema read strictly, written deterministically, and compared
// readably.
#include <gtest/gtest.h>

#include "env/process.h"
#include "lock/image_lock.h"
#include "oci/manifest.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::lock {
namespace {

oci::Digest d(const std::string& seed) { return oci::Digest::of(seed); }

ImageLock sample() {
  ImageLock lock;
  lock.chart = {"ai-saas-dashboard", "1.0.0", d("chart")};
  LockedImage redis;
  redis.name = "redis";
  redis.component = "redis";
  redis.source = ref::Reference::parse("docker.io/library/redis:7.4");
  redis.digest = d("redis-index");
  redis.media_type = std::string(oci::media::kOciIndex);
  redis.platforms = {{"linux", "amd64", "", d("redis-amd64"), 1234}, {"linux", "arm64", "v8", d("redis-arm64"), std::nullopt}};
  redis.values_paths = {"redis.image"};
  LockedImage busybox;
  busybox.name = "busybox";
  busybox.component = "tools";
  busybox.source = ref::Reference::parse("busybox:1.36");
  busybox.digest = d("busybox");
  busybox.media_type = std::string(oci::media::kDockerManifest);
  busybox.platforms = {{"linux", "amd64", "", d("busybox"), 527}};
  busybox.values_paths = {"tools.image"};
  lock.images = {redis, busybox};  // not sorted on purpose
  return lock;
}

TEST(ImageLock, RoundTripsThroughTheDocumentedYaml) {
  const ImageLock lock = sample();
  const std::string yaml = lock.to_yaml();
  EXPECT_EQ(yaml, "# images.lock: every image of the chart pinned by digest (sealift-bundle lock; docs/images-lock.md).\n"
                  "apiVersion: sealift.dev/v1\n"
                  "kind: ImagesLock\n"
                  "chart:\n"
                  "  name: ai-saas-dashboard\n"
                  "  version: 1.0.0\n"
                  "  digest: " + d("chart").str() + "\n"
                  "images:\n"
                  "  - name: busybox\n"
                  "    component: tools\n"
                  "    source: docker.io/library/busybox:1.36\n"
                  "    digest: " + d("busybox").str() + "\n"
                  "    mediaType: application/vnd.docker.distribution.manifest.v2+json\n"
                  "    platforms:\n"
                  "      - os: linux\n"
                  "        architecture: amd64\n"
                  "        digest: " + d("busybox").str() + "\n"
                  "        size: 527\n"
                  "    valuesPaths: [tools.image]\n"
                  "  - name: redis\n"
                  "    component: redis\n"
                  "    source: docker.io/library/redis:7.4\n"
                  "    digest: " + d("redis-index").str() + "\n"
                  "    mediaType: application/vnd.oci.image.index.v1+json\n"
                  "    platforms:\n"
                  "      - os: linux\n"
                  "        architecture: amd64\n"
                  "        digest: " + d("redis-amd64").str() + "\n"
                  "        size: 1234\n"
                  "      - os: linux\n"
                  "        architecture: arm64\n"
                  "        variant: v8\n"
                  "        digest: " + d("redis-arm64").str() + "\n"
                  "    valuesPaths: [redis.image]\n");
  ImageLock back = ImageLock::parse(yaml);
  ImageLock sorted = lock;
  sorted.sort();
  EXPECT_EQ(back, sorted);
  EXPECT_EQ(back.to_yaml(), yaml);
  ASSERT_NE(back.find("redis"), nullptr);
  EXPECT_TRUE(back.find("redis")->has_digest(d("redis-arm64")));
  EXPECT_TRUE(back.find("redis")->has_digest(d("redis-index")));
  EXPECT_FALSE(back.find("redis")->has_digest(d("busybox")));
  EXPECT_EQ(back.find("nginx"), nullptr);
}

TEST(ImageLock, SavesAtomicallyAndLoads) {
  testenv::TempDir tmp;
  sample().save(tmp.path() / "images.lock");
  EXPECT_EQ(ImageLock::load(tmp.path() / "images.lock").images.size(), 2u);
  try {
    ImageLock::load(tmp.path() / "missing.lock");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.lock does not exist"), std::string::npos);
    EXPECT_NE(e.hint().find("sealift-bundle lock"), std::string::npos);
  }
}

// The sample's YAML with one substring replaced.
std::string mutated(const std::string& from, const std::string& to) {
  std::string yaml = sample().to_yaml();
  auto pos = yaml.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) yaml.replace(pos, from.size(), to);
  return yaml;
}

TEST(ImageLock, RefusesMalformedLocksNamingLineAndField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {mutated("apiVersion: sealift.dev/v1", "apiVersion: sealift.dev/v2"), "images.lock:2: apiVersion \"sealift.dev/v2\" is not sealift.dev/v1"},
      {mutated("kind: ImagesLock", "kind: Images"), "kind \"Images\" is not ImagesLock"},
      {mutated("  version: 1.0.0\n", ""), "chart: version is required"},
      {mutated("    component: tools\n", "    component: tools\n    colour: blue\n"), "images[0]: unknown field \"colour\""},
      {mutated("digest: " + d("busybox").str(), "digest: sha256:abc"), "image \"busybox\": digest \"sha256:abc\" is not sha256:<64 lowercase hex>"},
      {mutated("source: docker.io/library/busybox:1.36", "source: docker.io/library/busybox"), "must be a reference with a tag"},
      {mutated("source: docker.io/library/busybox:1.36", "source: Docker.io/LIB/busybox:1.36"), "image \"busybox\": source:"},
      {mutated("mediaType: application/vnd.docker.distribution.manifest.v2+json", "mediaType: text/plain"), "neither an image index nor an image manifest"},
      {mutated("        size: 527\n", "        size: -5\n"), "size must be a number of bytes"},
      {mutated("valuesPaths: [tools.image]", "valuesPaths: []"), "valuesPaths must be a non-empty list"},
      {mutated("valuesPaths: [tools.image]", "valuesPaths: [\"tools..image\"]"), "not a dotted key path"},
      {mutated("valuesPaths: [tools.image]", "valuesPaths: [redis.image]"), "values path redis.image selects both"},
      {mutated("  - name: redis\n", "  - name: busybox\n"), "image \"busybox\" is listed twice"},
      // The chart's name and version become a file name and a tag on the installer host.
      {mutated("  name: ai-saas-dashboard\n", "  name: ../../x\n"), "chart: name \"../../x\" is not a chart name"},
      {mutated("  version: 1.0.0\n", "  version: 1.0/../..\n"), "chart: version \"1.0/../..\" is not a SemVer 2"},
      {mutated("        architecture: arm64\n        variant: v8\n", "        architecture: amd64\n"), "platform linux/amd64 is listed twice"},
      {mutated("        digest: " + d("busybox").str() + "\n        size: 527", "        digest: " + d("other").str() + "\n        size: 527"),
       "a single image manifest has exactly one platform, with the image's digest"},
      {"apiVersion: sealift.dev/v1\nkind: ImagesLock\nchart: {name: a, version: '1.0.0', digest: " + d("c").str() + "}\nimages: []\n",
       "images must be a non-empty list"},
      {"apiVersion: [", "images.lock:1:"},
      {"just text", "images.lock must be a map"},
  };
  for (const auto& [text, reason] : cases) {
    try {
      ImageLock::parse(text);
      ADD_FAILURE() << "accepted:\n" << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Input);
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << "expected \"" << reason << "\" in: " << e.what();
    }
  }
}

TEST(ImageLock, DiffSaysWhatChangedInTheUsersWords) {
  const ImageLock old_lock = sample();
  EXPECT_TRUE(diff(old_lock, old_lock).empty());

  ImageLock fresh = sample();
  fresh.chart.digest = d("chart2");
  auto& redis = fresh.images[0];
  redis.digest = d("redis-index2");
  redis.platforms[0].digest = d("redis-amd64-2");
  redis.platforms.pop_back();
  redis.platforms.push_back({"linux", "s390x", "", d("redis-s390x"), 9});
  redis.values_paths.push_back("cache.image");
  LockedImage extra = fresh.images[1];
  extra.name = "nginx";
  extra.source = ref::Reference::parse("nginx:1.27");
  fresh.images.push_back(extra);
  fresh.images.erase(fresh.images.begin() + 1);  // busybox gone

  const auto lines = diff(old_lock, fresh);
  auto has = [&lines](const std::string& text) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(has("chart: digest " + d("chart").str() + " -> " + d("chart2").str() + " (the chart's files changed)"));
  EXPECT_TRUE(has("image redis: docker.io/library/redis:7.4 now resolves to " + d("redis-index2").str()));
  EXPECT_TRUE(has("image redis: platform linux/amd64 digest"));
  EXPECT_TRUE(has("image redis: platform linux/arm64/v8 removed"));
  EXPECT_TRUE(has("image redis: platform linux/s390x added"));
  EXPECT_TRUE(has("image redis: values paths [redis.image] -> [redis.image, cache.image]"));
  EXPECT_TRUE(has("image nginx: docker.io/library/nginx:1.27 is missing from the lock"));
  EXPECT_TRUE(has("image busybox: in the lock but no longer in the chart"));
  EXPECT_EQ(lines.size(), 8u);
}

}  // namespace
}  // namespace sealift::lock
