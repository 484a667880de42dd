// The bundle archive against the real tools that must read it (GNU tar, the zstd CLI, sha256sum)
// and against its own reader: random access, parallel reads, split parts, reproducibility.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>

#include "archive_fixtures.h"
#include "env/process.h"

namespace sealift::bundle {
namespace {

namespace fs = std::filesystem;
using namespace sealift::bundle::testing;
using testenv::run;
using testenv::TempDir;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    out.push_back(text.substr(start, nl - start));
    start = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ArchiveTest, GnuTarAndZstdReadEveryEntryByteForByte) {
  TempDir dir;
  auto payloads = sample_payloads();
  fs::path bundle = dir / "bundle.tar.zst";
  auto written = write_bundle(bundle, payloads, small_frames());
  ASSERT_EQ(written, std::vector<fs::path>{bundle});

  sh("zstd -q -t " + bundle.string());
  std::vector<std::string> names;
  for (const auto& p : payloads) names.push_back(p.name);
  EXPECT_EQ(lines(sh("zstd -q -dc " + bundle.string() + " | tar -tf -")), names);

  // Every entry is a regular file owned by 0/0, mode 0644, with the fixed mtime.
  for (const std::string& line : lines(sh("TZ=UTC tar --zstd --numeric-owner --full-time -tvf " + bundle.string()))) {
    EXPECT_EQ(line.rfind("-rw-r--r-- 0/0", 0), 0u) << line;
    EXPECT_NE(line.find("2023-11-14 22:13:20"), std::string::npos) << line;
  }

  fs::path out = dir / "extracted";
  fs::create_directory(out);
  sh("tar --zstd -xf " + bundle.string() + " -C " + out.string());
  for (const auto& p : payloads) EXPECT_EQ(util::read_file(out / p.name), p.content) << p.name;
}

TEST(ArchiveTest, ReaderOpensAnyEntryAtAnyOffset) {
  TempDir dir;
  auto payloads = sample_payloads();
  fs::path bundle = dir / "b.tar.zst";
  write_bundle(bundle, payloads, small_frames());

  ArchiveReader r(bundle);
  ASSERT_EQ(r.entries().size(), payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) {
    EXPECT_EQ(r.entries()[i].name, payloads[i].name);
    EXPECT_EQ(r.entries()[i].size, payloads[i].content.size());
  }
  EXPECT_GT(r.frames().size(), 15u);  // the 3 MiB entry alone needs 13 frames of 256 KiB

  // Backwards, so that every open starts away from where the previous one ended.
  for (auto it = payloads.rbegin(); it != payloads.rend(); ++it) EXPECT_EQ(read_entry(r, it->name), it->content);

  const Payload& big = payloads[payloads.size() - 2];
  for (uint64_t offset : {uint64_t{0}, uint64_t{1}, uint64_t{262143}, uint64_t{262144}, uint64_t{1000001},
                          uint64_t{big.content.size() - 1}, uint64_t{big.content.size()}}) {
    EXPECT_EQ(read_entry(r, big.name, offset), big.content.substr(offset)) << offset;
  }
  EXPECT_EQ(r.read_small("oci-layout"), payloads[0].content);
  expect_error([&] { r.read_small(big.name, 1000); }, ErrorKind::Input, "more than the 1000 bytes");
  expect_error([&] { r.open("blobs/sha256/none"); }, ErrorKind::Input, "no entry 'blobs/sha256/none'");
  expect_error([&] { r.open_at("trailer", 17); }, ErrorKind::Usage, "beyond the end of 'trailer'");
  EXPECT_EQ(r.find("trailer")->size, 16u);
  EXPECT_EQ(r.find("nope"), nullptr);
}

TEST(ArchiveTest, LargeEntriesStartTheirOwnFrameAndSmallOnesShare) {
  TempDir dir;
  auto payloads = sample_payloads();
  fs::path bundle = dir / "b.tar.zst";
  write_bundle(bundle, payloads, small_frames());
  ArchiveReader r(bundle);
  auto starts_frame = [&](uint64_t offset) {
    return std::any_of(r.frames().begin(), r.frames().end(), [&](const Frame& f) { return f.offset == offset; });
  };
  size_t small_at_frame_start = 0;
  for (const TocEntry& e : r.entries()) {
    if (e.size >= ArchiveWriter::kSmallEntry) {
      EXPECT_TRUE(starts_frame(e.header_offset)) << e.name;
    }
    if (e.size < ArchiveWriter::kSmallEntry && starts_frame(e.header_offset)) ++small_at_frame_start;
  }
  // The first entry starts the stream; a few follow a large entry or a filled frame; most share.
  EXPECT_LT(small_at_frame_start, 8u);
}

TEST(ArchiveTest, ParallelReadersGetTheSameBytes) {
  TempDir dir;
  auto payloads = sample_payloads();
  fs::path bundle = dir / "b.tar.zst";
  write_bundle(bundle, payloads, small_frames());
  ArchiveReader r(bundle);

  std::atomic<int> mismatches{0};
  std::vector<std::jthread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      std::vector<size_t> order(payloads.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), std::mt19937(t));
      for (size_t i : order) {
        if (read_entry(r, payloads[i].name) != payloads[i].content) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// Bundles written before the default frame size went from 4 MiB to 1 MiB read the same: frames
// larger than the reader's 256 KiB input buffer, and one source's buffers reused for the next
// entry whatever the size of the frames it read before (small shared frames, then 4 MiB ones).
TEST(ArchiveTest, FourMebibyteFramesReadWithoutCopiesAndBuffersReusedAcrossEntries) {
  TempDir dir;
  auto payloads = sample_payloads();
  std::string huge = random_bytes(9 * 1024 * 1024 + 7, 5) + std::string(2 * 1024 * 1024, 'z');
  payloads.insert(payloads.end() - 1, {"blobs/sha256/" + oci::Digest::of(huge).str().substr(7), huge});
  WriterOptions o;
  o.compression.frame_size = 4 << 20;
  o.compression.threads = 2;
  fs::path bundle = dir / "b.tar.zst";
  write_bundle(bundle, payloads, o);
  ArchiveReader r(bundle);
  uint32_t largest = 0;
  for (const Frame& f : r.frames()) largest = std::max(largest, f.size);
  EXPECT_EQ(largest, 4u << 20);

  // next() hands out views of the frame buffer: never more than asked, never across a frame end.
  for (int round = 0; round < 2; ++round) {
    for (const Payload& p : payloads) {
      auto source = r.open(p.name);
      std::string got;
      const size_t max = round == 0 ? SIZE_MAX : 100000;
      for (auto part = source->next(max); !part.empty(); part = source->next(max)) {
        EXPECT_LE(part.size(), max);
        EXPECT_LE(part.size(), size_t{4} << 20);
        got.append(reinterpret_cast<const char*>(part.data()), part.size());
        EXPECT_EQ(source->remaining(), p.content.size() - got.size());
      }
      EXPECT_EQ(got.size(), p.content.size()) << p.name;
      EXPECT_TRUE(got == p.content) << p.name;
    }
  }
  // Several sources open at once on one reader, each read partly, in turns.
  std::vector<std::unique_ptr<EntrySource>> open;
  std::vector<std::string> got(payloads.size());
  for (const Payload& p : payloads) open.push_back(r.open(p.name));
  for (bool more = true; more;) {
    more = false;
    for (size_t i = 0; i < open.size(); ++i) {
      std::string buf(300000, '\0');
      size_t n = open[i]->read(std::as_writable_bytes(std::span(buf.data(), buf.size())));
      got[i].append(buf.data(), n);
      more = more || n > 0;
    }
  }
  for (size_t i = 0; i < payloads.size(); ++i) EXPECT_TRUE(got[i] == payloads[i].content) << payloads[i].name;
  EXPECT_EQ(read_entry(r, payloads[payloads.size() - 2].name, 5u << 20), huge.substr(5u << 20));
}

TEST(ArchiveTest, SameInputsGiveByteIdenticalBundlesWhateverTheThreads) {
  TempDir dir;
  auto payloads = sample_payloads();
  write_bundle(dir / "one.tar.zst", payloads, small_frames(1));
  write_bundle(dir / "three.tar.zst", payloads, small_frames(3));
  write_bundle(dir / "again.tar.zst", payloads, small_frames(3));
  std::string one = util::read_file(dir / "one.tar.zst");
  EXPECT_EQ(one, util::read_file(dir / "three.tar.zst"));
  EXPECT_EQ(one, util::read_file(dir / "again.tar.zst"));

  WriterOptions other_mtime = small_frames();
  other_mtime.mtime = 0;
  write_bundle(dir / "epoch.tar.zst", payloads, other_mtime);
  EXPECT_NE(one, util::read_file(dir / "epoch.tar.zst"));
}

TEST(ArchiveTest, SplitPartsJoinToTheUnsplitFileAndReadInPlace) {
  TempDir dir;
  auto payloads = sample_payloads();
  write_bundle(dir / "whole.tar.zst", payloads, small_frames());

  fs::path split_dir = dir / "split";
  fs::create_directory(split_dir);
  WriterOptions o = small_frames();
  o.split_size = 300000;
  auto written = write_bundle(split_dir / "bundle.tar.zst", payloads, o);
  std::string whole = util::read_file(dir / "whole.tar.zst");
  size_t parts = (whole.size() + o.split_size - 1) / o.split_size;
  ASSERT_EQ(written.size(), parts + 1);
  EXPECT_EQ(written.back(), split_dir / "bundle.tar.zst.sha256");
  EXPECT_EQ(written.front(), split_dir / "bundle.tar.zst.000");
  for (size_t i = 0; i + 1 < parts; ++i) EXPECT_EQ(fs::file_size(written[i]), o.split_size);

  // The checksum file is sha256sum's own format; joining the parts gives the unsplit file.
  EXPECT_NE(sh("cd " + split_dir.string() + " && sha256sum -c bundle.tar.zst.sha256").find("bundle.tar.zst.000: OK"),
            std::string::npos);
  EXPECT_EQ(sh("cat " + split_dir.string() + "/bundle.tar.zst.??? | sha256sum"),
            sh("sha256sum < " + (dir / "whole.tar.zst").string()));
  EXPECT_EQ(lines(sh("cat " + split_dir.string() + "/bundle.tar.zst.??? | zstd -q -d | tar -tf -")).size(),
            payloads.size());

  for (fs::path name : {split_dir / "bundle.tar.zst", split_dir / "bundle.tar.zst.000"}) {
    ArchiveReader r(name);
    EXPECT_EQ(r.file().paths().size(), parts);
    EXPECT_EQ(r.file().size(), whole.size());
    for (const auto& p : payloads) EXPECT_EQ(read_entry(r, p.name), p.content) << p.name;
  }
  expect_error([&] { ArchiveReader r(split_dir / "bundle.tar.zst.001"); }, ErrorKind::Usage,
               "not the first part");
}

TEST(ArchiveTest, RewritingABundleRemovesPartsOfTheEarlierOne) {
  TempDir dir;
  auto payloads = sample_payloads();
  fs::path bundle = dir / "bundle.tar.zst";
  WriterOptions o = small_frames();
  o.split_size = 200000;
  write_bundle(bundle, payloads, o);
  size_t many = files_in(dir.path()).size();
  ASSERT_GT(many, 10u);

  o.split_size = 3000000;  // two parts: the bundle is under 6 MB
  write_bundle(bundle, payloads, o);
  EXPECT_EQ(files_in(dir.path()),
            (std::vector<fs::path>{"bundle.tar.zst.000", "bundle.tar.zst.001", "bundle.tar.zst.sha256"}));
  EXPECT_EQ(read_entry(ArchiveReader(bundle), "trailer"), "last small entry");

  write_bundle(bundle, payloads, small_frames());
  EXPECT_EQ(files_in(dir.path()), std::vector<fs::path>{"bundle.tar.zst"});
}

// A source that fails after some bytes, as a registry connection can.
class FailingSource : public io::Source {
 public:
  explicit FailingSource(size_t fail_after) : left_(fail_after) {}
  size_t read(std::span<std::byte> buf) override {
    if (left_ == 0) throw Error(ErrorKind::Network, "connection reset by the registry");
    size_t n = std::min(buf.size(), left_);
    std::fill_n(buf.data(), n, std::byte{7});
    left_ -= n;
    return n;
  }

 private:
  size_t left_;
};

TEST(ArchiveTest, AFailedBuildLeavesNothingBehind) {
  TempDir dir;
  {
    WriterOptions o = small_frames();
    o.split_size = 100000;
    ArchiveWriter w(dir / "bundle.tar.zst", o);
    w.add_bytes("oci-layout", "{}");
    FailingSource src(1500000);
    expect_error([&] { w.add("blobs/sha256/layer", 5000000, src); }, ErrorKind::Network, "connection reset");
    expect_error([&] { w.add_bytes("later", "x"); }, ErrorKind::Internal, "earlier error");
    expect_error([&] { w.finish(); }, ErrorKind::Internal, "earlier error");
  }
  EXPECT_TRUE(files_in(dir.path()).empty());
}

TEST(ArchiveTest, ContentMustMatchTheDeclaredSize) {
  TempDir dir;
  const std::string content(100, 'a');
  {
    ArchiveWriter w(dir / "short.tar.zst", small_frames());
    io::MemorySource src(content);
    expect_error([&] { w.add("short", 101, src); }, ErrorKind::Input, "ended after 100 of 101 bytes");
  }
  {
    ArchiveWriter w(dir / "long.tar.zst", small_frames());
    io::MemorySource src(content);
    expect_error([&] { w.add("long", 99, src); }, ErrorKind::Input, "longer than the declared 99 bytes");
  }
  EXPECT_TRUE(files_in(dir.path()).empty());
}

TEST(ArchiveTest, UnsafeOrRepeatedNamesAreRefusedBeforeAnythingIsWritten) {
  TempDir dir;
  ArchiveWriter w(dir / "b.tar.zst", small_frames());
  w.add_bytes("index.json", "{}");
  expect_error([&] { w.add_bytes("../escape", "x"); }, ErrorKind::Input, "'..'");
  expect_error([&] { w.add_bytes("/etc/passwd", "x"); }, ErrorKind::Input, "absolute");
  expect_error([&] { w.add_bytes("index.json", "{ }"); }, ErrorKind::Input, "already in the bundle");
  // A refused name does not spoil the archive.
  w.add_bytes("oci-layout", "{}");
  w.finish();
  ArchiveReader r(dir / "b.tar.zst");
  ASSERT_EQ(r.entries().size(), 2u);
  EXPECT_EQ(read_entry(r, "index.json"), "{}");
}

TEST(ArchiveTest, AnEmptyArchiveIsAValidTar) {
  TempDir dir;
  ArchiveWriter(dir / "empty.tar.zst", small_frames()).finish();
  EXPECT_EQ(sh("tar --zstd -tf " + (dir / "empty.tar.zst").string()), "");
  ArchiveReader r(dir / "empty.tar.zst");
  EXPECT_TRUE(r.entries().empty());
  EXPECT_EQ(r.tar_size(), kTarEndSize);
}

}  // namespace
}  // namespace sealift::bundle
