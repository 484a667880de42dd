// Frames the writer stores instead of compressing (compressed layers, incompressible data): still
// standard zstd frames that the zstd CLI, GNU tar and sealift's reader accept byte for byte, and
// the same bytes whatever the number of threads.
#include <gtest/gtest.h>

#include <zstd.h>

#include "archive_fixtures.h"
#include "env/process.h"

namespace sealift::bundle {
namespace {

namespace fs = std::filesystem;
using namespace sealift::bundle::testing;
using testenv::run;
using testenv::TempDir;

// The low 32 bits of the checksum zstd itself puts at the end of a frame of `data`.
uint32_t zstd_checksum(const std::string& data) {
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> c(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(c.get(), ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress2(c.get(), out.data(), out.size(), data.data(), data.size());
  EXPECT_FALSE(ZSTD_isError(n));
  return read_le32(reinterpret_cast<const std::byte*>(out.data()) + n - 4);
}

TEST(StoredFramesTest, Xxh64MatchesTheChecksumZstdWrites) {
  // XXH64's published value for no input; the low half is the seek table's empty checksum.
  EXPECT_EQ(xxh64({}), 0xEF46DB3751D8E999ull);
  EXPECT_EQ(static_cast<uint32_t>(xxh64({})), kEmptyChecksum);
  // Every tail length (the 32-, 8-, 4- and 1-byte paths), and a long input.
  for (size_t n : {1, 3, 4, 7, 8, 9, 31, 32, 33, 63, 64, 100, 1000, 1 << 20}) {
    std::string data = random_bytes(n, static_cast<uint32_t>(n));
    EXPECT_EQ(static_cast<uint32_t>(xxh64(bytes_of(data))), zstd_checksum(data)) << n << " bytes";
  }
}

// Layers that are compressed already, some marked as such, some left for the writer to find out;
// a compressible entry marked compressed is stored too (the mark is obeyed, not second-guessed).
struct Layer {
  std::string name;
  std::string content;
  bool compressed;
};

std::vector<Layer> layers() {
  return {
      {"oci-layout", R"({"imageLayoutVersion":"1.0.0"})", false},
      {"blobs/sha256/small-doc", std::string(5000, '{'), false},
      // Around the 128 KiB block size and the 256 KiB frames of these tests.
      {"blobs/sha256/marked-a", random_bytes(128 * 1024, 1), true},
      {"blobs/sha256/marked-b", random_bytes(128 * 1024 + 1, 2), true},
      {"blobs/sha256/marked-c", random_bytes(3 * 256 * 1024 + 777, 3), true},
      {"blobs/sha256/marked-text", std::string(700000, 'z'), true},
      {"blobs/sha256/unmarked-random", random_bytes(600000, 4), false},
      {"blobs/sha256/unmarked-text", std::string(600000, 'q'), false},
      {"blobs/sha256/tiny-after", "x", false},
  };
}

std::vector<fs::path> write_layers(const fs::path& path, unsigned threads) {
  WriterOptions o;
  o.compression.frame_size = 256 * 1024;
  o.compression.threads = threads;
  o.mtime = 1700000000;
  ArchiveWriter w(path, o);
  for (const auto& l : layers()) {
    io::MemorySource src(l.content);
    w.add(l.name, l.content.size(), src, l.compressed);
  }
  return w.finish();
}

TEST(StoredFramesTest, StoredFramesReadBackByteIdenticalEverywhere) {
  TempDir dir;
  fs::path bundle = dir / "b.tar.zst";
  write_layers(bundle, 2);

  // The zstd CLI checks every frame's content checksum and size.
  sh("zstd -q -t " + bundle.string());
  fs::path out = dir / "x";
  fs::create_directory(out);
  sh("tar --zstd -xf " + bundle.string() + " -C " + out.string());
  fs::path piped = dir / "y";
  fs::create_directory(piped);
  sh("zstd -q -dc " + bundle.string() + " | tar -xf - -C " + piped.string());
  ArchiveReader reader(bundle);
  for (const auto& l : layers()) {
    EXPECT_EQ(util::read_file(out / l.name), l.content) << l.name;
    EXPECT_EQ(util::read_file(piped / l.name), l.content) << l.name;
    EXPECT_EQ(read_entry(reader, l.name), l.content) << l.name;
    EXPECT_EQ(read_entry(reader, l.name, l.content.size() / 3), l.content.substr(l.content.size() / 3)) << l.name;
  }
}

TEST(StoredFramesTest, MarkedAndIncompressibleFramesAreStoredOthersCompressed) {
  TempDir dir;
  fs::path bundle = dir / "b.tar.zst";
  write_layers(bundle, 2);
  ArchiveReader reader(bundle);
  // Compare each entry's share of the file (its frames) with its size: stored frames cost a few
  // bytes per 128 KiB block; 600 kB of 'q' compresses to almost nothing.
  const auto& frames = reader.frames();
  auto compressed_span = [&](const std::string& name) {
    const auto& e = *std::find_if(reader.entries().begin(), reader.entries().end(),
                                  [&](const TocEntry& t) { return t.name == name; });
    uint64_t compressed = 0;
    for (const auto& f : frames) {
      if (f.offset + f.size <= e.data_offset || f.offset >= e.data_offset + e.size) continue;
      compressed += f.compressed_size;
    }
    return compressed;
  };
  const auto all = layers();
  for (const char* name : {"blobs/sha256/marked-c", "blobs/sha256/marked-text", "blobs/sha256/unmarked-random"}) {
    auto size = std::find_if(all.begin(), all.end(), [&](const Layer& l) { return l.name == name; })->content.size();
    uint64_t c = compressed_span(name);
    EXPECT_GE(c, size) << name << " was compressed";
    EXPECT_LT(c, size + size / 100 + 4096) << name;
  }
  EXPECT_LT(compressed_span("blobs/sha256/unmarked-text"), 10000u);
}

TEST(StoredFramesTest, SameBytesWhateverTheThreads) {
  TempDir dir;
  write_layers(dir / "one.tar.zst", 1);
  write_layers(dir / "four.tar.zst", 4);
  EXPECT_EQ(util::read_file(dir / "one.tar.zst"), util::read_file(dir / "four.tar.zst"));
}

}  // namespace
}  // namespace sealift::bundle
