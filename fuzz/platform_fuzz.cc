// Platforms as given to --platform and written in images.lock ("linux/arm64/v8").
#include "fuzz.h"
#include "oci/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  fuzz::expect_clean_errors([&] {
    auto p = oci::Platform::parse(fuzz::text(data, size));
    fuzz::require(oci::Platform::parse(p.str()) == p, "parse(str()) differs");
    fuzz::require(p.matches(p), "a platform does not match itself");
  });
  return 0;
}
