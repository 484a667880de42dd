// Base64 (standard alphabet, padded, as Go's encoding/json writes []byte) and hex.
#pragma once

#include <string>
#include <string_view>

namespace sealift::util {

std::string base64_encode(std::string_view bytes);
// Decodes standard base64; ignores '\r' and '\n' like Go does. Stricter than Go: the unused bits
// before the padding must be zero (one encoding per byte string). Throws Error(Input) on bad input.
std::string base64_decode(std::string_view text);
std::string hex_encode(std::string_view bytes);
// `text` as it can be shown on a terminal or in a log line: control characters (C0 and DEL) and
// every byte outside ASCII written as \xNN, so text from an unverified bundle or a client cannot
// move the cursor, retitle the window or fake a line.
std::string escape_controls(std::string_view text);
// ASCII A-Z to a-z, whatever the locale: for header names, schemes, host names and the like.
std::string ascii_lower(std::string_view text);

}  // namespace sealift::util
