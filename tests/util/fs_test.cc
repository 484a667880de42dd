#include "util/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "env/process.h"
#include "io/stream.h"
#include "util/error.h"

namespace sealift::util {
namespace {

namespace fs = std::filesystem;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

size_t entries(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

std::span<const std::byte> bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

TEST(WriteFileAtomic, WritesAndReadsBack) {
  testenv::TempDir dir;
  fs::path p = dir / "doc.json";
  write_file_atomic(p, "{\"a\":1}\n");
  EXPECT_EQ(read_file(p), "{\"a\":1}\n");
  EXPECT_EQ(mode_of(p), 0644u);
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(WriteFileAtomic, HonoursMode0600EvenUnderAPermissiveUmask) {
  testenv::TempDir dir;
  mode_t old = umask(0);
  fs::path key = dir / "cosign.key";
  write_file_atomic(key, "secret", 0600);
  umask(old);
  EXPECT_EQ(mode_of(key), 0600u);
}

TEST(WriteFileAtomic, ReplacesExistingFileWhole) {
  testenv::TempDir dir;
  fs::path p = dir / "f";
  write_file_atomic(p, std::string(100000, 'a'));
  write_file_atomic(p, "short");
  EXPECT_EQ(read_file(p), "short");
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(WriteFileAtomic, FailureLeavesNothingBehind) {
  testenv::TempDir dir;
  // The target is an existing non-empty directory, so the final rename must fail.
  fs::create_directory(dir / "target");
  write_file_atomic(dir / "target" / "inside", "x");
  try {
    write_file_atomic(dir / "target", "data");
    FAIL() << "rename over a directory succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
    EXPECT_NE(std::string(e.what()).find((dir / "target").string()), std::string::npos) << e.what();
  }
  EXPECT_EQ(entries(dir.path()), 1u);
  EXPECT_TRUE(fs::is_directory(dir / "target"));
}

TEST(WriteFileAtomic, MissingDirectoryIsIoError) {
  testenv::TempDir dir;
  try {
    write_file_atomic(dir / "no" / "such" / "file", "x");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
  }
}

TEST(AtomicFile, UncommittedWriteIsRemovedAndTargetUntouched) {
  testenv::TempDir dir;
  fs::path p = dir / "bundle.tar.zst";
  write_file_atomic(p, "previous");
  {
    AtomicFile f(p);
    f.write(bytes("half of a new "));
    EXPECT_TRUE(fs::exists(f.temp_path()));
    EXPECT_EQ(f.temp_path().parent_path(), dir.path());
    EXPECT_EQ(read_file(p), "previous");
  }
  EXPECT_EQ(read_file(p), "previous");
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(AtomicFile, TempFileHasFinalModeBeforeCommit) {
  testenv::TempDir dir;
  AtomicFile f(dir / "cosign.key", 0600);
  // Secret bytes are written into the temp file, so it must already be private.
  EXPECT_EQ(mode_of(f.temp_path()), 0600u);
  f.write(bytes("secret"));
  f.commit();
  EXPECT_FALSE(fs::exists(f.temp_path()));
  EXPECT_EQ(mode_of(dir / "cosign.key"), 0600u);
  EXPECT_EQ(read_file(dir / "cosign.key"), "secret");
}

TEST(AtomicFile, StreamsThroughCopy) {
  testenv::TempDir dir;
  std::string data(3 << 20, 'z');
  for (size_t i = 0; i < data.size(); i += 4093) data[i] = static_cast<char>(i & 0x7f);
  io::MemorySource src(data);
  AtomicFile f(dir / "blob");
  EXPECT_EQ(io::copy(src, f, 1 << 16), data.size());
  f.commit();
  EXPECT_EQ(read_file(dir / "blob"), data);
}

TEST(FileSource, ReadsInChunksAndReportsEnd) {
  testenv::TempDir dir;
  write_file_atomic(dir / "f", "0123456789");
  FileSource src(dir / "f");
  std::array<std::byte, 4> buf{};
  std::string got;
  for (size_t n; (n = src.read(buf)) > 0;) got.append(reinterpret_cast<const char*>(buf.data()), n);
  EXPECT_EQ(got, "0123456789");
  EXPECT_EQ(src.read(buf), 0u);
}

TEST(FileSource, MissingFileNamesThePath) {
  testenv::TempDir dir;
  try {
    FileSource src(dir / "absent");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
    EXPECT_NE(std::string(e.what()).find("absent"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_file(dir / "absent"), Error);
}

// A descriptor of ours must not survive into helm (util/process.cc also closes every descriptor
// above 2 in the child; this is the first line of defence for any other exec).
TEST(AtomicFile, TheTemporaryFileIsCloseOnExec) {
  testenv::TempDir tmp;
  AtomicFile temp(tmp / "file", 0600);
  EXPECT_NE(::fcntl(temp.fd(), F_GETFD) & FD_CLOEXEC, 0);
}

}  // namespace
}  // namespace sealift::util
