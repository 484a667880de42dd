#include "sign/sigstore_bundle.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "expect_error.h"
#include "util/encoding.h"

namespace sealift::sign {
namespace {

// Made by the real cosign v3.1.3 (`cosign sign --key cosign.key --tlog-upload=false
// --use-signing-config=false IMAGE@sha256:2d00…`, pushed to docker-registry 2.8 and read back): the
// Sigstore bundle layer of its referrer, with protojson's spacing, and the key that signed it.
constexpr std::string_view kCosignV3Bundle =
    R"({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial":{"publicKey":{"hint":"uMex3NcXPf0BaEyp3HbEnonTawl/8lewI4vczcsheJQ="}}, "dsseEnvelope":{"payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEiLCAic3ViamVjdCI6W3siZGlnZXN0Ijp7InNoYTI1NiI6IjJkMDAyZWY0MTVjMTYxNjRmNTBiZWMxNDRkZmYzZWZjZDg0ZTAxYzQ4NzJlYWQ4ODcwYzA3NWNiOWY0MzQyMTIifSwgImFubm90YXRpb25zIjp7fX1dLCAicHJlZGljYXRlVHlwZSI6Imh0dHBzOi8vc2lnc3RvcmUuZGV2L2Nvc2lnbi9zaWduL3YxIiwgInByZWRpY2F0ZSI6e319", "payloadType":"application/vnd.in-toto+json", "signatures":[{"sig":"MEYCIQCJBzJPGTY0LU/aVY6g91lukUKw4GwEBE0J4PGeId1gqgIhAIiXDAL2Crz6qjXuLtxyyR16bLnDqI0HkkVKxQPeCk2I"}]}})";
constexpr std::string_view kCosignV3Key = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGNh/jSFzGNR0o1EZMhOrTjW4UswH
CNiCQPpFTrksuqkCbetyY1GyKD7cX0TFU/mjvqogMMteI8W8FZWI27bzvw==
-----END PUBLIC KEY-----
)";
constexpr std::string_view kCosignV3Subject = "sha256:2d002ef415c16164f50bec144dff3efcd84e01c4872ead8870c075cb9f434212";

oci::Descriptor image(std::string_view bytes = "an image manifest") {
  oci::Descriptor d;
  d.media_type = oci::media::kOciIndex;
  d.digest = oci::Digest::of(bytes);
  d.size = static_cast<int64_t>(bytes.size());
  return d;
}

TrustedKeys trust(const PrivateKey& key) { return TrustedKeys({key.public_key()}); }

// A bundle over any statement, signed properly: what a hostile or confused signer could make.
std::string bundle_over(const PrivateKey& key, const std::string& statement, std::string_view payload_type = kInTotoPayloadType) {
  nlohmann::ordered_json b;
  b["mediaType"] = kSigstoreBundleMediaType;
  b["verificationMaterial"] = {{"publicKey", {{"hint", ""}}}};
  b["dsseEnvelope"] = {{"payload", util::base64_encode(statement)},
                       {"payloadType", payload_type},
                       {"signatures", {{{"sig", util::base64_encode(sign(key, dsse_pae(payload_type, statement)))}}}}};
  return b.dump();
}

std::string statement(const oci::Digest& d, std::string_view predicate_type = kCosignSignPredicateType) {
  nlohmann::ordered_json j = {{"_type", kInTotoStatementType},
                              {"subject", {{{"digest", {{"sha256", std::string(d.hex())}}}}}},
                              {"predicateType", predicate_type},
                              {"predicate", nlohmann::ordered_json::object()}};
  return j.dump();
}

TEST(SigstoreBundle, PaeIsDsseV1) {
  // The DSSE specification's own example.
  EXPECT_EQ(dsse_pae("http://example.com/HelloWorld", "hello world"), "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
}

TEST(SigstoreBundle, AcceptsWhatCosignV3Signed) {
  TrustedKeys keys({PublicKey::from_pem(kCosignV3Key, "cosign.pub")});
  const PublicKey& signer = verify_sigstore_bundle(kCosignV3Bundle, oci::Digest::parse(kCosignV3Subject), keys, "image");
  EXPECT_EQ(signer.der(), keys.keys()[0].der());
  // Another image's digest, or another key: refused.
  ExpectError([&] { verify_sigstore_bundle(kCosignV3Bundle, image().digest, keys, "image"); }, ErrorKind::Integrity,
              "does not name " + image().digest.str());
  TrustedKeys stranger({PrivateKey::generate(KeyType::EcdsaP256).public_key()});
  ExpectError([&] { verify_sigstore_bundle(kCosignV3Bundle, oci::Digest::parse(kCosignV3Subject), stranger, "image"); },
              ErrorKind::Integrity, "no signature in its DSSE envelope was made by the trusted key");
}

TEST(SigstoreBundle, SignsWhatVerifiesAndTheReferrerDescribesIt) {
  for (KeyType type : {KeyType::EcdsaP256, KeyType::Ed25519}) {
    PrivateKey key = PrivateKey::generate(type);
    SigstoreSignature sig = sign_sigstore(key, image(), "2026-12-04T00:00:00Z");
    EXPECT_EQ(verify_sigstore_bundle(sig.bundle, image().digest, trust(key), "image").der(), key.public_key().der());

    oci::Manifest m = oci::Manifest::parse(sig.manifest, oci::media::kOciManifest);
    oci::Descriptor layer = check_signature_referrer(m, image(), "image");
    EXPECT_EQ(layer.digest, oci::Digest::of(sig.bundle));
    EXPECT_EQ(m.artifact_type(), kSigstoreBundleMediaType);
    EXPECT_EQ(m.config().digest.str(), "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    EXPECT_EQ(m.annotations().at("dev.sigstore.bundle.predicateType"), kCosignSignPredicateType);
    EXPECT_EQ(m.annotations().at("org.opencontainers.image.created"), "2026-12-04T00:00:00Z");
    // The key hint is base64(sha256(PKIX DER)), as cosign sets it.
    auto b = nlohmann::json::parse(sig.bundle);
    EXPECT_EQ(util::base64_decode(b["verificationMaterial"]["publicKey"]["hint"].get<std::string>()).size(), 32u);
  }
}

TEST(SigstoreBundle, AnAttestationIsNotASignature) {
  // GHSA-w6c6-c85g-mmv6: same artifact type, same key, another predicate: refused.
  PrivateKey key = PrivateKey::generate(KeyType::EcdsaP256);
  std::string provenance = bundle_over(key, statement(image().digest, "https://slsa.dev/provenance/v1"));
  ExpectError([&] { verify_sigstore_bundle(provenance, image().digest, trust(key), "image"); }, ErrorKind::Integrity,
              "an attestation is not a signature");
  // The same statement with the signature predicate passes: the check is the predicate alone.
  EXPECT_NO_THROW(verify_sigstore_bundle(bundle_over(key, statement(image().digest)), image().digest, trust(key), "image"));
}

// An SBOM attestation as cosign attest stores it: signed, it verifies as an attestation of its
// predicate type and yields the predicate; it is not a signature, nor an attestation of another
// type; cosign attest's in-toto v0.1 statements are read as attestations, never as signatures.
TEST(SigstoreBundle, AttestationsCarryTheirPredicateAndAreNothingElse) {
  PrivateKey key = PrivateKey::generate(KeyType::EcdsaP256);
  const std::string spdx = R"({"spdxVersion":"SPDX-2.3","packages":[{"name":"libc6"}]})";
  SigstoreSignature att = sign_attestation(key, image(), "2026-12-04T00:00:00Z", "https://spdx.dev/Document", spdx,
                                           {{"dev.sealift.sbom.platform", "linux/amd64"}});
  const TrustedKeys keys = trust(key);  // VerifiedAttestation::signer points into it
  VerifiedAttestation v = verify_attestation_bundle(att.bundle, image().digest, "https://spdx.dev/Document", keys, "x");
  EXPECT_EQ(v.signer->fingerprint(), key.public_key().fingerprint());
  EXPECT_EQ(nlohmann::json::parse(v.predicate), nlohmann::json::parse(spdx));
  oci::Manifest m = oci::Manifest::parse(att.manifest, oci::media::kOciManifest);
  EXPECT_EQ(announced_predicate_type(m), "https://spdx.dev/Document");
  EXPECT_EQ(m.annotations().at("dev.sealift.sbom.platform"), "linux/amd64");
  EXPECT_EQ(check_attestation_referrer(m, image(), "https://spdx.dev/Document", "x").digest, oci::Digest::of(att.bundle));
  ExpectError([&] { check_signature_referrer(m, image(), "x"); }, ErrorKind::Integrity, "is not a cosign signature's");
  ExpectError([&] { check_attestation_referrer(m, image(), "https://cyclonedx.org/bom", "x"); }, ErrorKind::Integrity,
                   "predicate type \"https://spdx.dev/Document\" is not https://cyclonedx.org/bom");
  ExpectError([&] { verify_sigstore_bundle(att.bundle, image().digest, trust(key), "x"); }, ErrorKind::Integrity, "an attestation is not a signature");
  ExpectError([&] { verify_attestation_bundle(att.bundle, image().digest, "https://cyclonedx.org/bom", trust(key), "x"); }, ErrorKind::Integrity,
                   "is not https://cyclonedx.org/bom");
  ExpectError([&] { verify_attestation_bundle(att.bundle, image("other").digest, "https://spdx.dev/Document", trust(key), "x"); }, ErrorKind::Integrity,
                   "does not name");
  EXPECT_THROW(sign_attestation(key, image(), "t", "https://spdx.dev/Document", "not json"), Error);

  auto v01 = nlohmann::ordered_json::parse(statement(image().digest, "https://spdx.dev/Document"));
  v01["_type"] = kInTotoStatementTypeV01;
  EXPECT_NO_THROW(verify_attestation_bundle(bundle_over(key, v01.dump()), image().digest, "https://spdx.dev/Document", trust(key), "x"));
  v01["predicateType"] = kCosignSignPredicateType;
  ExpectError([&] { verify_sigstore_bundle(bundle_over(key, v01.dump()), image().digest, trust(key), "x"); }, ErrorKind::Integrity,
                   "statement type \"https://in-toto.io/Statement/v0.1\"");
}

TEST(SigstoreBundle, RefusesForgedAndMalformedBundles) {
  PrivateKey key = PrivateKey::generate(KeyType::EcdsaP256);
  SigstoreSignature sig = sign_sigstore(key, image(), "2026-12-04T00:00:00Z");
  auto edited = [&](auto&& change) {
    auto b = nlohmann::json::parse(sig.bundle);
    change(b);
    return b.dump();
  };
  const oci::Digest d = image().digest;
  // The statement swapped for one naming another image, the signature kept.
  std::string swapped = edited([&](nlohmann::json& b) {
    b["dsseEnvelope"]["payload"] = util::base64_encode(statement(oci::Digest::of("another image")));
  });
  ExpectError([&] { verify_sigstore_bundle(swapped, oci::Digest::of("another image"), trust(key), "image"); },
              ErrorKind::Integrity, "no signature in its DSSE envelope was made by");
  ExpectError([&] { verify_sigstore_bundle(edited([](nlohmann::json& b) { b["dsseEnvelope"]["payloadType"] = "text/plain"; }), d,
                                           trust(key), "image"); },
              ErrorKind::Integrity, "payload type \"text/plain\"");
  ExpectError([&] { verify_sigstore_bundle(edited([](nlohmann::json& b) { b.erase("dsseEnvelope"); }), d, trust(key), "image"); },
              ErrorKind::Integrity, "no DSSE envelope");
  ExpectError([&] { verify_sigstore_bundle(edited([](nlohmann::json& b) { b["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.1+json"; }),
                                           d, trust(key), "image"); },
              ErrorKind::Integrity, "is not a Sigstore bundle v0.3");
  ExpectError([&] { verify_sigstore_bundle(edited([](nlohmann::json& b) { b["dsseEnvelope"]["signatures"] = nlohmann::json::array(); }),
                                           d, trust(key), "image"); },
              ErrorKind::Integrity, "signatures is empty");
  ExpectError([&] { verify_sigstore_bundle("{\"mediaType\":", d, trust(key), "image"); }, ErrorKind::Integrity, "not valid JSON");
  // A statement of another type, properly signed.
  nlohmann::ordered_json v01 = nlohmann::ordered_json::parse(statement(d));
  v01["_type"] = "https://in-toto.io/Statement/v0.1";
  ExpectError([&] { verify_sigstore_bundle(bundle_over(key, v01.dump()), d, trust(key), "image"); }, ErrorKind::Integrity,
              "statement type");
  ExpectError([&] { verify_sigstore_bundle(sig.bundle, d, TrustedKeys(), "image"); }, ErrorKind::Usage, "no public key");
}

TEST(SigstoreBundle, RefusesReferrersThatDoNotDescribeTheImage) {
  PrivateKey key = PrivateKey::generate(KeyType::EcdsaP256);
  SigstoreSignature sig = sign_sigstore(key, image(), "2026-12-04T00:00:00Z");
  auto edited = [&](auto&& change) {
    auto m = nlohmann::ordered_json::parse(sig.manifest);
    change(m);
    return oci::Manifest::parse(m.dump(), oci::media::kOciManifest);
  };
  ExpectError([&] { check_signature_referrer(oci::Manifest::parse(sig.manifest, oci::media::kOciManifest), image("other"), "image"); },
              ErrorKind::Integrity, "its subject is " + image().digest.str());
  ExpectError([&] { check_signature_referrer(edited([](auto& m) { m["artifactType"] = "application/spdx+json"; }), image(), "image"); },
              ErrorKind::Integrity, "artifact type \"application/spdx+json\"");
  ExpectError([&] { check_signature_referrer(edited([](auto& m) { m["layers"].push_back(m["layers"][0]); }), image(), "image"); },
              ErrorKind::Integrity, "2 layers");
  ExpectError([&] { check_signature_referrer(edited([](auto& m) { m.erase("subject"); }), image(), "image"); },
              ErrorKind::Integrity, "no subject");
  ExpectError([&] {
    check_signature_referrer(edited([](auto& m) { m["annotations"]["dev.sigstore.bundle.predicateType"] = "https://slsa.dev/provenance/v1"; }),
                             image(), "image");
  }, ErrorKind::Integrity, "is not a cosign signature's");
  ExpectError([&] { check_signature_referrer(edited([](auto& m) { m["subject"]["size"] = 1; }), image(), "image"); },
              ErrorKind::Integrity, "its subject is");
}

}  // namespace
}  // namespace sealift::sign
