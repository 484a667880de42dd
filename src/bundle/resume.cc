#include "bundle/resume.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <regex>
#include <string>

#include <fmt/format.h>

#include "bundle/layout.h"
#include "oci/digest.h"
#include "util/error.h"

namespace sealift::bundle {

namespace fs = std::filesystem;

namespace {

// An entry may hold at most this many bytes per compressed byte read so far: zstd at sealift's
// level packs real layers (text, binaries) far less tightly, while a planted entry of zeros packs
// tens of thousands to one and would fill the disk. A genuine entry packed tighter is only
// downloaded again.
constexpr uint64_t kMaxRatio = 64;

// The files one after the other, as libarchive's read callback. Reads are small, so that the
// compressed bytes read tell how far the decompressed data can have gone.
struct Files {
  std::vector<fs::path> paths;
  size_t next = 0;
  int fd = -1;
  uint64_t read_total = 0;  // compressed bytes handed to libarchive
  std::vector<std::byte> buf = std::vector<std::byte>(64 << 10);

  ~Files() {
    if (fd >= 0) close(fd);
  }
  static la_ssize_t read(archive*, void* self, const void** out) {
    auto* f = static_cast<Files*>(self);
    for (;;) {
      if (f->fd < 0) {
        if (f->next == f->paths.size()) return 0;
        f->fd = open(f->paths[f->next++].c_str(), O_RDONLY | O_CLOEXEC);
        if (f->fd < 0) return 0;  // gone since: what came before is all there is
      }
      ssize_t n = ::read(f->fd, f->buf.data(), f->buf.size());
      if (n > 0) {
        *out = f->buf.data();
        f->read_total += static_cast<uint64_t>(n);
        return n;
      }
      close(f->fd);
      f->fd = -1;
      if (n < 0) return 0;
    }
  }
};

// Bytes the cache's filesystem has left for us.
uint64_t free_space(const BlobCache& cache) {
  struct statvfs st;
  if (statvfs(cache.path(oci::Digest::of("")).parent_path().c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

Harvest harvest(Files& input, BlobCache& cache) {
  Harvest h;
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open(a.get(), &input, nullptr, &Files::read, nullptr) != ARCHIVE_OK) return h;
  std::vector<std::byte> buf(1 << 20);
  for (;;) {
    archive_entry* e = nullptr;
    if (archive_read_next_header(a.get(), &e) != ARCHIVE_OK) break;
    const char* name = archive_entry_pathname(e);
    auto digest = name ? blob_digest(name) : std::nullopt;
    if (!digest || archive_entry_filetype(e) != AE_IFREG || !archive_entry_size_is_set(e)) continue;
    oci::Descriptor d;
    d.digest = *digest;
    d.size = archive_entry_size(e);
    if (cache.verified(d.digest) || cache.has(d.digest, d.size)) continue;
    // What cannot fit is not begun: the rest of the file lies beyond it.
    if (d.size < 0 || static_cast<uint64_t>(d.size) > free_space(cache)) break;
    // Its own file and hash, never a transfer's stream (BlobCache::write_checked).
    auto writer = cache.write_checked(d);
    uint64_t written = 0;
    bool complete = true;
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n == 0) break;
      if (n > 0) written += static_cast<uint64_t>(n);
      if (n < 0 || written > kMaxRatio * input.read_total) {
        complete = false;
        break;
      }
      writer->write(std::span<const std::byte>(buf.data(), static_cast<size_t>(n)));
    }
    // An entry cut short, packed beyond belief or not matching its name is dropped with its
    // temporary file, and so is the rest of the file.
    if (!complete || written != static_cast<uint64_t>(d.size)) break;
    try {
      writer->commit();
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Integrity) throw;
      break;
    }
    ++h.blobs;
    h.bytes += static_cast<uint64_t>(d.size);
  }
  return h;
}

}  // namespace

Harvest harvest_archive(const std::vector<fs::path>& files, BlobCache& cache) {
  Files input{files};
  return harvest(input, cache);
}

Harvest harvest_leftovers(const fs::path& output, BlobCache& cache) {
  Harvest total;
  fs::path dir = output.parent_path().empty() ? fs::path(".") : output.parent_path();
  // AtomicFile's names for the bundle and its parts.
  std::string base = output.filename().string();
  std::string escaped = std::regex_replace(base, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
  std::regex leftover("\\." + escaped + R"((\.[0-9]{3})?\.tmp-[A-Za-z0-9]{6})");
  std::error_code ec;
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (std::regex_match(e.path().filename().string(), leftover)) found.push_back(e.path());
  std::sort(found.begin(), found.end());
  for (const auto& p : found) {
    // Only this user's own regular files: the output directory may be one others can write to,
    // and a link or a FIFO planted under a leftover's name must neither be followed nor block.
    int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
      total.problems.push_back(fmt::format("{}: left alone, not a regular file of yours", p.string()));
      continue;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
      close(fd);
      total.problems.push_back(fmt::format("{}: left alone, not a regular file of yours", p.string()));
      continue;
    }
    // Held by a build that runs now.
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      continue;
    }
    // Read through the descriptor checked above, not by its name again (a copy: the lock stays
    // until the file is gone).
    Files input;
    input.fd = dup(fd);
    try {
      Harvest h = harvest(input, cache);
      total.blobs += h.blobs;
      total.bytes += h.bytes;
    } catch (const std::exception& e) {
      // What could be read back is a saving, not a duty: the file goes either way.
      total.problems.push_back(fmt::format("{}: {}", p.string(), e.what()));
    }
    fs::remove(p, ec);
    close(fd);
  }
  return total;
}

}  // namespace sealift::bundle
