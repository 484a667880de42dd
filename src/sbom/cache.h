// SBOMs syft made before, kept beside the blob cache (CACHE/sboms/), so that the same image is never
// scanned twice on one machine: a rebuild, the next release and every delta build reuse the SBOMs
// of the images they did not change. An entry is keyed by everything syft's output depends on: the
// platform manifest's digest (which fixes every byte syft reads), the name and version syft is
// told, and syft's version. It holds the SBOM as normalize_spdx left it; a hit is normalized again
// for the build at hand (its creation time), so a cached SBOM is byte for byte what a scan gives.
//
// The entries are trusted as the blob cache is: the directory must be the user's own and closed to
// others (bundle/blob_cache.h). An entry that does not read as SPDX is scanned again.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "sbom/syft.h"

namespace sealift::sbom {

class SbomCache {
 public:
  // `dir` exists, and only this user can write it (bundle::BlobCache::private_dir).
  explicit SbomCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // The SBOM of `input` made by syft `syft_version`, normalized for `created`; none on a miss.
  std::optional<std::string> find(const ScanInput& input, std::string_view syft_version, std::string_view created) const;
  // Keeps `spdx` (what Syft::scan returned for `input`), written to a temporary file and renamed.
  void store(const ScanInput& input, std::string_view syft_version, std::string_view spdx) const;

 private:
  std::filesystem::path entry(const ScanInput& input, std::string_view syft_version) const;
  std::filesystem::path dir_;
};

}  // namespace sealift::sbom
