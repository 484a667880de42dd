// WWW-Authenticate headers (registry::parse_challenges) from registries and token services.
#include "fuzz.h"
#include "registry/challenge.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  fuzz::expect_clean_errors([&] {
    for (const auto& c : registry::parse_challenges(fuzz::text(data, size))) {
      fuzz::require(!c.scheme.empty(), "a challenge without a scheme");
      for (char ch : c.scheme) fuzz::require(!(ch >= 'A' && ch <= 'Z'), "scheme not lowercased");
      for (const auto& [name, value] : c.params) {
        for (char ch : name) fuzz::require(!(ch >= 'A' && ch <= 'Z'), "parameter name not lowercased");
        fuzz::require(c.param(name) == value, "param() disagrees with params");
      }
      (void)c.param("realm");
    }
  });
  return 0;
}
