// The chart installed by the real helm into a real kube-apiserver (kwok plays the kubelets):
// every object passes the API server's validation, every pod passes its namespace's Pod Security
// admission ("restricted" everywhere but Fluent Bit's namespace), and every workload rolls out.
// With helm 3, and with helm 4, whose server-side apply (its default for new installs) refuses
// what client-side apply let pass, such as two env entries of one name in a container.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "chart/render.h"
#include "env/cluster.h"

namespace sealift::charttest {
namespace {

struct Case {
  int index;
  std::string values_file;
  std::vector<std::string> set;
  std::string helm = "helm";  // the peer: "helm" (helm 3) or "helm4"
};

class ChartInstall : public testing::TestWithParam<Case> {};

TEST_P(ChartInstall, InstallsAndRollsOutUnderPodSecurityRestricted) {
  auto& cluster = testenv::Cluster::shared();
  // Each case gets its own release and namespaces (kept volumes of one case must not meet another's
  // sizes), which also shows the namespaces are configurable.
  const std::string release = "dash" + std::to_string(GetParam().index);
  const std::string prefix = "t" + std::to_string(GetParam().index) + "-";
  std::vector<std::string> args = {"upgrade", "--install", release, chart_dir().string(), "--namespace",
                                   "sealift-system", "--create-namespace", "--wait", "--timeout", "4m",
                                   // The test cluster has no load balancer: helm would wait for its address.
                                   "--set", "ingressController.service.type=NodePort"};
  for (const char* ns : {"frontend", "backend", "shared", "pipeline", "ingressController"}) {
    args.push_back("--set");
    args.push_back(std::string("namespaces.") + ns + "=" + prefix + (std::string(ns) == "ingressController" ? "ingress" : ns));
  }
  if (!GetParam().values_file.empty()) {
    args.push_back("--values");
    args.push_back((chart_dir() / GetParam().values_file).string());
  }
  for (const auto& s : GetParam().set) {
    args.push_back("--set");
    args.push_back(s);
  }
  auto install = cluster.helm(args, GetParam().helm);
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  EXPECT_EQ(install.err.find("PodSecurity"), std::string::npos) << install.err;

  auto pods = cluster.kubectl({"get", "pods", "--all-namespaces", "-l", "app.kubernetes.io/instance=" + release, "-o", "json"});
  ASSERT_EQ(pods.exit_code, 0) << pods.err;
  auto list = nlohmann::json::parse(pods.out)["items"];
  EXPECT_GE(list.size(), 5u);
  for (const auto& p : list) {
    EXPECT_EQ(p["status"]["phase"], "Running") << p["metadata"]["namespace"] << "/" << p["metadata"]["name"];
  }
  // Every controller created all its pods: a pod refused by Pod Security admission never exists.
  // A workload's status follows its pods' readiness a moment later (the controllers update it
  // after helm's wait has seen the pods), so it is read until it agrees or a minute has passed.
  auto not_ready = [&] {
    std::vector<std::string> out;
    for (const char* kind : {"deployments", "statefulsets", "daemonsets"}) {
      auto r = cluster.kubectl({"get", kind, "--all-namespaces", "-l", "app.kubernetes.io/instance=" + release, "-o", "json"});
      if (r.exit_code != 0) {
        out.push_back(std::string(kind) + ": " + r.err);
        continue;
      }
      // The parsed document must outlive the loop: a range-for over a member of a temporary that
      // operator[] returns would read freed memory (ASan caught it).
      const nlohmann::json workloads = nlohmann::json::parse(r.out);
      for (const auto& w : workloads.at("items")) {
        const std::string who = std::string(kind) + " " + w["metadata"]["namespace"].get<std::string>() + "/" +
                                w["metadata"]["name"].get<std::string>();
        const auto& st = w["status"];
        bool ready = std::string(kind) == "daemonsets"
                         ? st.value("numberReady", -1) == st.value("desiredNumberScheduled", -2)
                         : st.value("readyReplicas", 0) >= 1;
        if (!ready) out.push_back(who + " status " + st.dump());
      }
    }
    return out;
  };
  std::vector<std::string> waiting = not_ready();
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       !waiting.empty() && std::chrono::steady_clock::now() < deadline; waiting = not_ready()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_TRUE(waiting.empty()) << "not ready after a minute:\n" << testing::PrintToString(waiting);
  auto uninstall = cluster.helm({"uninstall", release, "--namespace", "sealift-system", "--wait"}, GetParam().helm);
  EXPECT_EQ(uninstall.exit_code, 0) << uninstall.err;
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
  std::string f = info.param.values_file.empty() ? "defaults" : info.param.values_file;
  for (auto& c : f)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return f + "_" + testenv::helm_case_name(info.param.helm) + "_" + std::to_string(info.param.index);
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << (c.values_file.empty() ? "defaults" : c.values_file);
  for (const auto& s : c.set) *os << " --set " << s;
  *os << " with " << c.helm;
}

INSTANTIATE_TEST_SUITE_P(
    ValuesFiles, ChartInstall,
    testing::Values(Case{1, "values-dev.yaml", {"pipeline.enabled=true"}},
                    Case{2, "values-prod.yaml", {"pipeline.enabled=true", "ingressController.enabled=true"}},
                    Case{3, "values-managed.yaml", {}},
                    Case{4, "", {"secrets.aiApiUrl=http://model.internal:8080", "global.pullSecret.create=true",
                              "global.pullSecret.registry=harbor.example.com", "global.pullSecret.username=robot",
                              "global.pullSecret.password=pw"}},
                    // helm 4, server-side apply: every component on, and the pull secret.
                    Case{5, "values-prod.yaml", {"pipeline.enabled=true", "ingressController.enabled=true"}, "helm4"},
                    Case{6, "", {"secrets.aiApiUrl=http://model.internal:8080", "global.pullSecret.create=true",
                              "global.pullSecret.registry=harbor.example.com", "global.pullSecret.username=robot",
                              "global.pullSecret.password=pw"}, "helm4"}),
    case_name);

}  // namespace
}  // namespace sealift::charttest
