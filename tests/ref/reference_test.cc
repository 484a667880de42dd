#include "ref/reference.h"

#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "util/error.h"

namespace sealift::ref {
namespace {

const std::string kHex = "4e9e18b27581f5046e09644e683cae2a55187345ca64be139bc2d53e12be04c0";
const std::string kDigest = "sha256:" + kHex;

struct Valid {
  std::string input;
  std::string registry;
  std::string repository;
  std::string tag;
  std::string digest;  // empty when none
};

void PrintTo(const Valid& v, std::ostream* os) { *os << '"' << v.input << '"'; }

class ValidReference : public testing::TestWithParam<Valid> {};

TEST_P(ValidReference, ParsesAndNormalises) {
  const Valid& v = GetParam();
  Reference r = Reference::parse(v.input);
  EXPECT_EQ(r.registry, v.registry);
  EXPECT_EQ(r.repository, v.repository);
  EXPECT_EQ(r.tag, v.tag);
  EXPECT_EQ(r.digest ? r.digest->str() : "", v.digest);
  // The normalised text is itself a valid reference naming the same image.
  EXPECT_EQ(Reference::parse(r.str()), r);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ValidReference,
    testing::Values(
        Valid{"postgres", "docker.io", "library/postgres", "latest", ""},
        Valid{"postgres:16", "docker.io", "library/postgres", "16", ""},
        Valid{"a", "docker.io", "library/a", "latest", ""},
        Valid{"bitnami/postgresql:16.1.0", "docker.io", "bitnami/postgresql", "16.1.0", ""},
        Valid{"docker.io/postgres", "docker.io", "library/postgres", "latest", ""},
        Valid{"docker.io/library/postgres:16", "docker.io", "library/postgres", "16", ""},
        Valid{"index.docker.io/library/nginx:1.25", "docker.io", "library/nginx", "1.25", ""},
        Valid{"index.docker.io/nginx", "docker.io", "library/nginx", "latest", ""},
        Valid{"registry-1.docker.io/library/nginx", "registry-1.docker.io", "library/nginx", "latest", ""},
        Valid{"host/foo", "docker.io", "host/foo", "latest", ""},
        Valid{"localhost/foo", "localhost", "foo", "latest", ""},
        Valid{"localhost:5000/foo/bar:v1", "localhost:5000", "foo/bar", "v1", ""},
        // Without a slash, "localhost:5000" is the image "localhost" with tag "5000", as in docker.
        Valid{"localhost:5000", "docker.io", "library/localhost", "5000", ""},
        Valid{"127.0.0.1:5000/a/b/c:tag@" + kDigest, "127.0.0.1:5000", "a/b/c", "tag", kDigest},
        Valid{"ghcr.io/org/app@" + kDigest, "ghcr.io", "org/app", "", kDigest},
        Valid{"postgres@" + kDigest, "docker.io", "library/postgres", "", kDigest},
        Valid{"[::1]:5000/x", "[::1]:5000", "x", "latest", ""},
        Valid{"[2001:db8::1]/team/x:1", "[2001:db8::1]", "team/x", "1", ""},
        Valid{"Example.COM/foo", "Example.COM", "foo", "latest", ""},
        // Uppercase in the first component makes it a host, as in docker.
        Valid{"Foo/bar", "Foo", "bar", "latest", ""},
        Valid{"foo.bar:443/x", "foo.bar:443", "x", "latest", ""},
        Valid{"my-registry.local:5000/team/app:v1.2.3", "my-registry.local:5000", "team/app", "v1.2.3", ""},
        Valid{"example.com/a.b/c_d/e__f/g---h:1.0-rc_1", "example.com", "a.b/c_d/e__f/g---h", "1.0-rc_1", ""},
        Valid{"quay.io/a/b:_tag", "quay.io", "a/b", "_tag", ""},
        Valid{"quay.io/a/b:TAG.With-Upper_", "quay.io", "a/b", "TAG.With-Upper_", ""},
        Valid{"reg.io/a:sha256-" + kHex + ".sig", "reg.io", "a", "sha256-" + kHex + ".sig", ""},
        Valid{"reg.io/a:" + std::string(128, 't'), "reg.io", "a", std::string(128, 't'), ""},
        Valid{"reg.io/" + std::string(255, 'a'), "reg.io", std::string(255, 'a'), "latest", ""},
        Valid{std::string(247, 'a'), "docker.io", "library/" + std::string(247, 'a'), "latest", ""}));

struct Invalid {
  std::string input;
  std::string why;  // a substring the error message must contain
};

void PrintTo(const Invalid& v, std::ostream* os) { *os << '"' << v.input << '"'; }

class InvalidReference : public testing::TestWithParam<Invalid> {};

TEST_P(InvalidReference, IsRefusedWithTheReason) {
  const Invalid& v = GetParam();
  try {
    Reference r = Reference::parse(v.input);
    FAIL() << "accepted \"" << v.input << "\" as " << r.str();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    EXPECT_NE(std::string(e.what()).find(v.why), std::string::npos)
        << "input: " << v.input << "\nmessage: " << e.what() << "\nexpected to contain: " << v.why;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, InvalidReference,
    testing::Values(
        Invalid{"", "empty reference"},
        Invalid{"Postgres", "repository name must be lowercase"},
        Invalid{"docker.io/Library/nginx", "repository name must be lowercase"},
        Invalid{"ghcr.io/org/App:1", "repository name must be lowercase"},
        Invalid{"a//b", "empty path component"},
        Invalid{"reg.io/a//b", "empty path component"},
        Invalid{"-a", "must start and end with a lowercase letter or digit"},
        Invalid{"a-", "must start and end with a lowercase letter or digit"},
        Invalid{"reg.io/a/_b", "must start and end with a lowercase letter or digit"},
        Invalid{"foo/", "trailing slash"},
        Invalid{"/foo", "leading slash"},
        Invalid{"reg.io/", "empty repository name"},
        Invalid{"a.-b", "invalid separator \".-\""},
        Invalid{"a___b", "invalid separator \"___\""},
        Invalid{"a..b", "invalid separator \"..\""},
        Invalid{"a/b!c", "invalid character '!'"},
        Invalid{"foo:bar:baz", "invalid character ':'"},
        Invalid{"foo:", "empty tag"},
        Invalid{"foo:-bar", "must start with a letter, digit or '_'"},
        Invalid{"foo:.bar", "must start with a letter, digit or '_'"},
        Invalid{"foo:ba+r", "invalid character '+' in tag"},
        Invalid{"foo:" + std::string(129, 't'), "tag is 129 characters long, the limit is 128"},
        Invalid{"foo@", "empty digest"},
        Invalid{"foo@sha256:" + std::string(64, 'A'), "lowercase"},
        Invalid{"foo@sha512:" + std::string(128, 'a'), "unsupported digest algorithm \"sha512\""},
        Invalid{"foo@sha256:abc", "64 hex characters"},
        Invalid{"foo@" + kHex, "missing algorithm prefix"},
        Invalid{"foo@" + kDigest + "@" + kDigest, "invalid digest"},
        Invalid{"foo:1@sha256:", "64 hex characters"},
        Invalid{"reg.io/" + std::string(256, 'a'), "is 256 characters long, the limit is 255"},
        Invalid{"reg.io/a/" + std::string(254, 'b'), "is 256 characters long, the limit is 255"},
        // "library/" counts towards the limit, as in distribution/reference.
        Invalid{std::string(248, 'a'), "is 256 characters long, the limit is 255"},
        Invalid{"a b", "whitespace"},
        Invalid{"foo:tag\n", "whitespace"},
        Invalid{"caf\xc3\xa9", "non-ASCII"},
        Invalid{"localhost:/foo", "empty port"},
        Invalid{"localhost:50a0/foo", "port must be a number"},
        Invalid{"[::1/x", "unclosed '['"},
        Invalid{"[zz::1]:5000/x", "invalid IPv6 address"},
        Invalid{"[]:5000/x", "empty IPv6 address"},
        Invalid{"[::1]x/y", "unexpected text after the IPv6 address"},
        Invalid{"-bad.com/x", "must not start or end with '-'"},
        Invalid{"ex..com/x", "empty label"},
        // distribution/reference silently reads this as a docker.io path; a host name cannot hold '_'.
        Invalid{"reg_istry.io/x", "invalid character '_' in host name"},
        Invalid{kHex, "image ID"},
        Invalid{":tag", "empty repository name"},
        Invalid{"@" + kDigest, "empty repository name"}));

TEST(Reference, ErrorQuotesTheInput) {
  try {
    Reference::parse("ghcr.io/Org/app");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"ghcr.io/Org/app\""), std::string::npos) << e.what();
  }
}

TEST(Reference, Accessors) {
  Reference r = Reference::parse("127.0.0.1:5000/a/b:v1@" + kDigest);
  EXPECT_EQ(r.name(), "127.0.0.1:5000/a/b");
  EXPECT_EQ(r.str(), "127.0.0.1:5000/a/b:v1@" + kDigest);
  EXPECT_EQ(r.pinned(), "127.0.0.1:5000/a/b@" + kDigest);
  EXPECT_EQ(r.manifest_ref(), "v1");
  EXPECT_EQ(r.api_host(), "127.0.0.1:5000");

  Reference hub = Reference::parse("nginx");
  EXPECT_EQ(hub.str(), "docker.io/library/nginx:latest");
  EXPECT_EQ(hub.api_host(), "registry-1.docker.io");
  EXPECT_EQ(hub.manifest_ref(), "latest");
  EXPECT_THROW(hub.pinned(), Error);
}

TEST(Reference, AtReplacesTagWithDigest) {
  Reference r = Reference::parse("ghcr.io/org/app:1.0");
  Reference p = r.at(oci::Digest::parse(kDigest));
  EXPECT_EQ(p.tag, "");
  EXPECT_EQ(p.str(), "ghcr.io/org/app@" + kDigest);
  EXPECT_EQ(p.manifest_ref(), kDigest);
  EXPECT_EQ(p.pinned(), "ghcr.io/org/app@" + kDigest);
  EXPECT_EQ(r.tag, "1.0");  // the original is untouched
}

TEST(Reference, ValidTag) {
  EXPECT_TRUE(valid_tag("latest"));
  EXPECT_TRUE(valid_tag("_x"));
  EXPECT_TRUE(valid_tag(std::string(128, 'a')));
  EXPECT_FALSE(valid_tag(std::string(129, 'a')));
  EXPECT_FALSE(valid_tag(""));
  EXPECT_FALSE(valid_tag(".x"));
  EXPECT_FALSE(valid_tag("-x"));
  EXPECT_FALSE(valid_tag("a/b"));
}

TEST(Reference, ValidRepository) {
  EXPECT_TRUE(valid_repository("library/postgres"));
  EXPECT_TRUE(valid_repository("a/b.c/d__e/f--g"));
  EXPECT_FALSE(valid_repository(""));
  EXPECT_FALSE(valid_repository("a//b"));
  EXPECT_FALSE(valid_repository("a/"));
  EXPECT_FALSE(valid_repository("A/b"));
  EXPECT_FALSE(valid_repository("a/b-"));
  EXPECT_FALSE(valid_repository("a/b:c"));
}

}  // namespace
}  // namespace sealift::ref
