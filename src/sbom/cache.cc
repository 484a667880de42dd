#include "sbom/cache.h"

#include <system_error>

#include <fmt/format.h>

#include "oci/digest.h"
#include "ref/reference.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::sbom {

namespace fs = std::filesystem;

namespace {
// Bumped whenever normalize_spdx changes what it writes, so older entries are not reused.
constexpr int kNormalization = 1;
}  // namespace

fs::path SbomCache::entry(const ScanInput& input, std::string_view syft_version) const {
  // The same fields Syft::scan hands syft (--source-name, --source-version), NUL-separated.
  ref::Reference source = ref::Reference::parse(input.source);
  const std::string name = source.name(), version = source.tag.empty() ? input.manifest.digest.str() : source.tag,
                    manifest = input.manifest.digest.str();
  std::string key = fmt::format("sealift-sbom-cache {}", kNormalization);
  for (std::string_view part : {syft_version, std::string_view(name), std::string_view(version), std::string_view(manifest)}) {
    key += '\0';
    key += part;
  }
  return dir_ / (std::string(oci::Digest::of(key).hex()) + ".spdx.json");
}

std::optional<std::string> SbomCache::find(const ScanInput& input, std::string_view syft_version,
                                           std::string_view created) const {
  const fs::path file = entry(input, syft_version);
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  try {
    return normalize_spdx(util::read_file(file), input, created);
  } catch (const Error&) {
    return std::nullopt;  // unreadable or not SPDX: scan again, and the store replaces it
  }
}

void SbomCache::store(const ScanInput& input, std::string_view syft_version, std::string_view spdx) const {
  util::write_file_atomic(entry(input, syft_version), spdx, 0600);
}

}  // namespace sealift::sbom
