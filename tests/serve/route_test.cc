// The request parser of `sealift-install serve` (serve/route.h) on its own: the grammar of names,
// tags and digests, the methods, and byte ranges at their edges. serve_test.cc sends the same
// kinds of requests over HTTP; fuzz/serve_route_fuzz.cc drives these functions with any bytes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "serve/route.h"

namespace sealift::serve {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

Route routed(std::string_view method, std::string_view path) {
  auto r = route(method, path);
  if (auto* refusal = std::get_if<Refusal>(&r)) {
    ADD_FAILURE() << path << ": " << refusal->status << " " << refusal->code << " " << refusal->message;
    return {};
  }
  return std::get<Route>(r);
}

Refusal refused(std::string_view method, std::string_view path) {
  auto r = route(method, path);
  if (std::holds_alternative<Route>(r)) {
    ADD_FAILURE() << path << " was routed";
    return {};
  }
  return std::get<Refusal>(r);
}

TEST(Route, EveryEndpoint) {
  EXPECT_EQ(routed("GET", "/v2/").endpoint, Endpoint::Base);
  EXPECT_EQ(routed("GET", "/v2").endpoint, Endpoint::Base);
  EXPECT_EQ(routed("GET", "/v2/_catalog").endpoint, Endpoint::Catalog);
  Route tags = routed("GET", "/v2/ai-saas/library/postgres/tags/list");
  EXPECT_EQ(tags.endpoint, Endpoint::Tags);
  EXPECT_EQ(tags.name, "ai-saas/library/postgres");
  Route m = routed("HEAD", "/v2/ai-saas/charts/app/manifests/1.0.0_build.1");
  EXPECT_EQ(m.endpoint, Endpoint::Manifest);
  EXPECT_EQ(m.name, "ai-saas/charts/app");
  EXPECT_EQ(m.reference, "1.0.0_build.1");
  EXPECT_EQ(routed("GET", "/v2/a/manifests/" + kDigest).reference, kDigest);
  EXPECT_EQ(routed("GET", "/v2/a/blobs/" + kDigest).endpoint, Endpoint::Blob);
  EXPECT_EQ(routed("GET", "/v2/a/referrers/" + kDigest).endpoint, Endpoint::Referrers);
  // A name may hold the words the API uses; the last two components decide.
  Route tricky = routed("GET", "/v2/manifests/blobs/tags/manifests/latest");
  EXPECT_EQ(tricky.name, "manifests/blobs/tags");
  EXPECT_EQ(tricky.reference, "latest");
}

TEST(Route, NamesFollowTheDistributionGrammar) {
  for (const std::string& name : std::vector<std::string>{"a", "a0/b-c/d.e/f_g/h__i/j---k", std::string(255, 'a')})
    EXPECT_TRUE(valid_repository_name(name)) << name;
  for (const std::string& name : std::vector<std::string>{"", "A", "a/", "/a", "a//b", "..", "a/../b", "a/./b", "a.",
                                                          "-a", "a_", "a___b", "a..b", "a b", "a%2fb",
                                                          std::string(256, 'a')})
    EXPECT_FALSE(valid_repository_name(name)) << name;
  EXPECT_EQ(refused("GET", "/v2/a/../../b/tags/list").code, "NAME_INVALID");
  EXPECT_EQ(refused("GET", "/v2//tags/list").code, "NAME_INVALID");
}

TEST(Route, TagsAndDigests) {
  EXPECT_TRUE(valid_tag(std::string(128, 'a')));
  EXPECT_FALSE(valid_tag(std::string(129, 'a')));
  EXPECT_FALSE(valid_tag(".hidden"));
  EXPECT_FALSE(valid_tag("-x"));
  EXPECT_EQ(refused("GET", "/v2/a/manifests/a+b").code, "TAG_INVALID");
  EXPECT_EQ(refused("GET", "/v2/a/manifests/sha256:ABC").code, "DIGEST_INVALID");
  EXPECT_EQ(refused("GET", "/v2/a/blobs/latest").code, "DIGEST_INVALID");
  EXPECT_EQ(refused("GET", "/v2/a/blobs/sha256:" + std::string(64, 'A')).code, "DIGEST_INVALID");
  EXPECT_EQ(refused("GET", "/v2/a/referrers/sha512:" + std::string(128, 'a')).code, "DIGEST_INVALID");
}

TEST(Route, OnlyGetAndHeadAndOnlyTheApi) {
  for (std::string method : {"PUT", "POST", "PATCH", "DELETE", "OPTIONS", "get"}) {
    Refusal r = refused(method, "/v2/a/manifests/latest");
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.code, "UNSUPPORTED") << method;
  }
  EXPECT_EQ(refused("GET", "/api/v2.0/systeminfo").status, 404);
  EXPECT_EQ(refused("GET", "/v20/").status, 404);
  EXPECT_EQ(refused("GET", "/v2/a/blobs/uploads/123").status, 404);
  EXPECT_EQ(refused("GET", "/v2/a").status, 404);
}

TEST(Route, ByteRanges) {
  using K = ByteRange::Kind;
  auto check = [](std::string_view header, uint64_t size, K kind, uint64_t offset = 0, uint64_t length = 0) {
    ByteRange r = parse_range(header, size);
    EXPECT_EQ(r.kind, kind) << header << " of " << size;
    if (kind == K::Partial) {
      EXPECT_EQ(r.offset, offset) << header;
      EXPECT_EQ(r.length, length) << header;
    }
    if (kind == K::Whole) {
      EXPECT_EQ(r.length, size) << header;
    }
  };
  check("", 100, K::Whole);
  check("bytes=0-0", 100, K::Partial, 0, 1);
  check("bytes=10-19", 100, K::Partial, 10, 10);
  check("bytes=90-1000", 100, K::Partial, 90, 10);
  check("bytes=99-", 100, K::Partial, 99, 1);
  check("bytes=-1", 100, K::Partial, 99, 1);
  check("bytes=-1000", 100, K::Partial, 0, 100);
  check("bytes= 5-6 ", 100, K::Partial, 5, 2);
  check("bytes=100-", 100, K::Unsatisfiable);
  check("bytes=18446744073709551615-", 100, K::Unsatisfiable);
  check("bytes=-0", 100, K::Unsatisfiable);
  check("bytes=0-", 0, K::Unsatisfiable);
  check("bytes=-5", 0, K::Unsatisfiable);
  // Malformed, overflowing, reversed, several ranges or another unit: ignored.
  check("bytes=99999999999999999999-", 100, K::Whole);
  check("bytes=20-10", 100, K::Whole);
  check("bytes=1-2,4-5", 100, K::Whole);
  check("bytes=a-b", 100, K::Whole);
  check("bytes=-", 100, K::Whole);
  check("bytes=+1-2", 100, K::Whole);
  check("items=1-2", 100, K::Whole);
  check("Bytes=1-2", 100, K::Whole);
}

TEST(Route, ErrorBodiesAreValidJsonWhateverTheMessage) {
  EXPECT_EQ(error_body("NAME_UNKNOWN", "no such repository"),
            R"({"errors":[{"code":"NAME_UNKNOWN","message":"no such repository"}]})");
  std::string body = error_body("UNSUPPORTED", std::string("bad \xff\xfe bytes \"quoted\""));
  EXPECT_NE(body.find("\\\"quoted\\\""), std::string::npos) << body;
}

}  // namespace
}  // namespace sealift::serve
