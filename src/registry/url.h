// URL handling the registry protocol needs: Location headers may be relative and may already carry
// a query (distribution puts `_state=` there), and Authorization must never follow a redirect to
// another host.
#pragma once

#include <string>
#include <string_view>

namespace sealift::registry {

struct Url {
  std::string scheme;     // "https"
  std::string authority;  // "host:port" as written (userinfo is refused)
  std::string path;       // "/v2/..." (at least "/")
  std::string query;      // without '?', may be empty
  bool has_query = false;

  // Parses an absolute http(s) URL; throws Error(Remote) naming the problem.
  static Url parse(std::string_view text);
  std::string str() const;
  // Lowercased authority with the scheme's default port made explicit: what "same host" means.
  std::string origin() const;
  // The authority's host, lowercased, without port, IPv6 brackets or a trailing dot.
  std::string host() const;
};

// Resolves a Location header against the URL of the request it answered (RFC 3986 §5.2), so
// "/v2/x/blobs/uploads/u?_state=s", "u?_state=s" and "//h/..." all come out absolute.
std::string resolve_location(std::string_view base, std::string_view location);

// Sets name=value in the URL's query, keeping every other parameter (a '&' when a query exists)
// and replacing an existing parameter of the same name. The value is percent-encoded.
std::string set_query_param(std::string_view url, std::string_view name, std::string_view value);

// True when both URLs have the same scheme, host and port.
bool same_origin(std::string_view a, std::string_view b);

// Percent-encodes everything except RFC 3986 unreserved characters.
std::string percent_encode(std::string_view s);

}  // namespace sealift::registry
