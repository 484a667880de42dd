// Reads a bundle archive in place, from its file or its split parts, without unpacking it: the
// seek table and table of contents at its end locate any entry, and only the frames holding that
// entry are decompressed. Everything read from the file is checked before use (see
// docs/bundle-format.md, "Reader rules"); a hostile or damaged bundle gets Error(Input) or
// Error(Integrity), never unbounded memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
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

class ArchiveReader;
struct FrameBuffers;

// The content of one entry, decompressed frame by frame. Each frame is read through a small input
// buffer and decompressed, whole and checked, into a frame buffer borrowed from the reader and given
// back when the source is destroyed: memory per open entry is one frame plus about 400 KiB,
// whatever the entry's size, and buffers are reused across entries (no fresh allocation per entry).
class EntrySource : public io::Source {
 public:
  EntrySource(const ArchiveReader& reader, const TocEntry& entry, uint64_t offset);
  ~EntrySource() override;
  EntrySource(const EntrySource&) = delete;
  EntrySource& operator=(const EntrySource&) = delete;

  size_t read(std::span<std::byte> buf) override;
  // The next bytes of the entry, at most `max`, straight from the decompressed frame (no copy):
  // valid until the next call or the source's end. Empty at the end of the entry.
  std::span<const std::byte> next(size_t max = SIZE_MAX);
  uint64_t remaining() const { return end_ - pos_; }

 private:
  friend class ArchiveReader;
  // The raw bytes of the tar stream from `from` to `to`, outside any entry (no header to check).
  EntrySource(const ArchiveReader& reader, uint64_t from, uint64_t to);
  std::span<const std::byte> view(uint64_t pos, size_t max);
  void load(size_t index);
  void check_padding();
  void check_zero(std::span<const std::byte> bytes, uint64_t offset, const std::string& where) const;

  const ArchiveReader& reader_;
  std::unique_ptr<FrameBuffers> buffers_;
  const TocEntry* entry_ = nullptr;  // null for raw bytes
  size_t loaded_ = SIZE_MAX;
  uint64_t pos_ = 0, end_ = 0;
};

class ArchiveReader {
 public:
  // `path`: the bundle file, its first part, or the base name of its parts.
  explicit ArchiveReader(const std::filesystem::path& path);
  ~ArchiveReader();
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  const std::vector<TocEntry>& entries() const { return toc_.entries; }
  // nullptr when the bundle has no such entry.
  const TocEntry* find(std::string_view name) const;

  // The content of an entry, decompressed on demand; the reader must outlive it. Before the first
  // byte, the tar header at the entry's place is checked to name a regular file with the TOC's
  // name and size. Any number of sources may be open and read at once, from any threads. Throws
  // Error(Input) for an unknown name.
  std::unique_ptr<EntrySource> open(std::string_view name) const;
  // The same, starting `offset` bytes into the entry (to resume an interrupted transfer).
  std::unique_ptr<EntrySource> open_at(std::string_view name, uint64_t offset) const;
  // The whole content of a small entry (metadata); refuses entries larger than max_size.
  std::string read_small(std::string_view name, uint64_t max_size = 16 << 20) const;

  // Throws Error(Integrity) unless the end-of-archive marker after the last entry is all zeros:
  // the entries' own bytes are covered by digests and their headers and padding are checked when
  // they are read, so this leaves no byte of the tar stream that `tar x` reads unchecked.
  void check_end_of_archive() const;

  const std::vector<Frame>& frames() const { return frames_; }
  uint64_t tar_size() const { return tar_size_; }
  const PartedFile& file() const { return file_; }

 private:
  friend class EntrySource;
  const TocEntry& entry(std::string_view name) const;
  // Every entry's header carries the same modification time (the writer's one value).
  void check_mtime(int64_t mtime, const TocEntry& entry) const;
  // Decompression contexts and buffers of closed sources, for the next ones; at most this many
  // are kept (a push reads 8 entries at once).
  static constexpr size_t kPooledBuffers = 16;
  std::unique_ptr<FrameBuffers> take_buffers() const;
  void give_back(std::unique_ptr<FrameBuffers> buffers) const;

  PartedFile file_;
  std::vector<Frame> frames_;
  uint64_t tar_size_ = 0;
  Toc toc_;
  std::unordered_map<std::string, size_t> index_;
  mutable std::atomic<int64_t> mtime_{-1};  // of the first header checked; -1 before
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<FrameBuffers>> pool_;
};

}  // namespace sealift::bundle
