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

#include <map>
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
// What cosign's `attest` writes; read in attestations (a publisher's), never written.
inline constexpr std::string_view kInTotoStatementTypeV01 = "https://in-toto.io/Statement/v0.1";
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
SigstoreSignature sign_sigstore(const Signer& key, const oci::Descriptor& subject, std::string_view created);

// An attestation over `subject` as `cosign attest --new-bundle-format` of cosign v3 stores it: the
// same bundle and referrer, the statement's predicate being `predicate` (a JSON document, e.g. an
// SPDX SBOM) of `predicate_type`. `cosign verify-attestation --type T --key K` accepts it.
// `annotations` are added to the referrer manifest's.
SigstoreSignature sign_attestation(const Signer& key, const oci::Descriptor& subject, std::string_view created,
                                   std::string_view predicate_type, std::string_view predicate,
                                   const std::map<std::string, std::string>& annotations = {});

// Whether a descriptor in a referrers list is a cosign signature bundle: the bundle artifact type
// and, when the annotation is there, the sign/v1 predicate type.
bool is_signature_referrer(const oci::Descriptor& d);

// Whether a descriptor in a referrers list is an attestation bundle: the bundle artifact type and
// a predicate type annotation other than sign/v1 (cosign's referrers tag entries carry no
// annotations; the caller reads the manifest to tell).
bool is_attestation_referrer(const oci::Descriptor& d);

// Checks a referrer manifest as the bundle of a signature over `subject`: an OCI image manifest
// with the bundle artifact type, the empty config, exactly one layer of the bundle media type,
// `subject` naming exactly `subject` (digest, size, media type), and annotations, if any, naming
// the sign/v1 predicate and a DSSE envelope. Returns the layer's descriptor. Throws
// Error(Integrity) naming `name` and the problem.
oci::Descriptor check_signature_referrer(const oci::Manifest& referrer, const oci::Descriptor& subject,
                                         std::string_view name);
// The same checks for an attestation referrer whose predicate type annotation must be
// `predicate_type`.
oci::Descriptor check_attestation_referrer(const oci::Manifest& referrer, const oci::Descriptor& subject,
                                           std::string_view predicate_type, std::string_view name);
// The predicate type a bundle referrer manifest announces ("" when it has no annotation).
std::string announced_predicate_type(const oci::Manifest& referrer);

// Verifies bundle JSON as a cosign signature over `subject_digest`: mediaType v0.3, a DSSE
// envelope with the in-toto payload type whose signature one of `trusted` made over the PAE, an
// in-toto Statement v1 with predicate type sign/v1 whose subjects include the digest. Returns the
// key that signed. Throws Error(Integrity) naming `name` and the problem; Error(Usage) when
// `trusted` is empty.
const PublicKey& verify_sigstore_bundle(std::string_view bundle_json, const oci::Digest& subject_digest,
                                        const TrustedKeys& trusted, std::string_view name);

// The fingerprint ("sha256:<hex>", as PublicKey::fingerprint) of the key a bundle's
// verificationMaterial.publicKey.hint names (cosign writes base64 of the SHA-256 of the key's
// DER), or "" when the bundle has no such hint. Unverified: for messages only (which key signed
// a bundle that no trusted key verifies).
std::string key_hint_fingerprint(std::string_view bundle_json);

struct VerifiedAttestation {
  const PublicKey* signer = nullptr;
  std::string predicate;  // the statement's predicate, as JSON
};
// Verifies bundle JSON as an attestation of `predicate_type` over `subject_digest`: the checks of
// verify_sigstore_bundle, the statement being in-toto v1 or v0.1 (cosign attest writes v0.1).
VerifiedAttestation verify_attestation_bundle(std::string_view bundle_json, const oci::Digest& subject_digest,
                                              std::string_view predicate_type, const TrustedKeys& trusted,
                                              std::string_view name);

}  // namespace sealift::sign
