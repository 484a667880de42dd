#include "install/tools.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "bundle/layout.h"
#include "tool/elf.h"
#include "util/error.h"

namespace sealift::install {

namespace fs = std::filesystem;

const bundle::RootTool* find_tool(const bundle::Root& root, const std::string& name, const std::string& platform) {
  for (const auto& t : root.tools)
    if (t.name == name && t.platform == platform) return &t;
  return nullptr;
}

namespace {

// The file being written: closed, and removed unless kept, however extraction ends.
struct PendingFile {
  const fs::path& path;
  int fd = -1;
  bool keep = false;
  ~PendingFile() {
    if (fd >= 0) ::close(fd);
    if (!keep) ::unlink(path.c_str());
  }
};

}  // namespace

fs::path extract_tool(const bundle::ArchiveReader& reader, const bundle::RootTool& tool, const fs::path& dir) {
  const std::string entry = bundle::blob_path(tool.binary);
  const fs::path path = dir / tool.name;
  // O_EXCL | O_NOFOLLOW: nothing that was there before (or a link planted there) is written through.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
  if (fd < 0) throw Error(ErrorKind::Io, fmt::format("cannot create {}: {}", path.string(), std::strerror(errno)));
  PendingFile file{path, fd};
  auto write_failed = [&] {
    throw Error(ErrorKind::Io, fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)),
                "free space in TMPDIR, or point TMPDIR at a writable directory");
  };
  oci::Sha256 hash;
  std::unique_ptr<bundle::EntrySource> source;
  try {
    source = reader.open(entry);
    for (auto part = source->next(1 << 20); !part.empty(); part = source->next(1 << 20)) {
      hash.update(part);
      if (hash.bytes() > static_cast<uint64_t>(tool.size)) break;  // refused below; no need to write more
      for (size_t done = 0; done < part.size();) {
        ssize_t n = ::write(fd, part.data() + done, part.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) write_failed();
        done += static_cast<size_t>(n);
      }
    }
  } catch (const Error& e) {
    if (std::string_view(e.what()).find(entry) != std::string_view::npos) throw;
    throw Error(e.kind(), fmt::format("tool {}: entry {}: {}", tool.reference, entry, e.what()), e.hint());
  }
  uint64_t size = hash.bytes();
  oci::Digest got = hash.finish();
  if (got != tool.binary || size != static_cast<uint64_t>(tool.size))
    throw Error(ErrorKind::Integrity,
                fmt::format("tool {}: entry {} has digest {} and {} bytes; sealift.json says {} and {} bytes; not run",
                            tool.reference, entry, got.str(), size, tool.binary.str(), tool.size),
                "the bundle was altered or damaged on the way; do not use it, get a new copy from the vendor");
  file.fd = -1;
  if (::close(fd) != 0) write_failed();
  file.keep = true;
  return path;
}

ChosenHelm choose_helm(const std::optional<helm::Located>& chosen, const bundle::ArchiveReader& reader,
                       const VerifiedBundle& bundle, const fs::path& dir) {
  if (chosen) return {*chosen, {}, {}};
  const std::string host = tool::host_platform();
  if (const bundle::RootTool* t = find_tool(bundle.root, "helm", host))
    return {{extract_tool(reader, *t, dir), "the bundle"}, t->version, {}};
  std::string others;
  for (const auto& t : bundle.root.tools)
    if (t.name == "helm") others += (others.empty() ? "" : ", ") + t.platform;
  if (others.empty()) return {helm::locate_in_path("the bundle carries no helm"), {}, {}};
  std::string why = fmt::format("the bundle's helm is for {}, this host is {}", others, host);
  return {helm::locate_in_path(why), {}, why + "; using helm from PATH"};
}

std::string describe(const ChosenHelm& helm) {
  if (helm.version.empty()) return fmt::format("helm {} (from {})", helm.located.binary.string(), helm.located.origin);
  // The bundle's helm sits in a scratch directory: its path says nothing to the user.
  if (helm.located.origin == "the bundle") return fmt::format("helm {} (from the bundle)", helm.version);
  return fmt::format("helm {} at {} (from {})", helm.version, helm.located.binary.string(), helm.located.origin);
}

}  // namespace sealift::install
