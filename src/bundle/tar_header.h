// The tar header(s) in front of an entry's data: the writer's one way of describing an entry, and
// the reader's check, with libarchive, that a header is exactly that, so what sealift reads is
// exactly what `tar x` would extract and no header byte escapes the signature's reach.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "bundle/toc.h"

struct archive_entry;

namespace sealift::bundle {

inline constexpr int kEntryMode = 0644;

// Sets what the writer records of every entry: a regular file of `size` bytes, mode 0644, owner and
// group 0 with no names, modification time `mtime`. Nothing else.
void describe_entry(archive_entry* e, const std::string& name, uint64_t size, int64_t mtime);

// The header bytes the writer emits for such an entry (a ustar header, after a pax extended header
// when ustar cannot hold the name or size).
std::string entry_header(const std::string& name, uint64_t size, int64_t mtime);

// `header` holds the bytes from entry.header_offset to entry.data_offset. Throws Error(Integrity),
// naming the field and the offset, unless they are byte for byte what the writer emits for a
// regular file with the entry's name and size: no link, device, directory or sparse file, no
// second header hidden among them, mode 0644, owner 0:0 without names. Returns the modification
// time, which the caller checks is the same for every entry of the archive.
int64_t check_tar_header(std::span<const std::byte> header, const TocEntry& entry);

}  // namespace sealift::bundle
