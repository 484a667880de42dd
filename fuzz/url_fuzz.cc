// URL joining (registry/url.h): Location headers resolved against the request URL, as registries
// send them for uploads and redirects, and query parameters set on the result. Input: the base
// URL, '\n', the Location value, '\n', a query value. What resolves is an absolute URL that parses.
#include "fuzz.h"
#include "registry/url.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  // Not structured bindings: clang 14 cannot capture those in a lambda.
  auto lines = fuzz::split_line(fuzz::text(data, size));
  auto more = fuzz::split_line(lines.second);
  std::string_view base = lines.first, location = more.first, value = more.second;
  fuzz::expect_clean_errors([&] {
    auto u = registry::Url::parse(base);
    fuzz::require(registry::Url::parse(u.str()).str() == u.str(), "parse(str()) differs");
    (void)u.origin();
  });
  fuzz::expect_clean_errors([&] {
    std::string resolved = registry::resolve_location(base, location);
    auto u = registry::Url::parse(resolved);
    (void)registry::same_origin(base, resolved);
    std::string with = registry::set_query_param(resolved, "digest", value);
    auto w = registry::Url::parse(with);
    fuzz::require(w.has_query && w.origin() == u.origin() && w.path == u.path, "set_query_param changed the URL");
  });
  fuzz::require(registry::percent_encode(value).find_first_of(" /?#&\n") == std::string::npos, "percent_encode");
  return 0;
}
