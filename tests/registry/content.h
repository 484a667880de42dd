// Test content for the registry suites: images made of random blobs, held in memory or read from an
// OCI image layout on disk (what sealift-fixtures and skopeo write).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/stream.h"
#include "oci/manifest.h"
#include "registry/image.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::registry::test {

inline std::string random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t k = 0; k < 8 && i + k < n; ++k) s[i + k] = static_cast<char>((v >> (8 * k)) & 0xff);
  }
  return s;
}

inline oci::Descriptor describe(const std::string& bytes, std::string media_type) {
  oci::Descriptor d;
  d.media_type = std::move(media_type);
  d.digest = oci::Digest::of(bytes);
  d.size = static_cast<int64_t>(bytes.size());
  return d;
}

// Content kept in memory: a ContentSource for pushes and a ContentTarget for pulls. Transfer workers
// call it several at once (the ContentTarget contract), so every call made during a transfer takes
// the lock; tests read the maps directly only after the transfer returned.
class MemoryContent : public ContentSource, public ContentTarget {
 public:
  std::map<oci::Digest, std::string> blobs;
  std::map<oci::Digest, std::string> manifests;

  oci::Descriptor add_blob(const std::string& bytes, std::string media_type) {
    blobs[oci::Digest::of(bytes)] = bytes;
    return describe(bytes, std::move(media_type));
  }
  // An image manifest over a config and the given layers.
  oci::Manifest add_image(const std::vector<std::string>& layers, const std::string& config_json,
                          std::string_view media_type = oci::media::kOciManifest) {
    bool docker = media_type == oci::media::kDockerManifest;
    oci::Descriptor config = add_blob(config_json, std::string(docker ? oci::media::kDockerConfig : oci::media::kOciConfig));
    nlohmann::ordered_json m = {{"schemaVersion", 2}, {"mediaType", media_type}, {"config", config.to_json()}};
    m["layers"] = nlohmann::ordered_json::array();
    for (const auto& l : layers)
      m["layers"].push_back(add_blob(l, std::string(docker ? oci::media::kDockerLayerGzip : oci::media::kOciLayerGzip)).to_json());
    return add_manifest(m.dump(), media_type);
  }
  oci::Manifest add_index(const std::vector<std::pair<oci::Manifest, std::string>>& images) {
    nlohmann::ordered_json idx = {{"schemaVersion", 2}, {"mediaType", oci::media::kOciIndex}};
    idx["manifests"] = nlohmann::ordered_json::array();
    for (const auto& [m, platform] : images) {
      oci::Descriptor d = m.descriptor();
      d.platform = oci::Platform::parse(platform);
      idx["manifests"].push_back(d.to_json());
    }
    // Three spaces of indentation: exact bytes must survive, whatever they look like.
    return add_manifest(idx.dump(3), oci::media::kOciIndex);
  }
  oci::Manifest add_manifest(const std::string& bytes, std::string_view media_type) {
    oci::Manifest m = oci::Manifest::parse(bytes, media_type);
    manifests[m.digest()] = bytes;
    return m;
  }

  std::string manifest_bytes(const oci::Descriptor& d) override {
    std::lock_guard lock(mu_);
    return manifests.at(d.digest);
  }
  std::unique_ptr<io::Source> open_blob(const oci::Descriptor& d, uint64_t offset) override {
    std::lock_guard lock(mu_);
    ++opens;
    const std::string& b = blobs.at(d.digest);
    return std::make_unique<Slice>(b, offset);
  }

  bool has_blob(const oci::Descriptor& d) override {
    std::lock_guard lock(mu_);
    return blobs.count(d.digest) > 0;
  }
  std::unique_ptr<BlobWriter> write_blob(const oci::Descriptor& d) override {
    return std::make_unique<Writer>(*this, d.digest);
  }
  void put_manifest(const oci::Manifest& m) override {
    std::lock_guard lock(mu_);
    manifests[m.digest()] = m.bytes();
  }

  int opens = 0;

 private:
  std::mutex mu_;

  class Slice : public io::Source {
   public:
    Slice(const std::string& s, uint64_t offset) : src_(std::span<const std::byte>(
                                                         reinterpret_cast<const std::byte*>(s.data()) + offset, s.size() - offset)) {}
    size_t read(std::span<std::byte> buf) override { return src_.read(buf); }

   private:
    io::MemorySource src_;
  };
  class Writer : public BlobWriter {
   public:
    Writer(MemoryContent& c, oci::Digest d) : c_(c), d_(std::move(d)) {}
    void write(std::span<const std::byte> buf) override { sink_.write(buf); }
    void commit() override {
      std::lock_guard lock(c_.mu_);
      c_.blobs[d_] = std::move(sink_.out);
    }

   private:
    MemoryContent& c_;
    oci::Digest d_;
    io::StringSink sink_;
  };
};

// An OCI image layout directory (blobs/sha256/<hex>, index.json) as a ContentSource.
class LayoutContent : public ContentSource {
 public:
  explicit LayoutContent(std::filesystem::path dir) : dir_(std::move(dir)) {}

  std::filesystem::path blob_path(const oci::Digest& d) const { return dir_ / "blobs" / "sha256" / std::string(d.hex()); }
  std::string manifest_bytes(const oci::Descriptor& d) override { return util::read_file(blob_path(d.digest)); }
  std::unique_ptr<io::Source> open_blob(const oci::Descriptor& d, uint64_t offset) override {
    auto f = std::make_unique<util::FileSource>(blob_path(d.digest));
    // FileSource has no seek; skip to the offset.
    std::vector<std::byte> buf(1 << 16);
    while (offset > 0) {
      size_t n = f->read(std::span<std::byte>(buf.data(), std::min<uint64_t>(buf.size(), offset)));
      if (n == 0) throw Error(ErrorKind::Io, "blob shorter than the offset");
      offset -= n;
    }
    return f;
  }
  // The index.json entry tagged `ref` (org.opencontainers.image.ref.name).
  oci::Descriptor tagged(const std::string& ref) const {
    auto index = nlohmann::json::parse(util::read_file(dir_ / "index.json"));
    for (const auto& m : index["manifests"]) {
      if (m.contains("annotations") && m["annotations"].value("org.opencontainers.image.ref.name", "") == ref)
        return oci::Descriptor::from_json(m, "index.json");
    }
    throw std::runtime_error("no " + ref + " in " + dir_.string());
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace sealift::registry::test
