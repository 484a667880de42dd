// cosign `.sig` manifests (sign::SignatureManifest::parse), read from registries and bundles. An
// accepted manifest writes back (manifest()) to one with the same layers and media type.
#include "fuzz.h"
#include "sign/sigmanifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  fuzz::expect_clean_errors([&] {
    auto m = sign::SignatureManifest::parse(fuzz::text(data, size));
    fuzz::require(m.layers().size() <= sign::kMaxSignatureLayers, "too many layers accepted");
    auto again = sign::SignatureManifest::parse(m.manifest());
    fuzz::require(again.layers().size() == m.layers().size() && again.media_type() == m.media_type(),
                  "parse(manifest()) differs");
    for (size_t i = 0; i < m.layers().size(); ++i) {
      const auto &a = m.layers()[i], &b = again.layers()[i];
      fuzz::require(a.digest == b.digest && a.size == b.size && a.annotations == b.annotations &&
                        a.media_type == b.media_type,
                    "parse(manifest()) changed a layer");
      (void)a.signature();
    }
    (void)m.config();
  });
  return 0;
}
