// Split parts: written under temporary names with a sha256sum file, read as one byte range.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "archive_fixtures.h"
#include "env/process.h"

namespace sealift::bundle {
namespace {

namespace fs = std::filesystem;
using namespace sealift::bundle::testing;
using testenv::run;
using testenv::TempDir;

std::string read_range(const PartedFile& f, uint64_t offset, size_t size) {
  std::string out(size, '\0');
  f.read_at(offset, std::as_writable_bytes(std::span(out)));
  return out;
}

size_t open_descriptors() {
  return static_cast<size_t>(std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator()));
}

void write_parts(const fs::path& base, const std::string& data, uint64_t split) {
  PartedOutput out(base, split);
  // Uneven writes, so that writes straddle part boundaries.
  for (size_t at = 0; at < data.size();) {
    size_t n = std::min<size_t>(data.size() - at, 1 + (at * 7919) % 100000);
    out.write(std::as_bytes(std::span(data)).subspan(at, n));
    at += n;
  }
  out.commit();
}

TEST(PartedFileTest, ReadsAcrossPartBoundaries) {
  TempDir dir;
  std::string data = random_bytes(1000000, 11);
  write_parts(dir / "b", data, 65536);
  auto sums = run({"sh", "-c", "cd " + dir.path().string() + " && sha256sum -c --quiet b.sha256"});
  EXPECT_EQ(sums.exit_code, 0) << sums.out << sums.err;

  PartedFile f(dir / "b");
  EXPECT_EQ(f.paths().size(), 16u);
  EXPECT_EQ(f.size(), data.size());
  for (uint64_t offset : {0ul, 65535ul, 65536ul, 65530ul, 131071ul, 999990ul}) {
    EXPECT_EQ(read_range(f, offset, 10), data.substr(offset, 10)) << offset;
  }
  EXPECT_EQ(read_range(f, 1, data.size() - 1), data.substr(1));
  EXPECT_EQ(read_range(f, data.size(), 0), "");
  expect_error([&] { read_range(f, data.size() - 5, 10); }, ErrorKind::Input, "goes past the end");
}

TEST(PartedFileTest, WithoutAChecksumFileThePartsRunToTheFirstGap) {
  TempDir dir;
  std::string data = random_bytes(300000, 12);
  write_parts(dir / "b", data, 100000);
  fs::remove(dir / "b.sha256");
  util::write_file_atomic(dir / "b.005", "stray part after a gap");
  PartedFile f(dir / "b.000");
  EXPECT_EQ(f.paths().size(), 3u);
  EXPECT_EQ(read_range(f, 0, data.size()), data);
}

TEST(PartedFileTest, TheChecksumFileDecidesWhichPartsBelong) {
  TempDir dir;
  std::string data = random_bytes(300000, 13);
  write_parts(dir / "b", data, 100000);
  util::write_file_atomic(dir / "b.003", "a part the checksum file does not list");
  PartedFile f(dir / "b");
  EXPECT_EQ(f.size(), data.size());

  util::write_file_atomic(dir / "b.001", "");
  size_t before = open_descriptors();
  expect_error([&] { PartedFile g(dir / "b"); }, ErrorKind::Input, "part " + (dir / "b.001").string() + " is empty");
  EXPECT_EQ(open_descriptors(), before);
}

TEST(PartedFileTest, HundredsOfPartsAreReadWithoutHoldingADescriptorEach) {
  TempDir dir;
  std::string data = random_bytes(300 * 65536 + 100, 15);
  write_parts(dir / "b", data, 65536);
  size_t before = open_descriptors();
  {
    PartedFile f(dir / "b");
    EXPECT_EQ(f.paths().size(), 301u);
    EXPECT_LE(open_descriptors(), before + 128);
    EXPECT_EQ(read_range(f, 0, data.size()), data);
    for (uint64_t at : {65536ul * 7 - 3, 65536ul * 200 - 3}) {
      EXPECT_EQ(read_range(f, at, 65536 * 2 + 6), data.substr(at, 65536 * 2 + 6)) << at;
    }
    EXPECT_LE(open_descriptors(), before + 128);
  }
  EXPECT_EQ(open_descriptors(), before);
}

// `serve` reads a bundle for days after verifying it. A part renamed over (beyond the 128 held
// open, reopened for each read) or changed in place (one held open) must not be read as the part
// that was verified, even with the same size.
TEST(PartedFileTest, APartReplacedOrChangedAfterOpeningIsRefused) {
  TempDir dir;
  std::string data = random_bytes(130 * 65536, 16);
  write_parts(dir / "b", data, 65536);
  PartedFile f(dir / "b");
  ASSERT_EQ(f.paths().size(), 130u);
  const uint64_t last = 129 * 65536;
  EXPECT_EQ(read_range(f, last, 10), data.substr(last, 10));

  std::string altered = data.substr(last);
  altered[3] = static_cast<char>(altered[3] ^ 1);
  util::write_file_atomic(dir / "b.129", altered);  // a new file renamed over the part
  expect_error([&] { read_range(f, last, 10); }, ErrorKind::Integrity, "b.129 was replaced or changed");

  // Part 1 is held open: written in place, same size, same inode.
  std::string first = data.substr(65536, 65536);
  first[0] = static_cast<char>(first[0] ^ 1);
  {
    std::fstream part(dir / "b.001", std::ios::in | std::ios::out | std::ios::binary);
    part.write(first.data(), static_cast<std::streamsize>(first.size()));
  }
  fs::last_write_time(dir / "b.001", fs::last_write_time(dir / "b.001") + std::chrono::seconds(1));
  expect_error([&] { read_range(f, 65536, 10); }, ErrorKind::Integrity, "b.001 was replaced or changed");
  EXPECT_EQ(read_range(f, 0, 10), data.substr(0, 10)) << "the other parts are read as before";
}

TEST(PartedFileTest, AnUncommittedOutputLeavesNothing) {
  TempDir dir;
  {
    PartedOutput out(dir / "b", 65536);
    std::string data = random_bytes(200000, 14);
    out.write(std::as_bytes(std::span(data)));
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
  expect_error([&] { PartedOutput out(dir / "b", 1000); }, ErrorKind::Usage, "below the minimum");
}

TEST(PartedFileTest, MissingBundlesAreNamed) {
  TempDir dir;
  expect_error([&] { PartedFile f(dir / "none.tar.zst"); }, ErrorKind::Io, "no such file, and no parts none.tar.zst.000");
}

}  // namespace
}  // namespace sealift::bundle
