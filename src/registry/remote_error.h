// What a registry or Harbor said when it refused: the `{"errors":[{"code","message","detail"}]}`
// body of the distribution spec (and of Harbor's API), turned into words for the user.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sealift::registry {

struct RemoteError {
  std::string code;     // "MANIFEST_UNKNOWN", "DENIED", "CONFLICT"
  std::string message;  // the server's text
  std::string detail;   // compact JSON of "detail", empty when absent
};

// The errors in a response body; empty when the body is not that shape.
std::vector<RemoteError> parse_remote_errors(std::string_view body);

// "403 denied: requested access to the resource is denied", "404 manifest unknown",
// "502 bad gateway". Falls back to the status's reason phrase when the body says nothing usable.
std::string describe_status(long status, std::string_view body);

// "MANIFEST_UNKNOWN" -> "manifest unknown".
std::string code_words(std::string_view code);

// True when the body carries an error with this code.
bool has_error_code(std::string_view body, std::string_view code);

}  // namespace sealift::registry
