#include "sbom/syft.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <system_error>

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

// Links (or, across filesystems, copies) `from` to `to`.
void link_or_copy(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_hard_link(from, to, ec);
  if (!ec) return;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec)
    throw Error(ErrorKind::Io, fmt::format("cannot stage {} for syft at {}: {}", from.string(), to.string(), ec.message()));
}

// A one-image OCI layout of the platform image, for `syft scan oci-dir:`.
void stage(const ScanInput& input, const fs::path& dir) {
  const fs::path blobs = dir / "blobs" / "sha256";
  fs::create_directories(blobs);
  util::write_file_atomic(dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  util::write_file_atomic(blobs / std::string(input.manifest.digest.hex()), input.manifest_bytes);
  ordered_json index;
  index["schemaVersion"] = 2;
  index["mediaType"] = oci::media::kOciIndex;
  index["manifests"] = ordered_json::array({{{"mediaType", input.manifest.media_type},
                                             {"digest", input.manifest.digest.str()},
                                             {"size", input.manifest.size}}});
  util::write_file_atomic(dir / "index.json", index.dump());
  oci::Manifest m = oci::Manifest::parse(input.manifest_bytes, input.manifest.media_type);
  std::vector<oci::Descriptor> blobs_of{m.config()};
  for (const auto& l : m.layers()) blobs_of.push_back(l);
  for (const auto& d : blobs_of) {
    fs::path to = blobs / std::string(d.digest.hex());
    if (!fs::exists(to)) link_or_copy(input.blob_path(d.digest), to);
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
  const fs::path dir = scratch / fmt::format("syft-{}-{}", ::getpid(), input.manifest.digest.hex().substr(0, 16));
  fs::remove_all(dir);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  stage(input, dir);
  ref::Reference source = ref::Reference::parse(input.source);
  std::string version = source.tag.empty() ? input.manifest.digest.str() : source.tag;
  util::ProcessResult r = util::run_process({binary_.string(), "scan", "oci-dir:" + dir.string(), "--source-name",
                                             source.name(), "--source-version", version, "-o", "spdx-json"},
                                            syft_options());
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
