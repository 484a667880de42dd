// The seek table bytes, field by field, as facebook/zstd's seekable format 0.1.0 lays them out, and
// the seekable writer's output as the zstd CLI sees it.
#include <gtest/gtest.h>

#include "archive_fixtures.h"
#include "env/process.h"

namespace sealift::bundle {
namespace {

using namespace sealift::bundle::testing;
using testenv::run;
using testenv::TempDir;


TEST(SeekableFormatTest, SeekTableBytesFollowTheSpecification) {
  std::vector<SeekEntry> entries = {{10, 20, 0xAABBCCDD}, {8, 0, kEmptyChecksum}};
  std::string expected = std::string("\x5E\x2A\x4D\x18", 4) +       // skippable magic 0x184D2A5E
                         std::string("\x21\x00\x00\x00", 4) +       // frame size: 2 * 12 + 9 = 33
                         std::string("\x0A\x00\x00\x00\x14\x00\x00\x00\xDD\xCC\xBB\xAA", 12) +
                         std::string("\x08\x00\x00\x00\x00\x00\x00\x00\x99\xE9\xD8\x51", 12) +
                         std::string("\x02\x00\x00\x00", 4) +       // number of frames
                         std::string("\x80", 1) +                   // checksum flag
                         std::string("\xB1\xEA\x92\x8F", 4);        // seekable magic 0x8F92EAB1
  std::string table = encode_seek_table(entries);
  EXPECT_EQ(table, expected);

  SeekTableFooter footer = parse_seek_table_footer(bytes_of(table).last(9), 1000);
  EXPECT_EQ(footer.frames, 2u);
  EXPECT_TRUE(footer.checksums);
  EXPECT_EQ(footer.table_size, table.size());
  auto parsed = parse_seek_table(bytes_of(table), footer);
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0].compressed_size, 10u);
  EXPECT_EQ(parsed[0].decompressed_size, 20u);
  EXPECT_EQ(parsed[0].checksum, 0xAABBCCDDu);
}

TEST(SeekableFormatTest, TablesWithoutChecksumsAreRead) {
  std::string table = std::string("\x5E\x2A\x4D\x18\x11\x00\x00\x00", 8) +
                      std::string("\x05\x00\x00\x00\x07\x00\x00\x00", 8) + std::string("\x01\x00\x00\x00\x00", 5) +
                      std::string("\xB1\xEA\x92\x8F", 4);
  SeekTableFooter footer = parse_seek_table_footer(bytes_of(table).last(9), table.size());
  EXPECT_FALSE(footer.checksums);
  auto parsed = parse_seek_table(bytes_of(table), footer);
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0].compressed_size, 5u);
  EXPECT_EQ(parsed[0].decompressed_size, 7u);
}

TEST(SeekableFormatTest, TheEmptyChecksumIsWhatZstdWritesForNoBytes) {
  // zstd --check on empty input ends its frame with the low 32 bits of XXH64 of nothing.
  auto r = run({"sh", "-c", "zstd -q --check -c < /dev/null"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_GE(r.out.size(), 4u);
  EXPECT_EQ(read_le32(reinterpret_cast<const std::byte*>(r.out.data() + r.out.size() - 4)), kEmptyChecksum);
}

TEST(SeekableFormatTest, WriterFramesDecompressWithTheZstdCliAndMatchTheTable) {
  TempDir dir;
  io::StringSink sink;
  CompressionOptions o;
  o.frame_size = 64 * 1024;
  o.threads = 2;
  std::string data = random_bytes(200000, 3) + std::string(100000, 'x');
  {
    SeekableWriter w(sink, o);
    w.write(bytes_of(data.substr(0, 1000)));
    w.cut();
    w.cut();  // an empty frame is never written
    w.write(bytes_of(data.substr(1000)));
    EXPECT_EQ(w.position(), data.size());
    w.add_skippable(skippable_frame(kTocMagic, "payload"));
    w.finish();
  }
  util::write_file_atomic(dir / "data.zst", sink.out);
  auto r = run({"zstd", "-q", "-d", "-c", (dir / "data.zst").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, data);

  const std::string& file = sink.out;
  SeekTableFooter footer = parse_seek_table_footer(bytes_of(file).last(9), file.size());
  auto table = parse_seek_table(bytes_of(file).last(footer.table_size), footer);
  // 1000 bytes, then 299000 in frames of 65536, then the skippable frame.
  std::vector<uint32_t> sizes;
  for (const auto& e : table) sizes.push_back(e.decompressed_size);
  EXPECT_EQ(sizes, (std::vector<uint32_t>{1000, 65536, 65536, 65536, 65536, 36856, 0}));
  uint64_t offset = 0;
  for (const auto& e : table) {
    offset += e.compressed_size;
    // Each zstd frame's checksum is its last 4 bytes.
    if (e.decompressed_size > 0) {
      EXPECT_EQ(read_le32(reinterpret_cast<const std::byte*>(file.data() + offset - 4)), e.checksum);
    }
  }
  EXPECT_EQ(offset, file.size() - footer.table_size);
  EXPECT_EQ(table.back().checksum, kEmptyChecksum);
}

TEST(SeekableFormatTest, WriterRefusesOptionsOutsideItsLimits) {
  io::StringSink sink;
  CompressionOptions o;
  o.frame_size = 1000;
  expect_error([&] { SeekableWriter w(sink, o); }, ErrorKind::Usage, "frame size 1000 is outside");
  o.frame_size = 64u << 20;
  expect_error([&] { SeekableWriter w(sink, o); }, ErrorKind::Usage, "is outside");
  o.frame_size = 1 << 20;
  o.level = 99;
  expect_error([&] { SeekableWriter w(sink, o); }, ErrorKind::Usage, "zstd level 99 is outside");
}

}  // namespace
}  // namespace sealift::bundle
