// cosign's signature storage for an image (the legacy `.sig` tag that cosign 2.x writes and every
// cosign, Harbor and containers/image reads): an OCI image manifest tagged `sha256-<hex>.sig` in the
// image's repository, one layer per signature. Each layer's blob is a simple-signing payload and
// its annotation "dev.cosignproject.cosign/signature" the base64 signature over that blob.
//
// This module only makes and reads bytes; the caller moves them. To publish a signature:
// GET the existing manifest at signature_tag() (if any) and parse() it, add(), then upload the
// payload blob and config() blob, and PUT manifest() at signature_tag() with media type
// application/vnd.oci.image.manifest.v1+json.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "oci/digest.h"
#include "sign/key.h"
#include "sign/payload.h"
#include "sign/signature.h"

namespace sealift::sign {

inline constexpr std::string_view kSignatureAnnotation = "dev.cosignproject.cosign/signature";
inline constexpr std::string_view kSimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json";
// cosign refuses to read or extend a signature manifest with more layers than this.
inline constexpr size_t kMaxSignatureLayers = 1000;

// "sha256-<hex>.sig".
std::string signature_tag(const oci::Digest& image);

struct SignatureLayer {
  std::string media_type{kSimpleSigningMediaType};
  oci::Digest digest;  // of the payload blob
  int64_t size = 0;
  std::map<std::string, std::string> annotations;  // holds kSignatureAnnotation

  // The base64 signature text, or empty when the annotation is missing.
  std::string signature() const;
};

// A new signature over one image: the payload blob to upload and the layer describing it.
struct ImageSignature {
  std::string payload;
  SignatureLayer layer;
};

// Signs `image` (a manifest or index digest) under `docker_reference` (registry/repository, no tag).
ImageSignature sign_image(const Signer& key, std::string_view docker_reference, const oci::Digest& image,
                          const std::map<std::string, std::string>& annotations = {});

class SignatureManifest {
 public:
  // No signatures yet.
  SignatureManifest() = default;
  // Reads an existing signature manifest (OCI or, as cosign writes with COSIGN_DOCKER_MEDIA_TYPES,
  // Docker media types). Throws Error(Integrity) naming the problem when it is malformed or has
  // more than kMaxSignatureLayers layers.
  static SignatureManifest parse(std::string_view manifest_bytes);

  // Appends `sig` as a new layer unless the manifest already holds it: a layer with the same
  // payload, at least the same annotations, and a signature that `signer` verifies (cosign's
  // duplicate rule, which also makes re-signing with the same key a no-op). Returns whether a
  // layer was added. Throws Error(Input) when the manifest is full.
  bool add(const ImageSignature& sig, const PublicKey& signer);

  const std::vector<SignatureLayer>& layers() const { return layers_; }
  std::string_view media_type() const { return media_type_; }

  // The config blob as go-containerregistry writes it for cosign: zero timestamps, one history
  // entry and one diff_id (the payload digest) per layer; 233 bytes for one layer.
  std::string config() const;
  // The manifest bytes, referencing config(), in cosign's field order.
  std::string manifest() const;

 private:
  std::string media_type_{"application/vnd.oci.image.manifest.v1+json"};
  std::string config_media_type_{"application/vnd.oci.image.config.v1+json"};
  std::map<std::string, std::string> annotations_;
  std::vector<SignatureLayer> layers_;
};

// Returns the payload blob of a layer, e.g. from a registry or a bundle. Its digest and size
// are checked by the verifier, so the fetcher need not be trusted.
using PayloadFetcher = std::function<std::string(const SignatureLayer&)>;

struct VerifiedSignature {
  SimpleSigningPayload payload;
  PublicKey key;
};

// What `cosign verify --key` checks, for every trusted key at once: at least one layer whose
// payload matches its digest, is signed by a trusted key, parses strictly, and claims `image`.
// Layers signed by other keys are skipped, as cosign does. Returns every valid signature; throws
// Error(Integrity) naming `image_name` and why each layer failed when none is valid, and
// Error(Usage) when `trusted` is empty. Errors thrown by `fetch` propagate.
std::vector<VerifiedSignature> verify_image_signatures(const SignatureManifest& signatures, const oci::Digest& image,
                                                       const TrustedKeys& trusted, const PayloadFetcher& fetch,
                                                       std::string_view image_name);

}  // namespace sealift::sign
