// The zstd seekable format (facebook/zstd contrib/seekable_format, version 0.1.0): the data is cut
// into independent zstd frames and the file ends with a seek table, in a skippable frame, listing
// every frame's compressed and decompressed size. Plain zstd skips the table; a reader that finds
// it can decompress any range without starting from the beginning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sealift::bundle {

inline constexpr uint32_t kZstdFrameMagic = 0xFD2FB528;
inline constexpr uint32_t kSkippableMagicFirst = 0x184D2A50;  // skippable frames: 0x184D2A50..5F
inline constexpr uint32_t kSeekTableMagic = 0x184D2A5E;
inline constexpr uint32_t kSeekableMagic = 0x8F92EAB1;
inline constexpr size_t kSkippableHeaderSize = 8;  // magic + payload size
inline constexpr size_t kSeekTableFooterSize = 9;  // number of frames, descriptor, seekable magic

// Low 32 bits of XXH64 of no bytes: the checksum of a frame that holds no data (a skippable one).
inline constexpr uint32_t kEmptyChecksum = 0x51D8E999;

// Limits a reader enforces so that a hostile file cannot make it allocate without bound. The
// writer stays well inside them.
inline constexpr uint32_t kMaxFrameDecompressedSize = 32u << 20;
inline constexpr uint32_t kMaxFrames = 1u << 22;

// One seek table entry. Skippable frames are listed with a decompressed size of 0.
struct SeekEntry {
  uint32_t compressed_size = 0;
  uint32_t decompressed_size = 0;
  uint32_t checksum = 0;  // low 32 bits of XXH64 of the frame's decompressed bytes
};

uint32_t read_le32(const std::byte* p);

// A complete skippable frame: magic, payload size, payload.
std::string skippable_frame(uint32_t magic, std::string_view payload);

// The seek table frame, with checksums, that ends a seekable file.
std::string encode_seek_table(std::span<const SeekEntry> entries);

// What the last 9 bytes of a file say about its seek table. Throws Error(Input) when they are not
// a seekable footer, or when the table they announce cannot fit in a file of file_size bytes.
struct SeekTableFooter {
  uint32_t frames = 0;
  bool checksums = false;
  uint64_t table_size = 0;  // the whole skippable frame holding the table, footer included
};
SeekTableFooter parse_seek_table_footer(std::span<const std::byte> footer, uint64_t file_size);

// Parses the whole seek table frame (table_size bytes ending the file). Throws Error(Input).
std::vector<SeekEntry> parse_seek_table(std::span<const std::byte> table, const SeekTableFooter& footer);

}  // namespace sealift::bundle
