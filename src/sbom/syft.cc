#include "sbom/syft.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ref/reference.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"

namespace sealift::sbom {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

std::string last_lines(const std::string& text, size_t n) {
  size_t pos = text.size();
  for (size_t i = 0; i < n && pos > 0; ++i) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return text.substr(pos + 1);
}

// The environment syft runs in: no update check (it would call anchore.com), and quiet.
util::ProcessOptions syft_options() {
  util::ProcessOptions o;
  o.env = {{"SYFT_CHECK_FOR_APP_UPDATE", "false"}, {"SYFT_QUIET", "true"}};
  o.timeout_seconds = 1800;
  return o;
}

// A descriptor closed when it goes.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  Fd(Fd&& other) noexcept : fd(std::exchange(other.fd, -1)) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

[[noreturn]] void staging_error(const fs::path& dir, const std::string& name) {
  throw Error(ErrorKind::Io, fmt::format("cannot stage {} for syft in {}: {}", name, dir.string(), std::strerror(errno)));
}

void write_all(int fd, std::span<const std::byte> data, const fs::path& dir, const std::string& name) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) staging_error(dir, name);
    data = data.subspan(static_cast<size_t>(n));
  }
}

// A new file `name` under the directory open as `at` (`dir` names it in errors).
Fd create_at(int at, const fs::path& dir, const std::string& name) {
  Fd f(openat(at, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (f.fd < 0) staging_error(dir, name);
  return f;
}

void write_at(int at, const fs::path& dir, const std::string& name, std::string_view data) {
  Fd f = create_at(at, dir, name);
  write_all(f.fd, std::as_bytes(std::span(data.data(), data.size())), dir, name);
}

// A one-image OCI layout of the platform image in `layout/` under the directory open as `at`, for
// `syft scan oci-dir:`. Blobs are copied from the cache and hashed as they are copied, so the
// layout holds exactly the bytes the image's digests name, whatever happens to the cache after.
void stage(const ScanInput& input, int at, const fs::path& dir) {
  for (const char* sub : {"layout", "layout/blobs", "layout/blobs/sha256"})
    if (mkdirat(at, sub, 0700) != 0) staging_error(dir, sub);
  write_at(at, dir, "layout/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  const std::string blobs = "layout/blobs/sha256/";
  write_at(at, dir, blobs + std::string(input.manifest.digest.hex()), input.manifest_bytes);
  ordered_json index;
  index["schemaVersion"] = 2;
  index["mediaType"] = oci::media::kOciIndex;
  index["manifests"] = ordered_json::array({{{"mediaType", input.manifest.media_type},
                                             {"digest", input.manifest.digest.str()},
                                             {"size", input.manifest.size}}});
  write_at(at, dir, "layout/index.json", index.dump());
  oci::Manifest m = oci::Manifest::parse(input.manifest_bytes, input.manifest.media_type);
  std::vector<oci::Descriptor> blobs_of{m.config()};
  for (const auto& l : m.layers()) blobs_of.push_back(l);
  std::set<oci::Digest> staged;
  std::vector<std::byte> buf(1 << 20);
  for (const auto& d : blobs_of) {
    if (!staged.insert(d.digest).second) continue;
    const fs::path from = input.blob_path(d.digest);
    util::FileSource source(from);
    const std::string name = blobs + std::string(d.digest.hex());
    Fd to = create_at(at, dir, name);
    oci::Sha256 hash;
    for (size_t n; (n = source.read(buf)) > 0;) {
      std::span<const std::byte> got(buf.data(), n);
      hash.update(got);
      write_all(to.fd, got, dir, name);
    }
    const uint64_t size = hash.bytes();
    if (const oci::Digest got = hash.finish(); got != d.digest || size != static_cast<uint64_t>(d.size))
      throw Error(ErrorKind::Integrity,
                  fmt::format("blob {} of {} changed in the blob cache after it was verified: {} holds {} bytes that "
                              "hash to {}",
                              d.digest.str(), input.source, from.string(), size, got.str()),
                  "build again; if it happens again, check who else can write the blob cache (--cache)");
  }
}

}  // namespace

bool is_sbom_predicate_type(std::string_view predicate_type) {
  return predicate_type == kSpdxPredicateType || predicate_type == kCycloneDxPredicateType;
}

Syft::Syft(fs::path binary) : binary_(std::move(binary)) {
  if (!fs::is_regular_file(binary_))
    throw Error(ErrorKind::Usage, fmt::format("syft {}: no such file", binary_.string()),
                "give the syft binary with --syft, or build without SBOMs (--sbom none)");
  util::ProcessResult r = util::run_process({binary_.string(), "version", "-o", "json"}, syft_options());
  if (r.exit_code != 0)
    throw Error(ErrorKind::Tool, fmt::format("{} does not run (exit {}): {}", binary_.string(), r.exit_code, last_lines(r.err, 5)),
                "install syft (github.com/anchore/syft), or build without SBOMs (--sbom none)");
  try {
    auto j = nlohmann::json::parse(r.out);
    if (j.value("application", "") != "syft") throw std::runtime_error("not syft");
    version_ = j.value("version", "");
  } catch (const std::exception&) {
    throw Error(ErrorKind::Tool, fmt::format("{} is not syft: `version -o json` printed {}", binary_.string(), last_lines(r.out, 3)),
                "give the syft binary with --syft");
  }
}

fs::path Syft::find() { return util::find_in_path("syft"); }

std::string Syft::scan(const ScanInput& input, const fs::path& scratch, std::string_view created) const {
  // A fresh directory (mkdtemp: 0700, a name nobody can guess) reached through its descriptor:
  // syft's working directory is bound to it and every path syft gets is relative, so renaming it
  // or planting another under its name changes nothing syft reads.
  std::string name = (scratch / "syft-XXXXXX").string();
  if (!mkdtemp(name.data()))
    throw Error(ErrorKind::Io, fmt::format("cannot create a directory for syft in {}: {}", scratch.string(), std::strerror(errno)));
  const fs::path dir = name;
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  Fd at(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (at.fd < 0) staging_error(dir, ".");
  stage(input, at.fd, dir);
  // syft reads a config from its working directory (.syft.yaml, .syft/config.yaml), from its home
  // and XDG directories: a .syft.yaml in the directory the vendor builds from could exclude
  // packages from the SBOM the vendor key signs. So it runs in an empty directory of its own that
  // is also its home, with an empty config of ours.
  if (mkdirat(at.fd, "home", 0700) != 0) staging_error(dir, "home");
  write_at(at.fd, dir, "syft.yaml", "");
  if (input.staged) input.staged(dir);
  Fd home(openat(at.fd, "home", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (home.fd < 0) staging_error(dir, "home");
  util::ProcessOptions options = syft_options();
  options.cwd_fd = home.fd;
  for (const char* v : {"HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "XDG_CACHE_HOME"}) options.env[v] = ".";
  ref::Reference source = ref::Reference::parse(input.source);
  std::string version = source.tag.empty() ? input.manifest.digest.str() : source.tag;
  util::ProcessResult r =
      util::run_process({binary_.string(), "scan", "oci-dir:../layout", "-c", "../syft.yaml", "--source-name",
                         source.name(), "--source-version", version, "-o", "spdx-json"},
                        options);
  if (r.exit_code != 0 || r.timed_out)
    throw Error(ErrorKind::Tool,
                fmt::format("syft could not scan {} ({}, {}): exit {}{}\n{}", input.source, input.platform,
                            input.manifest.digest.str(), r.exit_code, r.timed_out ? " (timed out)" : "", last_lines(r.err, 20)),
                "build without SBOMs (--sbom none), or report the image to syft's maintainers");
  return normalize_spdx(r.out, input, created);
}

std::string normalize_spdx(std::string_view spdx, const ScanInput& input, std::string_view created) {
  ordered_json j;
  try {
    j = ordered_json::parse(spdx);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::Tool, fmt::format("syft's SBOM of {} is not JSON: {}", input.source, e.what()));
  }
  if (!j.is_object() || j.value("spdxVersion", "") != "SPDX-2.3" || !j.contains("creationInfo") ||
      !j["creationInfo"].is_object())
    throw Error(ErrorKind::Tool, fmt::format("syft's SBOM of {} is not an SPDX 2.3 document", input.source),
                "use syft v1.x, whose spdx-json output is SPDX 2.3");
  ref::Reference source = ref::Reference::parse(input.source);
  j["documentNamespace"] = fmt::format("https://sealift.dev/spdx/{}/{}", source.name(), input.manifest.digest.hex());
  j["creationInfo"]["created"] = created;
  return j.dump();
}

}  // namespace sealift::sbom
