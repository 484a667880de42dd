// Reads a bundle archive in place, from its file or its split parts, without unpacking it: the
// seek table and table of contents at its end locate any entry, and only the frames holding that
// entry are decompressed. Everything read from the file is checked before use (see
// docs/bundle-format.md, "Reader rules"); a hostile or damaged bundle gets Error(Input) or
// Error(Integrity), never unbounded memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bundle/parted_file.h"
#include "bundle/seekable_format.h"
#include "bundle/toc.h"
#include "io/stream.h"

namespace sealift::bundle {

// One zstd frame of the tar stream, as the seek table places it.
struct Frame {
  uint64_t compressed_offset = 0;
  uint32_t compressed_size = 0;
  uint64_t offset = 0;  // in the decompressed tar stream
  uint32_t size = 0;
  uint32_t checksum = 0;
  bool has_checksum = false;
};

class ArchiveReader {
 public:
  // `path`: the bundle file, its first part, or the base name of its parts.
  explicit ArchiveReader(const std::filesystem::path& path);

  const std::vector<TocEntry>& entries() const { return toc_.entries; }
  // nullptr when the bundle has no such entry.
  const TocEntry* find(std::string_view name) const;

  // The content of an entry, decompressed on demand; the reader must outlive it. Before the first
  // byte, the tar header at the entry's place is checked to name a regular file with the TOC's
  // name and size. Any number of sources may be open and read at once, from any threads. Throws
  // Error(Input) for an unknown name.
  std::unique_ptr<io::Source> open(std::string_view name) const;
  // The same, starting `offset` bytes into the entry (to resume an interrupted transfer).
  std::unique_ptr<io::Source> open_at(std::string_view name, uint64_t offset) const;
  // The whole content of a small entry (metadata); refuses entries larger than max_size.
  std::string read_small(std::string_view name, uint64_t max_size = 16 << 20) const;

  const std::vector<Frame>& frames() const { return frames_; }
  uint64_t tar_size() const { return tar_size_; }
  const PartedFile& file() const { return file_; }

 private:
  friend class EntrySource;
  const TocEntry& entry(std::string_view name) const;

  PartedFile file_;
  std::vector<Frame> frames_;
  uint64_t tar_size_ = 0;
  Toc toc_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace sealift::bundle
