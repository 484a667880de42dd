// The chart rendered by the real helm for every values file, with the document pipeline off and on:
// helm lint --strict and helm template pass, and the manifests hold together (selectors, volumes,
// secrets, Pod Security "restricted", quotas that fit the autoscaled maximum, and NetworkPolicies
// that let exactly the application's flows through).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "chart/render.h"

namespace sealift::charttest {
namespace {

using Labels = std::map<std::string, std::string>;

struct Params {
  std::string values_file;  // "" = defaults
  bool pipeline;
};

void PrintTo(const Params& p, std::ostream* os) {
  *os << (p.values_file.empty() ? "defaults" : p.values_file) << (p.pipeline ? ", pipeline on" : ", pipeline off");
}

std::string param_name(const testing::TestParamInfo<Params>& info) {
  std::string f = info.param.values_file.empty() ? "defaults" : info.param.values_file;
  for (auto& c : f)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return f + (info.param.pipeline ? "_pipeline_on" : "_pipeline_off");
}

std::vector<Params> all_params() {
  std::vector<Params> out;
  for (const auto& f : values_files())
    for (bool p : {false, true}) out.push_back({f, p});
  return out;
}

helm::Values values_for(const Params& p) {
  helm::Values v;
  if (!p.values_file.empty()) v.files.push_back(chart_dir() / p.values_file);
  v.set.push_back(std::string("pipeline.enabled=") + (p.pipeline ? "true" : "false"));
  return v;
}

Labels labels_of(const YAML::Node& n) {
  Labels out;
  if (n && n.IsMap())
    for (const auto& kv : n) out[kv.first.as<std::string>()] = kv.second.as<std::string>();
  return out;
}

// The node at a path of keys, or an undefined node when any of them is missing (yaml-cpp throws
// when indexing through a missing key).
YAML::Node at(YAML::Node node, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (!node || !node.IsMap() || !node[k]) return YAML::Node(YAML::NodeType::Undefined);
    node.reset(node[k]);
  }
  return node;
}

bool subset(const Labels& want, const Labels& have) {
  for (const auto& [k, v] : want) {
    auto it = have.find(k);
    if (it == have.end() || it->second != v) return false;
  }
  return true;
}

// CPU in millicores, memory in bytes.
int64_t quantity(const std::string& q) {
  static const std::vector<std::pair<std::string, int64_t>> suffixes = {
      {"Ki", 1024LL}, {"Mi", 1024LL * 1024}, {"Gi", 1024LL * 1024 * 1024}, {"Ti", 1024LL * 1024 * 1024 * 1024},
      {"k", 1000LL}, {"M", 1000LL * 1000}, {"G", 1000LL * 1000 * 1000}};
  for (const auto& [s, mult] : suffixes)
    if (q.size() > s.size() && q.compare(q.size() - s.size(), s.size(), s) == 0)
      return static_cast<int64_t>(std::stod(q.substr(0, q.size() - s.size())) * static_cast<double>(mult));
  if (!q.empty() && q.back() == 'm') return static_cast<int64_t>(std::stod(q.substr(0, q.size() - 1)));
  return static_cast<int64_t>(std::stod(q) * 1000);  // plain CPU cores
}

int64_t memory(const std::string& q) {
  if (!q.empty() && std::isdigit(static_cast<unsigned char>(q.back()))) return std::stoll(q);
  return quantity(q);
}

struct Workload {
  std::string kind, ns, name;
  YAML::Node pod;  // the pod spec
  Labels labels;   // of its pods
  int max_pods = 1;
};

class Rendered {
 public:
  explicit Rendered(const std::vector<YAML::Node>& docs) : docs_(docs) {
    for (const auto& d : docs) {
      const std::string kind = d["kind"].as<std::string>();
      if (kind == "Namespace") namespaces_[d["metadata"]["name"].as<std::string>()] = labels_of(d["metadata"]["labels"]);
    }
    std::map<std::string, int> hpa_max;
    for (const auto& d : of_kind("HorizontalPodAutoscaler"))
      hpa_max[ns(d) + "/" + d["spec"]["scaleTargetRef"]["name"].as<std::string>()] = d["spec"]["maxReplicas"].as<int>();
    for (const auto& d : docs) {
      const std::string kind = d["kind"].as<std::string>();
      Workload w{kind, ns(d), d["metadata"]["name"].as<std::string>(), {}, {}, 1};
      if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet") {
        w.pod = d["spec"]["template"]["spec"];
        w.labels = labels_of(d["spec"]["template"]["metadata"]["labels"]);
        if (d["spec"]["replicas"]) w.max_pods = d["spec"]["replicas"].as<int>();
        if (auto it = hpa_max.find(w.ns + "/" + w.name); it != hpa_max.end()) w.max_pods = it->second;
        if (kind == "DaemonSet") w.max_pods = 3;  // the test cluster's nodes
      } else if (kind == "CronJob") {
        w.pod = d["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        w.labels = labels_of(d["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]);
      } else if (kind == "Pod") {
        w.pod = d["spec"];
        w.labels = labels_of(d["metadata"]["labels"]);
      } else {
        continue;
      }
      workloads_.push_back(w);
    }
  }

  static std::string ns(const YAML::Node& d) {
    return d["metadata"]["namespace"] ? d["metadata"]["namespace"].as<std::string>() : "sealift-system";
  }

  std::vector<YAML::Node> of_kind(const std::string& kind) const {
    std::vector<YAML::Node> out;
    for (const auto& d : docs_)
      if (d["kind"].as<std::string>() == kind) out.push_back(d);
    return out;
  }

  bool has(const std::string& kind, const std::string& ns_name, const std::string& name) const {
    for (const auto& d : of_kind(kind))
      if (ns(d) == ns_name && d["metadata"]["name"].as<std::string>() == name) return true;
    return false;
  }

  const Workload* component(const std::string& c) const {
    for (const auto& w : workloads_)
      if (w.labels.count("app.kubernetes.io/component") && w.labels.at("app.kubernetes.io/component") == c) return &w;
    return nullptr;
  }

  Labels namespace_labels(const std::string& name) const {
    auto it = namespaces_.find(name);
    Labels l = it == namespaces_.end() ? Labels{} : it->second;
    l["kubernetes.io/metadata.name"] = name;
    return l;
  }

  const std::vector<Workload>& workloads() const { return workloads_; }
  const std::map<std::string, Labels>& namespaces() const { return namespaces_; }

 private:
  std::vector<YAML::Node> docs_;
  std::map<std::string, Labels> namespaces_;
  std::vector<Workload> workloads_;
};

// A pod that sends or receives traffic, for evaluating NetworkPolicies the way Kubernetes does.
struct Endpoint {
  std::string ns;
  Labels labels;
};

class Policies {
 public:
  explicit Policies(const Rendered& r) : r_(r), policies_(r.of_kind("NetworkPolicy")) {}

  bool flow(const Endpoint& from, const Endpoint& to, int port, const std::string& protocol = "TCP") const {
    return allowed("Egress", from, to, port, protocol) && allowed("Ingress", to, from, port, protocol);
  }

 private:
  bool selects(const YAML::Node& selector, const Labels& labels) const {
    EXPECT_FALSE(selector["matchExpressions"]) << "the evaluator knows matchLabels only";
    return subset(labels_of(selector["matchLabels"]), labels);
  }

  bool peer_matches(const YAML::Node& peer, const std::string& policy_ns, const Endpoint& other) const {
    if (peer["ipBlock"]) return false;  // outside the cluster
    const bool ns_ok = peer["namespaceSelector"] ? selects(peer["namespaceSelector"], r_.namespace_labels(other.ns))
                                                 : other.ns == policy_ns;
    const bool pod_ok = peer["podSelector"] ? selects(peer["podSelector"], other.labels) : true;
    return ns_ok && pod_ok;
  }

  bool allowed(const std::string& direction, const Endpoint& self, const Endpoint& other, int port,
               const std::string& protocol) const {
    bool isolated = false;
    const char* rules_key = direction == "Ingress" ? "ingress" : "egress";
    const char* peers_key = direction == "Ingress" ? "from" : "to";
    for (const auto& p : policies_) {
      if (Rendered::ns(p) != self.ns || !selects(p["spec"]["podSelector"], self.labels)) continue;
      bool applies = false;
      for (const auto& t : p["spec"]["policyTypes"]) applies |= t.as<std::string>() == direction;
      if (!applies) continue;
      isolated = true;
      for (const auto& rule : p["spec"][rules_key]) {
        bool peer_ok = !rule[peers_key] || rule[peers_key].size() == 0;
        for (const auto& peer : rule[peers_key]) peer_ok |= peer_matches(peer, Rendered::ns(p), other);
        bool port_ok = !rule["ports"] || rule["ports"].size() == 0;
        for (const auto& pp : rule["ports"]) {
          const std::string proto = pp["protocol"] ? pp["protocol"].as<std::string>() : "TCP";
          port_ok |= proto == protocol && (!pp["port"] || pp["port"].as<int>() == port);
        }
        if (peer_ok && port_ok) return true;
      }
    }
    return !isolated;
  }

  const Rendered& r_;
  std::vector<YAML::Node> policies_;
};

class ChartRender : public testing::TestWithParam<Params> {
 protected:
  void SetUp() override {
    manifests_ = render(values_for(GetParam()));
    docs_ = documents(manifests_);
    ASSERT_FALSE(docs_.empty());
  }
  std::string manifests_;
  std::vector<YAML::Node> docs_;
};

TEST_P(ChartRender, HelmLintStrictPasses) {
  std::string report;
  ASSERT_NO_THROW(report = real_helm().lint(chart_dir(), values_for(GetParam()), kKubeVersion));
  EXPECT_NE(report.find("0 chart(s) failed"), std::string::npos) << report;
}

TEST_P(ChartRender, NamespacesCarryPodSecurityLabels) {
  Rendered r(docs_);
  ASSERT_GE(r.namespaces().size(), 3u);
  for (const auto& [name, labels] : r.namespaces()) {
    ASSERT_TRUE(labels.count("pod-security.kubernetes.io/enforce")) << name;
    const std::string level = labels.at("pod-security.kubernetes.io/enforce");
    EXPECT_TRUE(level == "restricted" || level == "privileged") << name << ": " << level;
    if (name != "shared") {
      EXPECT_EQ(level, "restricted") << name;
    }
  }
  EXPECT_EQ(r.namespaces().count("app-pipeline"), GetParam().pipeline ? 1u : 0u);
}

TEST_P(ChartRender, EveryContainerIsConfinedAndSized) {
  Rendered r(docs_);
  ASSERT_FALSE(r.workloads().empty());
  for (const auto& w : r.workloads()) {
    const std::string who = w.kind + " " + w.ns + "/" + w.name;
    const Labels ns_labels = r.namespace_labels(w.ns);
    const bool restricted = ns_labels.count("pod-security.kubernetes.io/enforce") &&
                            ns_labels.at("pod-security.kubernetes.io/enforce") == "restricted";
    const YAML::Node psc = w.pod["securityContext"];
    ASSERT_TRUE(psc) << who;
    EXPECT_EQ(at(psc, {"seccompProfile", "type"}).as<std::string>(""), "RuntimeDefault") << who;
    for (const char* list : {"initContainers", "containers"}) {
      for (const auto& c : w.pod[list]) {
        const std::string cwho = who + " container " + c["name"].as<std::string>();
        const YAML::Node sc = c["securityContext"];
        ASSERT_TRUE(sc) << cwho;
        EXPECT_FALSE(sc["allowPrivilegeEscalation"].as<bool>()) << cwho;
        std::vector<std::string> drop;
        for (const auto& d : at(sc, {"capabilities", "drop"})) drop.push_back(d.as<std::string>());
        EXPECT_NE(std::find(drop.begin(), drop.end(), "ALL"), drop.end()) << cwho;
        EXPECT_FALSE(at(sc, {"capabilities", "add"})) << cwho;
        // The ingress controller rewrites nginx.conf at run time; every other root FS is read-only.
        if (w.name != "ingress-nginx-controller") {
          EXPECT_TRUE(sc["readOnlyRootFilesystem"].as<bool>()) << cwho;
        }
        const bool non_root = (sc["runAsNonRoot"] && sc["runAsNonRoot"].as<bool>()) ||
                              (psc["runAsNonRoot"] && psc["runAsNonRoot"].as<bool>());
        if (restricted) {
          EXPECT_TRUE(non_root) << cwho;
        }
        if (!non_root) {
          EXPECT_EQ(w.name, "fluent-bit") << cwho << " runs as root";
        }
        for (const char* kind : {"requests", "limits"})
          for (const char* res : {"cpu", "memory"}) EXPECT_TRUE(at(c, {"resources", kind, res})) << cwho << " " << kind << "." << res;
        EXPECT_TRUE(c["imagePullPolicy"]) << cwho;
        // Probes that name a port name one the container declares.
        std::set<std::string> ports;
        for (const auto& p : c["ports"]) ports.insert(p["name"].as<std::string>());
        for (const char* probe : {"startupProbe", "livenessProbe", "readinessProbe"}) {
          const YAML::Node port = at(c, {probe, "httpGet", "port"});
          if (port && !std::isdigit(static_cast<unsigned char>(port.as<std::string>()[0]))) {
            EXPECT_TRUE(ports.count(port.as<std::string>())) << cwho << " " << probe;
          }
        }
      }
    }
    if (restricted) {
      for (const auto& v : w.pod["volumes"]) EXPECT_FALSE(v["hostPath"]) << who << " uses hostPath";
    }
  }
}

// helm 4 installs with server-side apply, which refuses two entries of one key in a list the API
// merges by key (two env entries of one name, say); client-side apply let them pass. The keys are
// the Kubernetes API's x-kubernetes-list-map-keys for the pod's lists.
TEST_P(ChartRender, ListsTheApiMergesByKeyHaveEachKeyOnce) {
  Rendered r(docs_);
  ASSERT_FALSE(r.workloads().empty());
  auto expect_unique = [](const YAML::Node& list, const std::string& who, const std::string& what,
                          const std::function<std::string(const YAML::Node&)>& key) {
    std::set<std::string> seen;
    for (const auto& item : list)
      EXPECT_TRUE(seen.insert(key(item)).second) << who << ": two " << what << " entries " << key(item);
  };
  auto field = [](const char* name) {
    return [name](const YAML::Node& n) { return n[name].as<std::string>(""); };
  };
  for (const auto& w : r.workloads()) {
    const std::string who = w.kind + " " + w.ns + "/" + w.name;
    expect_unique(w.pod["volumes"], who, "volumes", field("name"));
    std::set<std::string> containers;
    for (const char* list : {"initContainers", "containers"}) {
      for (const auto& c : w.pod[list]) {
        const std::string cwho = who + " container " + c["name"].as<std::string>();
        EXPECT_TRUE(containers.insert(c["name"].as<std::string>()).second) << cwho << " twice";
        expect_unique(c["env"], cwho, "env", field("name"));
        expect_unique(c["volumeMounts"], cwho, "volumeMounts", field("mountPath"));
        expect_unique(c["ports"], cwho, "ports", [](const YAML::Node& p) {
          return p["containerPort"].as<std::string>("") + "/" + p["protocol"].as<std::string>("TCP");
        });
      }
    }
  }
}

TEST_P(ChartRender, ReferencesResolveWithinTheRender) {
  Rendered r(docs_);
  for (const auto& w : r.workloads()) {
    const std::string who = w.kind + " " + w.ns + "/" + w.name;
    if (w.pod["serviceAccountName"]) {
      EXPECT_TRUE(r.has("ServiceAccount", w.ns, w.pod["serviceAccountName"].as<std::string>())) << who;
    }
    std::set<std::string> volumes;
    for (const auto& v : w.pod["volumes"]) {
      volumes.insert(v["name"].as<std::string>());
      if (v["configMap"]) {
        EXPECT_TRUE(r.has("ConfigMap", w.ns, v["configMap"]["name"].as<std::string>())) << who;
      }
      if (v["persistentVolumeClaim"]) {
        EXPECT_TRUE(r.has("PersistentVolumeClaim", w.ns, v["persistentVolumeClaim"]["claimName"].as<std::string>())) << who;
      }
    }
    for (const auto& d : r.of_kind("StatefulSet"))
      if (Rendered::ns(d) == w.ns && d["metadata"]["name"].as<std::string>() == w.name)
        for (const auto& t : d["spec"]["volumeClaimTemplates"]) volumes.insert(t["metadata"]["name"].as<std::string>());
    for (const char* list : {"initContainers", "containers"}) {
      for (const auto& c : w.pod[list]) {
        for (const auto& m : c["volumeMounts"])
          EXPECT_TRUE(volumes.count(m["name"].as<std::string>())) << who << " mounts " << m["name"].as<std::string>();
        for (const auto& e : c["env"]) {
          const YAML::Node ref = at(e, {"valueFrom", "secretKeyRef"});
          if (!ref) continue;
          const std::string secret = ref["name"].as<std::string>();
          // A Secret the customer provides (managed mode) is not part of the render.
          if (secret == "app-secrets") continue;
          EXPECT_TRUE(r.has("Secret", w.ns, secret)) << who << " reads Secret " << secret;
        }
        for (const auto& e : c["envFrom"]) {
          if (e["configMapRef"]) {
            EXPECT_TRUE(r.has("ConfigMap", w.ns, e["configMapRef"]["name"].as<std::string>())) << who;
          }
        }
      }
    }
  }
}

TEST_P(ChartRender, SelectorsFindTheirPods) {
  Rendered r(docs_);
  for (const char* kind : {"Deployment", "StatefulSet", "DaemonSet"}) {
    for (const auto& d : r.of_kind(kind)) {
      EXPECT_TRUE(subset(labels_of(d["spec"]["selector"]["matchLabels"]), labels_of(d["spec"]["template"]["metadata"]["labels"])))
          << kind << " " << d["metadata"]["name"].as<std::string>();
    }
  }
  auto selects_a_workload = [&r](const std::string& ns, const Labels& selector) {
    return std::any_of(r.workloads().begin(), r.workloads().end(),
                       [&](const Workload& w) { return w.ns == ns && subset(selector, w.labels); });
  };
  for (const auto& s : r.of_kind("Service")) {
    EXPECT_TRUE(selects_a_workload(Rendered::ns(s), labels_of(s["spec"]["selector"])))
        << "Service " << s["metadata"]["name"].as<std::string>() << " selects no pods";
  }
  for (const auto& p : r.of_kind("PodDisruptionBudget")) {
    EXPECT_TRUE(selects_a_workload(Rendered::ns(p), labels_of(p["spec"]["selector"]["matchLabels"])))
        << "PDB " << p["metadata"]["name"].as<std::string>();
  }
  for (const auto& h : r.of_kind("HorizontalPodAutoscaler")) {
    const std::string target = h["spec"]["scaleTargetRef"]["name"].as<std::string>();
    bool found = false;
    for (const auto& d : r.of_kind("Deployment")) {
      if (Rendered::ns(d) != Rendered::ns(h) || d["metadata"]["name"].as<std::string>() != target) continue;
      found = true;
      // A fixed replica count would fight the autoscaler on every upgrade.
      EXPECT_FALSE(d["spec"]["replicas"]) << "Deployment " << target << " sets replicas under an HPA";
    }
    EXPECT_TRUE(found) << "HPA targets missing Deployment " << target;
    EXPECT_EQ(h["apiVersion"].as<std::string>(), "autoscaling/v2");
  }
}

TEST_P(ChartRender, QuotasFitTheAutoscaledMaximum) {
  Rendered r(docs_);
  for (const auto& q : r.of_kind("ResourceQuota")) {
    const std::string ns = Rendered::ns(q);
    std::map<std::string, int64_t> used;
    for (const auto& w : r.workloads()) {
      if (w.ns != ns) continue;
      for (const char* kind : {"requests", "limits"}) {
        for (const char* res : {"cpu", "memory"}) {
          auto amount = [&](const YAML::Node& c) {
            const YAML::Node v = at(c, {"resources", kind, res});
            return v ? (std::string(res) == "cpu" ? quantity(v.as<std::string>()) : memory(v.as<std::string>())) : 0;
          };
          int64_t containers = 0, init = 0;
          for (const auto& c : w.pod["containers"]) containers += amount(c);
          for (const auto& c : w.pod["initContainers"]) init = std::max(init, amount(c));
          used[std::string(kind) + "." + res] += std::max(containers, init) * w.max_pods;
        }
      }
    }
    for (const auto& [key, value] : used) {
      const YAML::Node hard = q["spec"]["hard"][key];
      ASSERT_TRUE(hard) << ns << " quota has no " << key;
      const int64_t limit = key.find("cpu") != std::string::npos ? quantity(hard.as<std::string>()) : memory(hard.as<std::string>());
      EXPECT_LE(value, limit) << ns << ": " << key << " at the autoscaled maximum exceeds the quota";
    }
  }
}

TEST_P(ChartRender, NetworkPoliciesAllowTheApplicationFlowsAndNothingElse) {
  Rendered r(docs_);
  Policies np(r);
  for (const auto& ns : {"app-frontend", "app-backend", "shared"}) {
    bool deny_all = false;
    for (const auto& p : r.of_kind("NetworkPolicy"))
      deny_all |= Rendered::ns(p) == ns && p["spec"]["podSelector"].size() == 0 && p["spec"]["policyTypes"].size() == 2;
    EXPECT_TRUE(deny_all) << ns << " has no default-deny policy";
  }
  auto ep = [&r](const std::string& component) -> Endpoint {
    const Workload* w = r.component(component);
    if (!w) return {};
    return {w->ns, w->labels};
  };
  const Workload* in_chart_controller = r.component("ingress-controller");
  const Endpoint ingress = in_chart_controller ? Endpoint{in_chart_controller->ns, in_chart_controller->labels}
                                               : Endpoint{"ingress-nginx", {{"app.kubernetes.io/name", "ingress-nginx"}}};
  const Endpoint dns{"kube-system", {{"k8s-app", "kube-dns"}}};
  const Endpoint stranger{"default", {{"app", "curious"}}};
  const bool in_cluster_db = r.component("postgresql") != nullptr;
  const bool in_cluster_redis = r.component("redis") != nullptr;

  EXPECT_TRUE(np.flow(ingress, ep("frontend"), 8080));
  EXPECT_TRUE(np.flow(ingress, ep("backend"), 5000));
  EXPECT_TRUE(np.flow(ep("frontend"), ep("backend"), 5000));
  EXPECT_TRUE(np.flow(ep("connection-test"), ep("frontend"), 8080));
  EXPECT_TRUE(np.flow(ep("connection-test"), ep("backend"), 5000));
  EXPECT_TRUE(np.flow(ep("prometheus"), ep("backend"), 5000));
  EXPECT_TRUE(np.flow(ep("prometheus"), ep("fluent-bit"), 2020));
  for (const char* c : {"frontend", "backend", "prometheus", "fluent-bit", "connection-test"}) {
    EXPECT_TRUE(np.flow(ep(c), dns, 53, "UDP")) << c << " cannot resolve names";
  }
  if (in_cluster_db) {
    EXPECT_TRUE(np.flow(ep("backend"), ep("postgresql"), 5432));
    if (r.component("backup")) {
      EXPECT_TRUE(np.flow(ep("backup"), ep("postgresql"), 5432));
    }
    EXPECT_FALSE(np.flow(ep("frontend"), ep("postgresql"), 5432));
    EXPECT_FALSE(np.flow(ingress, ep("postgresql"), 5432));
    EXPECT_FALSE(np.flow(stranger, ep("postgresql"), 5432));
  }
  if (in_cluster_redis) {
    EXPECT_TRUE(np.flow(ep("backend"), ep("redis"), 6379));
    EXPECT_FALSE(np.flow(ep("frontend"), ep("redis"), 6379));
    EXPECT_FALSE(np.flow(ep("prometheus"), ep("redis"), 6379));
  }
  EXPECT_FALSE(np.flow(stranger, ep("backend"), 5000));
  EXPECT_FALSE(np.flow(ep("frontend"), ep("backend"), 5432));
  EXPECT_FALSE(np.flow(ep("backend"), ep("frontend"), 8080));

  if (!GetParam().pipeline) return;
  EXPECT_TRUE(np.flow(ingress, ep("api-gateway"), 8000));
  EXPECT_TRUE(np.flow(ep("api-gateway"), ep("workflow-orchestrator"), 9000));
  const std::vector<std::pair<std::string, int>> workers = {
      {"validation-service", 9001}, {"metadata-service", 9002}, {"content-service", 9003}, {"ai-service", 9004}};
  for (const auto& [worker, port] : workers) {
    EXPECT_TRUE(np.flow(ep("workflow-orchestrator"), ep(worker), port)) << worker;
    EXPECT_TRUE(np.flow(ep("prometheus"), ep(worker), port)) << worker;
    EXPECT_FALSE(np.flow(ep("api-gateway"), ep(worker), port)) << worker;
    EXPECT_FALSE(np.flow(ingress, ep(worker), port)) << worker;
    if (in_cluster_redis) {
      EXPECT_TRUE(np.flow(ep(worker), ep("redis"), 6379)) << worker;
    }
    if (in_cluster_db) {
      EXPECT_FALSE(np.flow(ep(worker), ep("postgresql"), 5432)) << worker;
    }
    EXPECT_TRUE(np.flow(ep(worker), dns, 53, "UDP")) << worker;
  }
  if (in_cluster_db) {
    EXPECT_TRUE(np.flow(ep("api-gateway"), ep("postgresql"), 5432));
  }
}

INSTANTIATE_TEST_SUITE_P(ValuesFiles, ChartRender, testing::ValuesIn(all_params()), param_name);

}  // namespace
}  // namespace sealift::charttest
