// The bundler's blob cache: a content-addressed directory (blobs/sha256/<hex>) that pulled blobs
// and manifests land in. An interrupted build resumes from it and a rebuild downloads only what
// changed. Files appear only complete and verified (temp + rename). Each blob is hashed once per
// run: a blob fetched in this run was verified on its way in; one an earlier run left is hashed
// when first asked for (has_blob, open_verified), and a damaged one is removed so that it is
// fetched anew. That check is also why cache files are not fsynced: a file a crash truncated or
// emptied fails it and is fetched again, and a flush per blob cost the build a disk round trip each.
// Later reads go by path, unhashed: the cache must be a directory only this user can write (checked
// when it is opened), and the build hashes every blob once more as the archive gets it.
//
// A blob the archive writer asks for while its transfer is still running is streamed: the writer
// reads what the transfer has written so far, then takes the rest of the bytes straight from the
// transfer, and the cache never gets that blob (the archive is its one copy on disk; a build that
// fails keeps it by harvesting the unfinished archive, see bundle/resume.h).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "oci/digest.h"
#include "oci/manifest.h"
#include "registry/image.h"

namespace sealift::bundle {

class BlobCache : public registry::ContentTarget {
 public:
  // Creates the cache directory 0700 when missing. Throws Error(Usage) naming the directory when
  // it, blobs/ or blobs/sha256/ is not a directory owned by this user that only it can write.
  explicit BlobCache(std::filesystem::path dir);

  // `dir` (a subdirectory of the cache, such as its sbom-scratch/), created 0700 when missing and
  // checked as the cache itself is; returns it.
  static std::filesystem::path private_dir(const std::filesystem::path& dir);

  std::filesystem::path path(const oci::Digest& digest) const;
  bool has(const oci::Digest& digest, int64_t size) const;
  // A source over a cached blob. A blob not yet verified in this run is hashed as it is read, and
  // the source throws Error(Integrity) at its end when the bytes no longer hash to `digest` (the
  // cache file is then removed, so a re-run fetches it again).
  std::unique_ptr<io::Source> open_verified(const oci::Descriptor& descriptor) const;
  // A source over a blob that is queued for the pull (or cached already), readable while its
  // transfer runs; see above. `transfer_ended` says whether the blob's pull job has ended, with
  // success or not: the source then reads the cached file, or throws Error(Internal) so that the
  // caller asks the puller for the transfer's own error. One streaming reader per blob at a time.
  std::unique_ptr<io::Source> open_streaming(const oci::Descriptor& descriptor, std::function<bool()> transfer_ended);
  // Whether the blob is in the cache, verified in this run.
  bool verified(const oci::Digest& digest) const;
  // Whether a streaming reader caught up with the blob's transfer (see open_streaming).
  bool streamed(const oci::Digest& digest);
  // Whether the blob's last writer went away without committing (its transfer failed).
  bool transfer_failed(const oci::Digest& digest);
  // Exact bytes of a cached manifest, checked against its digest.
  std::string read_manifest(const oci::Descriptor& descriptor) const;

  // registry::ContentTarget. has_blob hashes a blob an earlier run left (once per run) and
  // removes it when it does not match, so the pull fetches it again.
  bool has_blob(const oci::Descriptor& descriptor) override;
  std::unique_ptr<registry::BlobWriter> write_blob(const oci::Descriptor& descriptor) override;
  void put_manifest(const oci::Manifest& manifest) override;

  // A writer apart from any transfer's stream, for blobs read back from an unfinished bundle
  // (bundle/resume.h): it hashes what it gets, and commit() renames the file into the cache and
  // trusts it for this run, or throws Error(Integrity) when the bytes are not the descriptor's
  // (the file is then dropped). A stream a transfer's reader may wait on is never touched.
  std::unique_ptr<registry::BlobWriter> write_checked(const oci::Descriptor& descriptor);

 // The meeting point of a blob's transfer (writer) and the archive writer (reader).
  struct Stream;

 private:
  void mark_verified(const oci::Digest& digest) const;
  std::shared_ptr<Stream> stream(const oci::Digest& digest);

  std::filesystem::path dir_;
  // Blobs known to match their digest in this run: fetched and verified, or hashed once.
  mutable std::mutex mu_;
  mutable std::set<oci::Digest> verified_;
  std::map<oci::Digest, std::shared_ptr<Stream>> streams_;
};

// ~/.cache/sealift/blobs (XDG_CACHE_HOME honoured). Throws Error(Usage) when neither HOME nor
// XDG_CACHE_HOME is set: no shared fallback such as /tmp.
std::filesystem::path default_cache_dir();

}  // namespace sealift::bundle
