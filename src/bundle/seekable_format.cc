#include "bundle/seekable_format.h"

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::bundle {

namespace {

void put_le32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

[[noreturn]] void bad_table(const std::string& problem) {
  throw Error(ErrorKind::Input, "the bundle's zstd seek table is invalid: " + problem,
              "the file is damaged or truncated; copy it again and compare its checksum");
}

}  // namespace

uint32_t read_le32(const std::byte* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

std::string skippable_frame(uint32_t magic, std::string_view payload) {
  if (payload.size() > UINT32_MAX) {
    throw Error(ErrorKind::Internal, "a skippable frame cannot hold more than 4 GiB");
  }
  std::string out;
  out.reserve(kSkippableHeaderSize + payload.size());
  put_le32(out, magic);
  put_le32(out, static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

std::string encode_seek_table(std::span<const SeekEntry> entries) {
  if (entries.size() > kMaxFrames) {
    throw Error(ErrorKind::Internal, fmt::format("{} frames exceed the limit of {}", entries.size(), kMaxFrames),
                "use a larger frame size");
  }
  std::string payload;
  payload.reserve(entries.size() * 12 + kSeekTableFooterSize);
  for (const SeekEntry& e : entries) {
    put_le32(payload, e.compressed_size);
    put_le32(payload, e.decompressed_size);
    put_le32(payload, e.checksum);
  }
  put_le32(payload, static_cast<uint32_t>(entries.size()));
  payload.push_back(static_cast<char>(0x80));  // Checksum_Flag set, reserved bits zero
  put_le32(payload, kSeekableMagic);
  return skippable_frame(kSeekTableMagic, payload);
}

SeekTableFooter parse_seek_table_footer(std::span<const std::byte> footer, uint64_t file_size) {
  if (footer.size() != kSeekTableFooterSize) bad_table("the footer is not 9 bytes");
  if (read_le32(footer.data() + 5) != kSeekableMagic) {
    throw Error(ErrorKind::Input,
                "no zstd seek table at the end of the file: it is truncated, or it is not a sealift bundle",
                "a bundle ends with a seek table; check that the copy is complete (compare the checksum file)");
  }
  auto descriptor = static_cast<uint8_t>(footer[4]);
  if ((descriptor >> 2) & 0x1F) bad_table(fmt::format("reserved descriptor bits are set (0x{:02x})", descriptor));
  SeekTableFooter f;
  f.frames = read_le32(footer.data());
  f.checksums = descriptor & 0x80;
  if (f.frames > kMaxFrames) bad_table(fmt::format("{} frames exceed the limit of {}", f.frames, kMaxFrames));
  uint64_t entry_size = f.checksums ? 12 : 8;
  f.table_size = kSkippableHeaderSize + entry_size * f.frames + kSeekTableFooterSize;
  if (f.table_size > file_size) {
    bad_table(fmt::format("it announces {} frames, which do not fit in a file of {} bytes", f.frames, file_size));
  }
  return f;
}

std::vector<SeekEntry> parse_seek_table(std::span<const std::byte> table, const SeekTableFooter& footer) {
  if (table.size() != footer.table_size) bad_table("its size disagrees with its footer");
  if (read_le32(table.data()) != kSeekTableMagic) bad_table("the skippable frame magic is missing");
  if (read_le32(table.data() + 4) != footer.table_size - kSkippableHeaderSize) {
    bad_table("the skippable frame size disagrees with the number of frames");
  }
  std::vector<SeekEntry> entries(footer.frames);
  const std::byte* p = table.data() + kSkippableHeaderSize;
  for (SeekEntry& e : entries) {
    e.compressed_size = read_le32(p);
    e.decompressed_size = read_le32(p + 4);
    p += 8;
    if (footer.checksums) {
      e.checksum = read_le32(p);
      p += 4;
    }
  }
  return entries;
}

}  // namespace sealift::bundle
