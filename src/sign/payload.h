// The simple-signing payload cosign signs for an image: which manifest digest, under which
// name. Written byte for byte as cosign writes it; read strictly, as containers/image (podman,
// CRI-O) does, so a payload sealift accepts is one they accept too.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "oci/digest.h"

namespace sealift::sign {

inline constexpr std::string_view kCosignSignatureType = "cosign container image signature";

struct SimpleSigningPayload {
  // registry/repository without tag, e.g. "harbor.example.com/proj/app"; cosign uses the name
  // the image was signed under, and containers/image policies compare it with the pull name.
  std::string docker_reference;
  // The manifest or index digest the signature is for.
  oci::Digest manifest_digest;
  // `cosign sign -a key=value` annotations, written into "optional" (null when empty).
  std::map<std::string, std::string> annotations;

  // Compact JSON, keys in cosign's order, no trailing newline:
  // {"critical":{"identity":{"docker-reference":"…"},"image":{"docker-manifest-digest":"sha256:…"},
  //  "type":"cosign container image signature"},"optional":null}
  std::string bytes() const;

  // Strict parse: exactly the fields above (lowercase keys), no duplicates, "optional" null or
  // an object whose "creator" is a string and "timestamp" an integer; other optional values
  // that are not strings are checked for nothing and not kept. Throws Error(Integrity) naming
  // the problem: a payload is signed content and a malformed one means the signature is bad.
  static SimpleSigningPayload parse(std::string_view bytes);
};

}  // namespace sealift::sign
