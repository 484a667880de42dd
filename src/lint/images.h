// Every container image a set of rendered manifests would make the cluster pull, with the object
// and container that uses it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sealift::lint {

struct ImageUse {
  std::string image;           // as written in the manifest
  std::string kind;            // Deployment, CronJob, Pod, ...
  std::string namespace_name;  // the object's namespace (the render's namespace when it names none)
  std::string name;            // the object's name
  std::string container;       // the container's name
  std::string source;          // the template that produced it ("chart/templates/x.yaml"), if known

  // "Deployment app-backend/backend, container backend"
  std::string where() const;
};

// The images of containers, initContainers and ephemeralContainers of every Pod, Deployment,
// StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job and CronJob in `manifests` (a
// multi-document YAML stream such as `helm template` writes; List objects are looked into).
// Throws Error(Input) on YAML that does not parse or a workload without a pod spec.
std::vector<ImageUse> collect_images(std::string_view manifests, std::string_view default_namespace);

}  // namespace sealift::lint
