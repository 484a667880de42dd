// Resuming a build (bundle/resume.h) from what an unfinished bundle holds, against leftovers that
// someone else planted, cut entries, and entries of zeros that would fill the disk. No server.
#include "bundle/resume.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "archive_fixtures.h"
#include "bundle/layout.h"
#include "bundle/tar_header.h"

namespace sealift::bundle::testing {
namespace {

namespace fs = std::filesystem;

// A finished archive at `path` holding one blob: `content`, named by its digest.
oci::Descriptor write_one_blob(const fs::path& path, const std::string& content) {
  ArchiveWriter w(path);
  w.add_bytes(blob_path(oci::Digest::of(content)), content);
  w.finish();
  oci::Descriptor d;
  d.media_type = oci::media::kOciLayer;
  d.digest = oci::Digest::of(content);
  d.size = static_cast<int64_t>(content.size());
  return d;
}

// Only the user's own regular files are read back; a link or a FIFO under a leftover's name is
// neither followed nor blocks, and a file of another user is left alone.
TEST(Resume, OnlyTheUsersOwnRegularLeftoversAreHarvested) {
  testenv::TempDir work("sealift-resume-planted");
  BlobCache cache(work / "cache");
  const fs::path output = work / "out.tar.zst";
  fs::create_directories(work / "elsewhere");

  const auto linked = write_one_blob(work / "elsewhere" / "linked.tar.zst", "through a symbolic link");
  fs::create_symlink(work / "elsewhere" / "linked.tar.zst", work / ".out.tar.zst.tmp-AAAAAA");
  ASSERT_EQ(mkfifo((work / ".out.tar.zst.tmp-BBBBBB").c_str(), 0600), 0);
  const auto own = write_one_blob(work / ".out.tar.zst.tmp-DDDDDD", "the user's own leftover");
  std::optional<oci::Descriptor> foreign;
  if (geteuid() == 0) {
    foreign = write_one_blob(work / ".out.tar.zst.tmp-CCCCCC", "another user's file");
    ASSERT_EQ(chown((work / ".out.tar.zst.tmp-CCCCCC").c_str(), 65534, 65534), 0);
  }

  Harvest h = harvest_leftovers(output, cache);
  EXPECT_EQ(h.blobs, 1u);
  EXPECT_TRUE(cache.verified(own.digest));
  EXPECT_FALSE(cache.has(linked.digest, linked.size)) << "the link was followed";
  EXPECT_FALSE(fs::exists(work / ".out.tar.zst.tmp-DDDDDD")) << "the user's own leftover stays";
  // Left alone, and said so.
  EXPECT_TRUE(fs::is_symlink(work / ".out.tar.zst.tmp-AAAAAA"));
  EXPECT_TRUE(fs::exists(work / "elsewhere" / "linked.tar.zst"));
  EXPECT_TRUE(fs::exists(work / ".out.tar.zst.tmp-BBBBBB"));
  std::string problems;
  for (const auto& p : h.problems) problems += p + "\n";
  EXPECT_NE(problems.find(".out.tar.zst.tmp-AAAAAA: left alone, not a regular file of yours"), std::string::npos)
      << problems;
  if (foreign) {
    EXPECT_FALSE(cache.has(foreign->digest, foreign->size)) << "another user's file was harvested";
    EXPECT_TRUE(fs::exists(work / ".out.tar.zst.tmp-CCCCCC"));
    EXPECT_NE(problems.find(".out.tar.zst.tmp-CCCCCC: left alone"), std::string::npos) << problems;
  }
}

// Restores a resource limit and a signal's disposition when it goes.
struct FileSizeLimit {
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &old);
    old_handler = signal(SIGXFSZ, SIG_IGN);
    rlimit lim = old;
    lim.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
  }
  rlimit old{};
  sighandler_t old_handler;
};

// A planted leftover declaring one 20 GiB entry of zeros (under 1 MB compressed) must not fill
// the cache's disk: the entry outgrows what its compressed bytes could hold, the harvest stops,
// and the leftover is removed all the same. Files over 256 MiB fail here (RLIMIT_FSIZE, as a
// small disk would), so the old harvest, which wrote the whole entry first, fails on it.
TEST(Resume, APlantedEntryOfZerosDoesNotFillTheDiskAndTheLeftoverGoes) {
  testenv::TempDir work("sealift-resume-zeros");
  BlobCache cache(work / "cache");
  const uint64_t declared = 20ull << 30;
  const std::string name = blob_path(oci::Digest::of("what the planted entry claims to be"));
  const std::string header = entry_header(name, declared, 0);
  std::string planted(ZSTD_compressBound(header.size()), '\0');
  planted.resize(ZSTD_compress(planted.data(), planted.size(), header.data(), header.size(), 3));
  const std::string mib = zero_frame(1 << 20, true, true);
  for (uint64_t i = 0; i < (declared >> 20); ++i) planted += mib;
  ASSERT_LT(planted.size(), 2u << 20);
  const fs::path leftover = work / ".out.tar.zst.tmp-ZZZZZZ";
  util::write_file_atomic(leftover, planted);

  Harvest h;
  {
    FileSizeLimit limit(256u << 20);
    auto started = std::chrono::steady_clock::now();
    EXPECT_NO_THROW(h = harvest_leftovers(work / "out.tar.zst", cache));
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(60));
  }
  EXPECT_EQ(h.blobs, 0u);
  EXPECT_FALSE(fs::exists(leftover)) << "the leftover stays, to fill the disk again on the next build";
  uint64_t in_cache = 0;
  for (const auto& e : fs::recursive_directory_iterator(work / "cache"))
    if (e.is_regular_file()) in_cache += e.file_size();
  EXPECT_EQ(in_cache, 0u);
}

// A harvest that finds an entry cut short (the one a killed build was writing) leaves no trace on
// the blob's stream: the resumed build's archive writer, which may open that blob before its
// transfer has begun, waits for the transfer and gets its bytes.
TEST(Resume, AnEntryCutShortLeavesTheBlobsStreamToItsTransfer) {
  testenv::TempDir work("sealift-resume-cut");
  BlobCache cache(work / "cache");
  const std::string blob = random_bytes(3 * 1024 * 1024 + 17, 7);
  const oci::Descriptor d = write_one_blob(work / "whole.tar.zst", blob);
  const std::string whole = util::read_file(work / "whole.tar.zst");
  util::write_file_atomic(work / "cut.tar.zst", whole.substr(0, whole.size() / 2));
  EXPECT_EQ(harvest_archive({work / "cut.tar.zst"}, cache).blobs, 0u);
  EXPECT_FALSE(cache.has(d.digest, d.size));

  auto source = cache.open_streaming(d, [] { return false; });
  std::thread transfer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto writer = cache.write_blob(d);
    writer->write(bytes_of(blob));
    writer->commit();
  });
  io::StringSink got;
  EXPECT_NO_THROW(io::copy(*source, got, 1 << 16));
  transfer.join();
  EXPECT_TRUE(got.out == blob) << got.out.size() << " bytes read of " << blob.size();
}

}  // namespace
}  // namespace sealift::bundle::testing
