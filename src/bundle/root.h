// sealift.json, the signed root of a bundle (docs/bundle-format.md). It holds the lock, the digest
// of index.json and the chart artifact; everything else in the bundle is reached from it by digest.
// The bytes are what is signed, so a Root read from a bundle keeps them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "oci/digest.h"

namespace sealift::bundle {

// Version 2 adds the cosign v3 signatures (Sigstore bundles as OCI 1.1 referrers) beside the
// legacy `.sig` ones; version 3 the images' SBOMs and upstream attestations (referrers too).
// Readers take 1 to 3, writers write 3.
inline constexpr int kFormatVersion = 3;
inline constexpr int kOldestFormatVersion = 1;

struct RootImage {
  std::string source;          // source reference as locked, e.g. docker.io/library/postgres:16.4
  oci::Digest digest;          // what the bundle carries for it (reduced index when filtered)
  std::string media_type;      // of that manifest or index
  oci::Digest upstream_digest; // the locked upstream digest (provenance; equals digest unless filtered)
  oci::Digest signature;       // digest of its cosign .sig manifest in the bundle
  oci::Digest referrer;        // its Sigstore bundle referrer manifest (format 2; empty in 1)
  // Sigstore bundle referrers that signed the image upstream (its publisher's, not the vendor's),
  // carried as found when the build was given --upstream-key and they verified with it. Serialized
  // only when there are some.
  std::vector<oci::Digest> upstream_signatures;
  // Format 3. The vendor's SBOM attestations (one per platform, syft's SPDX signed by the bundle's
  // key as `cosign attest --type spdxjson` does), referrers of the image.
  std::vector<oci::Digest> sboms;
  // Format 3. Attestations and SBOMs the image's publisher attached as OCI referrers, carried as
  // found (Sigstore attestation bundles; plain SPDX/CycloneDX artifacts).
  std::vector<oci::Digest> upstream_attestations;
};

struct RootChart {
  std::string name;
  std::string version;
  std::string reference;       // ref.name in index.json, e.g. charts/ai-saas-dashboard:1.0.0
  oci::Digest manifest;        // Helm OCI artifact manifest
  int64_t manifest_size = 0;
  oci::Digest package;         // the chart .tgz layer
  oci::Digest signature;       // its cosign .sig manifest
  oci::Digest referrer;        // its Sigstore bundle referrer manifest (format 2; empty in 1)
};

// A tool for the installer host (the helm binary) that the bundle carries as an OCI artifact.
struct RootTool {
  std::string name;            // "helm"
  std::string version;         // "v3.21.4"
  std::string platform;        // the host it runs on, "linux/amd64"
  std::string reference;       // ref.name in index.json, e.g. sealift/tools/helm:v3.21.4
  oci::Digest manifest;        // the tool's artifact manifest
  int64_t manifest_size = 0;
  oci::Digest binary;          // its one layer: the executable
  int64_t size = 0;
};

struct RootBase {
  std::string name;
  std::string version;
  oci::Digest root;            // sha256 of the base bundle's sealift.json
};

struct Root {
  int format_version = kFormatVersion;
  std::string name;
  std::string version;
  std::string created;         // RFC 3339 UTC
  std::string tool;            // "sealift <version>"
  std::string lock;            // images.lock, verbatim
  oci::Digest index;           // index.json
  int64_t index_size = 0;
  std::vector<std::string> platforms;  // empty = every locked platform
  std::vector<RootImage> images;
  RootChart chart;
  std::vector<RootTool> tools;  // optional; serialized only when there are some
  std::optional<RootBase> base;
  std::vector<oci::Digest> omitted_blobs;  // delta bundles: blobs the base carries

  // Deterministic JSON (2-space indent, fixed key order, trailing newline).
  std::string serialize() const;
  // Strict parse; throws Error(Input) naming the field on anything unexpected.
  static Root parse(const std::string& bytes);
};

// SOURCE_DATE_EPOCH (reproducible builds), when set; throws Error(Usage) unless it is a
// non-negative number of seconds.
std::optional<int64_t> source_date_epoch();
// RFC 3339 creation time: SOURCE_DATE_EPOCH when set, else now.
std::string creation_time();

}  // namespace sealift::bundle
