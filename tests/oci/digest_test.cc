#include "oci/digest.h"

#include <array>
#include <cctype>
#include <string>
#include <unordered_set>

#include <gtest/gtest.h>

#include "io/stream.h"
#include "util/error.h"

namespace sealift::oci {
namespace {

// FIPS 180-2 test vectors.
const std::string kEmpty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kAbc = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kMillionA = "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

std::span<const std::byte> bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::string message_of(auto&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Digest, KnownVectors) {
  EXPECT_EQ(Digest::of("").str(), kEmpty);
  EXPECT_EQ(Digest::of("abc").str(), kAbc);
  EXPECT_EQ(Digest::of(std::string(1000000, 'a')).str(), kMillionA);
}

TEST(Digest, StreamingEqualsOneShotForEveryChunking) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>((i * 31 + 7) & 0xff));
  Digest once = Digest::of(data);
  for (size_t chunk : {1u, 7u, 63u, 64u, 65u, 4096u, 99999u}) {
    Sha256 h;
    for (size_t off = 0; off < data.size(); off += chunk) h.update(std::string_view(data).substr(off, chunk));
    EXPECT_EQ(h.bytes(), data.size());
    EXPECT_EQ(h.finish(), once) << "chunk " << chunk;
  }
}

TEST(Digest, FinishResetsForTheNextDocument) {
  Sha256 h;
  h.update("abc");
  EXPECT_EQ(h.finish().str(), kAbc);
  EXPECT_EQ(h.finish().str(), kEmpty);
}

TEST(Digest, ParseAcceptsCanonicalForm) {
  Digest d = Digest::parse(kAbc);
  EXPECT_EQ(d.str(), kAbc);
  EXPECT_EQ(d.hex(), kAbc.substr(7));
  EXPECT_EQ(d.tag_form(), "sha256-" + kAbc.substr(7));
  EXPECT_FALSE(d.empty());
  EXPECT_TRUE(Digest().empty());
  EXPECT_TRUE(Digest::valid(kAbc));
}

TEST(Digest, ParseRefusesWithReason) {
  std::string hex = kAbc.substr(7);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  struct Case {
    std::string text, why;
  };
  for (const Case& c : {
           Case{hex, "missing algorithm prefix"},
           Case{"sha512:" + std::string(128, 'a'), "unsupported digest algorithm \"sha512\""},
           Case{"SHA256:" + hex, "unsupported digest algorithm"},
           Case{"sha256:" + hex.substr(1), "64 hex characters, got 63"},
           Case{"sha256:" + hex + "0", "64 hex characters, got 65"},
           Case{"sha256:" + upper, "lowercase"},
           Case{"sha256:" + hex.substr(1) + "g", "lowercase 0-9a-f"},
           Case{"", "missing algorithm prefix"},
           Case{"sha256:", "got 0"},
       }) {
    EXPECT_FALSE(Digest::valid(c.text)) << c.text;
    std::string msg = message_of([&] { Digest::parse(c.text); });
    EXPECT_NE(msg.find(c.why), std::string::npos) << c.text << " -> " << msg;
  }
}

TEST(Digest, FromRawAndOrdering) {
  std::array<uint8_t, 32> raw{};
  raw[31] = 1;
  Digest a = Digest::from_raw(raw);
  EXPECT_EQ(a.str(), "sha256:" + std::string(62, '0') + "01");
  raw[0] = 0xff;
  Digest b = Digest::from_raw(raw);
  EXPECT_EQ(b.str().substr(0, 9), "sha256:ff");
  EXPECT_LT(a, b);
  std::unordered_set<Digest> set{a, b, a};
  EXPECT_EQ(set.size(), 2u);
}

TEST(HashingSink, HashesAndForwards) {
  io::StringSink inner;
  HashingSink sink(&inner);
  std::string data = "hello, registry";
  io::MemorySource src(data);
  EXPECT_EQ(io::copy(src, sink, 3), data.size());
  EXPECT_EQ(inner.out, data);
  EXPECT_EQ(sink.bytes(), data.size());
  EXPECT_EQ(sink.finish(), Digest::of(data));
}

TEST(HashingSink, WorksWithoutInnerSink) {
  HashingSink sink;
  sink.write(bytes("abc"));
  EXPECT_EQ(sink.finish().str(), kAbc);
}

TEST(VerifyingSink, AcceptsMatchingContent) {
  io::StringSink inner;
  VerifyingSink v(inner, Digest::parse(kAbc), 3, "blob abc");
  v.write(bytes("ab"));
  v.write(bytes("c"));
  EXPECT_NO_THROW(v.close());
  EXPECT_EQ(inner.out, "abc");
}

TEST(VerifyingSink, DigestMismatchIsIntegrityError) {
  io::StringSink inner;
  VerifyingSink v(inner, Digest::parse(kAbc), 3, "blob abc");
  v.write(bytes("abd"));
  try {
    v.close();
    FAIL() << "mismatch accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Integrity);
    std::string msg = e.what();
    EXPECT_NE(msg.find("blob abc"), std::string::npos) << msg;
    EXPECT_NE(msg.find("digest mismatch"), std::string::npos) << msg;
    EXPECT_NE(msg.find(kAbc), std::string::npos) << msg;
    EXPECT_NE(msg.find(Digest::of("abd").str()), std::string::npos) << msg;
  }
}

TEST(VerifyingSink, ShortContentIsSizeError) {
  io::StringSink inner;
  VerifyingSink v(inner, Digest::parse(kAbc), 4, "blob abc");
  v.write(bytes("abc"));
  try {
    v.close();
    FAIL() << "short content accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Integrity);
    EXPECT_NE(std::string(e.what()).find("size 3 does not match the declared 4"), std::string::npos) << e.what();
  }
}

TEST(VerifyingSink, ExtraContentIsRefusedBeforeReachingTheInnerSink) {
  io::StringSink inner;
  VerifyingSink v(inner, Digest::parse(kAbc), 3, "blob abc");
  v.write(bytes("ab"));
  try {
    v.write(bytes("cd"));
    FAIL() << "oversized content accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Integrity);
    EXPECT_NE(std::string(e.what()).find("more data than the 3 bytes"), std::string::npos) << e.what();
  }
  EXPECT_EQ(inner.out, "ab");
}

TEST(VerifyingSink, NegativeSizeChecksOnlyTheDigest) {
  io::StringSink inner;
  VerifyingSink ok(inner, Digest::parse(kAbc), -1, "blob abc");
  ok.write(bytes("abc"));
  EXPECT_NO_THROW(ok.close());
  VerifyingSink bad(inner, Digest::parse(kAbc), -1, "blob abc");
  bad.write(bytes("abcd"));
  EXPECT_THROW(bad.close(), Error);
}

}  // namespace
}  // namespace sealift::oci
