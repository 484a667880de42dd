// The air-gap lint: render the chart with real helm and prove that every image the cluster would
// pull is pinned in images.lock (and, on the customer side, comes from the target registry by
// digest). Anything else is reported with the object and container that uses it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "helm/helm.h"
#include "lint/images.h"
#include "lock/image_lock.h"

namespace sealift::lint {

struct Finding {
  ImageUse use;
  std::string problem;  // "not in images.lock", "not pulled from harbor.example.com by digest", ...
};

// Checks each use against the lock. An image passes when its reference (normalised) is the source
// of a locked image, or when it names a digest the lock holds (the relocated form
// HOST/PROJECT/...@sha256:...). With `required_registry` set, only the second form from that
// registry passes.
std::vector<Finding> check(const std::vector<ImageUse>& uses, const lock::ImageLock& lock,
                           const std::string& required_registry = {});

// One render: a label for the report and the values it uses.
struct LintCase {
  std::string label;
  helm::Values values;
};

// The renders that cover the chart: for each values stack (the chart's defaults and each
// values-*.yaml of the chart when `stacks` is empty), once with every optional component off and
// once with all on.
std::vector<LintCase> cases(const std::filesystem::path& chart_dir, const std::vector<std::vector<std::filesystem::path>>& stacks,
                            const std::vector<std::string>& optional_components, const std::vector<std::string>& set = {});

struct RenderSettings {
  std::string release = "sealift";
  std::string namespace_name = "default";
  std::string kube_version;
  std::string required_registry;
};

struct CaseResult {
  LintCase lint_case;
  size_t images = 0;  // image uses found in the render
  std::vector<Finding> findings;
};

// Renders each case with helm and checks it. Rendering failures throw Error(Tool).
std::vector<CaseResult> run(const helm::Helm& helm, const std::filesystem::path& chart, const lock::ImageLock& lock,
                            const std::vector<LintCase>& cases, const RenderSettings& settings);

}  // namespace sealift::lint
