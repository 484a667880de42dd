#include "bundle/blob_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include <fmt/format.h>

#include "util/error.h"
#include "util/fs.h"

namespace sealift::bundle {

namespace fs = std::filesystem;

namespace {

// Bytes in the cache file before a streaming reader takes over, then handed over in a ring.
constexpr size_t kWriteBuffer = 1 << 20;
constexpr size_t kRingSize = 4 << 20;

}  // namespace

struct BlobCache::Stream {
  std::mutex mu;
  std::condition_variable cv;
  bool writing = false;       // a writer exists (temp is its file)
  fs::path temp;
  uint64_t in_file = 0;       // bytes in the temp file
  bool file_busy = false;     // the writer is adding to the file
  bool diverted = false;      // the reader caught up: the rest goes through the ring
  bool writer_done = false;   // every byte is in the file or the ring
  bool writer_failed = false; // the writer went away without committing
  bool reader_gone = false;
  std::vector<std::byte> ring;
  size_t ring_head = 0, ring_fill = 0;
};

namespace {

using Stream = BlobCache::Stream;

class CacheWriter : public registry::BlobWriter {
 public:
  CacheWriter(const fs::path& target, std::shared_ptr<Stream> stream, std::function<void()> committed)
      : file_(target), stream_(std::move(stream)), committed_(std::move(committed)) {
    std::lock_guard lock(stream_->mu);
    Stream& s = *stream_;
    // A blob written again (a harvest that found it damaged, then the pull) starts afresh.
    s.writing = true;
    s.temp = file_.temp_path();
    s.in_file = 0;
    s.diverted = s.writer_done = s.writer_failed = false;
    s.cv.notify_all();
  }
  ~CacheWriter() override {
    if (done_) return;
    std::lock_guard lock(stream_->mu);
    stream_->writer_failed = true;
    stream_->cv.notify_all();
  }
  void write(std::span<const std::byte> buf) override {
    pending_.insert(pending_.end(), buf.begin(), buf.end());
    if (pending_.size() >= kWriteBuffer) drain();
  }
  void commit() override {
    drain();
    bool diverted;
    {
      std::lock_guard lock(stream_->mu);
      diverted = stream_->diverted;
    }
    // Streamed: the archive has the bytes and the file only a prefix, which goes with file_.
    if (!diverted) {
      file_.commit(/*durable=*/false);
      committed_();
    }
    done_ = true;
    std::lock_guard lock(stream_->mu);
    stream_->writer_done = true;
    stream_->cv.notify_all();
  }

 private:
  // Pending bytes to the file, or to the reader once it has taken over.
  void drain() {
    std::span<const std::byte> left(pending_);
    std::unique_lock lock(stream_->mu);
    while (stream_->diverted && !left.empty()) {
      Stream& s = *stream_;
      s.cv.wait(lock, [&] { return s.reader_gone || s.ring_fill < s.ring.size(); });
      if (s.reader_gone)
        throw Error(ErrorKind::Io, fmt::format("blob {}: the archive writer stopped reading", file_.temp_path().string()));
      size_t tail = (s.ring_head + s.ring_fill) % s.ring.size();
      size_t n = std::min({left.size(), s.ring.size() - s.ring_fill, s.ring.size() - tail});
      std::memcpy(s.ring.data() + tail, left.data(), n);
      s.ring_fill += n;
      left = left.subspan(n);
      s.cv.notify_all();
    }
    if (!left.empty()) {
      stream_->file_busy = true;  // the reader must not take over before these bytes count
      lock.unlock();
      try {
        file_.write(left);
      } catch (...) {
        lock.lock();
        stream_->file_busy = false;
        throw;
      }
      lock.lock();
      stream_->in_file += left.size();
      stream_->file_busy = false;
      stream_->cv.notify_all();
    }
    pending_.clear();
  }

  util::AtomicFile file_;
  std::shared_ptr<Stream> stream_;
  std::function<void()> committed_;
  std::vector<std::byte> pending_;
  bool done_ = false;
};

// A blob written apart from any transfer (BlobCache::write_checked), hashed as it comes.
class CheckedWriter : public registry::BlobWriter {
 public:
  CheckedWriter(const fs::path& target, oci::Descriptor d, std::function<void()> committed)
      : file_(target), d_(std::move(d)), committed_(std::move(committed)) {}
  void write(std::span<const std::byte> buf) override {
    hash_.update(buf);
    file_.write(buf);
  }
  void commit() override {
    const uint64_t size = hash_.bytes();
    const oci::Digest got = hash_.finish();
    if (got != d_.digest || size != static_cast<uint64_t>(d_.size))
      throw Error(ErrorKind::Integrity, fmt::format("blob {}: {} bytes that hash to {} came instead", d_.digest.str(),
                                                    size, got.str()));
    file_.commit(/*durable=*/false);
    committed_();
  }

 private:
  util::AtomicFile file_;
  oci::Descriptor d_;
  oci::Sha256 hash_;
  std::function<void()> committed_;
};

// The archive writer's view of a blob in flight (BlobCache::open_streaming).
class StreamingSource : public io::Source {
 public:
  StreamingSource(const BlobCache& cache, oci::Descriptor d, std::shared_ptr<Stream> stream,
                  std::function<bool()> transfer_ended)
      : cache_(cache), d_(std::move(d)), stream_(std::move(stream)), transfer_ended_(std::move(transfer_ended)) {}
  ~StreamingSource() override {
    if (fd_ >= 0) close(fd_);
    std::lock_guard lock(stream_->mu);
    stream_->reader_gone = true;
    std::vector<std::byte>().swap(stream_->ring);  // a writer still waiting fails on reader_gone
    stream_->ring_fill = 0;
    stream_->cv.notify_all();
  }

  size_t read(std::span<std::byte> buf) override {
    if (cached_) return cached_->read(buf);
    Stream& s = *stream_;
    std::unique_lock lock(s.mu);
    // Not started yet, or no transfer at all (cached by an earlier run).
    while (!s.writing) {
      if (cache_.verified(d_.digest)) return open_cached(lock, buf);
      if (transfer_ended_()) {
        if (cache_.verified(d_.digest)) return open_cached(lock, buf);
        throw Error(ErrorKind::Internal, fmt::format("the transfer of {} ended without it", d_.digest.str()));
      }
      s.cv.wait_for(lock, std::chrono::milliseconds(50));
    }
    if (!s.diverted) {
      if (pos_ < s.in_file) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), s.in_file - pos_));
        lock.unlock();
        return read_file(buf.first(n));
      }
      if (s.writer_done) return 0;  // the whole blob came through the file
      if (s.writer_failed) throw failed();
      if (s.file_busy) {
        s.cv.wait(lock);
        lock.unlock();
        return read(buf);
      }
      s.diverted = true;
      s.ring.resize(kRingSize);
      s.cv.notify_all();
    }
    s.cv.wait(lock, [&] { return s.ring_fill > 0 || s.writer_done || s.writer_failed; });
    if (s.ring_fill == 0) {
      if (s.writer_failed) throw failed();
      return 0;
    }
    size_t n = std::min({buf.size(), s.ring_fill, s.ring.size() - s.ring_head});
    std::memcpy(buf.data(), s.ring.data() + s.ring_head, n);
    s.ring_head = (s.ring_head + n) % s.ring.size();
    s.ring_fill -= n;
    pos_ += n;
    s.cv.notify_all();
    return n;
  }

 private:
  Error failed() const {
    return Error(ErrorKind::Internal, fmt::format("the transfer of {} failed", d_.digest.str()));
  }
  // The whole blob from the cache file (verified in this run); nothing was read before.
  size_t open_cached(std::unique_lock<std::mutex>& lock, std::span<std::byte> buf) {
    lock.unlock();
    cached_ = std::make_unique<util::FileSource>(cache_.path(d_.digest));
    return cached_->read(buf);
  }
  size_t read_file(std::span<std::byte> buf) {
    if (fd_ < 0) {
      fs::path temp;
      {
        std::lock_guard lock(stream_->mu);
        temp = stream_->temp;
      }
      fd_ = open(temp.c_str(), O_RDONLY | O_CLOEXEC);
      // Renamed into the cache since: the same file under its final name.
      if (fd_ < 0 && errno == ENOENT) fd_ = open(cache_.path(d_.digest).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0)
        throw Error(ErrorKind::Io, fmt::format("cannot open the blob {} being pulled: {}", d_.digest.str(), std::strerror(errno)));
    }
    for (;;) {
      ssize_t n = pread(fd_, buf.data(), buf.size(), static_cast<off_t>(pos_));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        throw Error(ErrorKind::Io, fmt::format("cannot read the blob {} being pulled: {}", d_.digest.str(),
                                               n < 0 ? std::strerror(errno) : "unexpected end"));
      pos_ += static_cast<uint64_t>(n);
      return static_cast<size_t>(n);
    }
  }

  const BlobCache& cache_;
  oci::Descriptor d_;
  std::shared_ptr<Stream> stream_;
  std::function<bool()> transfer_ended_;
  std::unique_ptr<util::FileSource> cached_;
  int fd_ = -1;
  uint64_t pos_ = 0;
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
  private_dir(dir_);
  private_dir(dir_ / "blobs");
  private_dir(dir_ / "blobs" / "sha256");
  std::error_code ec;
  // Temporary files a killed build left (an AtomicFile holds a lock while a process writes it).
  for (const auto& e : fs::directory_iterator(dir_ / "blobs" / "sha256", ec)) {
    std::string name = e.path().filename().string();
    if (!name.starts_with(".") || name.find(".tmp-") == std::string::npos) continue;
    int fd = open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) fs::remove(e.path(), ec);
    close(fd);
  }
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
  return std::make_unique<CacheWriter>(path(digest), stream(digest), [this, digest] { mark_verified(digest); });
}

std::unique_ptr<registry::BlobWriter> BlobCache::write_checked(const oci::Descriptor& descriptor) {
  oci::Digest digest = descriptor.digest;
  return std::make_unique<CheckedWriter>(path(digest), descriptor, [this, digest] { mark_verified(digest); });
}

std::shared_ptr<BlobCache::Stream> BlobCache::stream(const oci::Digest& digest) {
  std::lock_guard lock(mu_);
  auto& slot = streams_[digest];
  if (!slot) slot = std::make_shared<Stream>();
  return slot;
}

bool BlobCache::streamed(const oci::Digest& digest) {
  auto s = stream(digest);
  std::lock_guard lock(s->mu);
  return s->diverted;
}

bool BlobCache::transfer_failed(const oci::Digest& digest) {
  auto s = stream(digest);
  std::lock_guard lock(s->mu);
  return s->writer_failed;
}

std::unique_ptr<io::Source> BlobCache::open_streaming(const oci::Descriptor& descriptor,
                                                      std::function<bool()> transfer_ended) {
  if (verified(descriptor.digest)) return open_verified(descriptor);
  return std::make_unique<StreamingSource>(*this, descriptor, stream(descriptor.digest), std::move(transfer_ended));
}

void BlobCache::put_manifest(const oci::Manifest& manifest) {
  if (has(manifest.digest(), manifest.size())) return;
  util::write_file_atomic(path(manifest.digest()), manifest.bytes());
}

fs::path BlobCache::private_dir(const fs::path& dir) {
  // Made 0700: nobody else reads what the build pulls. The parents too, for a new cache.
  int err = mkdir(dir.c_str(), 0700) == 0 ? 0 : errno;
  if (err == ENOENT && dir.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(dir.parent_path(), ec);
    err = mkdir(dir.c_str(), 0700) == 0 ? 0 : errno;
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0)
    throw Error(ErrorKind::Io,
                fmt::format("cannot create the blob cache directory {}: {}", dir.string(), std::strerror(err ? err : errno)),
                "choose another directory with --cache");
  // What the cache holds is trusted once hashed, and syft's input is staged here: another user
  // who could write a directory of it could swap what the vendor key signs (as ssh's StrictModes,
  // refuse rather than repair: someone else's directory is not ours to chmod).
  if (!S_ISDIR(st.st_mode))
    throw Error(ErrorKind::Usage, fmt::format("the blob cache {} is not a directory", dir.string()),
                "choose another directory with --cache");
  if (st.st_uid != geteuid())
    throw Error(ErrorKind::Usage,
                fmt::format("the blob cache directory {} belongs to uid {}, not to you (uid {}): another user could "
                            "change what the build signs",
                            dir.string(), st.st_uid, geteuid()),
                "use a cache directory of your own with --cache");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    throw Error(ErrorKind::Usage,
                fmt::format("the blob cache directory {} is writable by {} (mode {:04o}): another user could change "
                            "what the build signs",
                            dir.string(), (st.st_mode & S_IWOTH) ? "others" : "its group", st.st_mode & 07777),
                fmt::format("chmod go-w {}, or choose another directory with --cache", dir.string()));
  return dir;
}

fs::path default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "sealift" / "blobs";
  const char* home = std::getenv("HOME");
  // Never a shared directory such as /tmp: others could write there (see BlobCache::private_dir).
  if (!home || !*home)
    throw Error(ErrorKind::Usage, "HOME is not set, so there is no default blob cache directory",
                "name one with --cache DIR (a directory only you can write)");
  return fs::path(home) / ".cache" / "sealift" / "blobs";
}

}  // namespace sealift::bundle
