// A chart's Chart.yaml, read the way helm reads it, and the OCI config blob helm derives from it.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace sealift::chart {

struct Maintainer {
  std::string name, email, url;
};

struct Dependency {
  std::string name, version, repository, condition, alias;
  std::vector<std::string> tags;
  bool enabled = false;
  nlohmann::json import_values = nlohmann::json::array();  // strings or {child, parent} maps
};

struct Metadata {
  std::string api_version, name, version, description, type, app_version, kube_version;
  std::string home, icon, condition, tags;
  bool deprecated = false;
  std::vector<std::string> keywords, sources;
  std::vector<Maintainer> maintainers;
  std::map<std::string, std::string> annotations;
  std::vector<Dependency> dependencies;

  // Parses Chart.yaml text; `where` names it in errors. Throws Error(Input) on malformed YAML, an
  // unknown field, a field of the wrong shape, or a missing apiVersion, name or version.
  static Metadata parse(std::string_view yaml, std::string_view where = "Chart.yaml");
  // Reads <chart_dir>/Chart.yaml.
  static Metadata load(const std::filesystem::path& chart_dir);

  // Helm's OCI config blob (application/vnd.cncf.helm.config.v1+json): json.Marshal of helm's
  // chart.Metadata, i.e. compact, Go field order, empty fields left out, Go's string escaping.
  std::string config_json() const;
};

// A chart name as helm's best practices ask for it: lowercase letters, digits and inner '-'
// (^[a-z0-9]([-a-z0-9]*[a-z0-9])?$). Chart.yaml, images.lock and sealift.json carry a name and a
// version that become file names and OCI tags on the installer host, so each reader checks both.
bool valid_name(std::string_view name);
// A SemVer 2 version (semver.org's grammar, no leading 'v'), as helm documents a chart version:
// "1.2.3", "1.0.0-rc.1+build.7".
bool valid_version(std::string_view version);

}  // namespace sealift::chart
