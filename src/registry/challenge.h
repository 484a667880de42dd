// WWW-Authenticate challenges (RFC 7235 / RFC 6750), as registries and token services send them:
//   Bearer realm="https://h/service/token",service="harbor-registry",scope="repository:p/a:pull,push"
// Values may be quoted and contain commas, so the header is tokenised, never split on ','.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sealift::registry {

struct Challenge {
  std::string scheme;                         // lowercase: "bearer", "basic"
  std::map<std::string, std::string> params;  // lowercase names, unquoted values

  // The parameter's value, or "" when absent.
  std::string param(const std::string& name) const;
};

// Parses one WWW-Authenticate header value, which may hold several challenges. Throws
// Error(Remote) naming the problem when the header is malformed.
std::vector<Challenge> parse_challenges(std::string_view header);

}  // namespace sealift::registry
