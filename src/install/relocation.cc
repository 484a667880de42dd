#include "install/relocation.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "harbor/api.h"
#include "ref/reference.h"
#include "registry/client.h"
#include "util/error.h"

namespace sealift::install {

namespace {

// A values tree: dotted paths become nested maps, leaves are strings.
struct ValuesNode {
  std::map<std::string, std::string> leaves;
  std::map<std::string, ValuesNode> children;
};

void emit(YAML::Emitter& out, const ValuesNode& node) {
  out << YAML::BeginMap;
  for (const auto& [key, value] : node.leaves) out << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << value;
  for (const auto& [key, child] : node.children) {
    out << YAML::Key << key << YAML::Value;
    emit(out, child);
  }
  out << YAML::EndMap;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

std::string target_repository(const RelocationOptions& o, const std::string& path, const std::string& what) {
  std::string repository = o.project + "/" + path;
  if (!ref::valid_repository(repository))
    throw Error(ErrorKind::Input,
                fmt::format("{} would go to \"{}\" on {}, which is not a valid repository name", what, repository, o.registry),
                o.keep_source_host ? "a source host with a port cannot be kept in a repository name; leave out --keep-source-host"
                                   : "");
  return repository;
}

}  // namespace

std::string RelocatedImage::pinned(const std::string& registry) const {
  return registry + "/" + repository + "@" + digest.str();
}

Relocation relocate(const bundle::Root& root, const lock::ImageLock& lock, const RelocationOptions& o) {
  if (o.registry.empty()) throw Error(ErrorKind::Usage, "no target registry given (--registry)");
  if (!harbor::valid_project_name(o.project))
    throw Error(ErrorKind::Usage, fmt::format("\"{}\" is not a valid Harbor project name", o.project),
                "use lowercase letters and digits, separated by single '.', '_' or '-'");
  Relocation out;
  out.registry = o.registry;
  out.project = o.project;
  // Target repository -> the source repository (or chart) that claimed it.
  std::map<std::string, std::string> claimed;
  auto claim = [&](const std::string& repository, const std::string& source) {
    auto [it, inserted] = claimed.emplace(repository, source);
    if (!inserted && it->second != source)
      throw Error(ErrorKind::Input,
                  fmt::format("{} and {} would both be pushed to {}/{}", it->second, source, o.registry, repository),
                  o.keep_source_host ? "rename one of the images in the chart's lock"
                                     : "keep the source hosts apart with --keep-source-host");
  };

  for (const auto& image : root.images) {
    ref::Reference source = ref::Reference::parse(image.source);
    auto locked = std::find_if(lock.images.begin(), lock.images.end(),
                               [&](const lock::LockedImage& l) { return l.source.str() == image.source; });
    if (locked == lock.images.end())
      throw Error(ErrorKind::Input, fmt::format("image {} is not in the bundle's images.lock", image.source));
    std::string path = o.keep_source_host ? source.registry + "/" + source.repository : source.repository;
    RelocatedImage r;
    r.name = locked->name;
    r.source = image.source;
    r.repository = target_repository(o, path, image.source);
    r.tag = source.tag;
    r.digest = image.digest;
    r.values_paths = locked->values_paths;
    claim(r.repository, source.name());
    out.images.push_back(std::move(r));
  }

  // The chart's reference in the bundle is "charts/<name>:<tag>".
  const std::string& reference = root.chart.reference;
  size_t colon = reference.rfind(':');
  if (colon == std::string::npos) throw Error(ErrorKind::Input, fmt::format("chart reference \"{}\" has no tag", reference));
  out.chart.name = root.chart.name;
  out.chart.repository = target_repository(o, reference.substr(0, colon), "chart " + root.chart.name);
  out.chart.tag = reference.substr(colon + 1);
  out.chart.digest = root.chart.manifest;
  claim(out.chart.repository, "chart " + root.chart.name);
  return out;
}

std::string Relocation::values_yaml() const {
  ValuesNode tree;
  std::map<std::string, std::string> path_owner;
  for (const auto& image : images) {
    for (const auto& path : image.values_paths) {
      if (auto [it, inserted] = path_owner.emplace(path, image.name); !inserted)
        throw Error(ErrorKind::Input,
                    fmt::format("values path {} selects both {} and {}", path, it->second, image.name));
      ValuesNode* node = &tree;
      for (const auto& part : split_path(path)) node = &node->children[part];
      node->leaves["registry"] = registry;
      node->leaves["repository"] = image.repository;
      node->leaves["digest"] = image.digest.str();
    }
  }
  YAML::Emitter out;
  emit(out, tree);
  return std::string(out.c_str()) + "\n";
}

}  // namespace sealift::install
