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

}  // namespace sealift::util
