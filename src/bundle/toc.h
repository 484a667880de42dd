// The table of contents of a bundle: where each tar entry lies in the decompressed tar stream. It
// travels as JSON in a skippable frame just before the seek table, so a reader can open any entry
// without scanning the tar.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sealift::bundle {

inline constexpr uint32_t kTocMagic = 0x184D2A5D;  // a zstd skippable frame magic of our own
inline constexpr std::string_view kTocMediaType = "application/vnd.sealift.bundle.toc.v1+json";
inline constexpr int kTocFormatVersion = 1;  // the bundle format version this TOC belongs to
inline constexpr uint64_t kTarBlock = 512;
// Tar writes two zero blocks after the last entry.
inline constexpr uint64_t kTarEndSize = 2 * kTarBlock;
// The headers of one entry (a pax extended header and the ustar header) never need more.
inline constexpr uint64_t kMaxHeaderSize = 64 * 1024;
inline constexpr size_t kMaxTocSize = 64u << 20;
inline constexpr size_t kMaxNameSize = 1024;
// What encode_toc writes at most: per entry, the name with every byte escaped and three 20-digit
// numbers with their keys; once, the document around the entries.
inline constexpr uint64_t kMaxTocEntrySize = 2 * kMaxNameSize + 128;
inline constexpr uint64_t kTocOverhead = 1024;

// The largest TOC a tar stream of `tar_size` bytes can need (each entry takes at least one tar
// block), and never more than kMaxTocSize. A reader refuses a larger one before reading it, so a
// small stream cannot make it read and parse megabytes of JSON before the signature is checked.
uint64_t max_toc_size(uint64_t tar_size);

// One regular file in the tar stream. Offsets count decompressed bytes from the start of the tar.
struct TocEntry {
  std::string name;
  uint64_t header_offset = 0;  // first byte of its tar header(s)
  uint64_t data_offset = 0;    // first byte of its content
  uint64_t size = 0;

  uint64_t end() const { return (data_offset + size + kTarBlock - 1) / kTarBlock * kTarBlock; }
};

struct Toc {
  std::vector<TocEntry> entries;  // in stream order
};

std::string encode_toc(const Toc& toc);

// Parses and checks a TOC against the length of the tar stream it describes: at most
// max_toc_size(tar_size) bytes, entries follow each other without gaps or overlaps from offset 0
// to the end-of-archive marker, names are safe and unique. Throws Error(Input) naming the problem.
Toc parse_toc(std::string_view json, uint64_t tar_size);

// Throws Error(Input) unless `name` is a safe relative path: no "..", ".", empty components,
// leading "/", backslashes or characters outside printable ASCII.
void check_entry_name(std::string_view name);

// A name as it can be shown in a message: bytes outside printable ASCII escaped, at most 200 kept.
std::string printable_name(std::string_view name);

}  // namespace sealift::bundle
