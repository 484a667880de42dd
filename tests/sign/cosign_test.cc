// Interoperability with the real cosign v2.6.4 (built from the Go module proxy) and a real
// registry (docker-registry 2.8 on 127.0.0.1), offline: cosign signs with --tlog-upload=false and
// verifies with --insecure-ignore-tlog=true. Every acceptance and every rejection is checked on
// both sides: what sealift decides and what cosign decides about the same bytes.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "env/process.h"
#include "env/registry.h"
#include "io/stream.h"
#include "oci/manifest.h"
#include "registry/client.h"
#include "sign/blob.h"
#include "sign/key.h"
#include "sign/payload.h"
#include "sign/sigmanifest.h"
#include "sign/sigstore_bundle.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::sign {
namespace {

namespace fs = std::filesystem;
using testenv::RunResult;

class CosignInterop : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    registry_ = new testenv::Registry();
    home_ = new testenv::TempDir("sealift-cosign-home");
  }
  static void TearDownTestSuite() {
    delete registry_;
    delete home_;
    registry_ = nullptr;
    home_ = nullptr;
  }

  registry::RegistryClient& client() {
    if (!client_) {
      registry::RegistryOptions o;
      o.http.plain_http = true;
      client_ = std::make_unique<registry::RegistryClient>(registry_->host(), o);
    }
    return *client_;
  }

  // cosign with a scratch HOME (nothing written to the real one) and no prompts. Commands that
  // read a key get COSIGN_PASSWORD; the others never look at it.
  RunResult cosign(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    env["HOME"] = home_->path().string();
    env["COSIGN_YES"] = "true";
    std::vector<std::string> argv = {testenv::peer("cosign")};
    argv.insert(argv.end(), args.begin(), args.end());
    return testenv::run(argv, env, "", 300);
  }
  RunResult cosign_with_password(const std::string& password, std::vector<std::string> args) {
    return cosign(std::move(args), {{"COSIGN_PASSWORD", password}});
  }
  // cosign v3.1.3, offline: no TUF, no transparency log, no signing config from the network.
  RunResult cosign3(std::vector<std::string> args, const std::string& password = {}) {
    std::vector<std::string> argv = {testenv::peer("cosign3")};
    argv.insert(argv.end(), args.begin(), args.end());
    return testenv::run(argv, {{"HOME", home_->path().string()}, {"COSIGN_YES", "true"}, {"COSIGN_PASSWORD", password}},
                        "", 300);
  }

  // What the installer does with a Sigstore bundle referrer on a registry without the referrers
  // API (distribution 2.8): blobs, the manifest by digest, then the subject's referrers tag.
  void publish_sigstore(const std::string& repo, const oci::Digest& image, const SigstoreSignature& sig) {
    push_blob(repo, std::string(kEmptyConfig), std::string(kEmptyConfigMediaType));
    push_blob(repo, sig.bundle, std::string(kSigstoreBundleMediaType));
    oci::Manifest m = oci::Manifest::parse(sig.manifest, oci::media::kOciManifest);
    client().put_manifest(repo, m.digest().str(), m);
    oci::Descriptor entry = m.descriptor();
    entry.artifact_type = m.artifact_type();
    entry.annotations = m.annotations();
    nlohmann::ordered_json index = {{"schemaVersion", 2}, {"mediaType", oci::media::kOciIndex},
                                    {"manifests", nlohmann::ordered_json::array({entry.to_json()})}};
    client().put_manifest(repo, image.tag_form(), oci::Manifest::parse(index.dump(), oci::media::kOciIndex));
  }
  // The Sigstore bundles listed in the image's referrers tag, as cosign v3 wrote them.
  std::vector<std::string> sigstore_bundles(const std::string& repo, const oci::Digest& image) {
    std::vector<std::string> out;
    oci::Manifest index = client().get_manifest(repo, image.tag_form());
    for (const auto& d : index.manifests()) {
      if (!is_signature_referrer(d)) continue;
      oci::Manifest m = client().get_manifest(repo, d);
      const oci::Descriptor& layer = m.layers().at(0);
      out.push_back(blob(repo, layer.digest, layer.size));
    }
    return out;
  }
  oci::Descriptor descriptor(const std::string& repo, const oci::Digest& image) { return client().resolve(repo, image.str()); }

  std::string ref(const std::string& repo, const oci::Digest& d) { return registry_->host() + "/" + repo + "@" + d.str(); }
  std::string name(const std::string& repo) { return registry_->host() + "/" + repo; }

  oci::Descriptor push_blob(const std::string& repo, const std::string& bytes, std::string media_type) {
    oci::Descriptor d;
    d.media_type = std::move(media_type);
    d.digest = oci::Digest::of(bytes);
    d.size = static_cast<int64_t>(bytes.size());
    client().push_blob(repo, d, [bytes](uint64_t offset) -> std::unique_ptr<io::Source> {
      struct Owned : io::Source {
        std::string data;
        io::MemorySource src;
        explicit Owned(std::string s) : data(std::move(s)), src(data) {}
        size_t read(std::span<std::byte> buf) override { return src.read(buf); }
      };
      return std::make_unique<Owned>(bytes.substr(offset));
    });
    return d;
  }

  // A small image of its own in `repo`, tagged v1; `salt` makes its digest unique.
  oci::Digest push_image(const std::string& repo, const std::string& salt) {
    oci::Descriptor layer = push_blob(repo, "layer of " + salt, std::string(oci::media::kOciLayerGzip));
    oci::Descriptor config =
        push_blob(repo, R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[")" +
                            layer.digest.str() + R"("]}})",
                  std::string(oci::media::kOciConfig));
    nlohmann::ordered_json m = {{"schemaVersion", 2}, {"mediaType", oci::media::kOciManifest}, {"config", config.to_json()}};
    m["layers"] = nlohmann::ordered_json::array({layer.to_json()});
    oci::Manifest manifest = oci::Manifest::parse(m.dump(), oci::media::kOciManifest);
    client().put_manifest(repo, "v1", manifest);
    return manifest.digest();
  }

  bool has_signatures(const std::string& repo, const oci::Digest& image) {
    auto tags = client().list_tags(repo);
    return std::find(tags.begin(), tags.end(), signature_tag(image)) != tags.end();
  }

  std::string sig_manifest_bytes(const std::string& repo, const oci::Digest& image) {
    return client().get_manifest(repo, signature_tag(image)).bytes();
  }

  std::string blob(const std::string& repo, const oci::Digest& d, int64_t size) {
    oci::Descriptor desc;
    desc.digest = d;
    desc.size = size;
    io::StringSink sink;
    client().fetch_blob(repo, desc, sink);
    return std::move(sink.out);
  }

  // What the bundler and installer do: read the existing .sig (if any), add, upload, PUT.
  void publish(const std::string& repo, const oci::Digest& image, const ImageSignature& sig, const PublicKey& signer) {
    SignatureManifest sm = has_signatures(repo, image) ? SignatureManifest::parse(sig_manifest_bytes(repo, image))
                                                       : SignatureManifest();
    sm.add(sig, signer);
    upload(repo, image, sm, {sig.payload});
  }
  // Uploads payloads and config, then PUTs the manifest bytes as they are.
  void upload(const std::string& repo, const oci::Digest& image, const SignatureManifest& sm,
              const std::vector<std::string>& payloads) {
    for (const auto& p : payloads) push_blob(repo, p, std::string(kSimpleSigningMediaType));
    push_blob(repo, sm.config(), std::string(oci::media::kOciConfig));
    client().put_manifest(repo, signature_tag(image), oci::Manifest::parse(sm.manifest(), oci::media::kOciManifest));
  }

  // sealift's verdict on the image's signatures in the registry.
  std::vector<VerifiedSignature> sealift_verify(const std::string& repo, const oci::Digest& image,
                                                const TrustedKeys& keys) {
    SignatureManifest sm = SignatureManifest::parse(sig_manifest_bytes(repo, image));
    return verify_image_signatures(sm, image, keys, [&](const SignatureLayer& l) { return blob(repo, l.digest, l.size); },
                                   name(repo));
  }
  bool sealift_accepts(const std::string& repo, const oci::Digest& image, const TrustedKeys& keys) {
    try {
      return !sealift_verify(repo, image, keys).empty();
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
      return false;
    }
  }
  RunResult cosign_verify(const std::string& repo, const oci::Digest& image, const fs::path& pub) {
    return cosign({"verify", "--key", pub.string(), "--insecure-ignore-tlog=true", "--allow-http-registry",
                   ref(repo, image)});
  }
  bool cosign_accepts(const std::string& repo, const oci::Digest& image, const fs::path& pub) {
    RunResult r = cosign_verify(repo, image, pub);
    if (r.exit_code != 0) {
      EXPECT_NE(r.err.find("no matching signatures"), std::string::npos) << r.err;
    }
    return r.exit_code == 0;
  }
  RunResult cosign_sign(const std::string& repo, const oci::Digest& image, const fs::path& key, const std::string& password,
                        std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"sign", "--key", key.string(), "--tlog-upload=false", "--allow-http-registry", "-y"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(ref(repo, image));
    return cosign_with_password(password, args);
  }

  // A key pair made by `cosign generate-key-pair` in a fresh directory.
  fs::path cosign_keypair(const testenv::TempDir& dir, const std::string& password) {
    RunResult r = cosign_with_password(password, {"generate-key-pair", "--output-key-prefix", (dir / "cosign").string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return dir / "cosign";
  }
  // A key pair made by `sealift-bundle keygen`.
  fs::path sealift_keypair(const testenv::TempDir& dir, const std::string& password, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"env", "COSIGN_PASSWORD=" + password, testenv::bundle_program(), "keygen",
                                     "--output-prefix", (dir / "sealift").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    RunResult r = testenv::run(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return dir / "sealift";
  }

  static fs::path key_of(const fs::path& prefix) { return prefix.string() + ".key"; }
  static fs::path pub_of(const fs::path& prefix) { return prefix.string() + ".pub"; }

  static testenv::Registry* registry_;
  static testenv::TempDir* home_;
  std::unique_ptr<registry::RegistryClient> client_;
};

testenv::Registry* CosignInterop::registry_ = nullptr;
testenv::TempDir* CosignInterop::home_ = nullptr;

TEST_F(CosignInterop, CosignKeysSignImagesInSealiftThatCosignVerifies) {
  for (std::string password : {"hunter2 with spaces", ""}) {
    SCOPED_TRACE("password \"" + password + "\"");
    testenv::TempDir dir;
    fs::path kp = cosign_keypair(dir, password);
    PrivateKey key = PrivateKey::from_file(key_of(kp), Secret::copy_of(password));
    EXPECT_EQ(key.public_key().pem(), util::read_file(pub_of(kp)));

    std::string repo = password.empty() ? "team/empty-pw" : "team/with-pw";
    oci::Digest image = push_image(repo, repo);
    publish(repo, image, sign_image(key, name(repo), image), key.public_key());

    RunResult r = cosign_verify(repo, image, pub_of(kp));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // stdout: a blank line, then the verified payloads as one JSON array.
    std::string json = r.out.substr(r.out.find('['));
    auto claims = nlohmann::json::parse(json.substr(0, json.find('\n')));
    ASSERT_TRUE(claims.is_array());
    EXPECT_EQ(claims[0]["critical"]["image"]["docker-manifest-digest"], image.str());
    EXPECT_EQ(claims[0]["critical"]["identity"]["docker-reference"], name(repo));
    EXPECT_TRUE(sealift_accepts(repo, image, TrustedKeys({PublicKey::from_file(pub_of(kp))})));
  }
}

TEST_F(CosignInterop, SealiftKeysSignInCosignAndSealiftVerifiesCosignsSignatures) {
  for (bool legacy : {false, true}) {
    SCOPED_TRACE(legacy ? "legacy key format" : "current key format");
    testenv::TempDir dir;
    fs::path kp = sealift_keypair(dir, "s3cret", legacy ? std::vector<std::string>{"--legacy-format"} : std::vector<std::string>{});
    std::string repo = legacy ? "vendor/legacy" : "vendor/current";
    oci::Digest image = push_image(repo, repo);
    RunResult s = cosign_sign(repo, image, key_of(kp), "s3cret");
    ASSERT_EQ(s.exit_code, 0) << s.err;
    TrustedKeys ours({PublicKey::from_file(pub_of(kp))});
    auto valid = sealift_verify(repo, image, ours);
    ASSERT_EQ(valid.size(), 1u);
    EXPECT_EQ(valid[0].payload.manifest_digest, image);
    EXPECT_EQ(valid[0].payload.docker_reference, name(repo));
    EXPECT_TRUE(cosign_accepts(repo, image, pub_of(kp)));
    // cosign with the wrong password cannot use our key either.
    EXPECT_NE(cosign_sign(repo, image, key_of(kp), "wrong").exit_code, 0);
  }
}

// The same content must give the same bytes: payload, config and manifest, and the append.
TEST_F(CosignInterop, SignatureBytesMatchCosignsIncludingAppend) {
  testenv::TempDir dir;
  fs::path a = sealift_keypair(dir, "a");
  testenv::TempDir dir2;
  fs::path b = cosign_keypair(dir2, "b");
  std::string repo = "bytes/app";
  oci::Digest image = push_image(repo, repo);

  ASSERT_EQ(cosign_sign(repo, image, key_of(a), "a", {"-a", "note=x&y<z>", "-a", "build=7"}).exit_code, 0);
  std::string one = sig_manifest_bytes(repo, image);
  SignatureManifest cosign_one = SignatureManifest::parse(one);
  ASSERT_EQ(cosign_one.layers().size(), 1u);
  const SignatureLayer& layer = cosign_one.layers()[0];
  std::string payload = blob(repo, layer.digest, layer.size);
  SimpleSigningPayload expected{name(repo), image, {{"note", "x&y<z>"}, {"build", "7"}}};
  EXPECT_EQ(payload, expected.bytes());

  // Rebuilt from cosign's own layer, sealift's manifest and config are cosign's, byte for byte.
  SignatureManifest rebuilt;
  ImageSignature theirs{payload, layer};
  ASSERT_TRUE(rebuilt.add(theirs, PublicKey::from_file(pub_of(a))));
  EXPECT_EQ(rebuilt.manifest(), one);
  auto config_desc = nlohmann::json::parse(one)["config"];
  EXPECT_EQ(oci::Digest::of(rebuilt.config()).str(), config_desc["digest"]);
  EXPECT_EQ(rebuilt.config(), blob(repo, oci::Digest::parse(config_desc["digest"].get<std::string>()),
                                   config_desc["size"].get<int64_t>()));

  // cosign appends a second signature; sealift appending the same layer gets the same bytes.
  ASSERT_EQ(cosign_sign(repo, image, key_of(b), "b").exit_code, 0);
  std::string two = sig_manifest_bytes(repo, image);
  SignatureManifest cosign_two = SignatureManifest::parse(two);
  ASSERT_EQ(cosign_two.layers().size(), 2u);
  const SignatureLayer& second = cosign_two.layers()[1];
  SignatureManifest appended = SignatureManifest::parse(one);
  ASSERT_TRUE(appended.add({blob(repo, second.digest, second.size), second}, PublicKey::from_file(pub_of(b))));
  EXPECT_EQ(appended.manifest(), two);

  // Re-signing with the same key is a no-op for cosign and for sealift.
  ASSERT_EQ(cosign_sign(repo, image, key_of(b), "b").exit_code, 0);
  EXPECT_EQ(sig_manifest_bytes(repo, image), two);
  PrivateKey bk = PrivateKey::from_file(key_of(b), Secret::copy_of("b"));
  EXPECT_FALSE(appended.add(sign_image(bk, name(repo), image), bk.public_key()));

  // sealift appends a third, cosign keeps verifying all three keys.
  testenv::TempDir dir3;
  fs::path c = sealift_keypair(dir3, "c");
  PrivateKey ck = PrivateKey::from_file(key_of(c), Secret::copy_of("c"));
  publish(repo, image, sign_image(ck, name(repo), image), ck.public_key());
  EXPECT_EQ(SignatureManifest::parse(sig_manifest_bytes(repo, image)).layers().size(), 3u);
  for (const fs::path& kp : {a, b, c}) EXPECT_TRUE(cosign_accepts(repo, image, pub_of(kp))) << kp;
  TrustedKeys all = TrustedKeys::from_files({pub_of(a), pub_of(b), pub_of(c)});
  EXPECT_EQ(sealift_verify(repo, image, all).size(), 3u);
}

TEST_F(CosignInterop, TamperedImageSignaturesAreRejectedByBoth) {
  testenv::TempDir dir;
  fs::path kp = sealift_keypair(dir, "k");
  PrivateKey key = PrivateKey::from_file(key_of(kp), Secret::copy_of("k"));
  TrustedKeys trusted({key.public_key()});

  {  // Control: untampered, both accept; another key, both reject.
    std::string repo = "tamper/control";
    oci::Digest image = push_image(repo, repo);
    publish(repo, image, sign_image(key, name(repo), image), key.public_key());
    EXPECT_TRUE(sealift_accepts(repo, image, trusted));
    EXPECT_TRUE(cosign_accepts(repo, image, pub_of(kp)));
    testenv::TempDir other;
    fs::path wrong = cosign_keypair(other, "w");
    EXPECT_FALSE(sealift_accepts(repo, image, TrustedKeys({PublicKey::from_file(pub_of(wrong))})));
    EXPECT_FALSE(cosign_accepts(repo, image, pub_of(wrong)));
  }
  {  // Payload: the layer names an altered payload; the signature is over the original.
    std::string repo = "tamper/payload";
    oci::Digest image = push_image(repo, repo);
    ImageSignature sig = sign_image(key, name(repo), image, {{"release", "1"}});
    std::string altered = sig.payload;
    altered.replace(altered.find("\"1\""), 3, "\"2\"");
    sig.layer.digest = oci::Digest::of(altered);
    sig.payload = altered;
    SignatureManifest sm;
    sm.add(sig, key.public_key());
    upload(repo, image, sm, {altered});
    EXPECT_FALSE(sealift_accepts(repo, image, trusted));
    EXPECT_FALSE(cosign_accepts(repo, image, pub_of(kp)));
  }
  {  // Signature: one bit flipped in the annotation.
    std::string repo = "tamper/signature";
    oci::Digest image = push_image(repo, repo);
    ImageSignature sig = sign_image(key, name(repo), image);
    std::string raw = util::base64_decode(sig.layer.signature());
    raw[raw.size() - 3] ^= 0x01;
    sig.layer.annotations[std::string(kSignatureAnnotation)] = util::base64_encode(raw);
    SignatureManifest sm;
    sm.add(sig, key.public_key());
    upload(repo, image, sm, {sig.payload});
    EXPECT_FALSE(sealift_accepts(repo, image, trusted));
    EXPECT_FALSE(cosign_accepts(repo, image, pub_of(kp)));
  }
  {  // Manifest digest: a genuine signature of another image, stored as this image's signature.
    std::string repo = "tamper/digest";
    oci::Digest image = push_image(repo, repo);
    oci::Digest other = push_image(repo, "another image");
    ImageSignature sig = sign_image(key, name(repo), other);
    SignatureManifest sm;
    sm.add(sig, key.public_key());
    upload(repo, image, sm, {sig.payload});
    EXPECT_FALSE(sealift_accepts(repo, image, trusted));
    EXPECT_FALSE(cosign_accepts(repo, image, pub_of(kp)));
  }
}

TEST_F(CosignInterop, BlobSignaturesInteroperateAndTamperingIsRejectedByBoth) {
  testenv::TempDir dir;
  fs::path ck = cosign_keypair(dir, "");
  fs::path sk = sealift_keypair(dir, "blob pw");
  util::write_file_atomic(dir / "sealift.json", R"({"schemaVersion":1,"name":"app"})" "\n");
  util::write_file_atomic(dir / "chart.tgz", std::string(200000, '\x1f'));

  auto sealift_verifies = [&](const fs::path& file, const fs::path& sig, const fs::path& pub) {
    util::FileSource content(file);
    try {
      verify_blob(TrustedKeys({PublicKey::from_file(pub)}), content, util::read_file(sig), file.filename().string());
      return true;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
      return false;
    }
  };
  auto cosign_verifies = [&](const fs::path& file, const fs::path& sig, const fs::path& pub) {
    RunResult r = cosign({"verify-blob", "--key", pub.string(), "--signature", sig.string(), "--insecure-ignore-tlog=true",
                          file.string()});
    if (r.exit_code == 0) {
      EXPECT_NE(r.err.find("Verified OK"), std::string::npos) << r.err;
    }
    return r.exit_code == 0;
  };

  for (const char* f : {"sealift.json", "chart.tgz"}) {
    SCOPED_TRACE(f);
    fs::path file = dir / f;
    // sealift signs with the cosign-made key; cosign verifies.
    PrivateKey key = PrivateKey::from_file(key_of(ck), Secret());
    util::FileSource content(file);
    fs::path ours = dir / (std::string(f) + ".sealift.sig");
    util::write_file_atomic(ours, sign_blob(key, content));
    EXPECT_TRUE(cosign_verifies(file, ours, pub_of(ck)));
    EXPECT_TRUE(sealift_verifies(file, ours, pub_of(ck)));
    // cosign signs with the sealift-made key; sealift verifies.
    fs::path theirs = dir / (std::string(f) + ".cosign.sig");
    RunResult s = cosign_with_password("blob pw", {"sign-blob", "--key", key_of(sk).string(), "--tlog-upload=false",
                                                   "--output-signature", theirs.string(), file.string()});
    ASSERT_EQ(s.exit_code, 0) << s.err;
    EXPECT_TRUE(sealift_verifies(file, theirs, pub_of(sk)));
    EXPECT_TRUE(cosign_verifies(file, theirs, pub_of(sk)));
    // Wrong key: both reject.
    EXPECT_FALSE(sealift_verifies(file, theirs, pub_of(ck)));
    EXPECT_FALSE(cosign_verifies(file, theirs, pub_of(ck)));
  }

  // Tampered content and tampered signature: both reject.
  fs::path file = dir / "sealift.json";
  fs::path sig = dir / "sealift.json.sealift.sig";
  fs::path altered = dir / "altered.json";
  util::write_file_atomic(altered, R"({"schemaVersion":1,"name":"apq"})" "\n");
  EXPECT_FALSE(sealift_verifies(altered, sig, pub_of(ck)));
  EXPECT_FALSE(cosign_verifies(altered, sig, pub_of(ck)));
  std::string raw = util::base64_decode(util::read_file(sig));
  raw[raw.size() - 2] ^= 0x04;
  fs::path bad_sig = dir / "bad.sig";
  util::write_file_atomic(bad_sig, util::base64_encode(raw));
  EXPECT_FALSE(sealift_verifies(file, bad_sig, pub_of(ck)));
  EXPECT_FALSE(cosign_verifies(file, bad_sig, pub_of(ck)));
}

// What cosign v2.6.4 does with Ed25519, found by running it. It reads sealift's Ed25519 key.
// `verify` and `verify-blob` load a pure Ed25519 verifier for --key, so they accept sealift's
// (pure Ed25519) image and blob signatures. `sign` signs images with Ed25519ph (its default for
// Ed25519 keys), which its own `verify` then rejects; sealift accepts both schemes.
// `sign-blob --tlog-upload=false` switches to pure Ed25519 and crashes before signing
// ("requested hash function #0 is unavailable"), so cosign 2.6.4 makes no offline Ed25519 blob
// signatures at all.
TEST_F(CosignInterop, Ed25519AsCosign264BehavesToday) {
  testenv::TempDir dir;
  fs::path kp = sealift_keypair(dir, "ed", {"--key-type", "ed25519"});
  PrivateKey key = PrivateKey::from_file(key_of(kp), Secret::copy_of("ed"));
  ASSERT_EQ(key.type(), KeyType::Ed25519);
  TrustedKeys trusted({key.public_key()});

  // sealift's image signature (pure Ed25519): cosign verify accepts it.
  std::string repo = "ed25519/ours";
  oci::Digest image = push_image(repo, repo);
  publish(repo, image, sign_image(key, name(repo), image), key.public_key());
  EXPECT_TRUE(sealift_accepts(repo, image, trusted));
  EXPECT_TRUE(cosign_accepts(repo, image, pub_of(kp)));

  // cosign's image signature with our key (Ed25519ph): sealift accepts, cosign's verify does not.
  std::string repo2 = "ed25519/theirs";
  oci::Digest image2 = push_image(repo2, repo2);
  RunResult s = cosign_sign(repo2, image2, key_of(kp), "ed");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  SignatureManifest sm = SignatureManifest::parse(sig_manifest_bytes(repo2, image2));
  ASSERT_EQ(sm.layers().size(), 1u);
  std::string payload = blob(repo2, sm.layers()[0].digest, sm.layers()[0].size);
  std::string ph = util::base64_decode(sm.layers()[0].signature());
  EXPECT_NE(ph, sign(key, payload)) << "cosign made a pure Ed25519 signature";
  EXPECT_TRUE(sealift_accepts(repo2, image2, trusted));
  EXPECT_FALSE(cosign_accepts(repo2, image2, pub_of(kp)));

  // Blobs: cosign verifies sealift's signature, but cannot make one itself.
  util::write_file_atomic(dir / "sealift.json", "{}\n");
  util::FileSource content(dir / "sealift.json");
  std::string ours = sign_blob(key, content);
  util::write_file_atomic(dir / "ours.sig", ours);
  RunResult vb = cosign({"verify-blob", "--key", pub_of(kp).string(), "--signature", (dir / "ours.sig").string(),
                         "--insecure-ignore-tlog=true", (dir / "sealift.json").string()});
  EXPECT_EQ(vb.exit_code, 0) << vb.err;
  RunResult sb = cosign_with_password("ed", {"sign-blob", "--key", key_of(kp).string(), "--tlog-upload=false",
                                             "--output-signature", (dir / "theirs.sig").string(),
                                             (dir / "sealift.json").string()});
  EXPECT_NE(sb.exit_code, 0);
  EXPECT_NE(sb.err.find("requested hash function #0 is unavailable"), std::string::npos) << sb.err;
  EXPECT_FALSE(fs::exists(dir / "theirs.sig"));
}

}  // namespace
}  // namespace sealift::sign

namespace sealift::sign {
namespace {

// cosign v3.1.3 both ways, in its default (Sigstore bundle) format: a key it makes signs in
// sealift and cosign v3 verifies; a sealift key signs in cosign v3 and sealift verifies; a
// tampered bundle is refused by both.
TEST_F(CosignInterop, CosignV3BundlesInteroperateBothWays) {
  testenv::TempDir dir;
  RunResult g = cosign3({"generate-key-pair", "--output-key-prefix", (dir / "v3").string()}, "v3-pw");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  PrivateKey v3_key = PrivateKey::from_file(dir / "v3.key", Secret::copy_of("v3-pw"));
  const fs::path v3_pub = dir / "v3.pub";

  // A cosign v3 key signs in sealift; cosign v3 (bundle) and cosign v2 (bundle, empty trusted
  // root) accept it, and refuse another key.
  std::string repo = "v3/signed-by-sealift";
  oci::Digest image = push_image(repo, repo);
  publish_sigstore(repo, image, sign_sigstore(v3_key, descriptor(repo, image), "2026-12-04T00:00:00Z"));
  util::write_file_atomic(dir / "trusted_root.json", R"({"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"})");
  RunResult v3 = cosign3({"verify", "--key", v3_pub.string(), "--insecure-ignore-tlog=true", "--allow-http-registry", ref(repo, image)});
  EXPECT_EQ(v3.exit_code, 0) << v3.err;
  RunResult v2 = cosign({"verify", "--key", v3_pub.string(), "--insecure-ignore-tlog=true", "--allow-http-registry",
                         "--trusted-root", (dir / "trusted_root.json").string(), ref(repo, image)});
  EXPECT_EQ(v2.exit_code, 0) << v2.err;
  testenv::TempDir other;
  fs::path stranger = sealift_keypair(other, "x");
  EXPECT_NE(cosign3({"verify", "--key", pub_of(stranger).string(), "--insecure-ignore-tlog=true", "--allow-http-registry",
                     ref(repo, image)}).exit_code, 0);

  // A sealift key signs in cosign v3 (its default bundle format, offline); sealift verifies the
  // bundle cosign wrote, and names the image it is not for.
  std::string repo2 = "v3/signed-by-cosign";
  oci::Digest image2 = push_image(repo2, repo2);
  fs::path kp = sealift_keypair(dir, "s3cret");
  RunResult s = cosign3({"sign", "--key", key_of(kp).string(), "--tlog-upload=false", "--use-signing-config=false",
                         "--allow-http-registry", ref(repo2, image2)}, "s3cret");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto bundles = sigstore_bundles(repo2, image2);
  ASSERT_EQ(bundles.size(), 1u);
  TrustedKeys ours({PublicKey::from_file(pub_of(kp))});
  EXPECT_EQ(verify_sigstore_bundle(bundles[0], image2, ours, "image").der(), ours.keys()[0].der());
  try {
    verify_sigstore_bundle(bundles[0], image, ours, "image");
    ADD_FAILURE() << "a bundle for another image was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not name " + image.str()), std::string::npos) << e.what();
  }

  // A bundle whose signature was altered: refused by cosign v3 and by sealift.
  std::string repo3 = "v3/tampered";
  oci::Digest image3 = push_image(repo3, repo3);
  SigstoreSignature sig = sign_sigstore(v3_key, descriptor(repo3, image3), "2026-12-04T00:00:00Z");
  auto b = nlohmann::ordered_json::parse(sig.bundle);
  std::string raw = util::base64_decode(b["dsseEnvelope"]["signatures"][0]["sig"].get<std::string>());
  raw[raw.size() / 2] = static_cast<char>(raw[raw.size() / 2] ^ 0x01);
  b["dsseEnvelope"]["signatures"][0]["sig"] = util::base64_encode(raw);
  SigstoreSignature tampered = sign_sigstore(v3_key, descriptor(repo3, image3), "2026-12-04T00:00:00Z");
  tampered.bundle = b.dump();
  auto m = nlohmann::ordered_json::parse(tampered.manifest);
  m["layers"][0]["digest"] = oci::Digest::of(tampered.bundle).str();
  m["layers"][0]["size"] = tampered.bundle.size();
  tampered.manifest = m.dump();
  publish_sigstore(repo3, image3, tampered);
  EXPECT_NE(cosign3({"verify", "--key", v3_pub.string(), "--insecure-ignore-tlog=true", "--allow-http-registry",
                     ref(repo3, image3)}).exit_code, 0);
  auto found = sigstore_bundles(repo3, image3);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THROW(verify_sigstore_bundle(found[0], image3, TrustedKeys({v3_key.public_key()}), "image"), Error);
}

}  // namespace
}  // namespace sealift::sign
