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

}  // namespace

void check_tar_header(std::span<const std::byte> header, const TocEntry& entry) {
  auto refuse = [&](const std::string& problem) {
    throw Error(ErrorKind::Integrity,
                fmt::format("the tar header at offset {} disagrees with the table of contents for '{}': {}",
                            entry.header_offset, entry.name, problem),
                "the bundle was altered or damaged; do not use it");
  };
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
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
}

}  // namespace sealift::bundle
