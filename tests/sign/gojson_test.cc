#include "sign/gojson.h"

#include <gtest/gtest.h>

namespace sealift::sign {
namespace {

// Expected values are what Go 1.26's json.Marshal printed for the same strings.
TEST(GoJson, QuotesAsGoEncodingJsonDoes) {
  EXPECT_EQ(go_json_quote("plain"), R"("plain")");
  EXPECT_EQ(go_json_quote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(go_json_quote(std::string_view("\b\f\n\r\t\x00\x1f\x7f", 8)), "\"\\b\\f\\n\\r\\t\\u0000\\u001f\x7f\"");
  EXPECT_EQ(go_json_quote("<tag>&amp;"), R"("\u003ctag\u003e\u0026amp;")");
  EXPECT_EQ(go_json_quote("\u2028\u2029é漢😀"), "\"\\u2028\\u2029é漢😀\"");
  EXPECT_EQ(go_json_quote("bad\xffutf8\xc3"), R"("bad\ufffdutf8\ufffd")");
}

TEST(GoJson, ReplacesOverlongAndSurrogateSequences) {
  EXPECT_EQ(go_json_quote("\xc0\xaf"), R"("\ufffd\ufffd")");
  EXPECT_EQ(go_json_quote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");
}

}  // namespace
}  // namespace sealift::sign
