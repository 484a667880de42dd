// Token service answers (registry::parse_token_response): `token` / `access_token` and
// `expires_in`. An accepted token has no line breaks and does not expire before it was issued.
#include "fuzz.h"
#include "registry/auth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  auto now = registry::SteadyClock::now();
  fuzz::expect_clean_errors([&] {
    auto t = registry::parse_token_response(fuzz::text(data, size), now);
    fuzz::require(!t.value.empty() && t.value.find_first_of("\r\n") == std::string::npos, "token value");
    fuzz::require(t.expires >= now, "the token expires before it was issued");
  });
  return 0;
}
