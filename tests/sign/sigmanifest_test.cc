#include "sign/sigmanifest.h"

#include <gtest/gtest.h>

#include <map>

#include "expect_error.h"
#include "util/encoding.h"
#include "vectors.h"

namespace sealift::sign {
namespace {

// wire-formats §6.2/§6.3: the .sig manifest and config cosign's serialisation produces for the
// containers/image fixture signature.
constexpr std::string_view kFixtureSigManifest =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":233,"digest":"sha256:be321600a5bd794947dce257829a2f08c21b05dde3edf84706faf6f2ae0f5f60"},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":261,"digest":"sha256:cf482371b51a7633b3f02e29b87fc3f4a18b3f127af61cb114af5f2c04fcdd75","annotations":{"dev.cosignproject.cosign/signature":"MEYCIQDmtamqYPjMg81nqeBhptrPls44aA/r7PwLmspINJY4MwIhANKRpqe2E9UCBtGFdPoz/8jAbaQm4uP4h+IpwKTE6ClR"}}]})";

ImageSignature fixture_signature() {
  ImageSignature s;
  s.payload = std::string(vectors::kContainersImagePayload);
  s.layer.digest = oci::Digest::of(s.payload);
  s.layer.size = static_cast<int64_t>(s.payload.size());
  s.layer.annotations.emplace(kSignatureAnnotation, vectors::kContainersImageSignature);
  return s;
}

PublicKey fixture_key() { return PublicKey::from_pem(vectors::kContainersImagePublicKey, "cosign.pub"); }
oci::Digest fixture_image() { return oci::Digest::parse(vectors::kContainersImageManifestDigest); }

struct Blobs {
  std::map<oci::Digest, std::string> by_digest;
  void add(const ImageSignature& s) { by_digest[s.layer.digest] = s.payload; }
  PayloadFetcher fetcher() const {
    return [this](const SignatureLayer& l) { return by_digest.at(l.digest); };
  }
};

TEST(SignatureManifest, ReproducesCosignsBytesForTheFixtureSignature) {
  SignatureManifest m;
  EXPECT_TRUE(m.add(fixture_signature(), fixture_key()));
  EXPECT_EQ(m.config().size(), 233u);
  EXPECT_EQ(oci::Digest::of(m.config()).str(), "sha256:be321600a5bd794947dce257829a2f08c21b05dde3edf84706faf6f2ae0f5f60");
  EXPECT_EQ(m.manifest(), kFixtureSigManifest);
  EXPECT_EQ(m.manifest().size(), 558u);
  EXPECT_EQ(oci::Digest::of(m.manifest()).str(), "sha256:4e9e18b27581f5046e09644e683cae2a55187345ca64be139bc2d53e12be04c0");
  EXPECT_EQ(signature_tag(fixture_image()), "sha256-634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00.sig");
}

TEST(SignatureManifest, ParsesAndReserialisesByteForByte) {
  SignatureManifest m = SignatureManifest::parse(kFixtureSigManifest);
  ASSERT_EQ(m.layers().size(), 1u);
  EXPECT_EQ(m.layers()[0].signature(), vectors::kContainersImageSignature);
  EXPECT_EQ(m.manifest(), kFixtureSigManifest);
}

TEST(SignatureManifest, AppendsANewSignatureAndSkipsADuplicate) {
  SignatureManifest m = SignatureManifest::parse(kFixtureSigManifest);
  EXPECT_FALSE(m.add(fixture_signature(), fixture_key()));
  EXPECT_EQ(m.layers().size(), 1u);

  PrivateKey k = PrivateKey::generate(KeyType::EcdsaP256);
  ImageSignature ours = sign_image(k, "192.168.64.2:5000/cosign-signed-single-sample", fixture_image());
  EXPECT_EQ(ours.payload, vectors::kContainersImagePayload);  // same image, same name: same payload
  EXPECT_TRUE(m.add(ours, k.public_key()));
  ASSERT_EQ(m.layers().size(), 2u);
  // ECDSA signatures differ each time, yet re-signing with the same key is still a duplicate.
  EXPECT_FALSE(m.add(sign_image(k, "192.168.64.2:5000/cosign-signed-single-sample", fixture_image()), k.public_key()));
  EXPECT_EQ(m.layers().size(), 2u);
  // Same key, new annotation: a new signature.
  EXPECT_TRUE(m.add(sign_image(k, "192.168.64.2:5000/cosign-signed-single-sample", fixture_image(), {{"env", "prod"}}),
                    k.public_key()));
  EXPECT_EQ(m.layers().size(), 3u);

  std::string config = m.config();
  std::string payload_digest = oci::Digest::of(vectors::kContainersImagePayload).str();
  EXPECT_NE(config.find(R"("history":[{"created":"0001-01-01T00:00:00Z"},{"created":"0001-01-01T00:00:00Z"},{"created":"0001-01-01T00:00:00Z"}])"),
            std::string::npos) << config;
  EXPECT_NE(config.find("\"diff_ids\":[\"" + payload_digest + "\",\"" + payload_digest + "\","), std::string::npos);
  // The existing layer is carried over untouched, the new ones follow it.
  std::string first_layer(kFixtureSigManifest.substr(kFixtureSigManifest.find("\"layers\":[")));
  first_layer = first_layer.substr(0, first_layer.size() - 2);
  std::string manifest = m.manifest();
  EXPECT_NE(manifest.find(first_layer + ",{\"mediaType\":\"application/vnd.dev.cosign.simplesigning.v1+json\""),
            std::string::npos) << manifest;
  EXPECT_EQ(SignatureManifest::parse(manifest).manifest(), manifest);
}

TEST(SignatureManifest, VerifiesTheFixtureLikeCosignVerify) {
  Blobs blobs;
  blobs.add(fixture_signature());
  TrustedKeys trusted({fixture_key()});
  SignatureManifest m = SignatureManifest::parse(kFixtureSigManifest);
  auto valid = verify_image_signatures(m, fixture_image(), trusted, blobs.fetcher(), "sample");
  ASSERT_EQ(valid.size(), 1u);
  EXPECT_EQ(valid[0].payload.docker_reference, "192.168.64.2:5000/cosign-signed-single-sample");
  EXPECT_EQ(valid[0].key.der(), fixture_key().der());
}

TEST(SignatureManifest, SkipsLayersOfOtherKeysButNeedsOneTrustedSignature) {
  PrivateKey mine = PrivateKey::generate(KeyType::Ed25519), theirs = PrivateKey::generate(KeyType::EcdsaP256);
  oci::Digest image = oci::Digest::of("an image manifest");
  ImageSignature a = sign_image(theirs, "r.io/app", image), b = sign_image(mine, "r.io/app", image);
  Blobs blobs;
  blobs.add(a);
  blobs.add(b);
  SignatureManifest m;
  m.add(a, theirs.public_key());
  m.add(b, mine.public_key());
  auto valid = verify_image_signatures(m, image, TrustedKeys({mine.public_key()}), blobs.fetcher(), "r.io/app");
  ASSERT_EQ(valid.size(), 1u);
  EXPECT_EQ(valid[0].key.der(), mine.public_key().der());
  ExpectError([&] {
    verify_image_signatures(m, image, TrustedKeys({PrivateKey::generate(KeyType::EcdsaP256).public_key()}),
                            blobs.fetcher(), "r.io/app");
  }, ErrorKind::Integrity, "no valid signature for r.io/app by a trusted key (layer 0: signature does not verify");
}

TEST(SignatureManifest, RejectsTamperedPayloadSignatureAndDigest) {
  PrivateKey k = PrivateKey::generate(KeyType::EcdsaP256);
  TrustedKeys trusted({k.public_key()});
  oci::Digest image = oci::Digest::of("manifest bytes");
  ImageSignature s = sign_image(k, "r.io/app", image);

  // The registry serves other bytes than the digest names.
  SignatureManifest m;
  m.add(s, k.public_key());
  PayloadFetcher altered = [&](const SignatureLayer&) {
    std::string p = s.payload;
    p[p.find("r.io")] = 'x';
    return p;
  };
  ExpectError([&] { verify_image_signatures(m, image, trusted, altered, "r.io/app"); }, ErrorKind::Integrity,
              "payload blob does not match");

  // A payload re-signed... by someone else, for the right digest name.
  Blobs blobs;
  blobs.add(s);
  ImageSignature forged = s;
  forged.layer.annotations[std::string(kSignatureAnnotation)] =
      util::base64_encode(sign(PrivateKey::generate(KeyType::EcdsaP256), s.payload));
  SignatureManifest fm;
  fm.add(forged, k.public_key());
  ExpectError([&] { verify_image_signatures(fm, image, trusted, blobs.fetcher(), "r.io/app"); }, ErrorKind::Integrity,
              "does not verify with any trusted key");

  // A valid signature, but for another image.
  ExpectError([&] { verify_image_signatures(m, oci::Digest::of("other"), trusted, blobs.fetcher(), "r.io/app"); },
              ErrorKind::Integrity, "the signed payload is for " + image.str());

  // A signature annotation that is not base64, and one missing.
  ImageSignature junk = s;
  junk.layer.annotations[std::string(kSignatureAnnotation)] = "%%%";
  SignatureManifest jm;
  jm.add(junk, k.public_key());
  ExpectError([&] { verify_image_signatures(jm, image, trusted, blobs.fetcher(), "r.io/app"); }, ErrorKind::Integrity,
              "no valid base64 signature annotation");

  ExpectError([&] { verify_image_signatures(SignatureManifest(), image, trusted, blobs.fetcher(), "r.io/app"); },
              ErrorKind::Integrity, "has no layers");
  ExpectError([&] { verify_image_signatures(m, image, TrustedKeys(), blobs.fetcher(), "r.io/app"); }, ErrorKind::Usage,
              "no trusted public key");
}

TEST(SignatureManifest, RejectsMalformedManifests) {
  std::string good(kFixtureSigManifest);
  auto replaced = [&](std::string_view from, std::string_view to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  ExpectError([&] { SignatureManifest::parse(good.substr(0, 100)); }, ErrorKind::Integrity, "not a JSON object");
  ExpectError([&] { SignatureManifest::parse(replaced("\"schemaVersion\":2", "\"schemaVersion\":1")); },
              ErrorKind::Integrity, "schemaVersion is not 2");
  ExpectError([&] { SignatureManifest::parse(replaced("image.manifest.v1", "image.index.v1")); }, ErrorKind::Integrity,
              "is not an image manifest");
  ExpectError([&] { SignatureManifest::parse(replaced("\"size\":261,", "\"size\":261,\"urls\":[],")); },
              ErrorKind::Integrity, "layers[0] has an unexpected field \"urls\"");
  ExpectError([&] { SignatureManifest::parse(replaced("\"size\":261,", "\"size\":-1,")); }, ErrorKind::Integrity,
              "layers[0] has no valid size");
  std::string layer = good.substr(good.find("{\"mediaType\":\"application/vnd.dev.cosign"));
  layer = layer.substr(0, layer.size() - 2);
  std::string many = good.substr(0, good.find("\"layers\":[") + 10);
  for (size_t i = 0; i <= kMaxSignatureLayers; ++i) many += (i ? "," : "") + layer;
  many += "]}";
  ExpectError([&] { SignatureManifest::parse(many); }, ErrorKind::Integrity, "more than cosign's limit of 1000");
}

}  // namespace
}  // namespace sealift::sign
