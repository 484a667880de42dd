#include "lint/airgap.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ref/reference.h"
#include "util/error.h"

namespace sealift::lint {

namespace fs = std::filesystem;

std::vector<Finding> check(const std::vector<ImageUse>& uses, const lock::ImageLock& lock,
                           const std::string& required_registry) {
  std::vector<Finding> findings;
  for (const auto& use : uses) {
    if (use.image.empty()) {
      findings.push_back({use, "has no image"});
      continue;
    }
    ref::Reference r;
    try {
      r = ref::Reference::parse(use.image);
    } catch (const Error& e) {
      findings.push_back({use, fmt::format("{} is not a valid image reference: {}", use.image, e.what())});
      continue;
    }
    const bool locked_digest = r.digest && std::any_of(lock.images.begin(), lock.images.end(),
                                                       [&r](const lock::LockedImage& i) { return i.has_digest(*r.digest); });
    if (!required_registry.empty()) {
      if (r.registry != required_registry || !r.digest)
        findings.push_back({use, fmt::format("{} is not pulled from {} by digest", use.image, required_registry)});
      else if (!locked_digest)
        findings.push_back({use, fmt::format("{}: digest {} is not in images.lock", use.image, r.digest->str())});
      continue;
    }
    if (r.digest) {
      if (!locked_digest)
        findings.push_back({use, fmt::format("{}: digest {} is not in images.lock", use.image, r.digest->str())});
      continue;
    }
    const std::string name = r.str();
    const bool locked_source = std::any_of(lock.images.begin(), lock.images.end(),
                                           [&name](const lock::LockedImage& i) { return i.source.str() == name; });
    if (!locked_source) findings.push_back({use, fmt::format("{} is not in images.lock", use.image)});
  }
  return findings;
}

std::vector<LintCase> cases(const fs::path& chart_dir, const std::vector<std::vector<fs::path>>& stacks,
                            const std::vector<std::string>& optional_components, const std::vector<std::string>& set) {
  std::vector<std::vector<fs::path>> all = stacks;
  if (all.empty()) {
    all.push_back({});  // the chart's defaults
    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::directory_iterator it(chart_dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.rfind("values-", 0) == 0 && it->path().extension() == ".yaml") files.push_back(it->path());
    }
    if (ec) throw Error(ErrorKind::Io, fmt::format("cannot list {}: {}", chart_dir.string(), ec.message()));
    std::sort(files.begin(), files.end());
    for (auto& f : files) all.push_back({f});
  }
  std::vector<LintCase> out;
  for (const auto& stack : all) {
    std::vector<std::string> names;
    for (const auto& f : stack) names.push_back(f.filename().string());
    const std::string base = names.empty() ? "defaults" : fmt::format("{}", fmt::join(names, " + "));
    if (optional_components.empty()) {
      out.push_back({base, {stack, set}});
      continue;
    }
    for (bool on : {false, true}) {
      LintCase c{fmt::format("{}, {} {}", base, fmt::join(optional_components, ", "), on ? "on" : "off"), {stack, set}};
      for (const auto& key : optional_components) c.values.set.push_back(fmt::format("{}={}", key, on ? "true" : "false"));
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::vector<CaseResult> run(const helm::Helm& helm, const fs::path& chart, const lock::ImageLock& lock,
                            const std::vector<LintCase>& lint_cases, const RenderSettings& settings) {
  std::vector<CaseResult> results;
  for (const auto& c : lint_cases) {
    helm::TemplateOptions options;
    options.release = settings.release;
    options.namespace_name = settings.namespace_name;
    options.kube_version = settings.kube_version;
    options.values = c.values;
    std::string manifests;
    try {
      manifests = helm.render(chart, options);
    } catch (const Error& e) {
      throw Error(e.kind(), fmt::format("{}: {}", c.label, e.what()), e.hint());
    }
    CaseResult r{c, 0, {}};
    const auto uses = collect_images(manifests, settings.namespace_name);
    r.images = uses.size();
    r.findings = check(uses, lock, settings.required_registry);
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace sealift::lint
