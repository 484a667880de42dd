// `sealift-bundle build`: pulls every image of images.lock (by its locked digest, never by tag),
// signs every image and the chart, and writes one bundle archive (docs/bundle-format.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bundle/root.h"
#include "oci/manifest.h"
#include "registry/client.h"
#include "registry/credentials.h"
#include "sign/signer.h"
#include "util/progress.h"

namespace sealift::bundle {

struct BuildOptions {
  std::filesystem::path chart_dir = "chart";
  std::filesystem::path lock_file = "images.lock";
  sign::SignerOptions signer;  // --key: a cosign.key or a pkcs11: URI, with its password or PIN
  std::filesystem::path output;
  std::string name;     // bundle name; default: the chart's name
  std::string version;  // default: the chart's version
  std::vector<oci::Platform> platforms;           // empty: every locked platform
  std::map<std::string, std::string> mirrors;     // source registry -> host to pull from
  std::filesystem::path cache_dir;                // empty: default_cache_dir()
  std::filesystem::path base;                     // delta against this bundle (its first part)
  uint64_t split_size = 0;
  // The helm binary to carry as a tool artifact for the installer host; empty: none. Its platform
  // comes from its ELF header; its version is helm_version when given, else what the binary says
  // (helm::Helm::version: helm 3 or 4, and a binary this host can run).
  std::filesystem::path include_helm;
  std::string helm_version;
  // --upstream-key: public keys of the images' publishers. The build then carries each image's
  // upstream Sigstore bundle signatures (OCI referrers, API or referrers tag) that verify with one
  // of them; an image whose upstream signatures all fail stops the build. Empty: none carried.
  std::vector<std::filesystem::path> upstream_keys;
  // SBOMs: each image's upstream attestations and SBOM referrers are carried (Auto, Syft,
  // Upstream), and an image with no upstream SBOM attestation verified with upstream_keys gets one
  // made by syft (Auto: when syft is found; Syft: syft required). None: neither.
  enum class Sbom { Auto, Syft, Upstream, None };
  Sbom sbom = Sbom::Auto;
  std::filesystem::path syft;  // the syft binary; empty: syft on $PATH
  // Every layer also goes into the blob cache, so that a later build (the next release, a delta)
  // downloads only what changed; by default layers stream into the bundle and the cache holds
  // only what resuming needs.
  bool keep_cache = false;
  int jobs = 8;
  registry::HttpOptions http;                     // --plain-http, --ca-file, ...
  registry::CredentialFlags credentials;

  // Test seams, set only by tests (tests/build, tests/sbom) to play a local attacker at fixed points
  // of the build; empty in the programs.
  struct Seams {
    // With keep_cache, a blob's cache file (verified in this run) just before the archive gets it.
    std::function<void(const std::filesystem::path& cached, const oci::Descriptor&)> cached_blob_verified;
    // syft's directory for one platform image, its layout staged, before syft starts.
    std::function<void(const std::filesystem::path& dir)> syft_staged;
  };
  Seams seams;
};

struct BuildResult {
  std::vector<std::filesystem::path> files;  // the bundle (or its parts, then the checksum file)
  Root root;
  uint64_t blobs_written = 0;
  uint64_t bytes_written = 0;   // uncompressed content bytes
  uint64_t blobs_omitted = 0;   // delta: carried by the base
  uint64_t bytes_pulled = 0;
  uint64_t upstream_signatures = 0;  // carried, each verified with an --upstream-key
  std::vector<std::string> unsigned_upstream;  // images with no upstream signature to carry
  std::string syft_version;          // empty: no SBOM was generated
  uint64_t sboms_generated = 0;      // one per platform image, signed
  uint64_t sboms_cached = 0;         // ... of which syft had made before (the SBOM cache)
  uint64_t upstream_attestations = 0;  // carried as the publisher attached them
  std::vector<std::string> notes;    // what the user should know: attestations left behind, no syft
};

BuildResult build(const BuildOptions& options, util::Progress& progress);

}  // namespace sealift::bundle
