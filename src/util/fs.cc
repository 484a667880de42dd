#include "util/fs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::util {

namespace fs = std::filesystem;

namespace {
[[noreturn]] void io_error(std::string_view what, const fs::path& p, int err) {
  std::string hint;
  if (err == ENOSPC) hint = "free space on that filesystem or choose another output directory";
  throw Error(ErrorKind::Io, fmt::format("{} {}: {}", what, p.string(), std::strerror(err)), hint);
}
}  // namespace

std::string read_file(const fs::path& path) {
  FileSource src(path);
  io::StringSink sink;
  io::copy(src, sink, 1 << 16);
  return std::move(sink.out);
}

void write_file_atomic(const fs::path& path, std::string_view data, unsigned mode) {
  AtomicFile f(path, mode);
  f.write(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data.data()), data.size()));
  f.commit();
}

AtomicFile::AtomicFile(fs::path target, unsigned mode) : target_(std::move(target)) {
  fs::path dir = target_.parent_path().empty() ? fs::path(".") : target_.parent_path();
  // Appended piece by piece: `"." + name + ...` makes GCC 12 at -O3 report a false -Wrestrict
  // inside std::string (GCC bug 105329).
  std::string name(1, '.');
  name += target_.filename().string();
  name += ".tmp-XXXXXX";
  std::string tmpl = (dir / name).string();
  fd_ = mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd_ < 0) io_error("cannot create a temporary file for", target_, errno);
  temp_ = tmpl;
  // Held until the file is closed: tells a temporary file in use from one a killed process left
  // (bundle/resume.cc harvests those). Advisory only, so a file system without locks costs nothing.
  (void)flock(fd_, LOCK_EX | LOCK_NB);
  if (fchmod(fd_, mode) != 0) io_error("cannot set the mode of", temp_, errno);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) close(fd_);
  if (!committed_ && !temp_.empty()) unlink(temp_.c_str());
}

void AtomicFile::write(std::span<const std::byte> buf) {
  const std::byte* p = buf.data();
  size_t left = buf.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      io_error("cannot write", target_, errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  written_ += buf.size();
  constexpr uint64_t kChunk = 8 << 20;
  while (write_behind_ && written_ - handed_off_ >= kChunk) {
    // Only a hint: a file system without it (EINVAL, ESPIPE) is flushed by commit()'s fsync,
    // which also reports any write error, so the result is not checked here.
    (void)sync_file_range(fd_, static_cast<off_t>(handed_off_), kChunk, SYNC_FILE_RANGE_WRITE);
    handed_off_ += kChunk;
  }
}

void AtomicFile::commit(bool durable) {
  if (durable && fsync(fd_) != 0) io_error("cannot flush", target_, errno);
  if (close(fd_) != 0) {
    fd_ = -1;
    io_error("cannot close", target_, errno);
  }
  fd_ = -1;
  if (rename(temp_.c_str(), target_.c_str()) != 0) io_error("cannot rename into place", target_, errno);
  committed_ = true;
}

FileSource::FileSource(const fs::path& path) : path_(path) {
  fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) io_error("cannot open", path, errno);
}

FileSource::~FileSource() {
  if (fd_ >= 0) close(fd_);
}

size_t FileSource::read(std::span<std::byte> buf) {
  for (;;) {
    ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) io_error("cannot read", path_, errno);
  }
}

}  // namespace sealift::util
