// JSON strings as Go's encoding/json writes them. cosign's payloads and signature manifests are
// Go output, and sealift writes the same bytes so digests match cosign's for the same content.
#pragma once

#include <string>
#include <string_view>

namespace sealift::sign {

// A quoted JSON string with Go's escaping: \" \\ \b \f \n \r \t, other control characters as
// \u00XX, and the HTML-sensitive <, >, & and U+2028/U+2029 as \uXXXX. Invalid UTF-8 becomes
// U+FFFD as in Go.
std::string go_json_quote(std::string_view s);

}  // namespace sealift::sign
