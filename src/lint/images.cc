#include "lint/images.h"

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::lint {

namespace {

std::string text(const YAML::Node& node) { return node && node.IsScalar() ? node.Scalar() : std::string(); }

// The pod template of a workload, by kind; an invalid node for kinds that run no pods.
YAML::Node pod_spec(const std::string& kind, const YAML::Node& doc) {
  const YAML::Node spec = doc["spec"];
  if (kind == "Pod") return spec;
  if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" || kind == "ReplicaSet" ||
      kind == "ReplicationController" || kind == "Job")
    return spec ? spec["template"]["spec"] : YAML::Node();
  if (kind == "CronJob") return spec ? spec["jobTemplate"]["spec"]["template"]["spec"] : YAML::Node();
  return YAML::Node(YAML::NodeType::Undefined);
}

bool runs_pods(const std::string& kind) {
  return kind == "Pod" || kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" ||
         kind == "ReplicaSet" || kind == "ReplicationController" || kind == "Job" || kind == "CronJob";
}

void collect_object(const YAML::Node& doc, std::string_view default_namespace, const std::string& source,
                    std::vector<ImageUse>& out) {
  if (!doc.IsMap()) return;
  const std::string kind = text(doc["kind"]);
  if (kind == "List") {
    for (const auto& item : doc["items"]) collect_object(item, default_namespace, source, out);
    return;
  }
  if (!runs_pods(kind)) return;
  const YAML::Node metadata = doc["metadata"];
  const std::string name = metadata ? text(metadata["name"]) : std::string();
  std::string ns = metadata ? text(metadata["namespace"]) : std::string();
  if (ns.empty()) ns = default_namespace;
  const YAML::Node spec = pod_spec(kind, doc);
  if (!spec || !spec.IsMap())
    throw Error(ErrorKind::Input, fmt::format("{} {}/{} has no pod spec{}", kind, ns, name,
                                              source.empty() ? "" : " (" + source + ")"));
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    for (const auto& c : spec[list]) {
      ImageUse use;
      use.image = text(c["image"]);
      use.kind = kind;
      use.namespace_name = ns;
      use.name = name;
      use.container = text(c["name"]);
      use.source = source;
      out.push_back(std::move(use));
    }
  }
}

}  // namespace

std::string ImageUse::where() const {
  return fmt::format("{} {}/{}, container {}", kind, namespace_name, name, container);
}

std::vector<ImageUse> collect_images(std::string_view manifests, std::string_view default_namespace) {
  std::vector<ImageUse> out;
  // Split at document markers ourselves to keep helm's "# Source: <template>" comment of each.
  size_t pos = 0;
  while (pos <= manifests.size()) {
    size_t next = pos;
    while (true) {
      next = manifests.find("\n---", next);
      if (next == std::string_view::npos) break;
      size_t after = next + 4;
      if (after >= manifests.size() || manifests[after] == '\n' || manifests[after] == ' ' || manifests[after] == '\r') break;
      next = after;
    }
    std::string_view doc = manifests.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos + 1);
    if (doc.rfind("---", 0) == 0) {
      size_t eol = doc.find('\n');
      doc.remove_prefix(eol == std::string_view::npos ? doc.size() : eol + 1);
    }
    std::string source;
    if (auto s = doc.find("# Source: "); s != std::string_view::npos && (s == 0 || doc[s - 1] == '\n')) {
      size_t eol = doc.find('\n', s);
      source = std::string(doc.substr(s + 10, eol == std::string_view::npos ? std::string_view::npos : eol - s - 10));
    }
    try {
      collect_object(YAML::Load(std::string(doc)), default_namespace, source, out);
    } catch (const YAML::Exception& e) {
      throw Error(ErrorKind::Input, fmt::format("rendered manifests{}: line {}: {}",
                                                source.empty() ? "" : " (" + source + ")", e.mark.line + 1, e.msg));
    }
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return out;
}

}  // namespace sealift::lint
