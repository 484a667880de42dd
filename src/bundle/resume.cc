#include "bundle/resume.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <regex>
#include <string>

#include "bundle/layout.h"
#include "oci/digest.h"
#include "util/error.h"

namespace sealift::bundle {

namespace fs = std::filesystem;

namespace {

// The files one after the other, as libarchive's read callback.
struct Files {
  std::vector<fs::path> paths;
  size_t next = 0;
  int fd = -1;
  std::vector<std::byte> buf = std::vector<std::byte>(1 << 20);

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
        return n;
      }
      close(f->fd);
      f->fd = -1;
      if (n < 0) return 0;
    }
  }
};

}  // namespace

Harvest harvest_archive(const std::vector<fs::path>& files, BlobCache& cache) {
  Harvest h;
  Files input{files};
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
    auto writer = cache.write_blob(d);
    oci::Sha256 hash;
    bool complete = true;
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0) {
        complete = false;
        break;
      }
      std::span<const std::byte> got(buf.data(), static_cast<size_t>(n));
      hash.update(got);
      writer->write(got);
    }
    // An entry cut short or not matching its name is dropped with its temporary file.
    if (!complete || hash.bytes() != static_cast<uint64_t>(d.size) || hash.finish() != d.digest) break;
    writer->commit();
    ++h.blobs;
    h.bytes += static_cast<uint64_t>(d.size);
  }
  return h;
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
    if (e.is_regular_file(ec) && std::regex_match(e.path().filename().string(), leftover)) found.push_back(e.path());
  std::sort(found.begin(), found.end());
  for (const auto& p : found) {
    int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    // Held by a build that runs now.
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      continue;
    }
    Harvest h = harvest_archive({p}, cache);
    total.blobs += h.blobs;
    total.bytes += h.bytes;
    fs::remove(p, ec);
    close(fd);
  }
  return total;
}

}  // namespace sealift::bundle
