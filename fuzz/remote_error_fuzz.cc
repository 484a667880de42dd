// Error bodies of registries and Harbor's API (registry/remote_error.h), turned into the words
// sealift shows: `{"errors":[{"code","message","detail"}]}` or anything else.
#include "fuzz.h"
#include "registry/remote_error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  auto body = fuzz::text(data, size);
  fuzz::expect_clean_errors([&] {
    for (const auto& e : registry::parse_remote_errors(body)) (void)registry::code_words(e.code);
    for (long status : {400L, 401L, 403L, 404L, 409L, 429L, 500L, 502L, 999L})
      fuzz::require(!registry::describe_status(status, body).empty(), "an empty description");
    (void)registry::has_error_code(body, "MANIFEST_UNKNOWN");
  });
  return 0;
}
