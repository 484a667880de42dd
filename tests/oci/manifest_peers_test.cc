// Manifests written by real tools (umoci builds an OCI layout, skopeo converts it to Docker and OCI
// manifests) parse, hash to the digests those tools computed, and point at the blobs they wrote.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "env/process.h"
#include "oci/digest.h"
#include "oci/manifest.h"
#include "util/fs.h"

namespace sealift::oci {
namespace {

namespace fs = std::filesystem;

void must_run(const std::vector<std::string>& argv) {
  testenv::RunResult r = testenv::run(argv);
  ASSERT_EQ(r.exit_code, 0) << argv[0] << " failed (install the Debian package umoci/skopeo):\n" << r.out << r.err;
}

// Streams the blob through a VerifyingSink: the descriptor's digest and size must hold.
void expect_blob_matches(const fs::path& file, const Descriptor& d) {
  util::FileSource src(file);
  HashingSink nowhere;
  VerifyingSink check(nowhere, d.digest, d.size, file.string());
  io::copy(src, check);
  EXPECT_NO_THROW(check.close()) << file;
}

class ToolWrittenManifests : public testing::Test {
 protected:
  void SetUp() override {
    layout_ = dir_ / "layout";
    must_run({"umoci", "init", "--layout", layout_.string()});
    must_run({"umoci", "new", "--image", layout_.string() + ":base"});
    util::write_file_atomic(dir_ / "hello.txt", "hello from sealift\n");
    must_run({"umoci", "insert", "--image", layout_.string() + ":base", (dir_ / "hello.txt").string(), "/hello.txt"});
  }

  testenv::TempDir dir_;
  fs::path layout_;
};

TEST_F(ToolWrittenManifests, UmociLayoutIndexAndManifest) {
  // index.json has no mediaType: its shape says it is an index.
  Manifest index = Manifest::parse(util::read_file(layout_ / "index.json"));
  ASSERT_TRUE(index.is_index());
  ASSERT_EQ(index.manifests().size(), 1u);
  const Descriptor& d = index.manifests()[0];
  EXPECT_EQ(d.media_type, media::kOciManifest);
  EXPECT_EQ(d.annotations.at("org.opencontainers.image.ref.name"), "base");

  fs::path blob = layout_ / "blobs" / "sha256" / std::string(d.digest.hex());
  Manifest m = Manifest::parse(util::read_file(blob), d.media_type);
  EXPECT_EQ(m.digest(), d.digest);
  EXPECT_EQ(m.size(), d.size);
  EXPECT_EQ(m.media_type(), media::kOciManifest);
  EXPECT_EQ(m.config().media_type, media::kOciConfig);
  ASSERT_EQ(m.layers().size(), 1u);
  for (const Descriptor& child : m.children())
    expect_blob_matches(layout_ / "blobs" / "sha256" / std::string(child.digest.hex()), child);

  // skopeo reads the same bytes back and agrees on the digest.
  testenv::RunResult raw = testenv::run({"skopeo", "inspect", "--raw", "oci:" + layout_.string() + ":base"});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_EQ(raw.out, m.bytes());
}

TEST_F(ToolWrittenManifests, SkopeoDockerAndOciManifests) {
  struct Case {
    std::string format;
    std::string_view media_type, config_type;
  };
  for (const Case& c : {Case{"v2s2", media::kDockerManifest, media::kDockerConfig},
                        Case{"oci", media::kOciManifest, media::kOciConfig}}) {
    SCOPED_TRACE(c.format);
    fs::path out = dir_ / ("dir-" + c.format);
    must_run({"skopeo", "copy", "--quiet", "--format", c.format, "oci:" + layout_.string() + ":base", "dir:" + out.string()});
    Manifest m = Manifest::parse(util::read_file(out / "manifest.json"));
    EXPECT_EQ(m.media_type(), c.media_type);
    EXPECT_EQ(m.config().media_type, c.config_type);
    ASSERT_EQ(m.layers().size(), 1u);
    for (const Descriptor& child : m.children()) expect_blob_matches(out / std::string(child.digest.hex()), child);

    testenv::RunResult digest = testenv::run({"skopeo", "manifest-digest", (out / "manifest.json").string()});
    ASSERT_EQ(digest.exit_code, 0) << digest.err;
    EXPECT_EQ(digest.out, m.digest().str() + "\n");
  }
}

}  // namespace
}  // namespace sealift::oci
