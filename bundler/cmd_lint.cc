#include "cmd_lint.h"

#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "chart/images.h"
#include "chart/metadata.h"
#include "cli/flags.h"
#include "helm/helm.h"
#include "lint/airgap.h"
#include "lock/image_lock.h"

namespace sealift::bundler {

namespace {
struct LintFlags {
  std::string chart = "chart";
  std::string lock = "images.lock";
  std::vector<std::string> values;
  std::vector<std::string> set;
  std::vector<std::string> toggles;
  bool as_given = false;
  std::string registry;
  std::string helm;
  std::string release = "sealift";
  std::string namespace_name = "default";
  // helm release builds render for the Kubernetes of their client libraries (1.36 for helm 3.21);
  // saying it explicitly keeps renders the same with helm builds that lack that setting.
  std::string kube_version = "1.36.0";
  cli::OutputFlags out;
};

nlohmann::ordered_json to_json(const std::vector<lint::CaseResult>& results, size_t failed) {
  nlohmann::ordered_json renders = nlohmann::ordered_json::array();
  for (const auto& r : results) {
    nlohmann::ordered_json findings = nlohmann::ordered_json::array();
    for (const auto& x : r.findings)
      findings.push_back(
          {{"where", x.use.where()}, {"image", x.use.image}, {"problem", x.problem}, {"source", x.use.source}});
    renders.push_back({{"case", r.lint_case.label}, {"images", r.images}, {"findings", findings}});
  }
  return {{"renders", renders}, {"failed", failed}};
}

// A failed render and what failed it: on stdout normally, on stderr with --quiet (the only output then).
void print_failure(std::FILE* out, const lint::CaseResult& r) {
  fmt::print(out, "FAIL  {}: {} of {} containers use an image not allowed\n", r.lint_case.label, r.findings.size(),
             r.images);
  for (const auto& x : r.findings)
    fmt::print(out, "        {}: {}{}\n", x.use.where(), x.problem, x.use.source.empty() ? "" : " (" + x.use.source + ")");
}

void run_lint(const LintFlags& f) {
  const lock::ImageLock l = lock::ImageLock::load(f.lock);
  const auto metadata = chart::Metadata::load(f.chart);
  std::vector<std::string> toggles = f.toggles.empty() ? chart::optional_components(metadata) : f.toggles;
  if (f.as_given) toggles.clear();
  std::vector<std::vector<std::filesystem::path>> stacks;
  if (!f.values.empty()) stacks.push_back({f.values.begin(), f.values.end()});
  const auto cases = lint::cases(f.chart, stacks, toggles, f.set);

  lint::RenderSettings settings;
  settings.release = f.release;
  settings.namespace_name = f.namespace_name;
  settings.kube_version = f.kube_version;
  settings.required_registry = f.registry;
  const helm::Helm helm(helm::locate(f.helm));
  const auto results = lint::run(helm, f.chart, l, cases, settings);
  size_t failed = 0;
  for (const auto& r : results) {
    if (!r.findings.empty()) ++failed;
    if (f.out.json) continue;
    if (!r.findings.empty())
      print_failure(f.out.quiet ? stderr : stdout, r);
    else if (!f.out.quiet)
      fmt::print("ok    {}: {} containers, every image in {}\n", r.lint_case.label, r.images, f.lock);
  }
  if (f.out.json) fmt::print("{}\n", to_json(results, failed).dump());
  if (failed) {
    if (!f.out.json) fmt::print(stderr, "air-gap lint failed in {} of {} renders\n", failed, cases.size());
    throw CLI::RuntimeError(1);
  }
}
}  // namespace

void add_lint_command(CLI::App& app) {
  auto f = std::make_shared<LintFlags>();
  CLI::App* cmd = app.add_subcommand(
      "lint", "Render the chart with helm and fail on any image that images.lock does not pin (air-gap lint)");
  cmd->add_option("--chart", f->chart, "Chart directory or .tgz")->capture_default_str();
  cmd->add_option("--lock", f->lock, "images.lock")->capture_default_str();
  cmd->add_option("-f,--values", f->values,
                  "Values file (repeatable, one stack); default: the chart's defaults and each values-*.yaml");
  cmd->add_option("--set", f->set, "Extra value key=value for every render; repeatable");
  cmd->add_option("--toggle", f->toggles,
                  "Boolean value rendered off and on (default: the chart's sealift.dev/optional-components)");
  cmd->add_flag("--as-given", f->as_given, "Render only as the values say, without toggling optional components");
  cmd->add_option("--registry", f->registry, "Require every image to come from this registry by digest");
  cmd->add_option("--helm", f->helm, "helm binary (default: $SEALIFT_HELM, else helm in PATH)");
  cmd->add_option("--release", f->release, "Release name to render with")->capture_default_str();
  cmd->add_option("--namespace", f->namespace_name, "Namespace to render into")->capture_default_str();
  cmd->add_option("--kube-version", f->kube_version, "Kubernetes version to render for")->capture_default_str();
  cli::add_output_flags(cmd, f->out);
  cmd->callback([f] { run_lint(*f); });
}

}  // namespace sealift::bundler
