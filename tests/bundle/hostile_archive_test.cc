// Bundles that lie: truncated files, seek tables and tables of contents that disagree with the
// data, tar headers that are links or name something else, decompression bombs, random damage.
// Every one must be refused with an error naming the problem, never crash or read past limits.
#include <gtest/gtest.h>
#include <zstd.h>

#include <random>

#include <fmt/format.h>

#include "archive_fixtures.h"
#include "env/process.h"

namespace sealift::bundle {
namespace {

namespace fs = std::filesystem;
using namespace sealift::bundle::testing;
using testenv::TempDir;

void put_le32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
}

uint32_t get_le32(const std::string& s, size_t at) {
  return read_le32(reinterpret_cast<const std::byte*>(s.data() + at));
}

// Writes bytes to a file and opens it as a bundle.
struct Written {
  TempDir dir;
  fs::path path;
  explicit Written(const std::string& bytes) : path(dir / "bundle.tar.zst") { util::write_file_atomic(path, bytes); }
};

void expect_refused(const std::string& bytes, ErrorKind kind, const std::string& needle) {
  Written w(bytes);
  expect_error([&] { ArchiveReader r(w.path); }, kind, needle);
}

// The archive opens, but reading `entry` is refused.
void expect_entry_refused(const std::string& bytes, const std::string& entry, ErrorKind kind,
                          const std::string& needle) {
  Written w(bytes);
  ArchiveReader r(w.path);
  expect_error([&] { read_entry(r, entry); }, kind, needle);
}

std::string good_bundle() {
  TempDir dir;
  std::vector<Payload> payloads = {{"oci-layout", "{}"},
                                   {"index.json", R"({"schemaVersion":2})"},
                                   {"blobs/sha256/big", random_bytes(200000, 5)},
                                   {"blobs/sha256/small", "small"}};
  WriterOptions o;
  o.compression.frame_size = 64 * 1024;
  o.compression.threads = 1;
  write_bundle(dir / "b", payloads, o);
  return util::read_file(dir / "b");
}

std::vector<SeekEntry> seek_table_of(const std::string& bundle) {
  auto footer_bytes = std::as_bytes(std::span(bundle)).last(kSeekTableFooterSize);
  SeekTableFooter f = parse_seek_table_footer(footer_bytes, bundle.size());
  return parse_seek_table(std::as_bytes(std::span(bundle)).last(f.table_size), f);
}

// Three regular files, framed as the writer would; tests replace the TOC or the tar.
CraftedTar three_files() {
  return craft_tar({{"blobs/a", "aaaa"}, {"blobs/b", std::string(1000, 'b')}, {"blobs/c", "cc"}});
}

std::string with_toc(const CraftedTar& tar, const std::string& json) { return frame_archive(tar.bytes, toc_frame(json)); }

TEST(HostileArchiveTest, TruncatedBundlesAreRefused) {
  std::string good = good_bundle();
  ASSERT_NO_THROW(Written w(good); ArchiveReader r(w.path));
  expect_refused("", ErrorKind::Input, "too small for a bundle");
  expect_refused(good.substr(0, good.size() - 1), ErrorKind::Input, "no zstd seek table at the end");
  expect_refused(good.substr(0, good.size() - 9), ErrorKind::Input, "no zstd seek table at the end");
  expect_refused(good.substr(0, good.size() / 2), ErrorKind::Input, "no zstd seek table at the end");
  expect_refused(good.substr(0, 100), ErrorKind::Input, "no zstd seek table at the end");
  // Cut at the front: the table at the end is intact but the frames it lists are not all there.
  expect_refused(good.substr(1000), ErrorKind::Input, "add up to");
}

TEST(HostileArchiveTest, AMissingPartIsNamed) {
  TempDir dir;
  WriterOptions o = small_frames();
  o.split_size = 100000;
  auto parts = write_bundle(dir / "b.tar.zst", sample_payloads(), o);
  fs::remove(parts[3]);
  expect_error([&] { ArchiveReader r(dir / "b.tar.zst"); }, ErrorKind::Io, "b.tar.zst.003");
  // Without the checksum file, the parts before the gap are all there is: a truncated bundle.
  fs::remove(dir / "b.tar.zst.sha256");
  expect_error([&] { ArchiveReader r(dir / "b.tar.zst"); }, ErrorKind::Input, "no zstd seek table at the end");
}

TEST(HostileArchiveTest, ChecksumFileMustListThePartsInOrder) {
  TempDir dir;
  WriterOptions o = small_frames();
  o.split_size = 1000000;
  write_bundle(dir / "b.tar.zst", sample_payloads(), o);
  std::string sums = util::read_file(dir / "b.tar.zst.sha256");
  util::write_file_atomic(dir / "b.tar.zst.sha256", sums.substr(0, 66) + "../../etc/passwd\n");
  expect_error([&] { ArchiveReader r(dir / "b.tar.zst"); }, ErrorKind::Input,
               "names '../../etc/passwd' where part 'b.tar.zst.000' was expected");
  util::write_file_atomic(dir / "b.tar.zst.sha256", "not a checksum\n");
  expect_error([&] { ArchiveReader r(dir / "b.tar.zst"); }, ErrorKind::Input, "line 1 is not a sha256sum line");
}

TEST(HostileArchiveTest, DamagedSeekTablesAreRefused) {
  std::string good = good_bundle();
  const size_t footer = good.size() - kSeekTableFooterSize;
  uint32_t frames = get_le32(good, footer);

  std::string reserved = good;
  reserved[footer + 4] = static_cast<char>(0x84);
  expect_refused(reserved, ErrorKind::Input, "reserved descriptor bits");

  std::string huge = good;
  put_le32(huge, footer, 0x7FFFFFFF);
  expect_refused(huge, ErrorKind::Input, "exceed the limit");

  std::string too_many = good;
  put_le32(too_many, footer, 1000000);
  expect_refused(too_many, ErrorKind::Input, "do not fit in a file");

  std::string one_more = good;
  put_le32(one_more, footer, frames + 1);
  expect_refused(one_more, ErrorKind::Input, "seek table is invalid");

  // Entry 0 of the table starts 8 bytes into the seek table frame.
  const size_t table = good.size() - (kSkippableHeaderSize + 12 * frames + kSeekTableFooterSize);
  std::string longer = good;
  put_le32(longer, table + 8, get_le32(good, table + 8) + 1);
  expect_refused(longer, ErrorKind::Input, "add up to");

  std::string bomb = good;
  put_le32(bomb, table + 12, 1u << 30);
  expect_refused(bomb, ErrorKind::Input, "claims 1073741824 decompressed bytes, more than the limit");

  std::string empty_frame = good;
  put_le32(empty_frame, table + 12, 0);
  expect_refused(empty_frame, ErrorKind::Input, "frame 0 of the seek table holds no data");
}

TEST(HostileArchiveTest, ASeekTableDisagreeingWithItsFramesIsCaughtOnRead) {
  std::string good = good_bundle();
  auto entries = seek_table_of(good);
  ASSERT_GE(entries.size(), 4u);
  std::string body = good.substr(0, good.size() - encode_seek_table(entries).size());

  // Moving one byte from frame 0 to frame 1 keeps the total: only the frames can tell.
  auto shifted = entries;
  shifted[0].decompressed_size -= 1;
  shifted[1].decompressed_size += 1;
  expect_entry_refused(body + encode_seek_table(shifted), "oci-layout", ErrorKind::Integrity,
                       "but the seek table says");

  auto wrong_sum = entries;
  wrong_sum[0].checksum ^= 1;
  expect_entry_refused(body + encode_seek_table(wrong_sum), "oci-layout", ErrorKind::Integrity,
                       "checksum disagrees with the seek table");
}

TEST(HostileArchiveTest, DamagedFrameDataIsCaughtByItsChecksum) {
  std::string good = good_bundle();
  auto entries = seek_table_of(good);
  // Frame 1 holds random bytes of the 200 kB blob, stored raw: only the checksum sees a flip.
  std::string flipped = good;
  flipped[entries[0].compressed_size + entries[1].compressed_size / 2] ^= 0x10;
  expect_entry_refused(flipped, "blobs/sha256/big", ErrorKind::Integrity, "is damaged");
}

TEST(HostileArchiveTest, TablesOfContentsThatLieAreRefused) {
  CraftedTar tar = three_files();
  ASSERT_NO_THROW(Written w(with_toc(tar, encode_toc(tar.toc))); ArchiveReader r(w.path));

  Toc beyond = tar.toc;
  beyond.entries[2].size = 1000000000;
  expect_refused(with_toc(tar, encode_toc(beyond)), ErrorKind::Input, "ends beyond the tar stream");

  Toc outside = tar.toc;
  outside.entries[1].header_offset = 1ull << 40;
  expect_refused(with_toc(tar, encode_toc(outside)), ErrorKind::Input, "overlap or leave a gap");

  Toc overlapping = tar.toc;
  overlapping.entries[1].header_offset -= 512;
  overlapping.entries[1].data_offset -= 512;
  expect_refused(with_toc(tar, encode_toc(overlapping)), ErrorKind::Input, "overlap or leave a gap");

  Toc no_header = tar.toc;
  no_header.entries[0].data_offset = 0;
  expect_refused(with_toc(tar, encode_toc(no_header)), ErrorKind::Input, "has a header of");

  Toc missing_last = tar.toc;
  missing_last.entries.pop_back();
  expect_refused(with_toc(tar, encode_toc(missing_last)), ErrorKind::Input, "end-of-archive marker");

  CraftedTar padded = tar;
  padded.bytes += std::string(512, '\0');
  expect_refused(with_toc(padded, encode_toc(tar.toc)), ErrorKind::Input, "end-of-archive marker");

  expect_refused(with_toc(tar, "not json"), ErrorKind::Input, "not a JSON object");
  expect_refused(with_toc(tar, R"({"mediaType":"application/json","formatVersion":1,"entries":[]})"),
                 ErrorKind::Input, "mediaType is not");
  std::string v2 = encode_toc(tar.toc);
  v2.replace(v2.find("\"formatVersion\":1"), 17, "\"formatVersion\":2");
  expect_refused(with_toc(tar, v2), ErrorKind::Input, "format version 2 is not supported");
  std::string negative = encode_toc(tar.toc);
  negative.replace(negative.find("\"size\":4"), 8, "\"size\":-4");
  expect_refused(with_toc(tar, negative), ErrorKind::Input, "no unsigned integer 'size'");

  expect_refused(frame_archive(tar.bytes, skippable_frame(0x184D2A50, encode_toc(tar.toc))), ErrorKind::Input,
                 "not a sealift table of contents");
}

// First review, open item 12: the TOC is read and parsed before any signature is checked, so its
// size is bounded by the tar stream it describes (each entry takes at least one tar block), not
// only by 64 MiB: a few kilobytes of tar cannot come with megabytes of JSON.
TEST(HostileArchiveTest, ATableOfContentsLargerThanItsTarCanNeedIsRefused) {
  CraftedTar tar = three_files();
  const std::string toc = encode_toc(tar.toc);
  ASSERT_LE(toc.size(), max_toc_size(tar.bytes.size()));
  // JSON allows the padding: only the size can tell.
  const std::string padded = toc + std::string(max_toc_size(tar.bytes.size()) + 1 - toc.size(), ' ');
  ASSERT_NO_THROW(Written w(with_toc(tar, toc)); ArchiveReader r(w.path));
  expect_refused(with_toc(tar, padded), ErrorKind::Input,
                 fmt::format("the table of contents frame is {} bytes, more than the {} bytes a tar stream of {} bytes "
                             "can need",
                             padded.size() + 8, max_toc_size(tar.bytes.size()) + 8, tar.bytes.size()));
  EXPECT_THROW(parse_toc(padded, tar.bytes.size()), Error);
  // Writers and readers agree: a TOC of the longest names sealift writes fits its bound.
  std::vector<TarItem> long_names;
  for (int i = 0; i < 8; ++i) long_names.push_back({std::string(kMaxNameSize - 1, static_cast<char>('a' + i)) + "\"", ""});
  CraftedTar longest = craft_tar(long_names);
  EXPECT_LE(encode_toc(longest.toc).size(), max_toc_size(longest.bytes.size()));
}

TEST(HostileArchiveTest, DuplicateAndUnsafeNamesAreRefused) {
  CraftedTar dup = craft_tar({{"blobs/x", "first"}, {"blobs/x", "second, different"}});
  expect_refused(with_toc(dup, encode_toc(dup.toc)), ErrorKind::Input, "'blobs/x' is listed twice");

  for (auto [name, why] : {std::pair{"../x", "'..'"}, std::pair{"/etc/x", "absolute path"},
                           std::pair{"blobs/../../x", "'..'"}, std::pair{"./index.json", "'.' component"},
                           std::pair{"blobs//x", "empty path component"}, std::pair{"a\\b", "backslash"}}) {
    CraftedTar t = craft_tar({{name, "evil"}});
    expect_refused(with_toc(t, encode_toc(t.toc)), ErrorKind::Input, why);
  }
}

TEST(HostileArchiveTest, TarHeadersThatDisagreeWithTheTocAreRefused) {
  auto refused = [](const CraftedTar& tar, const Toc& toc, const std::string& entry, const std::string& why) {
    expect_entry_refused(with_toc(tar, encode_toc(toc)), entry, ErrorKind::Integrity, why);
  };
  CraftedTar symlink = craft_tar({{"blobs/sha256/aaa", "", AE_IFLNK, "/etc/shadow"}});
  refused(symlink, symlink.toc, "blobs/sha256/aaa", "it is a symbolic link, not a regular file");

  CraftedTar hardlink = craft_tar({{"blobs/a", "aaaa"}, {"blobs/b", "", AE_IFREG, "blobs/a"}});
  refused(hardlink, hardlink.toc, "blobs/b", "it is a hard link, not a regular file");

  CraftedTar directory = craft_tar({{"blobs", "", AE_IFDIR}});
  refused(directory, directory.toc, "blobs", "it is a directory, not a regular file");

  CraftedTar fifo = craft_tar({{"blobs/pipe", "", AE_IFIFO}});
  refused(fifo, fifo.toc, "blobs/pipe", "it is a FIFO");

  CraftedTar tar = three_files();
  Toc renamed = tar.toc;
  renamed.entries[1].name = "blobs/good";
  refused(tar, renamed, "blobs/good", "it names 'blobs/b'");

  Toc resized = tar.toc;
  resized.entries[0].size = 10;  // still within the same tar block: only the header can tell
  refused(tar, resized, "blobs/a", "it gives a size of 4 bytes, not 10");

  // A symlink header hidden in front of a regular file's header, inside the space the TOC gives
  // to the regular file: `tar x` would create the symlink.
  CraftedTar hidden = craft_tar({{"blobs/x", "", AE_IFLNK, "/etc"}, {"blobs/y", "data"}});
  Toc one = hidden.toc;
  one.entries.erase(one.entries.begin());
  one.entries[0].header_offset = 0;
  refused(hidden, one, "blobs/y", "disagrees with the table of contents for 'blobs/y'");

  CraftedTar damaged = three_files();
  damaged.bytes[damaged.toc.entries[1].header_offset + 3] ^= 1;  // in blobs/b's name: its tar checksum fails
  refused(damaged, damaged.toc, "blobs/b", "it is not a tar header");
}

// Bytes that no digest covers: the padding after each entry, the end-of-archive marker and the
// header fields beyond name, type and size. `tar x` reads all of them, so a bundle that carries
// anything there other than what the writer writes is refused, naming the offset.
TEST(HostileArchiveTest, BytesThatNoDigestCoversMustBeWhatTheWriterWrites) {
  // The writer's own bundle passes every check, with a modification time other than 0.
  {
    TempDir dir;
    write_bundle(dir / "b", sample_payloads(), small_frames());
    ArchiveReader r(dir / "b");
    for (const auto& e : r.entries()) EXPECT_NO_THROW(read_entry(r, e.name)) << e.name;
    EXPECT_NO_THROW(r.check_end_of_archive());
  }

  // A symlink over a blob, hidden in the end-of-archive marker: every listed entry is intact...
  CraftedTar tail = with_member_in_the_end_marker(
      {{"blobs/a", "aaaa"}, {"blobs/b", std::string(1000, 'b')}, {"blobs/sha256/abc", "", AE_IFLNK, "/etc/shadow"}});
  const uint64_t hidden_at = tail.toc.entries.back().end();
  Written hidden(with_toc(tail, encode_toc(tail.toc)));
  // ...but tar extracts the symlink,
  EXPECT_NE(sh("zstd -dcq " + hidden.path.string() + " | tar -tv 2>&1 || true").find("blobs/sha256/abc -> /etc/shadow"),
            std::string::npos);
  ArchiveReader r(hidden.path);
  for (const auto& e : r.entries()) EXPECT_NO_THROW(read_entry(r, e.name)) << e.name;
  // so the marker is checked.
  expect_error([&] { r.check_end_of_archive(); }, ErrorKind::Integrity,
               fmt::format("a non-zero byte at offset {} of the tar stream, in the end-of-archive marker", hidden_at));

  // Padding after an entry: a byte behind blobs/a's 4 bytes of content.
  CraftedTar padded = three_files();
  const uint64_t padding_at = padded.toc.entries[0].data_offset + 4 + 100;
  padded.bytes[padding_at] = 'x';
  expect_entry_refused(with_toc(padded, encode_toc(padded.toc)), "blobs/a", ErrorKind::Integrity,
                       fmt::format("a non-zero byte at offset {} of the tar stream, in the padding after 'blobs/a'",
                                   padding_at));
  // Resuming a read halfway still reaches the padding check at the end.
  {
    Written w(with_toc(padded, encode_toc(padded.toc)));
    ArchiveReader reader(w.path);
    expect_error([&] { read_entry(reader, "blobs/a", 2); }, ErrorKind::Integrity, "in the padding after 'blobs/a'");
    EXPECT_EQ(read_entry(reader, "blobs/b"), std::string(1000, 'b'));
  }

  // Header fields that tar applies, changed with a valid header checksum.
  struct Change {
    size_t field;
    std::string value;
    std::string refusal;
  };
  const std::vector<Change> changes = {
      {kUstarMode, "0004755", "its mode is 4755, not 0644"},
      {kUstarUid, "0001750", "its owner is uid 1000 gid 0, not 0 0"},
      {kUstarUname, "root", "it names owner 'root' and group ''"},
      {kUstarDevmajor, "000001", "byte 334 of its header is 0x31 where sealift writes 0x30"},
  };
  for (const Change& c : changes) {
    SCOPED_TRACE(c.refusal);
    CraftedTar tar = three_files();
    const uint64_t header = tar.toc.entries[1].header_offset;
    set_ustar_field(tar.bytes, header, c.field, c.value);
    expect_entry_refused(with_toc(tar, encode_toc(tar.toc)), "blobs/b", ErrorKind::Integrity,
                         fmt::format("the tar header at offset {}", header + (c.field == kUstarDevmajor ? 334 : 0)));
    expect_entry_refused(with_toc(tar, encode_toc(tar.toc)), "blobs/b", ErrorKind::Integrity, c.refusal);
  }

  // One entry's modification time differs from the others'.
  CraftedTar dated = three_files();
  set_ustar_field(dated.bytes, dated.toc.entries[2].header_offset, kUstarMtime, "14524770400");
  Written w(with_toc(dated, encode_toc(dated.toc)));
  ArchiveReader reader(w.path);
  EXPECT_EQ(read_entry(reader, "blobs/a"), "aaaa");
  expect_error([&] { read_entry(reader, "blobs/c"); }, ErrorKind::Integrity,
               fmt::format("the tar header at offset {} gives 'blobs/c' the modification time 1700000000, where the "
                           "bundle's other entries have 0",
                           dated.toc.entries[2].header_offset));
}

// A bundle of one zstd frame that the seek table says holds 64 KiB: one entry of 63,488 bytes
// whose (zero) header is never reached because the frame is refused first.
std::string one_frame_bundle(const std::string& frame, uint32_t claimed) {
  Toc toc;
  toc.entries.push_back({"blob", 0, 512, claimed - 512 - kTarEndSize});
  std::string toc_bytes = toc_frame(encode_toc(toc));
  std::vector<SeekEntry> table = {{static_cast<uint32_t>(frame.size()), claimed, get_le32(frame, frame.size() - 4)},
                                  {static_cast<uint32_t>(toc_bytes.size()), 0, kEmptyChecksum}};
  return frame + toc_bytes + encode_seek_table(table);
}

TEST(HostileArchiveTest, DecompressionBombsAreRefusedBeforeDecompressing) {
  // 512 MiB of zeros compress to a few kilobytes; the frame says so in its header.
  std::string bomb = zero_frame(512u << 20, true, true);
  ASSERT_LT(bomb.size(), 100000u);
  expect_entry_refused(one_frame_bundle(bomb, 65536), "blob", ErrorKind::Integrity,
                       "declares 536870912 decompressed bytes but the seek table says 65536");

  std::string unsized = zero_frame(65536, false, true);
  expect_entry_refused(one_frame_bundle(unsized, 65536), "blob", ErrorKind::Integrity,
                       "does not declare its decompressed size");

  std::string unchecked = zero_frame(65536, true, false);
  expect_entry_refused(one_frame_bundle(unchecked, 65536), "blob", ErrorKind::Integrity, "carries no content checksum");

  // Bytes after the frame, inside the space the seek table gives it.
  std::string frame = zero_frame(65536, true, true);
  expect_entry_refused(one_frame_bundle(frame + "more", 65536), "blob", ErrorKind::Integrity, "does not fill the");
}

TEST(HostileArchiveTest, RandomDamageIsRefusedOrHarmless) {
  TempDir dir;
  std::vector<Payload> payloads = {{"oci-layout", "{}"},
                                   {"index.json", std::string(3000, 'i')},
                                   {"blobs/sha256/one", random_bytes(150000, 1)},
                                   {"blobs/sha256/two", std::string(90000, 'z')}};
  WriterOptions o;
  o.compression.frame_size = 64 * 1024;
  o.compression.threads = 1;
  write_bundle(dir / "good", payloads, o);
  const std::string good = util::read_file(dir / "good");

  std::mt19937 rng(42);
  int refused = 0, harmless = 0;
  for (int i = 0; i < 400; ++i) {
    std::string bad = good;
    size_t at = rng() % bad.size();
    bad[at] = static_cast<char>(bad[at] ^ (1 + rng() % 255));
    util::write_file_atomic(dir / "bad", bad);
    try {
      ArchiveReader r(dir / "bad");
      for (const Payload& p : payloads) ASSERT_EQ(read_entry(r, p.name), p.content) << "flip at " << at;
      ++harmless;
    } catch (const Error&) {
      ++refused;
    }
  }
  // Harmless flips exist (JSON whitespace cannot be damaged, but tar fields libarchive ignores can).
  EXPECT_GT(refused, 350);
  EXPECT_EQ(refused + harmless, 400);
}

}  // namespace
}  // namespace sealift::bundle
