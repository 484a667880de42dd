#include "chart/package.h"

#include <archive.h>
#include <archive_entry.h>
#include <fnmatch.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "util/error.h"
#include "util/fs.h"

namespace sealift::chart {

namespace fs = std::filesystem;

namespace {

// helm's .helmignore rules (helm.sh/helm/v3 pkg/ignore/rules.go), evaluated the same way,
// including its handling of negated rules. Go's filepath.Match is fnmatch(3) with FNM_PATHNAME.
class IgnoreRules {
 public:
  void add(std::string rule) {
    auto first = rule.find_first_not_of(" \t\r\n\v\f");
    if (first == std::string::npos) return;
    rule = rule.substr(first, rule.find_last_not_of(" \t\r\n\v\f") - first + 1);
    if (rule.empty() || rule[0] == '#') return;
    if (rule.find("**") != std::string::npos)
      throw Error(ErrorKind::Input, fmt::format(".helmignore: {:?}: double-star (**) syntax is not supported", rule));
    Pattern p;
    if (rule[0] == '!') {
      p.negate = true;
      rule.erase(0, 1);
    }
    if (!rule.empty() && rule.back() == '/') {
      p.must_dir = true;
      rule.pop_back();
    }
    if (!rule.empty() && rule[0] == '/') {
      p.kind = Kind::Root;
      rule.erase(0, 1);
    } else if (rule.find('/') != std::string::npos) {
      p.kind = Kind::Path;
    } else {
      p.kind = Kind::Base;
    }
    p.glob = rule;
    patterns_.push_back(std::move(p));
  }

  void add_file(const fs::path& file) {
    std::istringstream in(util::read_file(file));
    std::string line;
    bool first = true;
    while (std::getline(in, line)) {
      if (first && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
      first = false;
      add(line);
    }
  }

  bool ignored(const std::string& path, bool is_dir) const {
    if (path.empty() || path == "." || path == "./") return false;
    for (const auto& p : patterns_) {
      if (p.negate) {
        if (p.must_dir && !is_dir) return true;
        if (!p.matches(path)) return true;
        continue;
      }
      if (p.must_dir && !is_dir) continue;
      if (p.matches(path)) return true;
    }
    return false;
  }

 private:
  enum class Kind { Root, Path, Base };
  struct Pattern {
    std::string glob;
    Kind kind = Kind::Base;
    bool negate = false;
    bool must_dir = false;
    bool matches(const std::string& path) const {
      std::string subject = path;
      if (kind == Kind::Base) {
        auto slash = path.rfind('/');
        if (slash != std::string::npos) subject = path.substr(slash + 1);
      }
      return fnmatch(glob.c_str(), subject.c_str(), FNM_PATHNAME) == 0;
    }
  };
  std::vector<Pattern> patterns_;
};

void walk(const fs::path& dir, const std::string& prefix, const IgnoreRules& rules, std::set<fs::path>& visited,
          std::vector<std::string>& out) {
  std::error_code ec;
  // Symbolic links are followed as helm does; a link back up the tree would loop forever.
  fs::path canonical = fs::canonical(dir, ec);
  if (ec) throw Error(ErrorKind::Io, fmt::format("cannot read {}: {}", dir.string(), ec.message()));
  if (!visited.insert(canonical).second)
    throw Error(ErrorKind::Input, fmt::format("{} links back to a directory already packaged", dir.string()));
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  if (ec) throw Error(ErrorKind::Io, fmt::format("cannot list {}: {}", dir.string(), ec.message()));
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const fs::path full = dir / name;
    const std::string rel = prefix.empty() ? name : prefix + "/" + name;
    fs::file_status st = fs::status(full, ec);
    if (ec) throw Error(ErrorKind::Io, fmt::format("cannot read {}: {}", full.string(), ec.message()));
    if (fs::is_directory(st)) {
      if (!rules.ignored(rel, true)) walk(full, rel, rules, visited, out);
      continue;
    }
    if (rules.ignored(rel, false)) continue;
    if (!fs::is_regular_file(st))
      throw Error(ErrorKind::Input, fmt::format("cannot package irregular file {}", full.string()),
                  "remove it or list it in .helmignore");
    out.push_back(rel);
  }
}

// libarchive writes through these callbacks into our sink; an exception thrown by the sink is
// carried across the C code and rethrown once libarchive returns.
struct SinkBridge {
  oci::HashingSink* hash = nullptr;
  std::exception_ptr error;
};

la_ssize_t bridge_write(struct archive*, void* client, const void* buf, size_t len) {
  auto* bridge = static_cast<SinkBridge*>(client);
  try {
    bridge->hash->write(std::span<const std::byte>(static_cast<const std::byte*>(buf), len));
    return static_cast<la_ssize_t>(len);
  } catch (...) {
    bridge->error = std::current_exception();
    return -1;
  }
}

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

[[noreturn]] void archive_failure(struct archive* a, const SinkBridge& bridge, const std::string& what) {
  if (bridge.error) std::rethrow_exception(bridge.error);
  const char* msg = archive_error_string(a);
  throw Error(ErrorKind::Internal, fmt::format("{}: {}", what, msg ? msg : "libarchive error"));
}

}  // namespace

std::vector<std::string> package_files(const fs::path& chart_dir) {
  IgnoreRules rules;
  const fs::path ignore_file = chart_dir / ".helmignore";
  std::error_code ec;
  if (fs::is_regular_file(ignore_file, ec)) rules.add_file(ignore_file);
  rules.add("templates/.?*");
  std::set<fs::path> visited;
  std::vector<std::string> files;
  walk(chart_dir, "", rules, visited, files);
  std::sort(files.begin(), files.end());
  return files;
}

Package write_package(const fs::path& chart_dir, io::Sink& out, int64_t mtime) {
  const Metadata metadata = Metadata::load(chart_dir);
  const std::vector<std::string> files = package_files(chart_dir);

  oci::HashingSink hash(&out);
  SinkBridge bridge{&hash, nullptr};
  std::unique_ptr<struct archive, ArchiveDeleter> a(archive_write_new());
  if (!a) throw Error(ErrorKind::Internal, "libarchive: out of memory");
  if (archive_write_add_filter_gzip(a.get()) != ARCHIVE_OK ||
      // No modification time in the gzip header: the same chart gives the same bytes.
      archive_write_set_filter_option(a.get(), "gzip", "timestamp", nullptr) != ARCHIVE_OK ||
      archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK)
    archive_failure(a.get(), bridge, "cannot set up the chart archive");
  if (archive_write_open2(a.get(), &bridge, nullptr, bridge_write, nullptr, nullptr) != ARCHIVE_OK)
    archive_failure(a.get(), bridge, "cannot start the chart archive");

  std::vector<std::byte> buf(1 << 16);
  for (const auto& rel : files) {
    const fs::path source = chart_dir / rel;
    std::error_code ec;
    const auto size = fs::file_size(source, ec);
    if (ec) throw Error(ErrorKind::Io, fmt::format("cannot read {}: {}", source.string(), ec.message()));
    std::unique_ptr<struct archive_entry, EntryDeleter> entry(archive_entry_new());
    const std::string name = metadata.name + "/" + rel;
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0644);
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(size));
    archive_entry_set_mtime(entry.get(), mtime, 0);
    archive_entry_set_uid(entry.get(), 0);
    archive_entry_set_gid(entry.get(), 0);
    if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK)
      archive_failure(a.get(), bridge, fmt::format("cannot add {} to the chart archive", rel));
    util::FileSource in(source);
    uint64_t copied = 0;
    while (size_t n = in.read(buf)) {
      if (archive_write_data(a.get(), buf.data(), n) < 0)
        archive_failure(a.get(), bridge, fmt::format("cannot add {} to the chart archive", rel));
      copied += n;
    }
    if (copied != size)
      throw Error(ErrorKind::Io, fmt::format("{} changed size while being packaged", source.string()));
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) archive_failure(a.get(), bridge, "cannot finish the chart archive");
  if (bridge.error) std::rethrow_exception(bridge.error);
  Package result;
  result.file_name = fmt::format("{}-{}.tgz", metadata.name, metadata.version);
  result.size = hash.bytes();
  result.digest = hash.finish();
  return result;
}

PackagedChart package_to_dir(const fs::path& chart_dir, const fs::path& out_dir, int64_t mtime) {
  PackagedChart result;
  result.metadata = Metadata::load(chart_dir);
  result.path = out_dir / fmt::format("{}-{}.tgz", result.metadata.name, result.metadata.version);
  util::AtomicFile file(result.path);
  result.package = write_package(chart_dir, file, mtime);
  file.commit();
  return result;
}

}  // namespace sealift::chart
