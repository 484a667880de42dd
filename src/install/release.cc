#include "install/release.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "bundle/layout.h"
#include "lint/airgap.h"
#include "lint/images.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::install {

namespace fs = std::filesystem;

Workspace::Workspace() {
  std::string tmpl = (fs::temp_directory_path() / "sealift-install.XXXXXX").string();
  if (!mkdtemp(tmpl.data()))
    throw Error(ErrorKind::Io, fmt::format("cannot create a private work directory in {}", fs::temp_directory_path().string()),
                "set TMPDIR to a writable directory");
  dir_ = tmpl;  // mkdtemp makes it 0700
}

Workspace::~Workspace() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

namespace {

std::string pull_secret_yaml(const Relocation& relocation, const PullCredentials& pull) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "global" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "pullSecret" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "create" << YAML::Value << true;
  out << YAML::Key << "registry" << YAML::Value << relocation.registry;
  out << YAML::Key << "username" << YAML::Value << YAML::DoubleQuoted << pull.username;
  out << YAML::Key << "password" << YAML::Value << YAML::DoubleQuoted << pull.password;
  out << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

// helm's wait ran out of time: its message says which object it waited for, not why.
bool wait_timed_out(const ReleaseOptions& options, const Error& e) {
  std::string_view what = e.what();
  return options.wait && (what.find("deadline exceeded") != std::string_view::npos ||
                          what.find("timed out") != std::string_view::npos);
}

// helm's error, with why the pods were not ready when helm's wait ran out (nodes, pods, events
// of the release's namespaces, as kubectl reads them), where helm left the release, and how to
// get going again.
[[noreturn]] void upgrade_failed(const helm::Helm& helm, const PreparedRelease& prepared, const ReleaseOptions& options,
                                 const std::string& manifests, const Error& e) {
  const std::string& release = prepared.release;
  const std::string& ns = options.namespace_name;
  std::string why;
  if (wait_timed_out(options, e)) {
    why = "\nwhat the cluster reports:";
    for (const auto& line : why_not_ready(options.kubectl, manifest_namespaces(manifests, ns)))
      why += "\n  " + line;
  }
  ReleaseStatus s;
  try {
    s = release_status(helm, release, ns);
  } catch (const Error&) {
    throw Error(e.kind(), fmt::format("{}; release {} in {} is not installed{}", e.what(), release, ns, why),
                "fix the cause named above, then run sealift-install install again (the images are pushed: --skip-push)");
  }
  std::string state = fmt::format("release {} in {} is at revision {} ({}, {}){}", release, ns, s.revision, s.status,
                                  s.description.empty() ? s.chart : s.description, why);
  std::string hint;
  if (s.status == "deployed")
    hint = fmt::format(
        "helm rolled back: the previous release keeps running. Fix the cause named above (`kubectl get pods -n {}` "
        "shows pods that did not become ready), then run the upgrade again (the images are pushed: --skip-push)",
        ns);
  else if (s.status.rfind("pending-", 0) == 0)
    hint = fmt::format("helm stopped half-way and left the release locked; `helm rollback {} -n {}` returns to the last "
                       "deployed revision and unlocks it, then run the upgrade again",
                       release, ns);
  else
    hint = fmt::format("the pods of the last deployed revision keep running until new ones are ready; go back with "
                       "`helm rollback {} -n {}`, or fix the cause and run the upgrade again (--skip-push)",
                       release, ns);
  throw Error(e.kind(), fmt::format("{}; {}", e.what(), state), hint);
}

// "1.2.3-rc.1+b" -> numbers {1,2,3} and pre-release identifiers {"rc","1"}; false if not SemVer.
bool parse_semver(std::string_view v, std::array<uint64_t, 3>& core, std::vector<std::string_view>& pre) {
  if (!v.empty() && v.front() == 'v') v.remove_prefix(1);
  if (auto plus = v.find('+'); plus != std::string_view::npos) v = v.substr(0, plus);
  std::string_view pre_text;
  if (auto dash = v.find('-'); dash != std::string_view::npos) {
    pre_text = v.substr(dash + 1);
    v = v.substr(0, dash);
    if (pre_text.empty()) return false;
  }
  for (size_t i = 0; i < 3; ++i) {
    size_t dot = v.find('.');
    std::string_view part = v.substr(0, dot);
    if (part.empty() || part.size() > 18 || part.find_first_not_of("0123456789") != std::string_view::npos) return false;
    core[i] = std::stoull(std::string(part));
    if ((i < 2) != (dot != std::string_view::npos)) return false;
    v = i < 2 ? v.substr(dot + 1) : std::string_view();
  }
  pre.clear();
  while (!pre_text.empty()) {
    size_t dot = pre_text.find('.');
    pre.push_back(pre_text.substr(0, dot));
    if (pre.back().empty()) return false;
    pre_text = dot == std::string_view::npos ? std::string_view() : pre_text.substr(dot + 1);
  }
  return true;
}

}  // namespace

std::optional<int> compare_versions(std::string_view a, std::string_view b) {
  std::array<uint64_t, 3> ca{}, cb{};
  std::vector<std::string_view> pa, pb;
  if (!parse_semver(a, ca, pa) || !parse_semver(b, cb, pb)) return std::nullopt;
  if (ca != cb) return ca < cb ? -1 : 1;
  // A pre-release is lower than its release; identifiers compare numerically when both are numbers.
  if (pa.empty() || pb.empty()) return pa.empty() == pb.empty() ? 0 : (pa.empty() ? 1 : -1);
  for (size_t i = 0; i < std::min(pa.size(), pb.size()); ++i) {
    bool na = pa[i].find_first_not_of("0123456789") == std::string_view::npos;
    bool nb = pb[i].find_first_not_of("0123456789") == std::string_view::npos;
    if (na && nb && pa[i].size() != pb[i].size()) return pa[i].size() < pb[i].size() ? -1 : 1;
    if (na != nb) return na ? -1 : 1;
    if (int c = pa[i].compare(pb[i])) return c < 0 ? -1 : 1;
  }
  return pa.size() == pb.size() ? 0 : (pa.size() < pb.size() ? -1 : 1);
}

void check_not_downgrade(const helm::Helm& helm, const std::string& release, const std::string& namespace_name,
                         const bundle::RootChart& chart, bool allow_downgrade) {
  auto history = nlohmann::json::parse(helm.history_json(release, namespace_name), nullptr, false);
  if (!history.is_array()) return;
  const std::string prefix = chart.name + "-";
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (!it->is_object() || it->value("status", "") != "deployed") continue;
    std::string installed = it->value("chart", "");
    // Another chart under the same release name: versions do not compare.
    if (installed.rfind(prefix, 0) != 0) return;
    installed = installed.substr(prefix.size());
    auto order = compare_versions(chart.version, installed);
    if (order && *order < 0 && !allow_downgrade)
      throw Error(ErrorKind::Usage,
                  fmt::format("the bundle's chart {} {} is older than {} {} of release {} in {} (revision {}): "
                              "refusing to downgrade",
                              chart.name, chart.version, chart.name, installed, release, namespace_name,
                              it->value("revision", 0)),
                  "pass --allow-downgrade to go back to an older release on purpose");
    return;
  }
}

PreparedRelease prepare_release(const bundle::ArchiveReader& reader, const VerifiedBundle& bundle,
                                const Relocation& relocation, const ReleaseOptions& options, const Workspace& ws) {
  for (const auto& f : options.values_files)
    if (!fs::is_regular_file(f))
      throw Error(ErrorKind::Usage, fmt::format("values file {} does not exist", f.string()));
  PreparedRelease p;
  p.release = options.release.empty() ? bundle.root.chart.name : options.release;
  p.description = fmt::format("sealift bundle {} {} ({})", bundle.root.name, bundle.root.version,
                              oci::Digest::of(bundle.root_bytes).str());
  // The chart package as verified in the bundle; a delta that omits it relies on the target.
  std::string name = bundle::blob_path(bundle.root.chart.package);
  if (!reader.find(name))
    throw Error(ErrorKind::Input,
                fmt::format("the bundle does not carry its chart package {} (a delta whose base carried it)",
                            bundle.root.chart.package.str()),
                "install from the full bundle of this release, or pull the chart from the target registry with helm");
  p.chart = ws.path() / fmt::format("{}-{}.tgz", bundle.root.chart.name, bundle.root.chart.version);
  std::string package = reader.read_small(name, 64 << 20);
  if (oci::Digest::of(package) != bundle.root.chart.package)
    throw Error(ErrorKind::Integrity, fmt::format("chart package {} does not match its digest", name));
  util::write_file_atomic(p.chart, package, 0600);

  p.relocation = ws.path() / "relocation-values.yaml";
  util::write_file_atomic(p.relocation, relocation.values_yaml(), 0600);
  p.values.files = options.values_files;
  p.values.files.push_back(p.relocation);
  if (options.pull) {
    p.pull_secret = ws.path() / "pull-secret-values.yaml";
    util::write_file_atomic(*p.pull_secret, pull_secret_yaml(relocation, *options.pull), 0600);
    p.values.files.push_back(*p.pull_secret);
  }
  p.values.set = options.set;
  return p;
}

std::string lint_release(const helm::Helm& helm, const PreparedRelease& prepared, const VerifiedBundle& bundle,
                         const Relocation& relocation, const ReleaseOptions& options) {
  helm::TemplateOptions t;
  t.release = prepared.release;
  t.namespace_name = options.namespace_name;
  t.values = prepared.values;
  t.kube_version = options.kube_version;
  t.validate = options.kube_version.empty();
  std::string manifests = helm.render(prepared.chart, t);
  auto uses = lint::collect_images(manifests, options.namespace_name);
  auto findings = lint::check(uses, bundle.lock, relocation.registry);
  // The lint accepts any digest of the lock; the cluster must get what was pushed.
  std::set<std::string> pushed;
  for (const auto& img : relocation.images) pushed.insert(img.pinned(relocation.registry));
  for (const auto& u : uses)
    if (!pushed.count(u.image) && std::none_of(findings.begin(), findings.end(), [&](const lint::Finding& f) {
          return f.use.image == u.image && f.use.name == u.name && f.use.container == u.container;
        }))
      findings.push_back({u, "not an image this bundle pushed"});
  if (!findings.empty()) {
    std::string list;
    for (const auto& f : findings) list += fmt::format("\n  {}: {} ({})", f.use.where(), f.use.image, f.problem);
    throw Error(ErrorKind::Input,
                fmt::format("air-gap lint: {} image(s) would not come from {} by digest:{}", findings.size(),
                            relocation.registry, list),
                "a values file or --set overrides an image block; remove that override");
  }
  return manifests;
}

ReleaseReport install_release(const helm::Helm& helm, const PreparedRelease& prepared, const VerifiedBundle& bundle,
                              const Relocation& relocation, const ReleaseOptions& options) {
  const std::string manifests = lint_release(helm, prepared, bundle, relocation, options);
  ReleaseReport r;
  r.release = prepared.release;
  r.namespace_name = options.namespace_name;
  if (options.dry_run) {
    r.status = "dry run: lint passed, nothing installed";
    return r;
  }
  helm::UpgradeOptions u;
  u.namespace_name = options.namespace_name;
  u.values = prepared.values;
  u.install = true;
  u.wait = options.wait;
  u.atomic = options.atomic;
  u.create_namespace = options.create_namespace;
  u.timeout = options.timeout;
  u.description = prepared.description;
  try {
    r.output = helm.upgrade(prepared.release, prepared.chart, u);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Tool) throw;
    upgrade_failed(helm, prepared, options, manifests, e);
  }
  ReleaseStatus s = release_status(helm, prepared.release, options.namespace_name);
  r.revision = s.revision;
  r.status = s.status;
  return r;
}

ExportedRelease export_release(const helm::Helm& helm, const PreparedRelease& prepared, const VerifiedBundle& bundle,
                               const Relocation& relocation, const ReleaseOptions& options, const fs::path& dir) {
  std::string manifests = lint_release(helm, prepared, bundle, relocation, options);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorKind::Io, fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  const ExportedRelease out{dir / "relocation-values.yaml", dir / "manifests.yaml", dir / prepared.chart.filename()};
  util::write_file_atomic(out.relocation_values, relocation.values_yaml());
  util::write_file_atomic(out.manifests, manifests);
  util::write_file_atomic(out.chart, util::read_file(prepared.chart));
  return out;
}

ReleaseStatus release_status(const helm::Helm& helm, const std::string& release, const std::string& namespace_name) {
  auto j = nlohmann::json::parse(helm.status_json(release, namespace_name), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw Error(ErrorKind::Tool, fmt::format("helm status {}: unreadable output", release));
  ReleaseStatus s;
  s.release = j.value("name", release);
  s.namespace_name = j.value("namespace", namespace_name);
  s.revision = j.value("version", 0);
  if (j.contains("info") && j["info"].is_object()) {
    s.status = j["info"].value("status", "");
    s.description = j["info"].value("description", "");
    s.updated = j["info"].value("last_deployed", "");
  }
  if (j.contains("chart") && j["chart"].is_object() && j["chart"].contains("metadata")) {
    const auto& m = j["chart"]["metadata"];
    s.chart = fmt::format("{}-{}", m.value("name", ""), m.value("version", ""));
    s.app_version = m.value("appVersion", "");
  }
  if (s.chart.empty()) {
    // helm status leaves the chart out of its JSON; the history's newest entry names it.
    auto h = nlohmann::json::parse(helm.history_json(release, namespace_name), nullptr, false);
    if (h.is_array() && !h.empty() && h.back().is_object()) {
      s.chart = h.back().value("chart", "");
      s.app_version = h.back().value("app_version", "");
    }
  }
  return s;
}

}  // namespace sealift::install
