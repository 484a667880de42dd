#include "bundle/archive_writer.h"

#include <archive_entry.h>

#include <algorithm>

#include <fmt/format.h>

#include "bundle/seekable_format.h"
#include "bundle/tar_header.h"
#include "util/error.h"

namespace sealift::bundle {

namespace fs = std::filesystem;

ArchiveWriter::ArchiveWriter(fs::path path, WriterOptions options)
    : options_(options), output_(std::move(path), options.split_size), frames_(output_, options.compression) {
  buffer_.resize(1 << 20);
  tar_.reset(archive_write_new());
  if (!tar_) throw Error(ErrorKind::Internal, "cannot create a tar writer");
  // pax "restricted" writes plain ustar headers and adds a pax extended header only for what ustar
  // cannot hold (long names, sizes of 8 GiB and more), so every tar reader understands it.
  check_archive(archive_write_set_format_pax_restricted(tar_.get()), "select the pax tar format");
  // Unblocked output: every header and data byte reaches the frames at once, so the positions
  // recorded in the table of contents are exact, and no padding follows the end-of-archive marker.
  check_archive(archive_write_set_bytes_per_block(tar_.get(), 0), "disable tar blocking");
  check_archive(archive_write_open(tar_.get(), this, nullptr, &write_callback, nullptr), "start the tar stream");
}

ArchiveWriter::~ArchiveWriter() {
  // libarchive closes the stream when it is freed; an unfinished bundle must not get its end.
  if (!finished_) failed_ = true;
}

la_ssize_t ArchiveWriter::write_callback(archive*, void* self, const void* buf, size_t size) {
  auto* w = static_cast<ArchiveWriter*>(self);
  if (w->failed_) return -1;
  try {
    w->frames_.write(std::span<const std::byte>(static_cast<const std::byte*>(buf), size));
    return static_cast<la_ssize_t>(size);
  } catch (...) {
    w->callback_error_ = std::current_exception();
    return -1;
  }
}

void ArchiveWriter::check_usable() const {
  if (finished_) throw Error(ErrorKind::Internal, "the bundle archive is already finished");
  if (failed_) throw Error(ErrorKind::Internal, "the bundle archive cannot be used after an earlier error");
}

void ArchiveWriter::check_archive(int status, const std::string& what) {
  if (status == ARCHIVE_OK) return;
  failed_ = true;
  if (callback_error_) std::rethrow_exception(callback_error_);
  const char* why = tar_ ? archive_error_string(tar_.get()) : nullptr;
  throw Error(ErrorKind::Internal, fmt::format("cannot {}: {}", what, why ? why : "libarchive failed"));
}

void ArchiveWriter::add(const std::string& name, uint64_t size, io::Source& content, bool compressed) {
  check_usable();
  check_entry_name(name);
  if (names_.count(name)) throw Error(ErrorKind::Input, fmt::format("'{}' is already in the bundle", name));
  try {
    if (size >= kSmallEntry || frames_.frame_fill() >= kSmallEntry) frames_.cut();
    // The entry that starts a frame decides how that frame and those cut inside the entry are
    // packed; a small entry sharing a frame goes with it.
    if (frames_.frame_fill() == 0) frames_.store(compressed);
    TocEntry entry{name, frames_.position(), 0, size};

    std::unique_ptr<archive_entry, void (*)(archive_entry*)> header(archive_entry_new(), archive_entry_free);
    describe_entry(header.get(), name, size, options_.mtime);
    check_archive(archive_write_header(tar_.get(), header.get()), "write the tar header of " + name);
    entry.data_offset = frames_.position();

    uint64_t left = size;
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buffer_.size(), left));
      size_t n = content.read(std::span<std::byte>(buffer_.data(), want));
      if (n == 0) {
        throw Error(ErrorKind::Input,
                    fmt::format("'{}': the content ended after {} of {} bytes", name, size - left, size));
      }
      la_ssize_t written = archive_write_data(tar_.get(), buffer_.data(), n);
      if (written < 0 || static_cast<size_t>(written) != n) check_archive(ARCHIVE_FATAL, "write " + name);
      left -= n;
    }
    std::byte probe;
    if (content.read(std::span<std::byte>(&probe, 1)) != 0) {
      throw Error(ErrorKind::Input, fmt::format("'{}': the content is longer than the declared {} bytes", name, size));
    }
    check_archive(archive_write_finish_entry(tar_.get()), "finish the tar entry " + name);
    if (frames_.position() != entry.end()) {
      throw Error(ErrorKind::Internal, fmt::format("the tar entry {} does not end on a tar block", name));
    }
    names_.insert(name);
    toc_.entries.push_back(std::move(entry));
  } catch (...) {
    failed_ = true;
    throw;
  }
}

void ArchiveWriter::add_bytes(const std::string& name, std::string_view content) {
  io::MemorySource source(std::span<const std::byte>(reinterpret_cast<const std::byte*>(content.data()), content.size()));
  add(name, content.size(), source);
}

std::vector<fs::path> ArchiveWriter::finish() {
  check_usable();
  try {
    check_archive(archive_write_close(tar_.get()), "end the tar stream");
    std::string toc = encode_toc(toc_);
    // The reader's checks, applied before anything is renamed into place: a bundle sealift writes
    // is always one it accepts.
    parse_toc(toc, frames_.position());
    frames_.add_skippable(skippable_frame(kTocMagic, toc));
    frames_.finish();
    finished_ = true;
  } catch (...) {
    failed_ = true;
    throw;
  }
  return output_.commit();
}

}  // namespace sealift::bundle
