// sealift.json, the signed root of a bundle (bundle::Root::parse). An accepted root serialises
// to bytes that parse back to a root serialising the same way.
#include "bundle/root.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  fuzz::expect_clean_errors([&] {
    auto root = bundle::Root::parse(std::string(fuzz::text(data, size)));
    std::string bytes = root.serialize();
    fuzz::require(bundle::Root::parse(bytes).serialize() == bytes, "parse(serialize()) differs");
  });
  return 0;
}
