#include "registry/remote_error.h"

#include <gtest/gtest.h>

namespace sealift::registry {
namespace {

TEST(RemoteError, DistributionErrorBody) {
  std::string body =
      R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"16"}}]})";
  auto errors = parse_remote_errors(body);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, "MANIFEST_UNKNOWN");
  EXPECT_EQ(errors[0].detail, R"({"Tag":"16"})");
  EXPECT_EQ(describe_status(404, body), "404 manifest unknown");
  EXPECT_TRUE(has_error_code(body, "MANIFEST_UNKNOWN"));
  EXPECT_FALSE(has_error_code(body, "BLOB_UNKNOWN"));
}

TEST(RemoteError, MessageAddedWhenItSaysMore) {
  EXPECT_EQ(describe_status(403, R"({"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]})"),
            "403 denied: requested access to the resource is denied");
  EXPECT_EQ(describe_status(409, R"({"errors":[{"code":"CONFLICT","message":"The project named p already exists"}]})"),
            "409 conflict: The project named p already exists");
  EXPECT_EQ(describe_status(400, R"({"errors":[{"code":"A_B"},{"message":"second"}]})"), "400 a b; bad request: second");
}

TEST(RemoteError, OtherBodies) {
  EXPECT_EQ(describe_status(502, ""), "502 bad gateway");
  EXPECT_EQ(describe_status(503, "upstream connect error\n"), "503 service unavailable: upstream connect error");
  EXPECT_EQ(describe_status(500, "<html><body>oops</body></html>"), "500 internal server error");
  EXPECT_EQ(describe_status(418, "line1\nline2"), "418 unexpected status");
  EXPECT_EQ(describe_status(400, std::string(300, 'x')), "400 bad request");
  EXPECT_EQ(describe_status(401, "{broken json"), "401 unauthorized");
}

TEST(RemoteError, MalformedErrorListsAreIgnoredPiecewise) {
  EXPECT_TRUE(parse_remote_errors(R"({"errors":"nope"})").empty());
  EXPECT_TRUE(parse_remote_errors(R"({"errors":[1,"x",{}]})").empty());
  EXPECT_TRUE(parse_remote_errors(R"([])").empty());
  auto e = parse_remote_errors(R"({"errors":[{"code":5,"message":"m"}]})");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].code, "");
  EXPECT_EQ(e[0].message, "m");
}

}  // namespace
}  // namespace sealift::registry
