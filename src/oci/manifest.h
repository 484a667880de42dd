// OCI and Docker manifests and indexes. A Manifest keeps the exact bytes it was read from: digests
// are always computed over those bytes and nothing is ever re-serialised.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "oci/digest.h"

namespace sealift::oci {

namespace media {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kOciLayoutHeader = "application/vnd.oci.layout.header.v1+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kCosignSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr std::string_view kHelmConfig = "application/vnd.cncf.helm.config.v1+json";
inline constexpr std::string_view kHelmChart = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

bool is_index(std::string_view media_type);     // OCI index or Docker manifest list
bool is_manifest(std::string_view media_type);  // OCI or Docker image manifest
// The Accept header value for manifest GET/HEAD: every manifest and index type we read.
std::string accept_header();
}  // namespace media

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
  std::string os_version;

  // "linux/arm64/v8" or "linux/amd64"; throws Error(Input) on malformed text.
  static Platform parse(std::string_view text);
  std::string str() const;  // os/arch[/variant]
  // True when `this` (a wanted platform) selects `other`; an empty variant matches any.
  bool matches(const Platform& other) const;
  friend bool operator==(const Platform&, const Platform&) = default;
};

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
  std::string artifact_type;
  std::vector<std::string> urls;

  // Parses one descriptor; `where` names it in errors ("manifests[2]").
  static Descriptor from_json(const nlohmann::json& j, std::string_view where);
  // Serialises in OCI field order (mediaType, digest, size, ...); only for manifests sealift writes.
  nlohmann::ordered_json to_json() const;
};

class Manifest {
 public:
  // Parses a manifest or index from its exact bytes. `media_type` is the Content-Type it came with
  // (may be empty; then the document's own mediaType, or its shape, decides). Throws Error(Input)
  // naming the problem on malformed JSON or missing fields.
  static Manifest parse(std::string bytes, std::string_view media_type = {});

  const std::string& bytes() const { return bytes_; }
  const Digest& digest() const { return digest_; }
  int64_t size() const { return static_cast<int64_t>(bytes_.size()); }
  const std::string& media_type() const { return media_type_; }
  bool is_index() const { return media::is_index(media_type_); }

  // For image manifests:
  const Descriptor& config() const { return config_; }
  const std::vector<Descriptor>& layers() const { return layers_; }
  // For indexes:
  const std::vector<Descriptor>& manifests() const { return manifests_; }

  const std::optional<Descriptor>& subject() const { return subject_; }
  const std::string& artifact_type() const { return artifact_type_; }
  const std::map<std::string, std::string>& annotations() const { return annotations_; }

  // Every descriptor this document references: config + layers, or the index's manifests.
  std::vector<Descriptor> children() const;
  // A descriptor pointing at this document.
  Descriptor descriptor() const;

 private:
  std::string bytes_;
  Digest digest_;
  std::string media_type_;
  Descriptor config_;
  std::vector<Descriptor> layers_;
  std::vector<Descriptor> manifests_;
  std::optional<Descriptor> subject_;
  std::string artifact_type_;
  std::map<std::string, std::string> annotations_;
};

}  // namespace sealift::oci
