// PEM armour as Go's encoding/pem writes it: base64 in 64-character lines, "\n" line ends,
// a final newline after the END line. cosign's key files and public keys use it.
#pragma once

#include <string>
#include <string_view>

namespace sealift::sign {

struct PemBlock {
  std::string label;  // "PUBLIC KEY", "ENCRYPTED SIGSTORE PRIVATE KEY", ...
  std::string body;   // the decoded bytes
};

std::string pem_encode(std::string_view label, std::string_view body);

// Decodes the first PEM block of `text`; text around it is ignored, as Go's pem.Decode does.
// `what` names the file in errors. Throws Error(Input) when there is no block, the END line is
// missing (a truncated file) or the body is not base64.
PemBlock pem_decode(std::string_view text, std::string_view what);

}  // namespace sealift::sign
