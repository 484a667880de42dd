// OCI and Docker manifests and indexes (oci::Manifest::parse), as registries, OCI layouts and
// bundles hand them over, under no Content-Type and under each one a registry may claim. The
// digest is always of the exact bytes.
#include "fuzz.h"
#include "oci/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  std::string bytes(fuzz::text(data, size));
  for (std::string_view type : {std::string_view{}, oci::media::kOciManifest, oci::media::kOciIndex,
                                oci::media::kDockerManifest, oci::media::kDockerManifestList,
                                std::string_view("application/json")}) {
    fuzz::expect_clean_errors([&] {
      auto m = oci::Manifest::parse(bytes, type);
      fuzz::require(m.digest() == oci::Digest::of(bytes), "digest is not of the exact bytes");
      fuzz::require(m.bytes() == bytes, "bytes changed");
      auto d = m.descriptor();
      fuzz::require(d.size == static_cast<int64_t>(bytes.size()), "descriptor size");
      for (const auto& c : m.children()) {
        fuzz::require(!c.digest.empty(), "child without digest");
        fuzz::require(c.size >= 0, "child with a negative size");
        (void)c.to_json().dump();
        if (c.platform) (void)c.platform->str();
      }
    });
  }
  return 0;
}
