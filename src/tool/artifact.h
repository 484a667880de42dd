// A tool the bundle carries for the installer host (the helm binary), as an OCI artifact: an image
// manifest with artifactType application/vnd.sealift.tool.v1, the OCI empty config, and one layer,
// the binary itself (docs/bundle-format.md §7). The manifest's annotations name the tool, its
// version and platform. The installer takes it from the bundle; it is never pushed to a registry.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "oci/digest.h"
#include "oci/manifest.h"

namespace sealift::tool {

inline constexpr std::string_view kArtifactType = "application/vnd.sealift.tool.v1";
inline constexpr std::string_view kBinaryMediaType = "application/vnd.sealift.tool.binary.v1";
inline constexpr std::string_view kEmptyConfig = "{}";  // the OCI empty descriptor's content

inline constexpr std::string_view kNameAnnotation = "dev.sealift.tool.name";
inline constexpr std::string_view kVersionAnnotation = "dev.sealift.tool.version";
inline constexpr std::string_view kPlatformAnnotation = "dev.sealift.tool.platform";
inline constexpr std::string_view kTitleAnnotation = "org.opencontainers.image.title";

struct Artifact {
  oci::Descriptor config_descriptor;  // application/vnd.oci.empty.v1+json, content "{}"
  oci::Descriptor binary_descriptor;
  oci::Manifest manifest;
};

Artifact make_artifact(const std::string& name, const std::string& version, const std::string& platform,
                       const oci::Digest& binary_digest, int64_t binary_size);

// Its ref.name in index.json: "sealift/tools/<name>:<version>" ('+' becomes '_', as helm does for
// chart tags). Throws Error(Input) when the version cannot be a tag.
std::string reference(const std::string& name, const std::string& version);

}  // namespace sealift::tool
