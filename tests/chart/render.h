// Rendering the repository's chart with the real helm for the chart tests.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "env/process.h"
#include "helm/helm.h"

namespace sealift::charttest {

// The Kubernetes version the tests render for: the peer cluster's (helm built from the module proxy
// defaults to 1.20, older than the chart's kubeVersion).
inline constexpr const char* kKubeVersion = "1.36.0";

inline std::filesystem::path chart_dir() { return testenv::source_dir() / "chart"; }

inline helm::Helm real_helm() { return helm::Helm(testenv::peer("helm")); }

inline std::string render(const helm::Values& values, const std::filesystem::path& chart = chart_dir()) {
  helm::TemplateOptions options;
  options.release = "dashboard";
  options.namespace_name = "sealift-system";
  options.kube_version = kKubeVersion;
  options.values = values;
  return real_helm().render(chart, options);
}

// The non-empty documents of a multi-document YAML stream.
inline std::vector<YAML::Node> documents(std::string_view manifests) {
  std::vector<YAML::Node> out;
  for (auto& d : YAML::LoadAll(std::string(manifests)))
    if (d.IsMap()) out.push_back(d);
  return out;
}

// The chart's own values files (values-*.yaml), sorted; "" stands for the defaults alone.
inline std::vector<std::string> values_files() {
  std::vector<std::string> out{""};
  std::vector<std::string> found;
  for (const auto& e : std::filesystem::directory_iterator(chart_dir())) {
    const std::string name = e.path().filename().string();
    if (name.rfind("values-", 0) == 0 && e.path().extension() == ".yaml") found.push_back(name);
  }
  std::sort(found.begin(), found.end());
  out.insert(out.end(), found.begin(), found.end());
  return out;
}

}  // namespace sealift::charttest
