// The tar header(s) in front of an entry's data, checked against the table of contents with
// libarchive, so what sealift reads is exactly what `tar x` would extract.
#pragma once

#include <cstddef>
#include <span>

#include "bundle/toc.h"

namespace sealift::bundle {

// `header` holds the bytes from entry.header_offset to entry.data_offset. Throws Error(Integrity)
// unless they are the header(s) of exactly one regular file with the entry's name and size: no
// link, device, directory or sparse file, and no second header hidden among them.
void check_tar_header(std::span<const std::byte> header, const TocEntry& entry);

}  // namespace sealift::bundle
