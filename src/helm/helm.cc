#include "helm/helm.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::helm {

namespace fs = std::filesystem;

namespace {

bool executable_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

void add_values(std::vector<std::string>& args, const Values& values) {
  for (const auto& f : values.files) {
    args.push_back("--values");
    args.push_back(f.string());
  }
  for (const auto& s : values.set) {
    args.push_back("--set");
    args.push_back(s);
  }
}

// helm's stderr without the noise: trailing blank lines, and the hint about --debug.
std::string helm_message(const std::string& err) {
  std::string out;
  size_t start = 0;
  while (start < err.size()) {
    size_t end = err.find('\n', start);
    if (end == std::string::npos) end = err.size();
    std::string_view line(err.data() + start, end - start);
    if (!line.empty() && line.find("Use --debug flag") == std::string_view::npos) {
      if (!out.empty()) out += '\n';
      out += line;
    }
    start = end + 1;
  }
  return out;
}

}  // namespace

std::optional<Located> locate_chosen(const fs::path& explicit_path) {
  if (!explicit_path.empty()) {
    if (executable_file(explicit_path)) return Located{explicit_path, "--helm"};
    throw Error(ErrorKind::Tool, fmt::format("helm not found at {}", explicit_path.string()),
                "pass the path of an executable helm binary");
  }
  if (const char* env = std::getenv("SEALIFT_HELM"); env && *env) {
    if (executable_file(env)) return Located{env, "SEALIFT_HELM"};
    throw Error(ErrorKind::Tool, fmt::format("SEALIFT_HELM={} is not an executable file", env));
  }
  return std::nullopt;
}

Located locate_in_path(const std::string& also_tried) {
  if (fs::path p = util::find_in_path("helm"); !p.empty()) return {p, "PATH"};
  throw Error(ErrorKind::Tool,
              also_tried.empty() ? std::string("helm not found in PATH")
                                 : fmt::format("helm not found in PATH, and {}", also_tried),
              "install helm 3 or helm 4, or name it with --helm or the SEALIFT_HELM environment variable");
}

fs::path locate(const fs::path& explicit_path) {
  if (auto chosen = locate_chosen(explicit_path)) return chosen->binary;
  return locate_in_path().binary;
}

Helm::Helm(fs::path binary, std::map<std::string, std::string> env) : binary_(std::move(binary)), env_(std::move(env)) {}

util::ProcessResult Helm::run(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{binary_.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  util::ProcessOptions options;
  options.env = env_;
  util::ProcessResult r = util::run_process(argv, options);
  if (r.exit_code != 0) {
    std::string what = args.empty() ? "helm" : "helm " + args[0];
    std::string message = helm_message(r.err);
    if (message.empty()) message = helm_message(r.out);
    throw Error(ErrorKind::Tool, fmt::format("{} failed (exit {}): {}", what, r.exit_code, message));
  }
  return r;
}

namespace {

// A run of digits without a leading zero (SemVer's numeric identifier), at most 9 of them.
bool numeric(std::string_view s) {
  return !s.empty() && s.size() <= 9 && s.find_first_not_of("0123456789") == std::string_view::npos &&
         (s.size() == 1 || s[0] != '0');
}

// Dot-separated non-empty identifiers of [0-9A-Za-z-] (SemVer's pre-release and build metadata).
bool identifiers(std::string_view s) {
  if (s.empty()) return false;
  for (size_t start = 0;;) {
    size_t dot = s.find('.', start);
    std::string_view id = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (id.empty()) return false;
    for (char c : id)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// "v3.21.4[-pre][+build]" -> 3; nullopt when `v` is not exactly that. "v3.21" too: a helm built
// without the release Makefile's -ldflags says only that (internal/version/version.go).
std::optional<int> semver_major(std::string_view v) {
  if (v.size() < 2 || v[0] != 'v') return std::nullopt;
  v.remove_prefix(1);
  const bool suffix = v.find_first_of("-+") != std::string_view::npos;
  if (size_t plus = v.find('+'); plus != std::string_view::npos) {
    if (!identifiers(v.substr(plus + 1))) return std::nullopt;
    v = v.substr(0, plus);
  }
  if (size_t dash = v.find('-'); dash != std::string_view::npos) {
    if (!identifiers(v.substr(dash + 1))) return std::nullopt;
    v = v.substr(0, dash);
  }
  size_t d1 = v.find('.');
  if (d1 == std::string_view::npos) return std::nullopt;
  size_t d2 = v.find('.', d1 + 1);
  std::string_view major = v.substr(0, d1);
  std::string_view minor = v.substr(d1 + 1, d2 == std::string_view::npos ? d2 : d2 - d1 - 1);
  if (!numeric(major) || !numeric(minor)) return std::nullopt;
  if (d2 == std::string_view::npos ? suffix : !numeric(v.substr(d2 + 1))) return std::nullopt;
  return std::stoi(std::string(major));
}

// What a program printed, for a message: quoted, control characters escaped, at most 200 bytes.
std::string quoted(std::string_view printed) {
  std::string out = "\"";
  for (char c : printed.substr(0, 200)) {
    if (c == '\n') out += "\\n";
    else if (c == '"' || c == '\\') (out += '\\') += c;
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    else out += c;
  }
  if (printed.size() > 200) out += "...";
  return out + "\"";
}

const char* const kTestedHint =
    "sealift drives helm 3 and helm 4; name one with --helm or the SEALIFT_HELM environment variable";

}  // namespace

Major parse_major(std::string_view printed, const fs::path& binary) {
  std::optional<int> major = semver_major(printed);
  if (!major)
    throw Error(ErrorKind::Tool,
                fmt::format("{} does not look like helm 3 or 4: `version --template {{{{.Version}}}}` printed {}",
                            binary.string(), printed.empty() ? std::string("nothing") : quoted(printed)),
                kTestedHint);
  if (*major == 3) return Major::v3;
  if (*major == 4) return Major::v4;
  throw Error(ErrorKind::Tool,
              *major == 2 ? fmt::format("{} is helm {}: helm 2 (with Tiller) is not supported", binary.string(), printed)
                          : fmt::format("{} is helm {}: sealift knows the flags of helm 3 and helm 4 only",
                                        binary.string(), printed),
              kTestedHint);
}

std::vector<std::string> template_args(Major major, const fs::path& chart, const TemplateOptions& options) {
  std::vector<std::string> args{"template", options.release, chart.string(), "--namespace", options.namespace_name};
  // helm 4 deprecates --validate; --dry-run=server does the same (pkg/cmd/template.go).
  if (options.validate) args.push_back(major == Major::v3 ? "--validate" : "--dry-run=server");
  if (!options.kube_version.empty()) {
    args.push_back("--kube-version");
    args.push_back(options.kube_version);
  }
  add_values(args, options.values);
  return args;
}

std::vector<std::string> upgrade_args(Major major, const std::string& release, const fs::path& chart,
                                      const UpgradeOptions& options) {
  std::vector<std::string> args{"upgrade", release, chart.string(), "--namespace", options.namespace_name,
                                "--timeout", options.timeout};
  if (options.install) args.push_back("--install");
  // helm 3's --wait is a switch; helm 4's takes a strategy, "watcher" being what a bare --wait means.
  if (options.wait) args.push_back(major == Major::v3 ? "--wait" : "--wait=watcher");
  // helm 4 deprecates --atomic for --rollback-on-failure (pkg/cmd/upgrade.go).
  if (options.atomic) args.push_back(major == Major::v3 ? "--atomic" : "--rollback-on-failure");
  if (options.create_namespace) args.push_back("--create-namespace");
  if (!options.description.empty()) args.insert(args.end(), {"--description", options.description});
  add_values(args, options.values);
  return args;
}

std::vector<std::string> rollback_args(Major major, const std::string& release, int revision,
                                       const std::string& namespace_name, bool wait, const std::string& timeout) {
  std::vector<std::string> args{"rollback", release};
  if (revision > 0) args.push_back(std::to_string(revision));
  args.insert(args.end(), {"--namespace", namespace_name, "--timeout", timeout});
  if (wait) args.push_back(major == Major::v3 ? "--wait" : "--wait=watcher");
  return args;
}

const std::string& Helm::version() const {
  if (!version_) {
    util::ProcessResult r;
    try {
      r = run({"version", "--template", "{{.Version}}"});
    } catch (const Error& e) {
      throw Error(ErrorKind::Tool, fmt::format("{}: {}", binary_.string(), e.what()), kTestedHint);
    }
    std::string v = r.out;
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' ')) v.pop_back();
    parse_major(v, binary_);
    version_ = std::move(v);
  }
  return *version_;
}

Major Helm::major() const { return parse_major(version(), binary_); }

std::string Helm::render(const fs::path& chart, const TemplateOptions& options) const {
  return run(template_args(major(), chart, options)).out;
}

std::string Helm::lint(const fs::path& chart, const Values& values, const std::string& kube_version) const {
  std::vector<std::string> args{"lint", "--strict", chart.string()};
  if (!kube_version.empty()) {
    args.push_back("--kube-version");
    args.push_back(kube_version);
  }
  add_values(args, values);
  return run(args).out;
}

std::string Helm::show_chart(const fs::path& chart) const { return run({"show", "chart", chart.string()}).out; }

std::string Helm::upgrade(const std::string& release, const fs::path& chart, const UpgradeOptions& options) const {
  return run(upgrade_args(major(), release, chart, options)).out;
}

std::string Helm::status_json(const std::string& release, const std::string& namespace_name) const {
  return run({"status", release, "--namespace", namespace_name, "--output", "json"}).out;
}

std::string Helm::history_json(const std::string& release, const std::string& namespace_name) const {
  return run({"history", release, "--namespace", namespace_name, "--output", "json"}).out;
}

std::string Helm::values_json(const std::string& release, const std::string& namespace_name, int revision) const {
  return run({"get", "values", release, "--namespace", namespace_name, "--revision", std::to_string(revision),
              "--output", "json"})
      .out;
}

std::string Helm::rollback(const std::string& release, int revision, const std::string& namespace_name, bool wait,
                           const std::string& timeout) const {
  return run(rollback_args(major(), release, revision, namespace_name, wait, timeout)).out;
}

}  // namespace sealift::helm
