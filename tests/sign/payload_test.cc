#include "sign/payload.h"

#include <gtest/gtest.h>

#include "expect_error.h"
#include "vectors.h"

namespace sealift::sign {
namespace {

constexpr std::string_view kDigest = "sha256:d34db33fd34db33fd34db33fd34db33fd34db33fd34db33fd34db33fd34db33f";

TEST(Payload, WritesSigstoresExactBytes) {
  // sigstore/sigstore pkg/signature/payload/payload_test.go
  SimpleSigningPayload p{"example.com/test/image", oci::Digest::parse(kDigest), {}};
  EXPECT_EQ(p.bytes(),
            R"({"critical":{"identity":{"docker-reference":"example.com/test/image"},"image":{"docker-manifest-digest":"sha256:d34db33fd34db33fd34db33fd34db33fd34db33fd34db33fd34db33fd34db33f"},"type":"cosign container image signature"},"optional":null})");
}

TEST(Payload, ReproducesTheContainersImageFixture) {
  SimpleSigningPayload p{"192.168.64.2:5000/cosign-signed-single-sample",
                         oci::Digest::parse(vectors::kContainersImageManifestDigest), {}};
  EXPECT_EQ(p.bytes(), vectors::kContainersImagePayload);
  EXPECT_EQ(p.bytes().size(), 261u);
}

TEST(Payload, WritesAnnotationsSortedAsGoMapsAre) {
  SimpleSigningPayload p{"r.io/a", oci::Digest::parse(kDigest), {{"zeta", "1"}, {"alpha", "x&y"}}};
  std::string b = p.bytes();
  EXPECT_NE(b.find(R"("optional":{"alpha":"x\u0026y","zeta":"1"}})"), std::string::npos) << b;
  SimpleSigningPayload back = SimpleSigningPayload::parse(b);
  EXPECT_EQ(back.annotations, p.annotations);
}

TEST(Payload, ParsesWhatItWrites) {
  auto p = SimpleSigningPayload::parse(vectors::kContainersImagePayload);
  EXPECT_EQ(p.docker_reference, "192.168.64.2:5000/cosign-signed-single-sample");
  EXPECT_EQ(p.manifest_digest.str(), vectors::kContainersImageManifestDigest);
  EXPECT_TRUE(p.annotations.empty());
}

TEST(Payload, AcceptsContainersImageOptionalFields) {
  std::string base(vectors::kContainersImagePayload);
  std::string with = base.substr(0, base.size() - 5) + R"({"creator":"atomic","timestamp":1458239713}})";
  auto p = SimpleSigningPayload::parse(with);
  EXPECT_EQ(p.annotations.at("creator"), "atomic");
}

TEST(Payload, RejectsWhatContainersImageRejects) {
  std::string base(vectors::kContainersImagePayload);
  auto replaced = [&](std::string_view from, std::string_view to) {
    std::string s = base;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  ExpectError([&] { SimpleSigningPayload::parse(replaced("docker-manifest-digest", "Docker-manifest-digest")); },
              ErrorKind::Integrity, "unexpected field \"Docker-manifest-digest\" in critical.image");
  ExpectError([&] { SimpleSigningPayload::parse(replaced(",\"optional\":null", "")); }, ErrorKind::Integrity,
              "missing field \"optional\"");
  ExpectError([&] { SimpleSigningPayload::parse(replaced("\"optional\":null", "\"optional\":null,\"extra\":1")); },
              ErrorKind::Integrity, "unexpected field \"extra\"");
  ExpectError([&] { SimpleSigningPayload::parse(replaced("\"optional\":null", "\"optional\":null,\"optional\":null")); },
              ErrorKind::Integrity, "duplicate key \"optional\"");
  // A second digest that a lenient parser would take instead of the first.
  ExpectError([&] {
    SimpleSigningPayload::parse(replaced("\"image\":{", "\"image\":{\"docker-manifest-digest\":\"sha256:" + std::string(64, 'a') + "\","));
  }, ErrorKind::Integrity, "duplicate key \"docker-manifest-digest\"");
  ExpectError([&] { SimpleSigningPayload::parse(replaced("cosign container image signature", "atomic container signature")); },
              ErrorKind::Integrity, "unrecognised signature type");
  ExpectError([&] { SimpleSigningPayload::parse(replaced("sha256:634a", "sha512:634a")); }, ErrorKind::Integrity,
              "is not a sha256 digest");
  ExpectError([&] { SimpleSigningPayload::parse(replaced("\"optional\":null", "\"optional\":[]")); },
              ErrorKind::Integrity, "optional is neither null nor an object");
  ExpectError([&] { SimpleSigningPayload::parse(replaced("\"optional\":null", R"("optional":{"timestamp":1.5})")); },
              ErrorKind::Integrity, "optional.timestamp is not an integer");
  ExpectError([&] { SimpleSigningPayload::parse(replaced("\"optional\":null", R"("optional":{"creator":7})")); },
              ErrorKind::Integrity, "optional.creator is not a string");
  ExpectError([&] { SimpleSigningPayload::parse(base.substr(0, 100)); }, ErrorKind::Integrity, "not valid JSON");
  ExpectError([&] { SimpleSigningPayload::parse("[]"); }, ErrorKind::Integrity, "the payload is not an object");
}

}  // namespace
}  // namespace sealift::sign
