#include "registry/url.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace sealift::registry {
namespace {

constexpr const char* kPost = "https://harbor.example.com/v2/proj/app/blobs/uploads/";

TEST(Location, AbsolutePathKeepsItsQuery) {
  EXPECT_EQ(resolve_location(kPost, "/v2/proj/app/blobs/uploads/abc?_state=xyz%3D%3D"),
            "https://harbor.example.com/v2/proj/app/blobs/uploads/abc?_state=xyz%3D%3D");
}

TEST(Location, AbsoluteUrlIsTakenAsIs) {
  EXPECT_EQ(resolve_location(kPost, "http://other:5000/upload/1?x=1"), "http://other:5000/upload/1?x=1");
}

TEST(Location, RelativePathResolvesAgainstTheRequestDirectory) {
  EXPECT_EQ(resolve_location(kPost, "abc?_state=s"), "https://harbor.example.com/v2/proj/app/blobs/uploads/abc?_state=s");
  EXPECT_EQ(resolve_location("https://h/v2/a/blobs/uploads/u1?_state=old", "../x"), "https://h/v2/a/blobs/x");
  EXPECT_EQ(resolve_location("https://h/a/b/c", "./d/../e"), "https://h/a/b/e");
  EXPECT_EQ(resolve_location("https://h/a/b/c", "../../../../up"), "https://h/up");
}

TEST(Location, SchemeRelativeAndQueryOnly) {
  EXPECT_EQ(resolve_location(kPost, "//cdn.example.com/blob?sig=1"), "https://cdn.example.com/blob?sig=1");
  EXPECT_EQ(resolve_location("https://h/v2/x?a=1", "?b=2"), "https://h/v2/x?b=2");
  EXPECT_EQ(resolve_location("https://h/v2/x?a=1#f", "#g"), "https://h/v2/x?a=1");
}

TEST(Location, ColonInAPathIsNotAScheme) {
  EXPECT_EQ(resolve_location("https://h/v2/", "/v2/a/blobs/sha256:abc"), "https://h/v2/a/blobs/sha256:abc");
  EXPECT_EQ(resolve_location("https://h/v2/a/", "blobs/sha256://x"), "https://h/v2/a/blobs/sha256://x");
}

TEST(Location, MalformedInputIsRefused) {
  EXPECT_THROW(resolve_location(kPost, ""), Error);
  EXPECT_THROW(resolve_location(kPost, "/path with space"), Error);
  EXPECT_THROW(resolve_location(kPost, "ftp://h/x"), Error);
  EXPECT_THROW(resolve_location(kPost, "https://user:pw@h/x"), Error);
  EXPECT_THROW(resolve_location(kPost, "https:///nohost"), Error);
  EXPECT_THROW(resolve_location("not a url", "/x"), Error);
  EXPECT_THROW(resolve_location(kPost, "/x\r\nInjected: 1"), Error);
}

TEST(QueryParam, MergesIntoAnExistingQuery) {
  EXPECT_EQ(set_query_param("https://h/v2/a/blobs/uploads/u?_state=s%3D", "digest", "sha256:ab"),
            "https://h/v2/a/blobs/uploads/u?_state=s%3D&digest=sha256%3Aab");
  EXPECT_EQ(set_query_param("https://h/v2/a/blobs/uploads/u", "digest", "sha256:ab"),
            "https://h/v2/a/blobs/uploads/u?digest=sha256%3Aab");
  EXPECT_EQ(set_query_param("https://h/u?", "digest", "d"), "https://h/u?digest=d");
}

TEST(QueryParam, ReplacesAnExistingParameterOnce) {
  EXPECT_EQ(set_query_param("https://h/u?digest=old&a=1&digest=older", "digest", "new"), "https://h/u?digest=new&a=1");
  EXPECT_EQ(set_query_param("https://h/u?a=1&&b=2", "c", "x y/z"), "https://h/u?a=1&b=2&c=x%20y%2Fz");
}

TEST(Origin, SameHostMeansSchemeHostAndPort) {
  EXPECT_TRUE(same_origin("https://H.example.com/a", "https://h.example.com:443/b?x"));
  EXPECT_TRUE(same_origin("http://h/a", "http://h:80/b"));
  EXPECT_FALSE(same_origin("https://h/a", "http://h/a"));
  EXPECT_FALSE(same_origin("https://h/a", "https://h:8443/a"));
  EXPECT_FALSE(same_origin("https://h/a", "https://s3.amazonaws.com/a"));
  EXPECT_TRUE(same_origin("https://[::1]:5000/a", "https://[::1]:5000/b"));
  EXPECT_FALSE(same_origin("https://[::1]/a", "https://[::1]:5000/b"));
}

}  // namespace
}  // namespace sealift::registry
