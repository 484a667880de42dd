// Interoperability with real peers: the fixture images (sealift-fixtures: multi-arch, OCI and
// Docker schema 2, shared layers) pushed by sealift and read back by skopeo byte for byte, and
// pushed by skopeo and pulled by sealift with identical digests.
#include <filesystem>

#include <gtest/gtest.h>

#include "env/fixtures.h"
#include "env/harbor.h"
#include "env/process.h"
#include "env/registry.h"
#include "registry/client.h"
#include "registry/content.h"
#include "registry/image.h"
#include "util/fs.h"

namespace sealift::registry {
namespace {

namespace fs = std::filesystem;
using test::LayoutContent;
using test::MemoryContent;
using testenv::FixtureImage;
using testenv::FixtureSet;

RegistryOptions plain() {
  RegistryOptions o;
  o.http.plain_http = true;
  return o;
}

std::string skopeo_raw(const std::string& image, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"skopeo", "inspect", "--raw", "--tls-verify=false"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("docker://" + image);
  testenv::RunResult r = testenv::run(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// Every blob and manifest under the image, as the layout on disk holds them.
void expect_same_as_layout(const MemoryContent& pulled, LayoutContent& layout, const ImageTransfer& t) {
  for (const auto& b : t.blobs) {
    ASSERT_TRUE(pulled.blobs.count(b.digest)) << b.digest.str();
    EXPECT_EQ(pulled.blobs.at(b.digest), util::read_file(layout.blob_path(b.digest))) << b.digest.str();
  }
  for (const auto& m : t.manifests) EXPECT_EQ(pulled.manifests.at(m.digest), layout.manifest_bytes(m)) << m.digest.str();
}

class Interop : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testenv::TempDir("sealift-interop");
    testenv::FixtureOptions fo;
    // OCI images with a shared base (python over debian), and Docker schema 2 ones.
    fo.only = {"backend", "api-gateway", "prometheus"};
    fixtures_ = new FixtureSet(testenv::generate_fixtures(dir_->path() / "layout", fo));
  }
  static void TearDownTestSuite() {
    delete fixtures_;
    delete dir_;
  }
  static fs::path layout_dir() { return dir_->path() / "layout"; }
  static inline testenv::TempDir* dir_ = nullptr;
  static inline FixtureSet* fixtures_ = nullptr;
};

TEST_F(Interop, SealiftPushesSkopeoReadsTheExactBytesAndSealiftPullsThemBack) {
  testenv::Registry reg;
  RegistryClient client(reg.host(), plain());
  TransferScheduler scheduler(4);
  LayoutContent layout(layout_dir());
  for (const FixtureImage& img : fixtures_->images) {
    SCOPED_TRACE(img.reference());
    oci::Descriptor root = layout.tagged(img.reference());
    ASSERT_EQ(root.digest.str(), img.digest);
    ImageTransfer pushed = push_image(client, scheduler, img.repository, root, layout, {img.tag});

    // skopeo sees our exact bytes, for the index and for each platform manifest.
    EXPECT_EQ(skopeo_raw(reg.host() + "/" + img.reference()), layout.manifest_bytes(root));
    for (const auto& m : img.manifests) {
      oci::Descriptor d;
      d.digest = oci::Digest::parse(m.digest);
      EXPECT_EQ(skopeo_raw(reg.host() + "/" + img.repository + "@" + m.digest), layout.manifest_bytes(d));
    }
    EXPECT_EQ(client.resolve(img.repository, img.tag).digest.str(), img.digest);

    MemoryContent pulled;
    ImageTransfer back = pull_image(client, scheduler, img.repository, img.tag, {}, pulled);
    EXPECT_EQ(back.root.digest.str(), img.digest);
    EXPECT_EQ(back.blobs.size(), pushed.blobs.size());
    expect_same_as_layout(pulled, layout, back);
  }
  // Layers shared between images went up once and were mounted afterwards.
  EXPECT_GT(client.stats().blobs_mounted, 0u);
}

TEST_F(Interop, SkopeoPushesSealiftPullsIdentically) {
  testenv::Registry reg;
  LayoutContent layout(layout_dir());
  // skopeo's oci: transport only reads OCI-typed entries of index.json; the Docker schema 2
  // fixtures are covered by the push test above.
  std::vector<FixtureImage> oci_images;
  for (const FixtureImage& img : fixtures_->images)
    if (img.media_type == oci::media::kOciIndex) oci_images.push_back(img);
  ASSERT_GE(oci_images.size(), 2u);
  for (const FixtureImage& img : oci_images) {
    testenv::RunResult r = testenv::run({"skopeo", "copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
                                         "oci:" + layout_dir().string() + ":" + img.reference(),
                                         "docker://" + reg.host() + "/skopeo/" + img.reference()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  RegistryClient client(reg.host(), plain());
  TransferScheduler scheduler(4);
  for (const FixtureImage& img : oci_images) {
    SCOPED_TRACE(img.reference());
    MemoryContent pulled;
    ImageTransfer t = pull_image(client, scheduler, "skopeo/" + img.repository, img.tag, {}, pulled);
    EXPECT_EQ(t.root.digest.str(), img.digest);
    EXPECT_EQ(t.manifests.size(), img.manifests.size() + 1);
    expect_same_as_layout(pulled, layout, t);
    // One platform only, as the bundler asks for it.
    MemoryContent arm;
    ImageTransfer one = pull_image(client, scheduler, "skopeo/" + img.repository, img.tag,
                                   {oci::Platform::parse("linux/arm64")}, arm);
    ASSERT_EQ(one.manifests.size(), 2u);
    EXPECT_EQ(one.manifests[0].digest.str(), img.platform("linux/arm64").digest);
  }
}

TEST_F(Interop, RoundTripThroughTheHarborStandInWithTokenAuth) {
  testenv::HarborLike harbor(std::vector<std::string>{"mirror"});
  RegistryOptions o = plain();
  o.credentials = {harbor.admin_user(), harbor.admin_password(), "test"};
  LayoutContent layout(layout_dir());
  const FixtureImage& img = fixtures_->images.front();
  oci::Descriptor root = layout.tagged(img.reference());
  std::string repo = "mirror/" + img.repository;
  {
    RegistryClient client(harbor.host(), o);
    TransferScheduler scheduler(4);
    push_image(client, scheduler, repo, root, layout, {img.tag});
  }
  size_t patches = harbor.count_requests("PATCH", "/blobs/uploads/");
  size_t puts = harbor.count_requests("PUT", "/blobs/uploads/");
  EXPECT_GT(puts, 0u);

  // A second run of the push: HEADs only, no upload reaches the registry.
  RegistryClient again(harbor.host(), o);
  TransferScheduler scheduler(4);
  push_image(again, scheduler, repo, root, layout, {img.tag});
  EXPECT_EQ(again.stats().blobs_uploaded, 0u);
  EXPECT_EQ(harbor.count_requests("PATCH", "/blobs/uploads/"), patches) << "the registry side saw no new upload";
  EXPECT_EQ(harbor.count_requests("PUT", "/blobs/uploads/"), puts);

  MemoryContent pulled;
  ImageTransfer t = pull_image(again, scheduler, repo, img.tag, {}, pulled);
  EXPECT_EQ(t.root.digest.str(), img.digest);
  expect_same_as_layout(pulled, layout, t);
}

}  // namespace
}  // namespace sealift::registry
