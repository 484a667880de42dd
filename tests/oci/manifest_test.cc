#include "oci/manifest.h"

#include <string>

#include <gtest/gtest.h>

#include "util/error.h"

namespace sealift::oci {
namespace {

using nlohmann::json;

// Digests of "abc", "" and "hello" stand in for blobs these documents point at.
const std::string kA = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kB = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kC = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

// wire-formats.md §6.2: the cosign v2 signature manifest, one line, 558 bytes.
const std::string kCosignSig =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":233,"digest":"sha256:be321600a5bd794947dce257829a2f08c21b05dde3edf84706faf6f2ae0f5f60"},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":261,"digest":"sha256:cf482371b51a7633b3f02e29b87fc3f4a18b3f127af61cb114af5f2c04fcdd75","annotations":{"dev.cosignproject.cosign/signature":"MEYCIQDmtamqYPjMg81nqeBhptrPls44aA/r7PwLmspINJY4MwIhANKRpqe2E9UCBtGFdPoz/8jAbaQm4uP4h+IpwKTE6ClR"}}]})";

const std::string kOciIndex = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ")" + kA + R"(", "size": 1234,
     "platform": {"architecture": "amd64", "os": "linux"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ")" + kB + R"(", "size": 1235,
     "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ")" + kC + R"(", "size": 1236,
     "platform": {"architecture": "amd64", "os": "windows", "os.version": "10.0.17763.1234", "os.features": ["win32k"]}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ")" + kA + R"(", "size": 566,
     "platform": {"architecture": "unknown", "os": "unknown"},
     "annotations": {"vnd.docker.reference.digest": ")" + kB + R"(", "vnd.docker.reference.type": "attestation-manifest"}}
  ],
  "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}
})";

const std::string kDockerManifest = R"({
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {
      "mediaType": "application/vnd.docker.container.image.v1+json",
      "size": 1472,
      "digest": ")" + kA + R"("
   },
   "layers": [
      {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 3623807, "digest": ")" + kB + R"("},
      {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1024, "digest": ")" + kC + R"(",
       "urls": ["https://example.com/layer.tar.gz"]}
   ]
})";

const std::string kDockerList = R"({
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
   "manifests": [
      {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 528, "digest": ")" + kA + R"(",
       "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
      {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 529, "digest": ")" + kB + R"(",
       "platform": {"architecture": "arm", "os": "linux", "variant": "v6", "features": ["sse4"]}}
   ]
})";

// A cosign v3 / OCI 1.1 referrer (wire-formats.md §6.7).
const std::string kReferrer =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json",)"
    R"("config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},)"
    R"("layers":[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","digest":")" + kA + R"(","size":4000}],)"
    R"("subject":{"mediaType":"application/vnd.oci.image.index.v1+json","digest":")" + kB + R"(","size":900},)"
    R"("annotations":{"dev.sigstore.bundle.content":"dsse-envelope"}})";

std::string error_of(const std::string& bytes, std::string_view media_type = {}) {
  try {
    Manifest::parse(bytes, media_type);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    return e.what();
  }
  return "(accepted)";
}

TEST(Manifest, CosignSignatureManifest) {
  Manifest m = Manifest::parse(kCosignSig, "application/vnd.oci.image.manifest.v1+json");
  // wire-formats.md states this digest; sha256sum over the 558 bytes agrees.
  EXPECT_EQ(m.digest().str(), "sha256:4e9e18b27581f5046e09644e683cae2a55187345ca64be139bc2d53e12be04c0");
  EXPECT_EQ(m.size(), 558);
  EXPECT_EQ(m.bytes(), kCosignSig);
  EXPECT_EQ(m.media_type(), media::kOciManifest);
  EXPECT_FALSE(m.is_index());
  EXPECT_EQ(m.config().media_type, media::kOciConfig);
  EXPECT_EQ(m.config().size, 233);
  EXPECT_EQ(m.config().digest.str(), "sha256:be321600a5bd794947dce257829a2f08c21b05dde3edf84706faf6f2ae0f5f60");
  ASSERT_EQ(m.layers().size(), 1u);
  const Descriptor& sig = m.layers()[0];
  EXPECT_EQ(sig.media_type, media::kCosignSimpleSigning);
  EXPECT_EQ(sig.size, 261);
  EXPECT_EQ(sig.digest.str(), "sha256:cf482371b51a7633b3f02e29b87fc3f4a18b3f127af61cb114af5f2c04fcdd75");
  EXPECT_EQ(sig.annotations.at("dev.cosignproject.cosign/signature").substr(0, 8), "MEYCIQDm");
  EXPECT_FALSE(m.subject());
  EXPECT_TRUE(m.manifests().empty());

  std::vector<Descriptor> children = m.children();
  ASSERT_EQ(children.size(), 2u);
  EXPECT_EQ(children[0].digest, m.config().digest);
  EXPECT_EQ(children[1].digest, sig.digest);

  Descriptor self = m.descriptor();
  EXPECT_EQ(self.media_type, media::kOciManifest);
  EXPECT_EQ(self.digest, m.digest());
  EXPECT_EQ(self.size, 558);
}

TEST(Manifest, OciIndexWithPlatforms) {
  Manifest m = Manifest::parse(kOciIndex);
  EXPECT_TRUE(m.is_index());
  EXPECT_EQ(m.media_type(), media::kOciIndex);
  ASSERT_EQ(m.manifests().size(), 4u);
  EXPECT_EQ(m.manifests()[0].platform->str(), "linux/amd64");
  EXPECT_EQ(m.manifests()[1].platform->str(), "linux/arm64/v8");
  EXPECT_EQ(m.manifests()[2].platform->os_version, "10.0.17763.1234");
  EXPECT_EQ(m.manifests()[3].annotations.at("vnd.docker.reference.type"), "attestation-manifest");
  EXPECT_EQ(m.manifests()[1].size, 1235);
  EXPECT_EQ(m.annotations().at("org.opencontainers.image.created"), "2024-01-01T00:00:00Z");
  EXPECT_EQ(m.children().size(), 4u);
  EXPECT_EQ(m.children()[2].digest.str(), kC);

  Platform want = Platform::parse("linux/arm64");
  std::vector<std::string> picked;
  for (const Descriptor& d : m.manifests())
    if (want.matches(*d.platform)) picked.push_back(d.digest.str());
  EXPECT_EQ(picked, std::vector<std::string>{kB});
}

TEST(Manifest, DockerManifestWithContentTypeParameters) {
  Manifest m = Manifest::parse(kDockerManifest, " application/vnd.docker.distribution.manifest.v2+json; charset=utf-8");
  EXPECT_EQ(m.media_type(), media::kDockerManifest);
  EXPECT_FALSE(m.is_index());
  EXPECT_EQ(m.config().media_type, media::kDockerConfig);
  ASSERT_EQ(m.layers().size(), 2u);
  EXPECT_EQ(m.layers()[0].size, 3623807);
  EXPECT_EQ(m.layers()[0].media_type, media::kDockerLayerGzip);
  EXPECT_EQ(m.layers()[1].urls, std::vector<std::string>{"https://example.com/layer.tar.gz"});
}

TEST(Manifest, DockerManifestList) {
  Manifest m = Manifest::parse(kDockerList);
  EXPECT_EQ(m.media_type(), media::kDockerManifestList);
  EXPECT_TRUE(m.is_index());
  ASSERT_EQ(m.manifests().size(), 2u);
  EXPECT_EQ(m.manifests()[0].platform->str(), "linux/arm/v7");
  EXPECT_EQ(m.manifests()[1].platform->str(), "linux/arm/v6");
  EXPECT_TRUE(Platform::parse("linux/arm/v6").matches(*m.manifests()[1].platform));
  EXPECT_FALSE(Platform::parse("linux/arm/v6").matches(*m.manifests()[0].platform));
}

TEST(Manifest, ReferrerWithSubjectAndArtifactType) {
  Manifest m = Manifest::parse(kReferrer);
  EXPECT_EQ(m.artifact_type(), "application/vnd.dev.sigstore.bundle.v0.3+json");
  ASSERT_TRUE(m.subject());
  EXPECT_EQ(m.subject()->digest.str(), kB);
  EXPECT_EQ(m.subject()->media_type, media::kOciIndex);
  EXPECT_EQ(m.config().media_type, media::kOciEmpty);
  EXPECT_EQ(m.annotations().at("dev.sigstore.bundle.content"), "dsse-envelope");
  EXPECT_EQ(m.descriptor().artifact_type, m.artifact_type());
}

TEST(Manifest, MediaTypeFromShapeWhenNothingDeclaresIt) {
  // An OCI layout's index.json carries no mediaType.
  std::string index = R"({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                      kA + R"(","size":345,"annotations":{"org.opencontainers.image.ref.name":"base"}}]})";
  EXPECT_EQ(Manifest::parse(index).media_type(), media::kOciIndex);
  std::string manifest = R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                         kA + R"(","size":2},"layers":[]})";
  Manifest m = Manifest::parse(manifest);
  EXPECT_EQ(m.media_type(), media::kOciManifest);
  EXPECT_TRUE(m.layers().empty());
  // A generic Content-Type says nothing about the kind of document.
  EXPECT_EQ(Manifest::parse(manifest, "application/json").media_type(), media::kOciManifest);
  EXPECT_EQ(Manifest::parse(kDockerList, "application/octet-stream").media_type(), media::kDockerManifestList);
  // The Content-Type decides when the document is silent.
  EXPECT_EQ(Manifest::parse(manifest, media::kDockerManifest).media_type(), media::kDockerManifest);
}

TEST(Manifest, DigestIsOverTheExactBytes) {
  // Same content as kCosignSig with other whitespace and key order: a different document.
  std::string reordered = json::parse(kCosignSig).dump(2);
  ASSERT_NE(reordered, kCosignSig);
  Manifest a = Manifest::parse(kCosignSig);
  Manifest b = Manifest::parse(reordered);
  EXPECT_EQ(b.bytes(), reordered);
  EXPECT_EQ(b.digest(), Digest::of(reordered));
  EXPECT_EQ(b.size(), static_cast<int64_t>(reordered.size()));
  EXPECT_NE(a.digest(), b.digest());
  EXPECT_EQ(a.layers()[0].digest, b.layers()[0].digest);

  std::string trailing = kDockerManifest + "\n";
  EXPECT_EQ(Manifest::parse(trailing).bytes(), trailing);
  EXPECT_NE(Manifest::parse(trailing).digest(), Manifest::parse(kDockerManifest).digest());
}

struct Bad {
  std::string bytes;
  std::string why;
  std::string media_type = {};
};

void PrintTo(const Bad& b, std::ostream* os) { *os << b.bytes.substr(0, 120); }

std::string cosign_with(std::string_view from, std::string_view to) {
  std::string s = kCosignSig;
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

class BadManifest : public testing::TestWithParam<Bad> {};

TEST_P(BadManifest, IsRefusedNamingTheField) {
  const Bad& b = GetParam();
  std::string msg = error_of(b.bytes, b.media_type);
  EXPECT_EQ(msg.rfind("manifest " + Digest::of(b.bytes).str() + ": ", 0), 0u) << msg;
  EXPECT_NE(msg.find(b.why), std::string::npos) << msg << "\nexpected to contain: " << b.why;
}

const std::string kLayer = R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + kA + R"(","size":1})";
std::string manifest_with_layers(const std::string& third) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":)" + kLayer +
         R"(,"layers":[)" + kLayer + "," + kLayer + "," + third + "]}";
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadManifest,
    testing::Values(
        Bad{"", "not valid JSON"},
        Bad{"{", "not valid JSON"},
        Bad{kCosignSig.substr(0, 300), "not valid JSON"},
        Bad{kCosignSig + "}", "not valid JSON"},
        Bad{"\xef\xbb\xbf" + kCosignSig, "not valid JSON"},
        // A number beyond a double (nlohmann's out_of_range, not a parse_error; found by fuzzing).
        Bad{cosign_with(R"("schemaVersion":2)", R"("schemaVersion":1e400)"), "not valid JSON: number overflow"},
        Bad{"[]", "must be a JSON object, found an array"},
        Bad{"null", "must be a JSON object, found null"},
        Bad{std::string(100000, '[') + std::string(100000, ']'), "must be a JSON object"},
        Bad{R"({"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]})", "Docker schema 1 manifests are not supported"},
        Bad{R"({"schemaVersion":2})", "Docker schema 1", "application/vnd.docker.distribution.manifest.v1+prettyjws"},
        Bad{R"({"mediaType":"application/vnd.docker.distribution.manifest.v1+json"})", "Docker schema 1"},
        Bad{cosign_with(R"("schemaVersion":2)", R"("schemaVersion":3)"), "schemaVersion: must be 2, found 3"},
        Bad{cosign_with(R"("schemaVersion":2)", R"("schemaVersion":"2")"), "schemaVersion: must be an integer, found a string"},
        Bad{cosign_with(R"("schemaVersion":2,)", ""), "schemaVersion: missing"},
        Bad{manifest_with_layers(R"({"mediaType":"x","digest":"sha256:0123","size":1})"),
            "layers[2].digest: invalid digest \"sha256:0123\""},
        Bad{manifest_with_layers(R"({"mediaType":"x","digest":"sha512:)" + std::string(128, 'a') + R"(","size":1})"),
            "layers[2].digest: invalid digest \"sha512:"},
        Bad{manifest_with_layers(R"({"mediaType":"x","size":1})"), "layers[2].digest: missing"},
        Bad{manifest_with_layers(R"({"mediaType":"x","digest":7,"size":1})"), "layers[2].digest: must be a string, found an integer"},
        Bad{manifest_with_layers(R"({"digest":")" + kA + R"(","size":1})"), "layers[2].mediaType: missing"},
        Bad{manifest_with_layers(R"({"mediaType":"","digest":")" + kA + R"(","size":1})"), "layers[2].mediaType: empty"},
        Bad{manifest_with_layers(R"({"mediaType":"x","digest":")" + kA + R"("})"), "layers[2].size: missing"},
        Bad{manifest_with_layers(R"({"mediaType":"x","digest":")" + kA + R"(","size":-1})"), "layers[2].size: negative size -1"},
        Bad{manifest_with_layers(R"({"mediaType":"x","digest":")" + kA + R"(","size":1.5})"),
            "layers[2].size: must be an integer, found a fractional number"},
        Bad{manifest_with_layers(R"({"mediaType":"x","digest":")" + kA + R"(","size":"1"})"),
            "layers[2].size: must be an integer, found a string"},
        Bad{manifest_with_layers(R"({"mediaType":"x","digest":")" + kA + R"(","size":9223372036854775808})"),
            "layers[2].size: too large"},
        Bad{manifest_with_layers(R"({"mediaType":"x","digest":")" + kA + R"(","size":1,"urls":"u"})"),
            "layers[2].urls: must be an array, found a string"},
        Bad{manifest_with_layers(R"({"mediaType":"x","digest":")" + kA + R"(","size":1,"urls":[1]})"),
            "layers[2].urls[0]: must be a string, found an integer"},
        Bad{manifest_with_layers(R"({"mediaType":"x","digest":")" + kA + R"(","size":1,"annotations":{"k":true}})"),
            "layers[2].annotations[\"k\"]: must be a string, found a boolean"},
        Bad{manifest_with_layers(R"({"mediaType":"x","digest":")" + kA + R"(","size":1,"annotations":[]})"),
            "layers[2].annotations: must be an object, found an array"},
        Bad{manifest_with_layers(R"("x")"), "layers[2]: must be an object, found a string"},
        Bad{cosign_with(R"("layers":[)", R"("layerz":[)"), "layers: missing"},
        Bad{cosign_with(R"("config":{)", R"("konfig":{)"), "config: missing"},
        Bad{R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]})",
            "config.mediaType: missing"},
        Bad{R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":)" + kLayer +
                R"(,"layers":{}})",
            "layers: must be an array, found an object"},
        Bad{R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","layers":[]})", "manifests: missing"},
        Bad{R"({"schemaVersion":2,"manifests":[)" + kLayer + R"(,"x"]})", "manifests[1]: must be an object, found a string"},
        Bad{R"({"schemaVersion":2,"manifests":[{"mediaType":"x","digest":")" + kA +
                R"(","size":1,"platform":{"os":"linux"}}]})",
            "manifests[0].platform.architecture: missing"},
        Bad{R"({"schemaVersion":2,"manifests":[{"mediaType":"x","digest":")" + kA + R"(","size":1,"platform":"linux/amd64"}]})",
            "manifests[0].platform: must be an object, found a string"},
        Bad{R"({"schemaVersion":2,"manifests":[],"subject":{"mediaType":"x","digest":"sha256:"}})", "subject.digest: invalid digest"},
        Bad{R"({"schemaVersion":2,"manifests":[],"artifactType":5})", "artifactType: must be a string, found an integer"},
        Bad{R"({"schemaVersion":2,"manifests":[],"annotations":{"a":null}})", "annotations[\"a\"]: must be a string, found null"},
        Bad{R"({"schemaVersion":2,"mediaType":7,"manifests":[]})", "mediaType: must be a string, found an integer"},
        Bad{R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.config.v1+json"})",
            "mediaType: unsupported manifest type \"application/vnd.oci.image.config.v1+json\""},
        Bad{R"({"schemaVersion":2})", "mediaType: missing, and the document has neither"},
        Bad{kDockerManifest, "contradicts the Content-Type", std::string(media::kOciManifest)},
        Bad{kOciIndex, "contradicts the Content-Type", std::string(media::kDockerManifestList)}));

TEST(Manifest, SchemaOneErrorCarriesAHint) {
  try {
    Manifest::parse(R"({"schemaVersion":1})");
    FAIL();
  } catch (const Error& e) {
    EXPECT_FALSE(e.hint().empty());
  }
}

TEST(Descriptor, ToJsonInOciFieldOrder) {
  Descriptor d;
  d.media_type = std::string(media::kOciManifest);
  d.digest = Digest::parse(kA);
  d.size = 7;
  d.artifact_type = "application/example";
  d.annotations = {{"z", "last"}, {"a", "first"}};
  d.urls = {"https://example.com/a"};
  d.platform = Platform{"linux", "arm64", "v8", ""};
  EXPECT_EQ(d.to_json().dump(),
            R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kA +
                R"(","size":7,"urls":["https://example.com/a"],"annotations":{"a":"first","z":"last"},)"
                R"("platform":{"architecture":"arm64","os":"linux","variant":"v8"},"artifactType":"application/example"})");

  Descriptor plain;
  plain.media_type = std::string(media::kOciLayerGzip);
  plain.digest = Digest::parse(kB);
  plain.size = 0;
  EXPECT_EQ(plain.to_json().dump(),
            R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + kB + R"(","size":0})");
}

TEST(Descriptor, RoundTripsThroughJson) {
  Manifest m = Manifest::parse(kOciIndex);
  for (size_t i = 0; i < m.manifests().size(); ++i) {
    const Descriptor& d = m.manifests()[i];
    Descriptor again = Descriptor::from_json(json::parse(d.to_json().dump()), "again");
    EXPECT_EQ(again.to_json(), d.to_json()) << i;
    EXPECT_EQ(again.platform, d.platform) << i;
  }
}

TEST(Platform, ParseAndStr) {
  Platform p = Platform::parse("linux/arm64/v8");
  EXPECT_EQ(p.os, "linux");
  EXPECT_EQ(p.architecture, "arm64");
  EXPECT_EQ(p.variant, "v8");
  EXPECT_EQ(p.str(), "linux/arm64/v8");
  EXPECT_EQ(Platform::parse("linux/amd64").str(), "linux/amd64");
  EXPECT_EQ(Platform::parse("Linux/AMD64"), Platform::parse("linux/amd64"));
  for (std::string bad : {"", "linux", "linux/", "/amd64", "linux//v7", "linux/arm/v7/x", "linux/amd 64", "linux/amd64/"}) {
    try {
      Platform::parse(bad);
      FAIL() << "accepted \"" << bad << "\"";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Input);
      EXPECT_NE(std::string(e.what()).find("expected os/architecture[/variant]"), std::string::npos) << e.what();
    }
  }
}

TEST(Platform, Matches) {
  auto m = [](std::string_view want, std::string_view have) { return Platform::parse(want).matches(Platform::parse(have)); };
  EXPECT_TRUE(m("linux/amd64", "linux/amd64"));
  EXPECT_FALSE(m("linux/amd64", "windows/amd64"));
  EXPECT_FALSE(m("linux/amd64", "linux/arm64"));
  // No variant wanted: any variant will do.
  EXPECT_TRUE(m("linux/arm", "linux/arm/v7"));
  EXPECT_FALSE(m("linux/arm/v7", "linux/arm/v6"));
  EXPECT_FALSE(m("linux/arm/v7", "linux/arm"));
  // arm64 means arm64/v8 whether or not the variant is written.
  EXPECT_TRUE(m("linux/arm64/v8", "linux/arm64"));
  EXPECT_TRUE(m("linux/arm64", "linux/arm64/v8"));
  EXPECT_FALSE(m("linux/arm64/v9", "linux/arm64"));

  Platform win{"windows", "amd64", "", "10.0.17763.1234"};
  Platform other_build{"windows", "amd64", "", "10.0.20348.1"};
  EXPECT_TRUE(Platform::parse("windows/amd64").matches(win));
  EXPECT_FALSE(win.matches(other_build));
}

TEST(Media, Kinds) {
  EXPECT_TRUE(media::is_index(media::kOciIndex));
  EXPECT_TRUE(media::is_index(media::kDockerManifestList));
  EXPECT_FALSE(media::is_index(media::kOciManifest));
  EXPECT_TRUE(media::is_manifest(media::kOciManifest));
  EXPECT_TRUE(media::is_manifest(media::kDockerManifest));
  EXPECT_FALSE(media::is_manifest(media::kOciIndex));
  EXPECT_FALSE(media::is_manifest(media::kOciConfig));
  std::string accept = media::accept_header();
  for (std::string_view t : {media::kOciIndex, media::kOciManifest, media::kDockerManifestList, media::kDockerManifest})
    EXPECT_NE(accept.find(t), std::string::npos) << t;
  EXPECT_EQ(accept.find("v1+prettyjws"), std::string::npos);
}

}  // namespace
}  // namespace sealift::oci
