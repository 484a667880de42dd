// Entry names and the table of contents' JSON.
#include <gtest/gtest.h>

#include "archive_fixtures.h"

namespace sealift::bundle {
namespace {

using namespace sealift::bundle::testing;

TEST(TocTest, SafeNamesPass) {
  for (const char* name : {"oci-layout", "index.json", "sealift.json.sig", "blobs/sha256/0123abcd", "a/b.c/d-e_f+g@h:i"}) {
    EXPECT_NO_THROW(check_entry_name(name)) << name;
  }
}

TEST(TocTest, UnsafeNamesAreRefusedWithTheReason) {
  std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {"/etc/passwd", "absolute path"},
      {"..", "'..'"},
      {"a/../../b", "'..'"},
      {"./a", "'.' component"},
      {"a/./b", "'.' component"},
      {"a//b", "empty path component"},
      {"a/", "empty path component"},
      {"a b", "space"},
      {"a\\..\\b", "backslash"},
      {std::string("a\0b\n", 4), "unsafe entry name 'a\\x00b\\x0a': it holds a character outside printable ASCII"},
      {"caf\xc3\xa9", "printable ASCII"},
      {std::string(1025, 'x'), "longer than 1024 bytes"},
  };
  for (const auto& [name, why] : cases) {
    const std::string& n = name;  // clang 14 cannot capture a structured binding
    expect_error([&] { check_entry_name(n); }, ErrorKind::Input, why);
  }
}

TEST(TocTest, EncodesCompactSortedJsonAndParsesItBack) {
  Toc toc;
  toc.entries.push_back({"oci-layout", 0, 512, 30});
  toc.entries.push_back({"index.json", 1024, 1536, 600});
  std::string json = encode_toc(toc);
  EXPECT_EQ(json,
            R"({"entries":[{"header":0,"name":"oci-layout","offset":512,"size":30},)"
            R"({"header":1024,"name":"index.json","offset":1536,"size":600}],)"
            R"("formatVersion":1,"mediaType":"application/vnd.sealift.bundle.toc.v1+json"})");
  Toc back = parse_toc(json, 2560 + kTarEndSize);
  ASSERT_EQ(back.entries.size(), 2u);
  EXPECT_EQ(back.entries[1].name, "index.json");
  EXPECT_EQ(back.entries[1].header_offset, 1024u);
  EXPECT_EQ(back.entries[1].data_offset, 1536u);
  EXPECT_EQ(back.entries[1].size, 600u);
  EXPECT_EQ(back.entries[1].end(), 2560u);
}

TEST(TocTest, UnknownKeysAreIgnoredForForwardCompatibility) {
  std::string json =
      R"({"mediaType":"application/vnd.sealift.bundle.toc.v1+json","formatVersion":1,"future":true,)"
      R"("entries":[{"name":"a","header":0,"offset":512,"size":1,"digest":"sha256:x"}]})";
  EXPECT_EQ(parse_toc(json, 1024 + kTarEndSize).entries.size(), 1u);
}

TEST(TocTest, HeadersLargerThanTheLimitAreRefused) {
  Toc toc;
  toc.entries.push_back({"a", 0, kMaxHeaderSize + 512, 1});
  expect_error([&] { parse_toc(encode_toc(toc), toc.entries[0].end() + kTarEndSize); }, ErrorKind::Input,
               "has a header of 66048 bytes");
}

}  // namespace
}  // namespace sealift::bundle
