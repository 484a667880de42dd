#include "helm/helm.h"

#include <unistd.h>

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
              "install helm 3, or name it with --helm or the SEALIFT_HELM environment variable");
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

std::string Helm::version() const {
  std::string v = run({"version", "--short"}).out;
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

std::string Helm::render(const fs::path& chart, const TemplateOptions& options) const {
  std::vector<std::string> args{"template", options.release, chart.string(), "--namespace", options.namespace_name};
  if (options.validate) args.push_back("--validate");
  if (!options.kube_version.empty()) {
    args.push_back("--kube-version");
    args.push_back(options.kube_version);
  }
  add_values(args, options.values);
  return run(args).out;
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
  std::vector<std::string> args{"upgrade", release, chart.string(), "--namespace", options.namespace_name,
                                "--timeout", options.timeout};
  if (options.install) args.push_back("--install");
  if (options.wait) args.push_back("--wait");
  if (options.atomic) args.push_back("--atomic");
  if (options.create_namespace) args.push_back("--create-namespace");
  if (!options.description.empty()) args.insert(args.end(), {"--description", options.description});
  add_values(args, options.values);
  return run(args).out;
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
  std::vector<std::string> args{"rollback", release};
  if (revision > 0) args.push_back(std::to_string(revision));
  args.insert(args.end(), {"--namespace", namespace_name, "--timeout", timeout});
  if (wait) args.push_back("--wait");
  return run(args).out;
}

}  // namespace sealift::helm
