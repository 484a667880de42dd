// Image references (ref::Reference::parse): what images.lock, flags and sealift.json name images
// with. Whatever parses must print (str, pinned, name) to text that parses back to the same value.
#include "fuzz.h"
#include "ref/reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  fuzz::expect_clean_errors([&] {
    auto r = ref::Reference::parse(fuzz::text(data, size));
    fuzz::require(ref::Reference::parse(r.str()) == r, "parse(str()) differs");
    fuzz::require(ref::valid_repository(r.repository), "accepted an invalid repository");
    fuzz::require(r.tag.empty() || ref::valid_tag(r.tag), "accepted an invalid tag");
    fuzz::require(!r.manifest_ref().empty(), "no manifest reference");
    (void)r.api_host();
    if (r.digest) {
      auto pinned = ref::Reference::parse(r.pinned());
      fuzz::require(pinned.digest == r.digest && pinned.tag.empty() && pinned.name() == r.name(), "pinned() differs");
    }
  });
  return 0;
}
