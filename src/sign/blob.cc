#include "sign/blob.h"

#include <fmt/format.h>

#include "util/encoding.h"
#include "util/error.h"

namespace sealift::sign {

std::string sign_blob(const Signer& key, io::Source& content) { return util::base64_encode(sign(key, content)); }

const PublicKey& verify_blob(const TrustedKeys& trusted, io::Source& content, std::string_view signature_text,
                             std::string_view what) {
  if (trusted.empty())
    throw Error(ErrorKind::Usage, "no trusted public key to verify signatures with",
                "pass the vendor's cosign.pub with --key");
  auto first = signature_text.find_first_not_of(" \t\r\n");
  auto last = signature_text.find_last_not_of(" \t\r\n");
  std::string_view b64 = first == std::string_view::npos ? std::string_view() : signature_text.substr(first, last - first + 1);
  if (b64.empty()) throw Error(ErrorKind::Input, fmt::format("the signature of {} is empty", what));
  std::string raw;
  try {
    raw = util::base64_decode(b64);
  } catch (const Error&) {
    throw Error(ErrorKind::Input, fmt::format("the signature of {} is not base64 text", what));
  }
  const PublicKey* key = trusted.signer_of(content, raw);
  if (!key)
    throw Error(ErrorKind::Integrity,
                fmt::format("the signature of {} does not verify with any trusted key (tried {})", what,
                            trusted.fingerprints()),
                "the file may have been altered, or was signed with a key you do not trust");
  return *key;
}

}  // namespace sealift::sign
