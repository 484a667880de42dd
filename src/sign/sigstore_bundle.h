// cosign v3's signature format for an image: a Sigstore bundle v0.3 holding a DSSE envelope around
// an in-toto Statement (predicate type https://sigstore.dev/cosign/sign/v1, subject = the image's
// digest), stored as the one layer of an OCI 1.1 artifact manifest whose `subject` is the image.
// Registries list it through the referrers API (or the referrers tag schema where they have none);
// cosign specs/BUNDLE_SPEC.md describes the storage, sigstore's protobuf-specs the bundle.
//
// Offline, key-based: the bundle carries the key's hint and no transparency-log entry, which is
// what `cosign verify --key K --insecure-ignore-tlog` of cosign v3 accepts.
//
// This module only makes and reads bytes; the caller moves them.
#pragma once

#include <string>
#include <string_view>

#include "oci/digest.h"
#include "oci/manifest.h"
#include "sign/key.h"
#include "sign/signature.h"

namespace sealift::sign {

inline constexpr std::string_view kSigstoreBundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json";
inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";
inline constexpr std::string_view kInTotoStatementType = "https://in-toto.io/Statement/v1";
// What a cosign signature (not an attestation) claims. Signatures and attestations share the
// bundle's artifact type; taking one for the other was GHSA-w6c6-c85g-mmv6.
inline constexpr std::string_view kCosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1";
inline constexpr std::string_view kBundleContentAnnotation = "dev.sigstore.bundle.content";
inline constexpr std::string_view kBundlePredicateTypeAnnotation = "dev.sigstore.bundle.predicateType";
inline constexpr std::string_view kCreatedAnnotation = "org.opencontainers.image.created";
// The OCI empty descriptor's content, "{}".
inline constexpr std::string_view kEmptyConfigMediaType = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kEmptyConfig = "{}";

// DSSE's pre-authentication encoding: "DSSEv1 <len> <type> <len> <body>".
std::string dsse_pae(std::string_view payload_type, std::string_view payload);

// A signed image as the artifact cosign v3 pushes: the bundle JSON (the layer) and the referrer
// manifest over it, whose config is the empty descriptor (content kEmptyConfig).
struct SigstoreSignature {
  std::string bundle;    // the layer's bytes
  std::string manifest;  // the referrer manifest's bytes
};

// Signs `subject` (an image manifest or index, or the chart's manifest) as cosign v3 does with a
// key and no transparency log. `created` is the RFC 3339 time of the referrer's
// org.opencontainers.image.created annotation.
SigstoreSignature sign_sigstore(const PrivateKey& key, const oci::Descriptor& subject, std::string_view created);

// Whether a descriptor in a referrers list is a cosign signature bundle: the bundle artifact type
// and, when the annotation is there, the sign/v1 predicate type.
bool is_signature_referrer(const oci::Descriptor& d);

// Checks a referrer manifest as the bundle of a signature over `subject`: an OCI image manifest
// with the bundle artifact type, the empty config, exactly one layer of the bundle media type,
// `subject` naming exactly `subject` (digest, size, media type), and annotations, if any, naming
// the sign/v1 predicate and a DSSE envelope. Returns the layer's descriptor. Throws
// Error(Integrity) naming `name` and the problem.
oci::Descriptor check_signature_referrer(const oci::Manifest& referrer, const oci::Descriptor& subject,
                                         std::string_view name);

// Verifies bundle JSON as a cosign signature over `subject_digest`: mediaType v0.3, a DSSE
// envelope with the in-toto payload type whose signature one of `trusted` made over the PAE, an
// in-toto Statement v1 with predicate type sign/v1 whose subjects include the digest. Returns the
// key that signed. Throws Error(Integrity) naming `name` and the problem; Error(Usage) when
// `trusted` is empty.
const PublicKey& verify_sigstore_bundle(std::string_view bundle_json, const oci::Digest& subject_digest,
                                        const TrustedKeys& trusted, std::string_view name);

}  // namespace sealift::sign
