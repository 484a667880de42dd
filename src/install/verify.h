// `sealift-install verify`: proves a bundle before anything leaves it, failing closed. The chain
// is sealift.json.sig → sealift.json → index.json (by digest) → every manifest → every config and
// layer, plus each image's and the chart's cosign signature. Every entry of the archive is read in
// full (the reader checks its tar header against the table of contents) and hashed, in parallel.
// The push takes a VerifiedBundle, so nothing can be pushed from a bundle that was not verified;
// for a push the image layers are left to it (VerifyScope::AllButLayers), and it hashes each
// layer it sends as it sends it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "bundle/archive_reader.h"
#include "bundle/layout.h"
#include "bundle/root.h"
#include "lock/image_lock.h"
#include "oci/manifest.h"
#include "sign/signature.h"
#include "util/progress.h"

namespace sealift::install {

enum class VerifyScope {
  // Every blob (`sealift-install verify`).
  Everything,
  // Everything but the layers of images: the signature, index.json, every manifest, config,
  // signature payload and the chart. A push sends only the layers the target lacks, and hashes
  // those as it sends them (VerifiedBundle::unhashed); the layers it does not send are not taken
  // from the bundle at all.
  AllButLayers,
};

struct VerifyOptions {
  // Go on without a valid sealift.json signature (and image signatures); the caller must warn
  // loudly. Content digests are still checked.
  bool insecure_skip_signature = false;
  int jobs = 4;
  VerifyScope scope = VerifyScope::Everything;
  // --upstream-key: the images' publishers' keys. Each image that carries upstream signatures must
  // have one that verifies with them. Without them, upstream signatures are checked for form only
  // (the vendor's signature over sealift.json covers them by digest).
  sign::TrustedKeys upstream_keys;
};

// One top-level object of the bundle as index.json names it, with everything below it.
struct BundleObject {
  bundle::LayoutEntry entry;                // kind, full source reference, descriptor
  std::vector<oci::Descriptor> manifests;   // every manifest and index under it, itself included
  std::vector<oci::Descriptor> blobs;       // every config and layer under it, deduplicated
};

struct VerifiedBundle {
  bundle::Root root;
  std::string root_bytes;                   // sealift.json exactly as signed
  lock::ImageLock lock;                     // root.lock, parsed
  std::vector<BundleObject> objects;        // in index.json order
  std::set<oci::Digest> carried;            // blobs present in the archive (manifests included)
  std::set<oci::Digest> omitted;            // delta: referenced blobs the base bundle carries
  std::string signer;                       // fingerprint of the key that signed sealift.json
  bool signature_verified = false;
  uint64_t upstream_signatures = 0;          // carried upstream signatures (referrers)
  uint64_t upstream_signatures_verified = 0; // ... verified with VerifyOptions::upstream_keys
  uint64_t sboms = 0;                        // the vendor's SBOM attestations
  uint64_t sboms_verified = 0;               // ... verified with the trusted keys
  uint64_t upstream_attestations = 0;        // carried from the publisher
  uint64_t upstream_attestations_verified = 0;  // ... verified with VerifyOptions::upstream_keys
  uint64_t entries_checked = 0;            // every entry of the archive
  uint64_t bytes_checked = 0;              // of manifests, configs and layers, hashed
  // VerifyScope::AllButLayers: the layers carried but not hashed, each with the first object that
  // uses it (for messages). Whoever reads one must check its digest before using its last byte.
  std::map<oci::Digest, std::string> unhashed;
  std::vector<std::string> warnings;        // what --insecure-skip-signature let through

  // The object of this kind and full reference; throws Error(Internal) when there is none.
  const BundleObject& object(bundle::EntryKind kind, const std::string& reference) const;
};

// Throws Error(Integrity) naming the entry on a wrong signature, digest, size or a missing or
// unexpected entry; Error(Input) on malformed documents; Error(Usage) when no key is given and
// signatures are not skipped.
VerifiedBundle verify_bundle(const bundle::ArchiveReader& reader, const sign::TrustedKeys& keys,
                             const VerifyOptions& options, util::Progress& progress);

}  // namespace sealift::install
