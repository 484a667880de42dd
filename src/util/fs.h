// Files written the safe way: to a temp name beside the target, fsync'd, then renamed, so a reader
// never sees half a file and a failure leaves nothing behind.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "io/stream.h"

namespace sealift::util {

std::string read_file(const std::filesystem::path& path);
// Writes atomically; mode applies to the final file (0600 for keys).
void write_file_atomic(const std::filesystem::path& path, std::string_view data, unsigned mode = 0644);

// A file being written under a temporary name; commit() fsyncs and renames it into place, and
// the destructor removes it if commit() was never reached.
class AtomicFile : public io::Sink {
 public:
  explicit AtomicFile(std::filesystem::path target, unsigned mode = 0644);
  ~AtomicFile() override;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::span<const std::byte> buf) override;
  // Renames the file into place. `durable`: flushed to the disk first (fsync), so that a crash
  // leaves either nothing or the whole file; a store that checks its files on use can skip that.
  void commit(bool durable = true);
  // From now on, hands every full 8 MiB written to the disk's write-back at once (sync_file_range,
  // without waiting), so that commit()'s fsync waits for the tail only. Without it, a machine with
  // much RAM keeps a whole bundle dirty in memory until that fsync, which then writes it all at
  // disk speed while nothing else runs. For large files that are committed durable.
  void write_behind() { write_behind_ = true; }
  int fd() const { return fd_; }
  const std::filesystem::path& temp_path() const { return temp_; }

 private:
  std::filesystem::path target_, temp_;
  int fd_ = -1;
  bool committed_ = false;
  bool write_behind_ = false;
  uint64_t written_ = 0, handed_off_ = 0;
};

// Reads a file as a Source.
class FileSource : public io::Source {
 public:
  explicit FileSource(const std::filesystem::path& path);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  size_t read(std::span<std::byte> buf) override;

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace sealift::util
