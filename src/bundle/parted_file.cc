#include "bundle/parted_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::bundle {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxChecksumFileSize = 1 << 20;

[[noreturn]] void io_error(std::string_view what, const fs::path& p, int err) {
  throw Error(ErrorKind::Io, fmt::format("{} {}: {}", what, p.string(), std::strerror(err)));
}

// "<base>.NNN" with three digits: the part number, or -1.
int part_number(const fs::path& p) {
  std::string name = p.filename().string();
  if (name.size() < 5 || name[name.size() - 4] != '.') return -1;
  std::string_view digits = std::string_view(name).substr(name.size() - 3);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return -1;
  return std::stoi(std::string(digits));
}

// The parts a checksum file lists, checked to be <base>.000, .001, … in that order.
std::vector<fs::path> parts_from_checksum_file(const fs::path& base) {
  fs::path sums = checksum_path(base);
  std::error_code ec;
  uintmax_t size = fs::file_size(sums, ec);
  if (ec) io_error("cannot read", sums, ec.value());
  if (size > kMaxChecksumFileSize) {
    throw Error(ErrorKind::Input, fmt::format("{} is {} bytes, too large for a checksum file", sums.string(), size));
  }
  std::istringstream lines(util::read_file(sums));
  std::vector<fs::path> parts;
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    // sha256sum writes "<hex>  <name>" (text mode) or "<hex> *<name>" (binary mode).
    if (line.size() < 67 || !oci::Digest::valid("sha256:" + line.substr(0, 64)) || line[64] != ' ' ||
        (line[65] != ' ' && line[65] != '*')) {
      throw Error(ErrorKind::Input, fmt::format("{}: line {} is not a sha256sum line", sums.string(), parts.size() + 1));
    }
    std::string listed = line.substr(66);
    fs::path expected = part_path(base, parts.size());
    if (listed != expected.filename().string()) {
      throw Error(ErrorKind::Input,
                  fmt::format("{}: line {} names '{}' where part '{}' was expected", sums.string(), parts.size() + 1,
                              listed, expected.filename().string()),
                  "the checksum file must list the parts in order, by file name only");
    }
    parts.push_back(expected);
  }
  if (parts.empty()) throw Error(ErrorKind::Input, fmt::format("{} lists no parts", sums.string()));
  return parts;
}

}  // namespace

fs::path part_path(const fs::path& base, size_t index) {
  return fs::path(fmt::format("{}.{:03}", base.string(), index));
}

fs::path checksum_path(const fs::path& base) { return fs::path(base.string() + ".sha256"); }

PartedFile::PartedFile(const fs::path& path) : name_(path) {
  fs::path base;
  bool single = false;
  int number = part_number(path);
  fs::path stripped = number >= 0 ? fs::path(path.string().substr(0, path.string().size() - 4)) : fs::path();
  if (number >= 0 && fs::exists(part_path(stripped, 0))) {
    if (number > 0) {
      throw Error(ErrorKind::Usage, fmt::format("{} is not the first part of a split bundle", path.string()),
                  "give the first part (.000) or the bundle's name without the part number");
    }
    base = stripped;
  } else if (fs::is_regular_file(path)) {
    single = true;
  } else if (fs::exists(part_path(path, 0))) {
    base = path;
  } else {
    throw Error(ErrorKind::Io, fmt::format("cannot open {}: no such file, and no parts {}", path.string(),
                                           part_path(path, 0).filename().string()));
  }
  try {
    if (single) {
      open_part(path, false);
    } else if (fs::exists(checksum_path(base))) {
      for (const fs::path& p : parts_from_checksum_file(base)) open_part(p, true);
    } else {
      for (size_t i = 0; fs::exists(part_path(base, i)); ++i) open_part(part_path(base, i), true);
    }
  } catch (...) {
    close_all();
    throw;
  }
  starts_.push_back(size_);
}

PartedFile::~PartedFile() { close_all(); }

void PartedFile::close_all() {
  for (int& fd : fds_) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

PartedFile::Identity PartedFile::identity_of(int fd, const fs::path& p) {
  struct stat st {};
  if (fstat(fd, &st) != 0) io_error("cannot stat", p, errno);
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec), static_cast<int64_t>(st.st_mtim.tv_nsec)};
}

void PartedFile::open_part(const fs::path& p, bool is_part) {
  int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) io_error("cannot open", p, errno);
  fds_.push_back(fd);
  paths_.push_back(p);
  identities_.push_back(identity_of(fd, p));
  struct stat st {};
  if (fstat(fd, &st) != 0) io_error("cannot stat", p, errno);
  if (!S_ISREG(st.st_mode)) throw Error(ErrorKind::Input, fmt::format("{} is not a regular file", p.string()));
  if (st.st_size == 0 && is_part) {
    throw Error(ErrorKind::Input, fmt::format("part {} is empty", p.string()),
                "the copy of the bundle is incomplete; compare the parts with the checksum file");
  }
  starts_.push_back(size_);
  size_ += static_cast<uint64_t>(st.st_size);
  // Hundreds of parts would hold as many descriptors for the reader's lifetime: the parts beyond
  // the first ones are opened for each read instead.
  if (fds_.size() > kMaxOpenParts) {
    close(fd);
    fds_.back() = -1;
  }
}

void PartedFile::read_at(uint64_t offset, std::span<std::byte> buf) const {
  if (offset > size_ || buf.size() > size_ - offset) {
    throw Error(ErrorKind::Input,
                fmt::format("{}: read of {} bytes at offset {} goes past the end ({} bytes)", name_.string(),
                            buf.size(), offset, size_),
                "the bundle is truncated or damaged");
  }
  // The part holding `offset`: the last one starting at or before it.
  size_t part = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end() - 1, offset) - starts_.begin()) - 1;
  for (size_t done = 0; done < buf.size(); ++part) {
    while (offset >= starts_[part + 1]) ++part;
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size() - done, starts_[part + 1] - offset));
    read_part(part, offset - starts_[part], buf.subspan(done, want));
    done += want;
    offset += want;
  }
}

void PartedFile::read_part(size_t part, uint64_t offset, std::span<std::byte> buf) const {
  int fd = fds_[part];
  if (fd < 0) {
    fd = open(paths_[part].c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) io_error("cannot open", paths_[part], errno);
  }
  struct Closer {
    int fd;
    bool own;
    ~Closer() {
      if (own) close(fd);
    }
  } closer{fd, fd != fds_[part]};
  // What was verified is what this opened: a part renamed over, or changed in place (`cp` over it),
  // would be read as if it had been. One fstat per read, next to a decompression, costs nothing.
  if (identity_of(fd, paths_[part]) != identities_[part]) {
    throw Error(ErrorKind::Integrity,
                fmt::format("{} was replaced or changed after the bundle was opened", paths_[part].string()),
                "the bundle must not change while it is read; copy it again and start over");
  }
  for (size_t done = 0; done < buf.size();) {
    ssize_t n = pread(fd, buf.data() + done, buf.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      io_error("cannot read", paths_[part], errno);
    }
    if (n == 0) {
      throw Error(ErrorKind::Io, fmt::format("{} became shorter while it was read", paths_[part].string()));
    }
    done += static_cast<size_t>(n);
  }
}

PartedOutput::PartedOutput(fs::path path, uint64_t split_size) : path_(std::move(path)), split_size_(split_size) {
  if (split_size_ != 0 && split_size_ < kMinSplitSize) {
    throw Error(ErrorKind::Usage, fmt::format("split size {} is below the minimum of {} bytes", split_size_, kMinSplitSize));
  }
  start_part();
}

PartedOutput::~PartedOutput() = default;

void PartedOutput::start_part() {
  if (parts_.size() == kMaxParts) {
    throw Error(ErrorKind::Usage,
                fmt::format("the bundle needs more than {} parts of {} bytes", kMaxParts, split_size_),
                "use a larger split size");
  }
  Part p;
  p.file = std::make_unique<util::AtomicFile>(split_size_ ? part_path(path_, parts_.size()) : path_);
  p.file->write_behind();
  // Only parts get a checksum file; hashing a single file would cost CPU for nothing.
  if (split_size_) p.hash = std::make_unique<oci::Sha256>();
  parts_.push_back(std::move(p));
}

std::vector<fs::path> PartedOutput::temp_paths() const {
  std::vector<fs::path> out;
  for (const Part& p : parts_) out.push_back(p.file->temp_path());
  return out;
}

void PartedOutput::write(std::span<const std::byte> buf) {
  while (!buf.empty()) {
    if (split_size_ && parts_.back().size == split_size_) start_part();
    Part& p = parts_.back();
    size_t n = split_size_ ? static_cast<size_t>(std::min<uint64_t>(buf.size(), split_size_ - p.size)) : buf.size();
    p.file->write(buf.first(n));
    if (p.hash) p.hash->update(buf.first(n));
    p.size += n;
    size_ += n;
    buf = buf.subspan(n);
  }
}

std::vector<fs::path> PartedOutput::commit() {
  std::vector<fs::path> written;
  try {
    std::string sums;
    for (size_t i = 0; i < parts_.size(); ++i) {
      parts_[i].file->commit();
      fs::path final_path = split_size_ ? part_path(path_, i) : path_;
      written.push_back(final_path);
      if (parts_[i].hash) {
        sums += fmt::format("{}  {}\n", parts_[i].hash->finish().hex(), final_path.filename().string());
      }
    }
    if (split_size_) {
      util::write_file_atomic(checksum_path(path_), sums);
      written.push_back(checksum_path(path_));
    }
  } catch (...) {
    // Some parts may already be in place: without the rest they are not a bundle.
    std::error_code ec;
    for (const fs::path& p : written) fs::remove(p, ec);
    throw;
  }
  remove_stale(split_size_ ? parts_.size() : 0);
  return written;
}

void PartedOutput::remove_stale(size_t first_stale_part) const {
  std::error_code ec;
  if (split_size_ && fs::is_regular_file(path_)) fs::remove(path_, ec);
  if (!split_size_) fs::remove(checksum_path(path_), ec);
  for (size_t i = first_stale_part; i < kMaxParts && fs::exists(part_path(path_, i)); ++i) {
    fs::remove(part_path(path_, i), ec);
  }
}

}  // namespace sealift::bundle
