// kubectl, run as a child process to read what the API server reports: the workloads' images for
// the install report, and why a release did not become ready. sealift never writes to the
// cluster through it; helm does the writing.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sealift::install {

struct Kubectl {
  std::filesystem::path binary;
  std::string kubeconfig;  // empty: kubectl's own default ($KUBECONFIG, ~/.kube/config)
  std::string context;     // empty: the kubeconfig's current context

  // `kubectl ARGS -o json`, parsed. Throws Error(Tool) with kubectl's message when it fails or
  // prints something that is not JSON.
  nlohmann::json get_json(std::vector<std::string> args) const;
};

// Why pods in `namespaces` are not ready, as the API server tells it, one finding per line:
//   node kwok-node-1: Ready=Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)
//   pod app-backend/backend-5d8c: Pending: PodScheduled=False (Unschedulable: 0/3 nodes ...)
//   pod app-backend/backend-7f9a: container backend waiting: ImagePullBackOff (Back-off pulling ...)
//   event app-backend Pod/backend-7f9a: Failed: Failed to pull image ... (x4)
// Nodes that are all Ready give one summary line. Events are the newest Warning events there, so a
// pod that helm's rollback already removed still shows what happened to it. At most `max_lines`
// lines. A kubectl that cannot be run or read gives one line saying so, never an exception: this
// explains a failure and must not replace it.
std::vector<std::string> why_not_ready(const Kubectl& kubectl, const std::vector<std::string>& namespaces,
                                       size_t max_lines = 30);

// The namespaces the objects of a multi-document YAML stream (rendered manifests) live in, with
// `default_namespace` for objects that name none. Sorted, without duplicates.
std::vector<std::string> manifest_namespaces(const std::string& manifests, const std::string& default_namespace);

}  // namespace sealift::install
