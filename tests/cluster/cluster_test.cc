// The test cluster itself: real control plane, kwok nodes, and workloads that really roll out, so
// that helm --wait and --atomic rollbacks in the installer tests mean something.
#include "env/cluster.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <thread>
#include <nlohmann/json.hpp>

namespace sealift::testenv {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json kubectl_json(const Cluster& c, std::vector<std::string> args) {
  args.push_back("-o=json");
  RunResult r = c.kubectl(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out.empty() ? "{}" : r.out);
}

void create_namespace(const Cluster& c, const std::string& ns) {
  RunResult r = c.kubectl({"create", "namespace", ns});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

TEST(Cluster, ServesTheBuiltKubernetesVersionWithReadyKwokNodes) {
  Cluster& c = Cluster::shared();
  RunResult version = c.kubectl({"get", "--raw=/version"});
  ASSERT_EQ(version.exit_code, 0) << version.err;
  // helm matches chart kubeVersion constraints against this, so the build's ldflags must be right.
  EXPECT_EQ(json::parse(version.out)["gitVersion"], "v1.36.3");

  json nodes = kubectl_json(c, {"get", "nodes", "-l", "type=kwok"});
  ASSERT_EQ(nodes["items"].size(), 3u);
  for (const auto& node : nodes["items"]) {
    std::string ready;
    for (const auto& cond : node["status"]["conditions"]) {
      if (cond["type"] == "Ready") ready = cond["status"];
    }
    EXPECT_EQ(ready, "True") << node["metadata"]["name"];
  }
}

TEST(Cluster, RejectsRequestsWithoutTheAdminToken) {
  Cluster& c = Cluster::shared();
  RunResult r = run({peer("kubectl"), "--server=" + c.server(), "--insecure-skip-tls-verify", "--token=wrong",
                     "get", "namespaces"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("You must be logged in"), std::string::npos) << r.err;
}

TEST(Cluster, DeploymentRollsOutOntoKwokNodes) {
  Cluster& c = Cluster::shared();
  create_namespace(c, "rollout");
  RunResult created = c.kubectl({"create", "deployment", "web", "-n", "rollout", "--replicas=2",
                                 "--image=registry.invalid/web:1"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  RunResult status = c.kubectl({"rollout", "status", "deployment/web", "-n", "rollout", "--timeout=120s"});
  ASSERT_EQ(status.exit_code, 0) << status.out << status.err;

  json deploy = kubectl_json(c, {"get", "deployment", "web", "-n", "rollout"});
  EXPECT_EQ(deploy["status"]["availableReplicas"], 2);
  json pods = kubectl_json(c, {"get", "pods", "-n", "rollout", "-l", "app=web"});
  ASSERT_EQ(pods["items"].size(), 2u);
  for (const auto& pod : pods["items"]) {
    EXPECT_EQ(pod["status"]["phase"], "Running");
    EXPECT_EQ(pod["spec"]["nodeName"].get<std::string>().rfind("kwok-node-", 0), 0u) << pod["spec"]["nodeName"];
  }
}

TEST(Cluster, StatefulSetsDaemonSetsJobsAndClaimsComplete) {
  Cluster& c = Cluster::shared();
  create_namespace(c, "workloads");
  const std::string manifest = R"(
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: uploaded-files}
spec:
  accessModes: [ReadWriteMany]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: registry.invalid/db:1}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: registry.invalid/agent:1}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: registry.invalid/migrate:1}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cleanup}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: cleanup, image: registry.invalid/cleanup:1}]
)";
  RunResult applied = c.kubectl({"apply", "-n", "workloads", "-f", "-"}, manifest);
  ASSERT_EQ(applied.exit_code, 0) << applied.err;

  for (std::string what : {"statefulset/db", "daemonset/agent"}) {
    RunResult r = c.kubectl({"rollout", "status", what, "-n", "workloads", "--timeout=120s"});
    EXPECT_EQ(r.exit_code, 0) << what << ": " << r.out << r.err;
  }
  RunResult job = c.kubectl({"wait", "--for=condition=Complete", "job/migrate", "-n", "workloads", "--timeout=120s"});
  EXPECT_EQ(job.exit_code, 0) << job.err;
  RunResult claims = c.kubectl({"wait", "--for=jsonpath={.status.phase}=Bound", "pvc", "--all", "-n", "workloads",
                                "--timeout=120s"});
  EXPECT_EQ(claims.exit_code, 0) << claims.err;

  EXPECT_EQ(kubectl_json(c, {"get", "statefulset", "db", "-n", "workloads"})["status"]["readyReplicas"], 2);
  EXPECT_EQ(kubectl_json(c, {"get", "daemonset", "agent", "-n", "workloads"})["status"]["numberReady"], 3);
  // uploaded-files plus one claim per StatefulSet replica.
  EXPECT_EQ(kubectl_json(c, {"get", "pvc", "-n", "workloads"})["items"].size(), 3u);
  EXPECT_EQ(kubectl_json(c, {"get", "cronjob", "cleanup", "-n", "workloads"})["spec"]["schedule"], "0 3 * * *");
}

// Node liveness: kwok must keep every node's Lease fresh, or the node lifecycle controller marks the
// nodes NotReady once its grace period (50 s) has passed, every pod loses its Ready condition and
// helm --wait waits for ever. So the chart's Deployments must stay Available, and the nodes Ready,
// for longer than twice the grace period, and an upgrade started after that must complete.
TEST(Cluster, NodesAndTheChartStayReadyPastTheNodeMonitorGracePeriod) {
  Cluster& c = Cluster::shared();
  const fs::path chart = source_dir() / "chart";
  std::vector<std::string> install = {"upgrade", "--install", "steady", chart.string(), "--namespace", "steady",
                                      "--create-namespace", "--wait", "--timeout", "4m",
                                      // The test cluster has no load balancer: helm would wait for its address.
                                      "--set", "ingressController.service.type=NodePort"};
  for (const auto& [key, ns] : std::map<std::string, std::string>{{"frontend", "frontend"},
                                                                    {"backend", "backend"},
                                                                    {"shared", "shared"},
                                                                    {"pipeline", "pipeline"},
                                                                    {"ingressController", "ingress"}}) {
    install.push_back("--set");
    install.push_back("namespaces." + key + "=steady-" + ns);
  }
  RunResult installed = c.helm(install);
  ASSERT_EQ(installed.exit_code, 0) << installed.out << installed.err;

  // Every node Ready and every Deployment of the release Available, or what is not.
  auto problems = [&] {
    std::vector<std::string> out;
    // Named, not temporaries: a range-for over a member of a temporary reads freed memory.
    const json nodes = kubectl_json(c, {"get", "nodes"}).value("items", json::array());
    for (const auto& node : nodes)
      for (const auto& cond : node["status"]["conditions"])
        if (cond["type"] == "Ready" && cond["status"] != "True")
          out.push_back("node " + node["metadata"]["name"].get<std::string>() + " Ready=" + cond["status"].dump());
    const json deployments =
        kubectl_json(c, {"get", "deployments", "--all-namespaces", "-l", "app.kubernetes.io/instance=steady"})
            .value("items", json::array());
    if (deployments.empty()) out.push_back("no Deployment of the release");
    for (const auto& d : deployments) {
      bool available = false;
      const json conditions = d["status"].value("conditions", json::array());
      for (const auto& cond : conditions)
        if (cond["type"] == "Available") available = cond["status"] == "True";
      if (!available || d["status"].value("availableReplicas", 0) < 1)
        out.push_back("deployment " + d["metadata"]["namespace"].get<std::string>() + "/" +
                      d["metadata"]["name"].get<std::string>() + " status " + d["status"].dump());
    }
    return out;
  };
  // 3 minutes: more than twice the node monitor's grace period, sampled every 10 s.
  const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  int samples = 0;
  while (std::chrono::steady_clock::now() < until) {
    std::vector<std::string> found = problems();
    ++samples;
    ASSERT_TRUE(found.empty()) << "after " << samples << " samples:\n"
                               << testing::PrintToString(found) << c.diagnosis();
    std::this_thread::sleep_for(std::chrono::seconds(10));
  }
  EXPECT_GE(samples, 10);

  // A new pod template rolls out: helm --wait needs new pods to become ready on these nodes.
  std::vector<std::string> upgrade = install;
  upgrade.insert(upgrade.end(), {"--set", "frontend.podAnnotations.rollout=two"});
  RunResult upgraded = c.helm(upgrade);
  ASSERT_EQ(upgraded.exit_code, 0) << upgraded.out << upgraded.err;
  EXPECT_TRUE(problems().empty()) << testing::PrintToString(problems());
}

// A chart shaped like the ones sealift installs: a Deployment sharing an RWX claim, a StatefulSet
// with a claim template, and Services. Setting neverSchedulable gives the Deployment a node
// selector no node matches, so its new pods stay Pending and the rollout can never finish.
void write_tiny_chart(const fs::path& dir) {
  write(dir / "Chart.yaml", "apiVersion: v2\nname: tiny\nversion: 0.1.0\nkubeVersion: \">=1.23.0-0\"\n");
  write(dir / "values.yaml", "version: \"1\"\nneverSchedulable: false\n");
  write(dir / "templates/web.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web, version: "{{ .Values.version }}"}
    spec:
      {{- if .Values.neverSchedulable }}
      nodeSelector: {sealift.test/no-such-node: "true"}
      {{- end }}
      containers:
      - name: web
        image: registry.invalid/web:{{ .Values.version }}
        volumeMounts: [{name: uploads, mountPath: /uploads}]
      volumes:
      - name: uploads
        persistentVolumeClaim: {claimName: uploaded-files}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: uploaded-files}
spec:
  accessModes: [ReadWriteMany]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
)");
  write(dir / "templates/db.yaml", R"(apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "registry.invalid/db:{{ .Values.version }}"}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
)");
}

// With helm 3 and helm 4 (GetParam(): the peer), each with its own spelling of "wait, and roll
// back on failure": helm 4's --wait=watcher reads the workloads' status (kstatus) where helm 3's
// --wait counted ready pods, and both must mean something on this cluster.
class ClusterHelm : public testing::TestWithParam<std::string> {
 protected:
  std::vector<std::string> wait_and_roll_back() const {
    if (GetParam() == "helm") return {"--wait", "--atomic"};
    return {"--wait=watcher", "--rollback-on-failure"};
  }
  RunResult helm(const Cluster& c, std::vector<std::string> args, bool wait_and_roll_back = false) const {
    if (wait_and_roll_back)
      for (auto& a : this->wait_and_roll_back()) args.push_back(a);
    return c.helm(args, GetParam());
  }
};

TEST_P(ClusterHelm, HelmWaitsForRolloutAndAtomicUpgradeRollsBack) {
  Cluster& c = Cluster::shared();
  TempDir tmp("sealift-chart");
  fs::path chart = tmp / "tiny";
  write_tiny_chart(chart);

  RunResult install = helm(c, {"upgrade", "--install", "app", chart.string(), "-n", "helm-wait", "--create-namespace",
                               "--timeout", "2m"}, true);
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  EXPECT_EQ(kubectl_json(c, {"get", "deployment", "web", "-n", "helm-wait"})["status"]["readyReplicas"], 2);
  EXPECT_EQ(kubectl_json(c, {"get", "statefulset", "db", "-n", "helm-wait"})["status"]["readyReplicas"], 1);

  RunResult broken = helm(c, {"upgrade", "app", chart.string(), "-n", "helm-wait", "--set", "version=2", "--set",
                              "neverSchedulable=true", "--timeout", "30s"}, true);
  ASSERT_NE(broken.exit_code, 0) << broken.out;
  EXPECT_NE(broken.err.find("rolled back"), std::string::npos) << broken.err;

  RunResult history = helm(c, {"history", "app", "-n", "helm-wait", "-o", "json"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  json revs = json::parse(history.out);
  ASSERT_EQ(revs.size(), 3u) << history.out;
  EXPECT_EQ(revs[0]["status"], "superseded");
  EXPECT_EQ(revs[1]["status"], "failed");
  EXPECT_EQ(revs[2]["status"], "deployed");
  EXPECT_EQ(revs[2]["description"], "Rollback to 1");

  // The first release's pods are what runs now, and the Deployment is healthy again.
  RunResult status = c.kubectl({"rollout", "status", "deployment/web", "-n", "helm-wait", "--timeout=60s"});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  json deploy = kubectl_json(c, {"get", "deployment", "web", "-n", "helm-wait"});
  EXPECT_EQ(deploy["spec"]["template"]["metadata"]["labels"]["version"], "1");
  EXPECT_FALSE(deploy["spec"]["template"]["spec"].contains("nodeSelector"));
  EXPECT_EQ(deploy["status"]["availableReplicas"], 2);
}

INSTANTIATE_TEST_SUITE_P(HelmVersions, ClusterHelm, testing::ValuesIn(helm_peers()),
                         [](const testing::TestParamInfo<std::string>& i) { return helm_case_name(i.param); });

}  // namespace
}  // namespace sealift::testenv
