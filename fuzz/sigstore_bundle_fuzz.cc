// Sigstore bundles and their referrer manifests (sign::verify_sigstore_bundle,
// sign::check_signature_referrer), read from bundles and from registries: the input is tried as a
// bundle against a key made in this process (so it must never verify) and as a referrer manifest
// against a fixed subject. Errors must be clean; nothing may verify.
#include "fuzz.h"
#include "oci/manifest.h"
#include "sign/key.h"
#include "sign/sigstore_bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sealift;
  static const sign::TrustedKeys trusted({sign::PrivateKey::generate(sign::KeyType::EcdsaP256).public_key(),
                                          sign::PrivateKey::generate(sign::KeyType::Ed25519).public_key()});
  static const oci::Digest subject =
      oci::Digest::parse("sha256:2d002ef415c16164f50bec144dff3efcd84e01c4872ead8870c075cb9f434212");
  const std::string text(fuzz::text(data, size));
  bool verified = false;
  fuzz::expect_clean_errors([&] {
    sign::verify_sigstore_bundle(text, subject, trusted, "image");
    verified = true;
  });
  fuzz::require(!verified, "a bundle verified with a key made in this process");
  fuzz::expect_clean_errors([&] {
    oci::Manifest m = oci::Manifest::parse(text, oci::media::kOciManifest);
    oci::Descriptor d;
    d.media_type = oci::media::kOciIndex;
    d.digest = subject;
    d.size = 508;
    oci::Descriptor layer = sign::check_signature_referrer(m, d, "image");
    fuzz::require(layer.media_type == sign::kSigstoreBundleMediaType, "accepted a layer of another media type");
  });
  return 0;
}
