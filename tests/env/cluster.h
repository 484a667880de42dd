// A real Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler built from the Go module proxy, plus kwok, which plays the kubelet for three fake
// Nodes (pods become Running/Ready, Job pods Succeeded) and provisions a bound hostPath PV for every
// PVC of the default StorageClass "kwok-volume". Deployments, StatefulSets, DaemonSets and Jobs
// therefore really roll out, so helm --wait and --atomic rollbacks are exercised for real.
//
// Everything listens on 127.0.0.1 and free ports, lives in one TempDir, and is stopped by pid in
// reverse start order. Each child dies with the test process even if that crashes
// (setpriv --pdeathsig), so an aborted test leaves no servers behind.
// scripts/lib/cluster.sh starts the same cluster from the shell for the demo and benchmarks.
//
// With ClusterOptions::real_node the cluster also gets one real worker, "sealift-real-node":
// kubelet, Debian's containerd and runc, and the CNI plugins (bridge, host-local, loopback), all
// with their state in the cluster's directory. Its pods really pull their images (through the
// registry configuration the README tells a site to write, see trust_registry) and really run.
// It is tainted, so only pods that tolerate it (real_node_values) land there. One real node runs
// on the machine at a time (a lock): its bridge and pod subnet are the machine's.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "env/process.h"

namespace sealift::testenv {

struct ClusterOptions {
  bool real_node = false;
};

class Cluster {
 public:
  // The real node's name, and its label and taint (key=value, effect NoSchedule).
  static constexpr const char* kRealNode = "sealift-real-node";
  static constexpr const char* kRealNodeLabel = "sealift.dev/real-node";

  // Starts the cluster and returns once the Nodes are Ready and the default ServiceAccount exists.
  // Throws std::runtime_error naming the component that failed, with the tail of its log.
  explicit Cluster(ClusterOptions options = {});
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // One cluster per test process, started on first use and stopped at exit. Startup takes
  // seconds, so tests share it and isolate themselves with their own namespaces.
  static Cluster& shared();
  // The same with the real node; a process uses one or the other.
  static Cluster& shared_with_real_node();
  // Why this machine cannot run the real node (not root; containerd, runc, ctr, the CNI plugins or
  // kubelet missing), or empty when it can. Tests GTEST_SKIP with it: a developer's machine
  // without root still runs every other suite.
  static std::string real_node_unavailable();

  // Kubeconfig (0600) for the cluster admin: token auth, TLS verified against the apiserver's
  // self-signed certificate.
  const std::filesystem::path& kubeconfig() const { return kubeconfig_; }
  int api_port() const { return api_port_; }
  // "https://127.0.0.1:PORT"
  std::string server() const;

  // Environment for programs that talk to the cluster (helm, sealift-install): KUBECONFIG, and
  // HELM_CACHE_HOME/HELM_CONFIG_HOME/HELM_DATA_HOME inside the cluster's directory so tests
  // never read or write the developer's helm settings.
  std::map<std::string, std::string> env() const;

  // Runs the built kubectl against this cluster.
  RunResult kubectl(const std::vector<std::string>& args, const std::string& stdin_data = {}) const;
  // Runs the real helm (peer `helm_peer`: "helm" is helm 3, "helm4" helm 4) against this cluster
  // with env().
  // A failed `--wait` gets diagnosis() appended to its stderr.
  RunResult helm(const std::vector<std::string>& args, const std::string& helm_peer = "helm") const;
  // What the cluster reports about nodes that are not Ready, pods that are not ready and recent
  // Warning events (install::why_not_ready over every namespace but kube-*), as text for a failure.
  std::string diagnosis() const;

  // Real node only. `ctr -n k8s.io` against its containerd.
  RunResult ctr(const std::vector<std::string>& args) const;
  // Writes DIR/certs.d/HOST/hosts.toml for the registry `host` exactly as the README's "The
  // cluster's nodes" section tells a site to: plain HTTP without `ca_file`, else TLS trusting it.
  void trust_registry(const std::string& host, const std::filesystem::path& ca_file = {}) const;
  // helm --set values that put the test chart's pods on the real node (node selector, toleration).
  static std::vector<std::string> real_node_values();

 private:
  void start_etcd();
  void write_credentials();
  void start_apiserver();
  void start_controllers();
  void create_nodes();
  void start_real_node();
  void stop_real_node();
  [[noreturn]] void fail(const std::string& what, const Process* proc) const;

  ClusterOptions options_;
  std::unique_ptr<TempDir> dir_;
  std::filesystem::path kubeconfig_;
  std::string token_;
  int etcd_port_ = 0;
  int api_port_ = 0;
  // Start order; stopped in reverse.
  Process etcd_, apiserver_, controller_manager_, scheduler_, kwok_;
  // The real node's: the machine-wide lock (fd), containerd, kubelet.
  int real_node_lock_ = -1;
  Process containerd_, kubelet_;
};

}  // namespace sealift::testenv
