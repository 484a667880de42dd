// An OCI image layout written through the bundle archive is read by the real OCI tools: skopeo
// (from the extracted layout and straight from the .tar.zst) and umoci. The images are built here,
// a config and one gzip layer each, sharing the layer as real images do.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "archive_fixtures.h"
#include "env/process.h"

namespace sealift::bundle {
namespace {

namespace fs = std::filesystem;
using namespace sealift::bundle::testing;
using nlohmann::json;
using testenv::run;
using testenv::TempDir;

// gzip through libarchive's raw format, so the test needs no other compressor.
std::string gzip(const std::string& data) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_raw(a);
  archive_write_add_filter_gzip(a);
  archive_write_set_bytes_per_block(a, 0);
  archive_write_open(
      a, &out, nullptr,
      [](archive*, void* sink, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(sink)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "layer");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
  archive_write_header(a, e);
  archive_write_data(a, data.data(), data.size());
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

json descriptor(const std::string& media_type, const std::string& bytes) {
  return {{"mediaType", media_type}, {"digest", oci::Digest::of(bytes).str()}, {"size", bytes.size()}};
}

std::string blob_name(const std::string& bytes) { return "blobs/sha256/" + std::string(oci::Digest::of(bytes).hex()); }

struct Layout {
  std::vector<Payload> entries;  // in bundle order: layout, index, manifests, configs, layers
  std::map<std::string, std::string> manifests;  // reference → manifest bytes
  std::string layer;
};

Layout two_images() {
  Layout l;
  std::string layer_tar = craft_tar({{"hello.txt", "hello from sealift\n"}, {"etc/motd", "air-gapped\n"}}).bytes;
  l.layer = gzip(layer_tar);
  std::string diff_id = oci::Digest::of(layer_tar).str();
  std::vector<Payload> manifests, configs;
  json index = {{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"}, {"manifests", json::array()}};
  for (std::string ref : {"registry.example.com/team/app:1.0", "docker.io/library/tools:2.0"}) {
    std::string config = json{{"architecture", "amd64"},
                              {"os", "linux"},
                              {"config", {{"Env", {"IMAGE=" + ref}}}},
                              {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id}}}}}
                             .dump();
    std::string manifest = json{{"schemaVersion", 2},
                                {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                {"config", descriptor("application/vnd.oci.image.config.v1+json", config)},
                                {"layers", {descriptor("application/vnd.oci.image.layer.v1.tar+gzip", l.layer)}}}
                               .dump();
    json d = descriptor("application/vnd.oci.image.manifest.v1+json", manifest);
    d["annotations"] = {{"org.opencontainers.image.ref.name", ref}, {"io.containerd.image.name", ref}};
    index["manifests"].push_back(d);
    manifests.push_back({blob_name(manifest), manifest});
    configs.push_back({blob_name(config), config});
    l.manifests[ref] = manifest;
  }
  l.entries.push_back({"oci-layout", R"({"imageLayoutVersion":"1.0.0"})"});
  l.entries.push_back({"index.json", index.dump()});
  l.entries.insert(l.entries.end(), manifests.begin(), manifests.end());
  l.entries.insert(l.entries.end(), configs.begin(), configs.end());
  l.entries.push_back({blob_name(l.layer), l.layer});
  return l;
}

testenv::RunResult must_run(const std::vector<std::string>& argv) {
  auto r = run(argv);
  std::string cmd;
  for (const auto& a : argv) cmd += a + " ";
  EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.err;
  return r;
}

class OciLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    layout_ = two_images();
    bundle_ = dir_ / "bundle.tar.zst";
    write_bundle(bundle_, layout_.entries, small_frames());
    extracted_ = dir_ / "layout";
    fs::create_directory(extracted_);
    must_run({"tar", "--zstd", "-xf", bundle_.string(), "-C", extracted_.string()});
  }

  TempDir dir_;
  Layout layout_;
  fs::path bundle_, extracted_;
};

TEST_F(OciLayoutTest, SkopeoReadsEachImageByItsSourceReference) {
  for (const auto& [ref, manifest] : layout_.manifests) {
    EXPECT_EQ(must_run({"skopeo", "inspect", "--raw", "oci:" + extracted_.string() + ":" + ref}).out, manifest);
    auto config = json::parse(must_run({"skopeo", "inspect", "--config", "oci:" + extracted_.string() + ":" + ref}).out);
    EXPECT_EQ(config["config"]["Env"][0], "IMAGE=" + ref);
  }
  // A copy reads every blob and checks it against its digest.
  fs::path out = dir_ / "copied";
  must_run({"skopeo", "copy", "--quiet", "oci:" + extracted_.string() + ":registry.example.com/team/app:1.0",
            "dir:" + out.string()});
  EXPECT_EQ(util::read_file(out / oci::Digest::of(layout_.layer).hex()), layout_.layer);
}

TEST_F(OciLayoutTest, SkopeoReadsTheCompressedBundleDirectly) {
  std::string ref = "docker.io/library/tools:2.0";
  EXPECT_EQ(must_run({"skopeo", "inspect", "--raw", "oci-archive:" + bundle_.string() + ":" + ref}).out,
            layout_.manifests[ref]);
}

TEST_F(OciLayoutTest, UmociListsAndUnpacksTheImages) {
  auto listed = must_run({"umoci", "ls", "--layout", extracted_.string()}).out;
  for (const auto& [ref, manifest] : layout_.manifests) EXPECT_NE(listed.find(ref), std::string::npos) << listed;
  // umoci unpack checks the layer against the config's diff_id as it extracts it.
  fs::path rootfs = dir_ / "unpacked";
  must_run({"umoci", "unpack", "--rootless", "--image", extracted_.string() + ":registry.example.com/team/app:1.0",
            rootfs.string()});
  EXPECT_EQ(util::read_file(rootfs / "rootfs" / "hello.txt"), "hello from sealift\n");
}

TEST_F(OciLayoutTest, TheBundleReaderServesTheSameBlobs) {
  ArchiveReader r(bundle_);
  json index = json::parse(r.read_small("index.json"));
  for (const json& d : index["manifests"]) {
    std::string digest = d["digest"];
    std::string manifest = r.read_small("blobs/sha256/" + digest.substr(7));
    EXPECT_EQ(oci::Digest::of(manifest).str(), digest);
    json parsed = json::parse(manifest);
    for (const json& layer : parsed["layers"]) {
      std::string name = "blobs/sha256/" + layer["digest"].get<std::string>().substr(7);
      EXPECT_EQ(oci::Digest::of(read_entry(r, name)).str(), layer["digest"]);
    }
  }
}

}  // namespace
}  // namespace sealift::bundle
