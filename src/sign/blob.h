// Detached signatures of files, interchangeable with `cosign sign-blob` / `cosign verify-blob`:
// the signature of the raw content (no simple-signing wrapper), as base64 text. sealift signs
// the bundle manifest and the chart archive this way.
#pragma once

#include <string>
#include <string_view>

#include "io/stream.h"
#include "sign/key.h"
#include "sign/signature.h"

namespace sealift::sign {

// What `cosign sign-blob --output-signature FILE` writes: base64 of the signature, no newline.
std::string sign_blob(const Signer& key, io::Source& content);

// What `cosign verify-blob --signature FILE` accepts: the base64 signature text (surrounding
// whitespace such as a trailing newline is ignored). Returns the trusted key that signed the
// content. Throws Error(Integrity) naming `what` when no trusted key did, Error(Input) when the
// signature text is not base64, Error(Usage) when `trusted` is empty.
const PublicKey& verify_blob(const TrustedKeys& trusted, io::Source& content, std::string_view signature_text,
                             std::string_view what);

}  // namespace sealift::sign
