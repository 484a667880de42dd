// Content digests (oci::Digest::parse / valid): every digest read from a manifest, index, lock,
// TOC or registry header. valid() must agree with parse(), and a parsed digest prints back as given.
#include "fuzz.h"
#include "oci/digest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  auto s = fuzz::text(data, size);
  bool valid = oci::Digest::valid(s);
  bool parsed = false;
  fuzz::expect_clean_errors([&] {
    auto d = oci::Digest::parse(s);
    parsed = true;
    fuzz::require(d.str() == s, "str() differs from the input");
    fuzz::require(d.hex().size() == 64 && d.tag_form() == "sha256-" + std::string(d.hex()), "hex/tag form");
  });
  fuzz::require(valid == parsed, "valid() and parse() disagree");
  return 0;
}
