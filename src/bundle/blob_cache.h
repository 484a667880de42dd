// The bundler's blob cache: a content-addressed directory (blobs/sha256/<hex>) that pulled blobs
// and manifests land in before they go into the archive. An interrupted build resumes from it and
// a rebuild downloads only what changed. Files appear only complete and verified (temp + rename).
// Each blob is hashed once per run: a blob fetched in this run was verified on its way in; one an
// earlier run left is hashed when first asked for (has_blob, open_verified), and a damaged one is
// removed so that it is fetched anew.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <set>

#include "oci/digest.h"
#include "oci/manifest.h"
#include "registry/image.h"

namespace sealift::bundle {

class BlobCache : public registry::ContentTarget {
 public:
  explicit BlobCache(std::filesystem::path dir);

  std::filesystem::path path(const oci::Digest& digest) const;
  bool has(const oci::Digest& digest, int64_t size) const;
  // A source over a cached blob. A blob not yet verified in this run is hashed as it is read, and
  // the source throws Error(Integrity) at its end when the bytes no longer hash to `digest` (the
  // cache file is then removed, so a re-run fetches it again).
  std::unique_ptr<io::Source> open_verified(const oci::Descriptor& descriptor) const;
  // Exact bytes of a cached manifest, checked against its digest.
  std::string read_manifest(const oci::Descriptor& descriptor) const;

  // registry::ContentTarget. has_blob hashes a blob an earlier run left (once per run) and
  // removes it when it does not match, so the pull fetches it again.
  bool has_blob(const oci::Descriptor& descriptor) override;
  std::unique_ptr<registry::BlobWriter> write_blob(const oci::Descriptor& descriptor) override;
  void put_manifest(const oci::Manifest& manifest) override;

 private:
  bool verified(const oci::Digest& digest) const;
  void mark_verified(const oci::Digest& digest) const;

  std::filesystem::path dir_;
  // Blobs known to match their digest in this run: fetched and verified, or hashed once.
  mutable std::mutex mu_;
  mutable std::set<oci::Digest> verified_;
};

// ~/.cache/sealift/blobs (XDG_CACHE_HOME honoured).
std::filesystem::path default_cache_dir();

}  // namespace sealift::bundle
