#include "bundle/blob_cache.h"

#include <cstdlib>
#include <functional>
#include <vector>

#include <fmt/format.h>

#include "util/error.h"
#include "util/fs.h"

namespace sealift::bundle {

namespace fs = std::filesystem;

namespace {

class CacheWriter : public registry::BlobWriter {
 public:
  CacheWriter(const fs::path& target, std::function<void()> committed)
      : file_(target), committed_(std::move(committed)) {}
  void write(std::span<const std::byte> buf) override { file_.write(buf); }
  void commit() override {
    file_.commit();
    committed_();
  }

 private:
  util::AtomicFile file_;
  std::function<void()> committed_;
};

// Hashes what it reads; at the end, compares with the expected digest and size.
class VerifiedFileSource : public io::Source {
 public:
  VerifiedFileSource(fs::path path, oci::Descriptor d) : path_(std::move(path)), file_(path_), d_(std::move(d)) {}
  size_t read(std::span<std::byte> buf) override {
    size_t n = file_.read(buf);
    if (n > 0) {
      hash_.update(std::span<const std::byte>(buf.data(), n));
      return n;
    }
    if (!checked_) {
      checked_ = true;
      uint64_t size = hash_.bytes();
      oci::Digest got = hash_.finish();
      if (got != d_.digest || size != static_cast<uint64_t>(d_.size)) {
        std::error_code ec;
        fs::remove(path_, ec);
        throw Error(ErrorKind::Integrity,
                    fmt::format("blob cache: {} holds {} ({} bytes), not the expected content; removed it",
                                path_.string(), got.str(), size),
                    "run the build again to fetch it anew");
      }
    }
    return 0;
  }

 private:
  fs::path path_;
  util::FileSource file_;
  oci::Descriptor d_;
  oci::Sha256 hash_;
  bool checked_ = false;
};

}  // namespace

BlobCache::BlobCache(fs::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(dir_ / "blobs" / "sha256", ec);
  if (ec)
    throw Error(ErrorKind::Io, fmt::format("cannot create the blob cache {}: {}", dir_.string(), ec.message()),
                "choose another directory with --cache");
}

fs::path BlobCache::path(const oci::Digest& digest) const {
  return dir_ / "blobs" / "sha256" / std::string(digest.hex());
}

bool BlobCache::has(const oci::Digest& digest, int64_t size) const {
  std::error_code ec;
  auto s = fs::file_size(path(digest), ec);
  return !ec && static_cast<int64_t>(s) == size;
}

bool BlobCache::verified(const oci::Digest& digest) const {
  std::lock_guard lock(mu_);
  return verified_.count(digest) > 0;
}

void BlobCache::mark_verified(const oci::Digest& digest) const {
  std::lock_guard lock(mu_);
  verified_.insert(digest);
}

std::unique_ptr<io::Source> BlobCache::open_verified(const oci::Descriptor& descriptor) const {
  // The archive writer checks the length; the content was checked in this run.
  if (verified(descriptor.digest)) return std::make_unique<util::FileSource>(path(descriptor.digest));
  return std::make_unique<VerifiedFileSource>(path(descriptor.digest), descriptor);
}

std::string BlobCache::read_manifest(const oci::Descriptor& descriptor) const {
  std::string bytes = util::read_file(path(descriptor.digest));
  if (oci::Digest::of(bytes) != descriptor.digest)
    throw Error(ErrorKind::Integrity,
                fmt::format("blob cache: manifest {} is damaged", descriptor.digest.str()),
                "remove the cache directory and build again");
  return bytes;
}

bool BlobCache::has_blob(const oci::Descriptor& descriptor) {
  if (verified(descriptor.digest)) return true;
  if (!has(descriptor.digest, descriptor.size)) return false;
  // Left by an earlier run (or another build sharing the cache): hashed once before it is
  // trusted. A damaged file is removed, and the caller fetches the blob again.
  try {
    VerifiedFileSource check(path(descriptor.digest), descriptor);
    std::vector<std::byte> buf(1 << 20);
    while (check.read(buf) > 0) {
    }
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Integrity) throw;
    return false;
  }
  mark_verified(descriptor.digest);
  return true;
}

std::unique_ptr<registry::BlobWriter> BlobCache::write_blob(const oci::Descriptor& descriptor) {
  oci::Digest digest = descriptor.digest;
  return std::make_unique<CacheWriter>(path(digest), [this, digest] { mark_verified(digest); });
}

void BlobCache::put_manifest(const oci::Manifest& manifest) {
  if (has(manifest.digest(), manifest.size())) return;
  util::write_file_atomic(path(manifest.digest()), manifest.bytes());
}

fs::path default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "sealift" / "blobs";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/tmp") / ".cache" / "sealift" / "blobs";
}

}  // namespace sealift::bundle
