// Writes a bundle archive: a tar of regular files (written by libarchive as pax/ustar), compressed
// into zstd frames, ended by a table of contents and a seek table (see docs/bundle-format.md).
// Entries are streamed in the order given; the caller puts the small metadata first. The output is
// written under temporary names and renamed into place by finish(); a writer destroyed before
// finish() leaves nothing behind. The same entries and options give byte-identical files.
#pragma once

#include <archive.h>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "bundle/parted_file.h"
#include "bundle/seekable_writer.h"
#include "bundle/toc.h"
#include "io/stream.h"

namespace sealift::bundle {

struct WriterOptions {
  uint64_t split_size = 0;  // 0: one file; otherwise parts <path>.000, .001, … of this many bytes
  CompressionOptions compression;
  int64_t mtime = 0;  // modification time of every entry (SOURCE_DATE_EPOCH for reproducible builds)
};

class ArchiveWriter {
 public:
  // Entries smaller than this share frames; larger ones start a frame of their own, so that
  // reading a layer never decompresses another entry's data.
  static constexpr uint64_t kSmallEntry = 64 * 1024;

  ArchiveWriter(std::filesystem::path path, WriterOptions options = {});
  ~ArchiveWriter();
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;

  // Streams one regular file of exactly `size` bytes from `content`. Throws Error(Input) when the
  // name is unsafe or already written, or when content ends early or runs long; after any error
  // the writer refuses further calls. `compressed`: the content is compressed already (a gzip or
  // zstd layer), so the frames it starts are stored, not run through zstd again.
  void add(const std::string& name, uint64_t size, io::Source& content, bool compressed = false);
  void add_bytes(const std::string& name, std::string_view content);
  // Ends the tar, appends the table of contents and the seek table, flushes and renames the
  // files into place. Returns them in order (parts, then the checksum file when split).
  std::vector<std::filesystem::path> finish();

  const Toc& toc() const { return toc_; }
  // The temporary files of the unfinished bundle, in order: what bundle/resume.h harvests when the
  // build fails.
  std::vector<std::filesystem::path> temp_paths() const { return output_.temp_paths(); }

 private:
  static la_ssize_t write_callback(archive* a, void* self, const void* buf, size_t size);
  void check_usable() const;
  void check_archive(int status, const std::string& what);

  WriterOptions options_;
  PartedOutput output_;
  SeekableWriter frames_;
  std::unique_ptr<archive, int (*)(archive*)> tar_{nullptr, archive_write_free};
  Toc toc_;
  std::unordered_set<std::string> names_;
  std::vector<std::byte> buffer_;
  std::exception_ptr callback_error_;
  bool failed_ = false;
  bool finished_ = false;
};

}  // namespace sealift::bundle
