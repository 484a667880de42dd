#include "bundle/tar_header.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <string>

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::bundle {

namespace {

const char* kind_of(archive_entry* e) {
  if (archive_entry_hardlink(e)) return "hard link";
  switch (archive_entry_filetype(e)) {
    case AE_IFREG: return "regular file";
    case AE_IFLNK: return "symbolic link";
    case AE_IFDIR: return "directory";
    case AE_IFCHR: return "character device";
    case AE_IFBLK: return "block device";
    case AE_IFIFO: return "FIFO";
    case AE_IFSOCK: return "socket";
    default: return "entry of unknown type";
  }
}

using ArchivePtr = std::unique_ptr<archive, int (*)(archive*)>;
using EntryPtr = std::unique_ptr<archive_entry, void (*)(archive_entry*)>;

}  // namespace

void describe_entry(archive_entry* e, const std::string& name, uint64_t size, int64_t mtime) {
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_size(e, static_cast<la_int64_t>(size));
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, kEntryMode);
  archive_entry_set_mtime(e, mtime, 0);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
}

std::string entry_header(const std::string& name, uint64_t size, int64_t mtime) {
  ArchivePtr a(archive_write_new(), archive_write_free);
  EntryPtr e(archive_entry_new(), archive_entry_free);
  if (!a || !e) throw Error(ErrorKind::Internal, "cannot create a tar writer");
  // Only the header is wanted: once it is written the sink refuses more, so closing does not pad
  // out `size` bytes of data (and the writer still frees everything it holds).
  struct Sink {
    std::string out;
    bool full = false;
  } sink;
  auto append = [](archive*, void* to, const void* buf, size_t n) -> la_ssize_t {
    auto* s = static_cast<Sink*>(to);
    if (s->full) return -1;
    s->out.append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  describe_entry(e.get(), name, size, mtime);
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(a.get(), 0) != ARCHIVE_OK ||
      archive_write_open(a.get(), &sink, nullptr, append, nullptr) != ARCHIVE_OK ||
      archive_write_header(a.get(), e.get()) != ARCHIVE_OK) {
    const char* why = archive_error_string(a.get());
    throw Error(ErrorKind::Internal, fmt::format("cannot write a tar header: {}", why ? why : "libarchive failed"));
  }
  sink.full = true;
  archive_write_close(a.get());
  return std::move(sink.out);
}

int64_t check_tar_header(std::span<const std::byte> header, const TocEntry& entry) {
  auto refuse_at = [&](uint64_t offset, const std::string& problem) {
    throw Error(ErrorKind::Integrity,
                fmt::format("the tar header at offset {} disagrees with the table of contents for '{}': {}", offset,
                            printable_name(entry.name), problem),
                "the bundle was altered or damaged; do not use it");
  };
  auto refuse = [&](const std::string& problem) { refuse_at(entry.header_offset, problem); };
  ArchivePtr a(archive_read_new(), archive_read_free);
  if (!a) throw Error(ErrorKind::Internal, "cannot create a tar reader");
  archive_read_support_format_tar(a.get());
  auto why = [&] {
    const char* s = archive_error_string(a.get());
    return std::string(s ? s : "no entry");
  };
  if (archive_read_open_memory(a.get(), header.data(), header.size()) != ARCHIVE_OK) {
    refuse(fmt::format("it is not a tar header ({})", why()));
  }
  archive_entry* e = nullptr;
  if (archive_read_next_header(a.get(), &e) != ARCHIVE_OK) refuse(fmt::format("it is not a tar header ({})", why()));
  if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) || archive_entry_symlink(e)) {
    refuse(fmt::format("it is a {}, not a regular file", kind_of(e)));
  }
  const char* path = archive_entry_pathname(e);
  if (!path || entry.name != path) refuse(fmt::format("it names '{}'", printable_name(path ? path : "")));
  if (archive_entry_sparse_count(e) != 0) refuse("it is a sparse file");
  if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0 ||
      static_cast<uint64_t>(archive_entry_size(e)) != entry.size) {
    refuse(fmt::format("it gives a size of {} bytes, not {}", archive_entry_size(e), entry.size));
  }
  // The headers must fill the space before the data exactly: anything left would be bytes that
  // `tar x` interprets and sealift does not see.
  la_int64_t consumed = archive_filter_bytes(a.get(), 0);
  if (consumed < 0 || static_cast<uint64_t>(consumed) != header.size()) {
    refuse(fmt::format("its headers take {} bytes but the table of contents leaves {} before the data", consumed,
                       header.size()));
  }
  // No signature covers header bytes: they must be exactly what the writer emits, so a mode, an
  // owner or any other field that `tar x` would apply cannot be slipped in.
  if (archive_entry_perm(e) != kEntryMode) refuse(fmt::format("its mode is {:04o}, not {:04o}", archive_entry_perm(e), kEntryMode));
  if (archive_entry_uid(e) != 0 || archive_entry_gid(e) != 0) {
    refuse(fmt::format("its owner is uid {} gid {}, not 0 0", archive_entry_uid(e), archive_entry_gid(e)));
  }
  const char* user = archive_entry_uname(e);
  const char* group = archive_entry_gname(e);
  if ((user && *user) || (group && *group)) {
    refuse(fmt::format("it names owner '{}' and group '{}', where sealift writes no names", printable_name(user ? user : ""),
                       printable_name(group ? group : "")));
  }
  int64_t mtime = archive_entry_mtime(e);
  if (mtime < 0 || archive_entry_mtime_nsec(e) != 0) {
    refuse(fmt::format("its modification time {}.{:09} is not a whole number of seconds since 1970", mtime,
                       archive_entry_mtime_nsec(e)));
  }
  std::string expected = entry_header(entry.name, entry.size, mtime);
  // The first byte that differs, naming a field's byte before the header checksum that follows
  // from it (bytes 148-155 of each 512-byte block).
  const size_t n = std::min(expected.size(), header.size());
  auto differs = [&](size_t i) { return static_cast<char>(header[i]) != expected[i]; };
  size_t first = n;
  for (size_t i = 0; i < n && first == n; ++i)
    if (differs(i) && (i % kTarBlock < 148 || i % kTarBlock >= 156)) first = i;
  for (size_t i = 0; i < n && first == n; ++i)
    if (differs(i)) first = i;
  if (first < n) {
    refuse_at(entry.header_offset + first,
              fmt::format("byte {} of its header is 0x{:02x} where sealift writes 0x{:02x}", first,
                          static_cast<unsigned>(header[first]), static_cast<unsigned char>(expected[first])));
  }
  if (expected.size() != header.size()) {
    refuse(fmt::format("its headers take {} bytes where sealift writes {}", header.size(), expected.size()));
  }
  return mtime;
}

}  // namespace sealift::bundle
