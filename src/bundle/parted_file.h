// A bundle on disk is one file or numbered parts (bundle.tar.zst.000, .001, …) with a
// sha256sum-compatible checksum file (bundle.tar.zst.sha256). Parts are plain byte slices of the
// one file, cut at split_size: `cat bundle.tar.zst.??? > bundle.tar.zst` joins them. Readers use
// the parts in place, never joined.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/stream.h"
#include "oci/digest.h"
#include "util/fs.h"

namespace sealift::bundle {

// The name of part `index` of the bundle `base`: "<base>.000".
std::filesystem::path part_path(const std::filesystem::path& base, size_t index);
// "<base>.sha256".
std::filesystem::path checksum_path(const std::filesystem::path& base);

// Reads a bundle as one byte range, across its parts. Thread-safe: reads use pread only.
class PartedFile {
 public:
  // `path` is the bundle file, its first part ("….000") or the base name of its parts. When a
  // checksum file sits beside the parts, it names the parts (so stale extra parts are ignored).
  explicit PartedFile(const std::filesystem::path& path);
  ~PartedFile();
  PartedFile(const PartedFile&) = delete;
  PartedFile& operator=(const PartedFile&) = delete;

  uint64_t size() const { return size_; }
  // Reads exactly buf.size() bytes at offset; throws Error(Input) past the end, Error(Io) on failure,
  // and Error(Integrity) when a part is no longer the file it was when this opened it (replaced,
  // or its size or modification time changed).
  void read_at(uint64_t offset, std::span<std::byte> buf) const;
  const std::vector<std::filesystem::path>& paths() const { return paths_; }
  // What the user named (for messages).
  const std::filesystem::path& name() const { return name_; }

 private:
  static constexpr size_t kMaxOpenParts = 128;

  // What a part was when it was first opened: a part replaced, or written to, since is refused.
  struct Identity {
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_sec = 0, mtime_nsec = 0;
    bool operator==(const Identity&) const = default;
  };
  static Identity identity_of(int fd, const std::filesystem::path& p);

  void open_part(const std::filesystem::path& p, bool is_part);
  void read_part(size_t part, uint64_t offset, std::span<std::byte> buf) const;
  void close_all();

  std::filesystem::path name_;
  std::vector<std::filesystem::path> paths_;
  std::vector<Identity> identities_;
  std::vector<int> fds_;  // -1: opened for each read
  std::vector<uint64_t> starts_;  // offset of each part in the whole; one more entry: the total
  uint64_t size_ = 0;
};

// Where a bundle is written: one file, or parts of split_size bytes. Everything goes to temporary
// names until commit(); a writer destroyed before that leaves nothing behind.
class PartedOutput : public io::Sink {
 public:
  static constexpr uint64_t kMinSplitSize = 64 * 1024;
  static constexpr size_t kMaxParts = 1000;

  // split_size 0 writes one file.
  PartedOutput(std::filesystem::path path, uint64_t split_size);
  ~PartedOutput() override;

  void write(std::span<const std::byte> buf) override;
  // Flushes and renames every part into place, writes the checksum file (split bundles), and
  // removes parts, checksum file or unsplit file left by an earlier bundle of the same name.
  // Returns the files written, in order.
  std::vector<std::filesystem::path> commit();
  uint64_t size() const { return size_; }
  // The temporary files written so far, in order (until commit()).
  std::vector<std::filesystem::path> temp_paths() const;

 private:
  struct Part {
    std::unique_ptr<util::AtomicFile> file;
    std::unique_ptr<oci::Sha256> hash;  // split parts only
    uint64_t size = 0;
  };
  void start_part();
  void remove_stale(size_t first_stale_part) const;

  std::filesystem::path path_;
  uint64_t split_size_;
  std::vector<Part> parts_;
  uint64_t size_ = 0;
};

}  // namespace sealift::bundle
