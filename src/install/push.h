// `sealift-install push`: moves a verified bundle into the customer's Harbor, straight from the
// archive. Order, so that no tag ever points at missing content and a re-run after any failure
// finishes the job: project check (or creation, never for a delta, whose base a new project cannot
// hold) and a push-permission probe; for a delta, proof that the target holds every blob the
// bundle leaves out; then every blob of the images, their
// signatures and the chart, in parallel (skipped when present, mounted across repositories,
// uploaded otherwise: a layer that verification left to the push is hashed as it is sent and
// refused before its last byte when altered); only then the manifests by digest, image by image;
// the `.sig` signature manifests (with --resign-key, the site's signatures beside them); the
// chart artifact; the tags last, the chart's after every image's (a failure names the tags that
// moved); finally every manifest is read back and every signature verified as stored in the
// target, as `cosign verify --key` does.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bundle/archive_reader.h"
#include "harbor/api.h"
#include "install/relocation.h"
#include "install/verify.h"
#include "registry/client.h"
#include "sign/signature.h"
#include "util/progress.h"

namespace sealift::install {

struct PushOptions {
  bool create_project = false;
  bool dry_run = false;  // query the target, change nothing, say what would happen
  int jobs = 8;
  // --signature-format legacy: only cosign's `.sig` tags, no Sigstore bundle referrers. cosign v2
  // (and tools built on it) reads only the bundle once an image has one, so a site that also
  // signs in the .sig form with cosign v2 may want the vendor's signatures in that form only.
  bool legacy_signatures_only = false;
  // --resign-key: the site's own key (loaded, its password checked, before anything is pushed).
  // After the vendor's signatures, every image and the chart is signed with it under its
  // relocated name (registry/repository, as `cosign sign` at the target would), in every form
  // this push writes: the `.sig` tag, and the Sigstore bundle referrer unless
  // legacy_signatures_only. The read-back checks these with its public key too. A re-run finds
  // the site's signatures there and adds none. push_bundle refuses it (Error(Integrity), before
  // anything is contacted) unless the vendor's signature verified without a warning.
  const sign::Signer* resign_key = nullptr;
};

// A signature the push read back from the target and verified.
struct CheckedSignature {
  std::string form;         // "cosign .sig" or "Sigstore bundle referrer"
  std::string signer;       // "vendor" (the --key keys) or "site" (--resign-key)
  std::string fingerprint;  // sign::PublicKey::fingerprint() of the key that verified it
};

// What the push did for one image or the chart: for the install report.
struct PushedObject {
  bool chart = false;
  std::string source;  // the image's source reference, or the chart's reference in the bundle
  oci::Digest digest;
  std::string target;  // registry/repository@digest: what the cluster pulls
  std::string tag;     // registry/repository:tag
  uint64_t blobs_uploaded = 0;
  uint64_t blobs_mounted = 0;
  uint64_t blobs_skipped = 0;  // already there: asked, or under a tag already at the digest
  uint64_t bytes_uploaded = 0;
  bool tag_written = false;    // false: the tag already pointed at the digest
  uint64_t site_signatures_added = 0;  // 0 on a re-run: the site's signatures were there
  std::vector<CheckedSignature> signatures;
};

struct PushReport {
  bool project_created = false;
  std::vector<std::string> plan;  // dry run: one line per thing that would be created or pushed
  uint64_t blobs_uploaded = 0;
  uint64_t blobs_mounted = 0;
  uint64_t blobs_skipped = 0;     // already in the target repository
  uint64_t bytes_uploaded = 0;
  uint64_t manifests_pushed = 0;  // tag writes included
  uint64_t tags_written = 0;
  uint64_t tags_unchanged = 0;    // already pointing at the bundle's digest
  uint64_t signatures_merged = 0; // .sig manifests that already held other signatures
  uint64_t signatures_verified = 0;  // read back from the target and checked with the keys
  uint64_t referrers_pushed = 0;     // cosign v3 signatures (Sigstore bundle referrers) put
  uint64_t referrers_tagged = 0;     // ... listed in a referrers tag: the target has no referrers API
  uint64_t referrers_verified = 0;   // read back through the referrers API or tag and checked
  uint64_t site_signatures_added = 0;  // --resign-key: site signatures (either form) put this time
  uint64_t site_signatures_verified = 0;  // ... read back (either form) and checked with the site's public key
  std::vector<PushedObject> objects;   // the images in relocation order, then the chart
  uint64_t sboms_listed = 0;         // SBOMs and attestations the target lists as the images' referrers
  uint64_t referrers_left_out = 0;   // SBOMs and attestations not pushed (--signature-format legacy)
};

// `keys` re-check the signatures as the target serves them; with none (only possible after
// --insecure-skip-signature) the read-back compares digests only. `harbor` is null when the target
// is not Harbor (harbor/detect.h): then there is no project to check or create, the project is
// only the repositories' first path segment, and create_project is refused as Error(Usage).
PushReport push_bundle(const bundle::ArchiveReader& reader, const VerifiedBundle& bundle, const Relocation& relocation,
                       registry::RegistryClient& target, harbor::HarborApi* harbor, const sign::TrustedKeys& keys,
                       const PushOptions& options, util::Progress& progress);

// A RegistryOptions::progress callback that feeds blob bytes into `progress`, counting resent
// bytes once.
std::function<void(const oci::Digest&, uint64_t, uint64_t)> progress_reporter(util::Progress& progress);

}  // namespace sealift::install
