#include "install/kubectl.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include "util/error.h"
#include "util/process.h"

namespace sealift::install {

using nlohmann::json;

json Kubectl::get_json(std::vector<std::string> args) const {
  std::vector<std::string> argv = {binary.string()};
  if (!kubeconfig.empty()) argv.push_back("--kubeconfig=" + kubeconfig);
  if (!context.empty()) argv.push_back("--context=" + context);
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"-o", "json"});
  util::ProcessResult r = util::run_process(argv);
  if (r.exit_code != 0)
    throw Error(ErrorKind::Tool, fmt::format("kubectl {} failed: {}", fmt::join(args, " "), r.err),
                "check the cluster's credentials in the kubeconfig");
  try {
    return json::parse(r.out);
  } catch (const json::exception& e) {
    throw Error(ErrorKind::Tool, fmt::format("kubectl {} printed no JSON: {}", fmt::join(args, " "), e.what()));
  }
}

namespace {

std::string str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

int number(const json& j, const char* key, int otherwise) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int>() : otherwise;
}

const json& field(const json& j, const char* key) {
  static const json empty = json::object();
  return j.is_object() && j.contains(key) ? j[key] : empty;
}

const json& items(const json& list) {
  static const json none = json::array();
  const json& i = field(list, "items");
  return i.is_array() ? i : none;
}

// " (REASON: MESSAGE)", " (REASON)", or "".
std::string because(const json& j) {
  std::string reason = str(j, "reason"), message = str(j, "message");
  if (reason.empty() && message.empty()) return "";
  if (message.empty()) return " (" + reason + ")";
  if (reason.empty()) return " (" + message + ")";
  return " (" + reason + ": " + message + ")";
}

void node_lines(const json& nodes, std::vector<std::string>& out) {
  size_t ready = 0;
  for (const auto& node : items(nodes)) {
    const std::string name = str(field(node, "metadata"), "name");
    const json* cond = nullptr;
    for (const auto& c : field(field(node, "status"), "conditions"))
      if (str(c, "type") == "Ready") cond = &c;
    // The node lifecycle controller's taints (unreachable, not-ready) say a node is lost even while
    // its last reported condition still reads Ready.
    std::vector<std::string> taints;
    for (const auto& t : field(field(node, "spec"), "taints"))
      if (str(t, "key").starts_with("node.kubernetes.io/")) taints.push_back(str(t, "key") + ":" + str(t, "effect"));
    const bool is_ready = cond && str(*cond, "status") == "True";
    if (is_ready && taints.empty()) {
      ++ready;
      continue;
    }
    std::string line = cond ? fmt::format("node {}: Ready={}{}", name, str(*cond, "status"), because(*cond))
                            : fmt::format("node {}: reports no Ready condition", name);
    if (!taints.empty()) line += fmt::format(", tainted {}", fmt::join(taints, ", "));
    out.push_back(line);
  }
  if (ready == items(nodes).size()) out.push_back(fmt::format("nodes: all {} Ready", ready));
}

void pod_lines(const std::string& ns, const json& pods, std::vector<std::string>& out) {
  for (const auto& pod : items(pods)) {
    const json& status = field(pod, "status");
    const std::string phase = str(status, "phase");
    if (phase == "Succeeded") continue;
    std::vector<std::string> why;
    bool ready = false;
    for (const auto& c : field(status, "conditions")) {
      if (str(c, "type") == "Ready") ready = str(c, "status") == "True";
      // Ready and ContainersReady only when they carry a reason: otherwise the containers say it.
      const bool readiness = str(c, "type") == "Ready" || str(c, "type") == "ContainersReady";
      if (str(c, "status") != "True" && (!readiness || !because(c).empty()))
        why.push_back(str(c, "type") + "=" + str(c, "status") + because(c));
    }
    if (ready) continue;
    for (const char* kind : {"initContainerStatuses", "containerStatuses"})
      for (const auto& cs : field(status, kind)) {
        const json& state = field(cs, "state");
        const std::string name = str(cs, "name");
        if (state.contains("waiting"))
          why.push_back(fmt::format("container {} waiting{}", name, because(state["waiting"])));
        else if (state.contains("terminated") && std::string(kind) == "containerStatuses")
          why.push_back(fmt::format("container {} terminated{}, exit code {}", name, because(state["terminated"]),
                                    field(state["terminated"], "exitCode").dump()));
        else if (!(cs.contains("ready") && cs["ready"] == true))
          why.push_back(fmt::format("container {} not ready", name));
        if (int restarts = number(cs, "restartCount", 0); restarts > 0)
          why.push_back(fmt::format("{} restarts", restarts));
      }
    if (why.empty()) why.push_back("Ready=False");  // marked so without a reason: the events say why
    const std::string node = str(field(pod, "spec"), "nodeName");
    out.push_back(fmt::format("pod {}/{}{}: {}{}{}", ns, str(field(pod, "metadata"), "name"),
                              node.empty() ? "" : " on " + node, phase.empty() ? "no phase" : phase,
                              why.empty() ? "" : ": ", fmt::join(why, "; ")));
  }
}

void event_lines(const std::string& ns, const json& events, std::vector<std::string>& out) {
  std::vector<const json*> warnings;
  for (const auto& e : items(events)) warnings.push_back(&e);
  // Newest last, as they happened; RFC 3339 times in UTC sort as text.
  auto when = [](const json& e) {
    std::string t = str(e, "lastTimestamp");
    return t.empty() ? str(e, "eventTime") : t;
  };
  std::stable_sort(warnings.begin(), warnings.end(), [&](const json* a, const json* b) { return when(*a) < when(*b); });
  const size_t newest = 5;
  if (warnings.size() > newest) warnings.erase(warnings.begin(), warnings.end() - newest);
  for (const json* e : warnings) {
    const json& obj = field(*e, "involvedObject");
    int count = number(*e, "count", 1);
    out.push_back(fmt::format("event {} {}/{}: {}: {}{}", ns, str(obj, "kind"), str(obj, "name"), str(*e, "reason"),
                              str(*e, "message"), count > 1 ? fmt::format(" (x{})", count) : ""));
  }
}

}  // namespace

std::vector<std::string> why_not_ready(const Kubectl& kubectl, const std::vector<std::string>& namespaces,
                                       size_t max_lines) {
  std::vector<std::string> out;
  if (kubectl.binary.empty()) return {"kubectl not found: cannot ask the cluster which pods are not ready"};
  try {
    node_lines(kubectl.get_json({"get", "nodes"}), out);
    for (const auto& ns : namespaces) pod_lines(ns, kubectl.get_json({"get", "pods", "--namespace", ns}), out);
    for (const auto& ns : namespaces)
      event_lines(ns, kubectl.get_json({"get", "events", "--namespace", ns, "--field-selector", "type=Warning"}), out);
  } catch (const Error& e) {
    out.push_back(e.what());
  }
  if (out.size() > max_lines) {
    size_t more = out.size() - max_lines;
    out.resize(max_lines);
    out.push_back(fmt::format("... and {} more", more));
  }
  return out;
}

std::vector<std::string> manifest_namespaces(const std::string& manifests, const std::string& default_namespace) {
  std::set<std::string> out;
  for (const YAML::Node& doc : YAML::LoadAll(manifests)) {
    if (!doc.IsMap() || !doc["kind"]) continue;
    const std::string kind = doc["kind"].as<std::string>();
    // A Namespace object is where the chart puts things; cluster-wide kinds name none.
    if (kind == "Namespace" && doc["metadata"] && doc["metadata"]["name"]) {
      out.insert(doc["metadata"]["name"].as<std::string>());
      continue;
    }
    if (doc["metadata"] && doc["metadata"]["namespace"]) out.insert(doc["metadata"]["namespace"].as<std::string>());
  }
  out.insert(default_namespace);
  return {out.begin(), out.end()};
}

}  // namespace sealift::install
