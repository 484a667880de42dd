// The blob cache's directory rules: made 0700, refused when another user could write it (the
// vendor key signs what it holds), never a shared default. No server needed.
#include "bundle/blob_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "archive_fixtures.h"
#include "env/process.h"

namespace sealift::bundle::testing {
namespace {

namespace fs = std::filesystem;

unsigned mode_of(const fs::path& p) {
  struct stat st;
  EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST(BlobCacheDir, ANewCacheIsPrivate) {
  testenv::TempDir work("sealift-cache-dir");
  const fs::path dir = work / "home" / ".cache" / "sealift" / "blobs";
  BlobCache cache(dir);
  for (const fs::path& p : {dir, dir / "blobs", dir / "blobs" / "sha256"}) EXPECT_EQ(mode_of(p), 0700u) << p;
  EXPECT_EQ(mode_of(BlobCache::private_dir(dir / "sbom-scratch")), 0700u);
  // One of the user's own that others can only read (ssh's StrictModes accept it too).
  fs::create_directories(work / "readable");
  ASSERT_EQ(chmod((work / "readable").c_str(), 0755), 0);
  EXPECT_NO_THROW(BlobCache(work / "readable"));
}

TEST(BlobCacheDir, ADirectoryOthersCanWriteIsRefusedNamingItAndTheFix) {
  testenv::TempDir work("sealift-cache-dir");
  fs::create_directories(work / "open");
  ASSERT_EQ(chmod((work / "open").c_str(), 0777), 0);
  expect_error([&] { BlobCache c(work / "open"); }, ErrorKind::Usage,
               (work / "open").string() + " is writable by others (mode 0777)");
  try {
    BlobCache c(work / "open");
  } catch (const Error& e) {
    EXPECT_NE(e.hint().find("chmod go-w " + (work / "open").string()), std::string::npos) << e.hint();
  }

  // Any level: blobs/sha256 writable by the group, the scratch directory syft's input is staged in.
  { BlobCache c(work / "group"); }
  ASSERT_EQ(chmod((work / "group" / "blobs" / "sha256").c_str(), 0770), 0);
  expect_error([&] { BlobCache c(work / "group"); }, ErrorKind::Usage,
               (work / "group" / "blobs" / "sha256").string() + " is writable by its group");
  fs::create_directories(work / "scratch");
  ASSERT_EQ(chmod((work / "scratch").c_str(), 01777), 0);
  expect_error([&] { BlobCache::private_dir(work / "scratch"); }, ErrorKind::Usage, "is writable by others");

  if (geteuid() == 0) {
    // Another user's directory, however strict its mode (only root can make one here).
    fs::create_directories(work / "theirs");
    ASSERT_EQ(chmod((work / "theirs").c_str(), 0700), 0);
    ASSERT_EQ(chown((work / "theirs").c_str(), 65534, 65534), 0);
    expect_error([&] { BlobCache c(work / "theirs"); }, ErrorKind::Usage,
                 (work / "theirs").string() + " belongs to uid 65534, not to you (uid 0)");
  }
}

using testenv::ScopedEnv;

TEST(BlobCacheDir, WithoutHomeThereIsNoDefaultAndTheBuildAsksForCache) {
  {
    ScopedEnv home("HOME", std::nullopt), xdg("XDG_CACHE_HOME", std::nullopt);
    expect_error([] { default_cache_dir(); }, ErrorKind::Usage, "HOME is not set");
  }
  {
    ScopedEnv home("HOME", ""), xdg("XDG_CACHE_HOME", std::nullopt);
    expect_error([] { default_cache_dir(); }, ErrorKind::Usage, "HOME is not set");
  }
  {
    ScopedEnv home("HOME", "/home/vendor"), xdg("XDG_CACHE_HOME", std::nullopt);
    EXPECT_EQ(default_cache_dir(), fs::path("/home/vendor/.cache/sealift/blobs"));
  }
  // The program, as a systemd unit without User= or `env -i` runs it: a usage error before any
  // input is read or anything pulled.
  testenv::TempDir work("sealift-cache-home");
  auto r = testenv::run({"env", "-u", "HOME", "-u", "XDG_CACHE_HOME", testenv::bundle_program(), "build", "-o",
                         (work / "out.tar.zst").string(), "--key", (work / "no-such.key").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("HOME is not set"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--cache"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(work / "out.tar.zst"));
}

}  // namespace
}  // namespace sealift::bundle::testing
