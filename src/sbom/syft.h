// SBOMs of the images a bundle carries, made by syft (https://github.com/anchore/syft) from the
// bundler's blob cache: each platform image is staged as a one-image OCI layout, copied from the
// cache and hashed as it is copied, in a directory of its own, and scanned offline, with no
// config but an empty one of sealift's. The SBOM is SPDX 2.3 JSON, normalized so that the same image and syft version give the
// same bytes: the bundle stays reproducible.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "oci/digest.h"
#include "oci/manifest.h"

namespace sealift::sbom {

// The in-toto predicate type of an SPDX document, as `cosign attest --type spdxjson` writes it.
inline constexpr std::string_view kSpdxPredicateType = "https://spdx.dev/Document";
// What `cosign attest --type cyclonedx` writes; carried from upstream, never generated.
inline constexpr std::string_view kCycloneDxPredicateType = "https://cyclonedx.org/bom";
// Artifact types of an SBOM pushed as a plain OCI referrer (oras attach, syft/ORAS workflows).
inline constexpr std::string_view kSpdxArtifactType = "application/spdx+json";
inline constexpr std::string_view kCycloneDxArtifactType = "application/vnd.cyclonedx+json";

// On the vendor's SBOM attestation referrers: the platform image the SBOM describes (the referrer's
// subject is the image as pods name it, index or manifest).
inline constexpr std::string_view kPlatformAnnotation = "dev.sealift.sbom.platform";

bool is_sbom_predicate_type(std::string_view predicate_type);

// One platform image to scan, as the cache holds it.
struct ScanInput {
  std::string source;           // docker.io/library/postgres:16.4
  std::string platform;         // linux/amd64
  oci::Descriptor manifest;     // its image manifest
  std::string manifest_bytes;
  // The cache file of a config or layer digest (complete and verified).
  std::function<std::filesystem::path(const oci::Digest&)> blob_path;
  // Test seam (tests/build): called with the scan's directory once the layout is staged in it,
  // before syft starts; empty in the programs.
  std::function<void(const std::filesystem::path&)> staged;
};

class Syft {
 public:
  // `binary`: the syft executable; its version is asked at once (Error(Tool) when it does not run).
  explicit Syft(std::filesystem::path binary);

  // syft on $PATH, or empty.
  static std::filesystem::path find();

  const std::string& version() const { return version_; }

  // The image's SPDX 2.3 JSON SBOM, normalized (see normalize_spdx). `scratch` is a private
  // directory (BlobCache::private_dir) that gets a fresh directory for the staged layout, removed
  // before returning. `created` is the bundle's creation time. Throws Error(Tool) naming the image
  // when syft fails, with its last output lines, and Error(Integrity) naming the blob when a cache
  // file no longer hashes to its digest.
  std::string scan(const ScanInput& input, const std::filesystem::path& scratch, std::string_view created) const;

 private:
  std::filesystem::path binary_;
  std::string version_;
};

// syft's SPDX document with what varies from run to run replaced: the creation time by `created`,
// the random document namespace by one derived from the image's name and digest. Throws
// Error(Tool) when the document is not SPDX 2.3 JSON.
std::string normalize_spdx(std::string_view spdx, const ScanInput& input, std::string_view created);

}  // namespace sealift::sbom
