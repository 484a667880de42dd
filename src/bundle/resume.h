// Resuming a build: the blobs an unfinished bundle holds go back into the blob cache.
//
// The build streams blobs from the network straight into the archive (BlobCache::open_streaming),
// so the unfinished archive is the only copy of what it streamed. When a build fails it harvests
// its own temporary files before removing them; a build that was killed leaves them next to the
// output (".NAME.tmp-XXXXXX", ".NAME.000.tmp-XXXXXX" for parts), and the next build of the same
// output harvests and removes them first. Harvesting reads the archive as a plain zstd-compressed
// tar from its start and keeps every complete `blobs/sha256/<hex>` entry whose bytes hash to its
// name; it stops quietly where the file ends or stops making sense, or where an entry would not
// fit in the free space or outgrows what the compressed bytes read could plausibly hold (a planted
// entry of zeros must not fill the disk). Each blob goes into the cache through a file and hash of
// its own (BlobCache::write_checked). Files another process holds (an AtomicFile keeps a lock
// while it is open) are left alone.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "bundle/blob_cache.h"

namespace sealift::bundle {

struct Harvest {
  size_t blobs = 0;  // put into the cache (already cached ones are not counted)
  uint64_t bytes = 0;
  std::vector<std::string> problems;  // leftovers left alone or unreadable, each with its path
};

// The blobs in the concatenation of `files` (one archive, possibly cut anywhere), into `cache`.
Harvest harvest_archive(const std::vector<std::filesystem::path>& files, BlobCache& cache);

// Harvests, then removes, the temporary files a killed build of `output` left beside it. Each file
// is read on its own: a part after the first starts mid-stream and yields nothing. Only this
// user's own regular files are read (never through a link); an error reading one is recorded in
// `problems` and the file removed all the same.
Harvest harvest_leftovers(const std::filesystem::path& output, BlobCache& cache);

}  // namespace sealift::bundle
