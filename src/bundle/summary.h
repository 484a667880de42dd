// What a bundle holds, read from its metadata without unpacking it (`sealift-bundle inspect`):
// images with their platforms and sizes, what shared layers save, which signatures are present,
// the chart and the base bundle of a delta. Nothing here is verified; `sealift-install verify`
// does that.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "bundle/archive_reader.h"
#include "bundle/root.h"
#include "oci/digest.h"

namespace sealift::bundle {

struct PlatformSummary {
  std::string platform;  // "linux/arm64/v8"; "unknown" when neither index nor config says
  oci::Digest digest;    // its image manifest
  uint64_t size = 0;     // config and layers
};

// An SBOM or attestation referrer of an image.
struct AttestationSummary {
  oci::Digest digest;     // its referrer manifest
  bool vendor = false;    // made and signed by the bundle's vendor (an SBOM); else the publisher's
  std::string type;       // predicate type (attestations) or artifact type (plain SBOMs)
  std::string platform;   // the platform image an SBOM describes, when it says
  uint64_t size = 0;      // its layers
};

struct ImageSummary {
  std::string source;
  oci::Digest digest;
  std::string media_type;
  std::vector<PlatformSummary> platforms;
  uint64_t size = 0;          // its distinct configs and layers
  bool signature = false;     // its cosign .sig manifest is in the bundle
  bool sigstore = false;      // its Sigstore bundle referrer is in the bundle (format 2)
  std::vector<AttestationSummary> attestations;  // SBOMs and upstream attestations (format 3)
};

struct ChartSummary {
  std::string name, version, reference;
  uint64_t package_size = 0;
  bool signature = false;
  bool sigstore = false;
};

struct BundleSummary {
  Root root;
  std::vector<std::filesystem::path> files;  // the bundle file or its parts
  uint64_t file_size = 0;                    // on disk, compressed
  size_t entries = 0;
  bool root_signature = false;               // sealift.json.sig present
  std::vector<ImageSummary> images;
  ChartSummary chart;
  uint64_t images_size = 0;   // each image counted on its own
  uint64_t unique_size = 0;   // the same blobs, each counted once
  uint64_t carried_size = 0;  // configs, layers, the chart package and tools stored in this bundle
  uint64_t omitted_size = 0;  // delta: left out because the base carries them

  // What storing shared layers once saves.
  uint64_t shared_savings() const { return images_size - unique_size; }
};

// Throws Error(Input) when a document the summary needs is missing or malformed.
BundleSummary summarize(const ArchiveReader& reader);

}  // namespace sealift::bundle
