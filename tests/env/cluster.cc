#include "env/cluster.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "env/fixtures.h"
#include "install/kubectl.h"
#include "util/encoding.h"
#include "util/fs.h"

namespace sealift::testenv {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double kStartTimeout = 120;
constexpr int kNodeLeaseSeconds = 40;
// The real node's network and lock are the machine's, so one real node runs at a time.
constexpr const char* kRealNodeLock = "/tmp/sealift-real-node.lock";
constexpr const char* kBridge = "sealift0";
constexpr const char* kPodSubnet = "10.244.0.0/24";
constexpr const char* kPauseImage = "localhost/sealift-pause:1";

bool poll_until(const std::function<bool()>& ready, double timeout_seconds) {
  auto deadline = Clock::now() + std::chrono::duration<double>(timeout_seconds);
  while (Clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return ready();
}

std::string random_token() {
  std::random_device rd;
  std::string bytes(24, '\0');
  for (auto& b : bytes) b = static_cast<char>(rd());
  return util::hex_encode(bytes);
}

// Writes the PEM text an OpenSSL writer produces into a string.
std::string pem_of(const std::function<int(BIO*)>& write) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio || write(bio) != 1) {
    BIO_free(bio);
    throw std::runtime_error("cannot encode the service account key");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

// Runs a peer with setpriv so the kernel kills it when the test process dies, even by SIGKILL or
// an ASan abort, where no destructor runs. setpriv execs the peer, so the pid is the peer's.
Process start_program(const std::string& program, std::vector<std::string> args, const fs::path& log) {
  std::vector<std::string> argv = {"setpriv", "--pdeathsig", "KILL", "--", program};
  argv.insert(argv.end(), args.begin(), args.end());
  return Process(std::move(argv), log);
}

Process start_peer(const std::string& name, std::vector<std::string> args, const fs::path& log) {
  return start_program(peer(name), std::move(args), log);
}

}  // namespace

Cluster::Cluster(ClusterOptions options)
    : options_(options), dir_(std::make_unique<TempDir>("sealift-cluster")) {
  kubeconfig_ = dir_->path() / "kubeconfig";
  try {
    start_etcd();
    write_credentials();
    start_apiserver();
    start_controllers();
    if (options_.real_node) start_real_node();
    create_nodes();
  } catch (...) {
    // The real node's containers outlive their containerd; a failed start must not leave them.
    if (options_.real_node) stop_real_node();
    throw;
  }
}

Cluster::~Cluster() {
  if (options_.real_node) stop_real_node();
  // The clients take 1-3 s each to shut down gracefully, so they are asked all at once; etcd goes
  // last, because a kube-apiserver that loses etcd first hangs in its shutdown.
  std::vector<Process*> clients = {&kwok_, &scheduler_, &controller_manager_, &apiserver_};
  for (Process* p : clients) {
    if (p->running()) ::kill(p->pid(), SIGTERM);
  }
  for (Process* p : clients) p->stop();
  etcd_.stop();
}

namespace {

Cluster& shared_cluster(bool real_node) {
  // A failed start is remembered: every later test fails at once with the same reason instead of
  // waiting through another start.
  static std::unique_ptr<Cluster> cluster;
  static std::optional<std::string> failure;
  static bool with_real_node = false;
  if (failure) throw std::runtime_error(*failure);
  if (cluster && with_real_node != real_node)
    throw std::logic_error("one test process asked for the shared cluster with and without the real node");
  if (!cluster) {
    try {
      with_real_node = real_node;
      cluster = std::make_unique<Cluster>(ClusterOptions{.real_node = real_node});
    } catch (const std::exception& e) {
      failure = e.what();
      throw;
    }
  }
  return *cluster;
}

}  // namespace

Cluster& Cluster::shared() { return shared_cluster(false); }
Cluster& Cluster::shared_with_real_node() { return shared_cluster(true); }

std::string Cluster::real_node_unavailable() {
  if (::geteuid() != 0) return "the real node needs root (kubelet and containerd mount, runc creates namespaces)";
  const char* path = std::getenv("PATH");
  auto in_path = [&](const std::string& name) {
    std::istringstream dirs(path ? path : "");
    for (std::string d; std::getline(dirs, d, ':');)
      if (!d.empty() && ::access((fs::path(d) / name).c_str(), X_OK) == 0) return true;
    return false;
  };
  for (const char* program : {"containerd", "runc", "ctr"})
    if (!in_path(program))
      return std::string("no ") + program + " in PATH (scripts/setup.sh installs Debian's containerd and runc)";
  for (const char* plugin : {"bridge", "host-local", "loopback"})
    if (::access((fs::path("/usr/lib/cni") / plugin).c_str(), X_OK) != 0)
      return std::string("no CNI plugin /usr/lib/cni/") + plugin + " (scripts/setup.sh installs containernetworking-plugins)";
  if (::access(peer("kubelet").c_str(), X_OK) != 0)
    return "no kubelet at " + peer("kubelet") + " (scripts/setup.sh --cluster builds it)";
  return {};
}

std::string Cluster::server() const { return "https://127.0.0.1:" + std::to_string(api_port_); }

std::map<std::string, std::string> Cluster::env() const {
  return {
      {"KUBECONFIG", kubeconfig_.string()},
      {"HELM_CACHE_HOME", (dir_->path() / "helm/cache").string()},
      {"HELM_CONFIG_HOME", (dir_->path() / "helm/config").string()},
      {"HELM_DATA_HOME", (dir_->path() / "helm/data").string()},
  };
}

RunResult Cluster::kubectl(const std::vector<std::string>& args, const std::string& stdin_data) const {
  std::vector<std::string> argv = {peer("kubectl"), "--kubeconfig=" + kubeconfig_.string(),
                                   "--cache-dir=" + (dir_->path() / "kubectl-cache").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {}, stdin_data, 300);
}

RunResult Cluster::helm(const std::vector<std::string>& args, const std::string& helm_peer) const {
  std::vector<std::string> argv = {peer(helm_peer)};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = run(argv, env(), {}, 600);
  // A wait that failed says why in the test's output (the CI log), not only in a kept cluster.
  if (r.exit_code != 0 && std::find(args.begin(), args.end(), "--wait") != args.end()) r.err += diagnosis();
  return r;
}

std::string Cluster::diagnosis() const {
  std::vector<std::string> namespaces;
  RunResult ns = kubectl({"get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}"});
  std::istringstream names(ns.out);
  for (std::string n; names >> n;)
    if (n.rfind("kube-", 0) != 0) namespaces.push_back(n);
  std::string out = "\nwhat the test cluster reports:";
  for (const auto& line : install::why_not_ready({peer("kubectl"), kubeconfig_.string(), ""}, namespaces, 60))
    out += "\n  " + line;
  return out + "\n";
}

void Cluster::fail(const std::string& what, const Process* proc) const {
  std::string msg = "test cluster: " + what + " (files in " + dir_->path().string() + ")";
  if (proc) msg += "\n--- " + proc->log().filename().string() + " ---\n" + proc->log_tail(3000);
  throw std::runtime_error(msg);
}

void Cluster::start_etcd() {
  etcd_port_ = free_port();
  int peer_port = free_port();
  std::string client = "http://127.0.0.1:" + std::to_string(etcd_port_);
  std::string peer_url = "http://127.0.0.1:" + std::to_string(peer_port);
  etcd_ = start_peer("etcd",
                     {"--data-dir=" + (dir_->path() / "etcd").string(), "--listen-client-urls=" + client,
                      "--advertise-client-urls=" + client, "--listen-peer-urls=" + peer_url,
                      "--initial-advertise-peer-urls=" + peer_url, "--initial-cluster=default=" + peer_url,
                      "--unsafe-no-fsync", "--log-level=warn"},
                     dir_->path() / "etcd.log");
}

void Cluster::write_credentials() {
  // The service account signing key: P-256 is quick to generate and accepted by the apiserver.
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) fail("cannot generate the service account key", nullptr);
  std::string priv, pub;
  try {
    priv = pem_of([&](BIO* b) { return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
    pub = pem_of([&](BIO* b) { return PEM_write_bio_PUBKEY(b, key); });
  } catch (...) {
    EVP_PKEY_free(key);
    throw;
  }
  EVP_PKEY_free(key);
  util::write_file_atomic(dir_->path() / "sa.key", priv, 0600);
  util::write_file_atomic(dir_->path() / "sa.pub", pub, 0644);

  token_ = random_token();
  util::write_file_atomic(dir_->path() / "tokens.csv", token_ + ",admin,admin-uid,\"system:masters\"\n", 0600);
}

void Cluster::start_apiserver() {
  api_port_ = free_port();
  std::string port = std::to_string(api_port_);
  const fs::path& d = dir_->path();
  apiserver_ = start_peer(
      "kube-apiserver",
      {"--etcd-servers=http://127.0.0.1:" + std::to_string(etcd_port_), "--secure-port=" + port,
       "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--cert-dir=" + (d / "pki").string(),
       "--service-cluster-ip-range=10.96.0.0/16", "--service-account-issuer=" + server(),
       "--service-account-key-file=" + (d / "sa.pub").string(),
       "--service-account-signing-key-file=" + (d / "sa.key").string(), "--authorization-mode=RBAC",
       "--token-auth-file=" + (d / "tokens.csv").string(), "--allow-privileged=true",
       // The "kubernetes" Service would point at 127.0.0.1, which Endpoints reject as loopback.
       "--endpoint-reconciler-type=none", "--profiling=false"},
      d / "kube-apiserver.log");

  fs::path ca = d / "pki/apiserver.crt";
  std::ostringstream kc;
  kc << "apiVersion: v1\nkind: Config\n"
     << "clusters:\n- name: sealift-test\n  cluster:\n    server: " << server() << "\n"
     << "    certificate-authority: " << ca.string() << "\n"
     << "users:\n- name: admin\n  user:\n    token: " << token_ << "\n"
     << "contexts:\n- name: sealift-test\n  context:\n    cluster: sealift-test\n    user: admin\n"
     << "current-context: sealift-test\n";
  util::write_file_atomic(kubeconfig_, kc.str(), 0600);

  if (!wait_for_port(etcd_port_, kStartTimeout)) fail("etcd did not start", &etcd_);
  bool ready = poll_until(
      [&] {
        if (!apiserver_.running()) return true;
        return fs::exists(ca) && kubectl({"get", "--raw=/readyz"}).exit_code == 0;
      },
      kStartTimeout);
  if (!ready || !apiserver_.running()) fail("kube-apiserver did not become ready", &apiserver_);
}

void Cluster::start_controllers() {
  const fs::path& d = dir_->path();
  std::string kc = "--kubeconfig=" + kubeconfig_.string();
  // --secure-port=0: their health endpoints are not needed, so they take no ports at all.
  controller_manager_ = start_peer(
      "kube-controller-manager",
      {kc, "--leader-elect=false", "--secure-port=0",
       "--service-account-private-key-file=" + (d / "sa.key").string(),
       "--root-ca-file=" + (d / "pki/apiserver.crt").string()},
      d / "kube-controller-manager.log");
  scheduler_ = start_peer("kube-scheduler", {kc, "--leader-elect=false", "--secure-port=0"},
                          d / "kube-scheduler.log");
  // Node Leases keep the kwok nodes Ready: the heartbeat-with-lease stage renews node status only
  // every few minutes, and without --node-lease-duration-seconds kwok writes no Lease, so the node
  // lifecycle controller marks every node NotReady after its grace period (50 s) and Deployments
  // lose their available pods. 40 s is the kubelet's default. scripts/lib/cluster.sh does the same.
  kwok_ = start_peer("kwok",
                     {kc, "--config=" + peer("kwok-stages.yaml"),
                      "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                      "--node-lease-duration-seconds=" + std::to_string(kNodeLeaseSeconds)},
                     d / "kwok.log");
}

void Cluster::create_nodes() {
  fs::path objects = source_dir() / "tests/env/kwok/cluster-objects.yaml";
  RunResult created = kubectl({"create", "-f", objects.string()});
  if (created.exit_code != 0) fail("cannot create the kwok nodes: " + created.err, nullptr);

  for (Process* p : {&controller_manager_, &scheduler_, &kwok_}) {
    if (!p->running()) fail(p->log().stem().string() + " exited", p);
  }
  // `wait --all` sees only the nodes that exist; the kubelet registers its node when it is up.
  if (options_.real_node &&
      !poll_until([&] { return !kubelet_.running() || kubectl({"get", "node", kRealNode}).exit_code == 0; }, kStartTimeout))
    fail("kubelet did not register its node", &kubelet_);
  RunResult nodes = kubectl({"wait", "--for=condition=Ready", "node", "--all", "--timeout=" +
                                                                                std::to_string(int(kStartTimeout)) + "s"});
  if (nodes.exit_code != 0) {
    if (options_.real_node && !kubelet_.running()) fail("kubelet exited", &kubelet_);
    fail("the nodes did not become Ready: " + nodes.err, options_.real_node ? &kubelet_ : &kwok_);
  }
  // Pods are rejected until the controller manager has created the namespace's default
  // ServiceAccount; waiting here keeps the first test from racing it.
  bool sa = poll_until([&] { return kubectl({"get", "serviceaccount", "default", "-n", "default"}).exit_code == 0; },
                       kStartTimeout);
  if (!sa) fail("the default ServiceAccount never appeared", &controller_manager_);
}

RunResult Cluster::ctr(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"ctr", "--address", (dir_->path() / "node/containerd.sock").string(), "-n", "k8s.io"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {}, {}, 300);
}

void Cluster::trust_registry(const std::string& host, const fs::path& ca_file) const {
  if (!options_.real_node) throw std::logic_error("trust_registry: this cluster has no real node");
  fs::path dir = dir_->path() / "node/certs.d" / host;
  fs::create_directories(dir);
  std::string scheme = ca_file.empty() ? "http" : "https";
  std::string toml = "server = \"" + scheme + "://" + host + "\"\n\n[host.\"" + scheme + "://" + host +
                     "\"]\n  capabilities = [\"pull\", \"resolve\"]\n";
  if (!ca_file.empty()) {
    fs::copy_file(ca_file, dir / "ca.crt", fs::copy_options::overwrite_existing);
    toml += "  ca = \"" + (dir / "ca.crt").string() + "\"\n";
  }
  util::write_file_atomic(dir / "hosts.toml", toml);
}

std::vector<std::string> Cluster::real_node_values() {
  // The node's hostname label, a string (helm --set makes "true" a bool, which a node selector
  // refuses); helm splits keys at dots, so the label's dot is escaped.
  return {"nodeSelector.kubernetes\\.io/hostname=" + std::string(kRealNode), "tolerations[0].key=" + std::string(kRealNodeLabel),
          "tolerations[0].operator=Exists", "tolerations[0].effect=NoSchedule"};
}

void Cluster::start_real_node() {
  const fs::path node = dir_->path() / "node";
  for (const char* d : {"cni", "certs.d", "images"}) fs::create_directories(node / d);

  real_node_lock_ = ::open(kRealNodeLock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (real_node_lock_ < 0) fail(std::string("cannot open ") + kRealNodeLock, nullptr);
  // Generous: another suite's real node may be in the middle of its tests.
  if (!poll_until([&] { return ::flock(real_node_lock_, LOCK_EX | LOCK_NB) == 0; }, 1200))
    fail(std::string("another real node held ") + kRealNodeLock + " for 20 minutes", nullptr);

  // No ipMasq and no portmap: the tests reach pods by their IP from this host, and pods reach
  // nothing outside. containerd's CRI plugin adds the loopback plugin itself.
  util::write_file_atomic(node / "cni/10-sealift.conflist",
                          std::string(R"({"cniVersion": "0.4.0", "name": "sealift", "plugins": [{"type": "bridge", "bridge": ")") +
                              kBridge + R"(", "isGateway": true, "ipMasq": false, "ipam": {"type": "host-local", "ranges": [[{"subnet": ")" +
                              kPodSubnet + R"("}]], "dataDir": ")" + (node / "ipam").string() + R"("}}]})" + "\n");
  const fs::path sock = node / "containerd.sock";
  // restrict_oom_score_adj: these machines run the tests in a container without
  // CAP_SYS_RESOURCE, where runc may not lower a process's oom_score_adj (the pod sandbox's -998).
  util::write_file_atomic(
      node / "containerd.toml",
      "version = 2\nroot = \"" + (node / "containerd").string() + "\"\nstate = \"" + (node / "containerd-state").string() +
          "\"\n[grpc]\n  address = \"" + sock.string() + "\"\n[ttrpc]\n  address = \"" + (node / "containerd-ttrpc.sock").string() +
          "\"\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"" + kPauseImage +
          "\"\n  restrict_oom_score_adj = true\n  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n    bin_dir = \"/usr/lib/cni\"\n    conf_dir = \"" +
          (node / "cni").string() + "\"\n  [plugins.\"io.containerd.grpc.v1.cri\".registry]\n    config_path = \"" +
          (node / "certs.d").string() + "\"\n");
  containerd_ = start_program("containerd", {"--config", (node / "containerd.toml").string()}, dir_->path() / "containerd.log");
  if (!poll_until([&] { return !containerd_.running() || ctr({"version"}).exit_code == 0; }, kStartTimeout) ||
      !containerd_.running())
    fail("containerd did not start", &containerd_);

  // The pod sandbox image: no test registry serves it, so the node carries it, as a site's do.
  RunResult gen = run({fixtures_program(), "gen", "--node-images", "--out", (node / "images").string()});
  if (gen.exit_code != 0) fail("sealift-fixtures gen --node-images: " + gen.err, nullptr);
  RunResult tar = run({"tar", "-C", (node / "images").string(), "-cf", (node / "images.tar").string(), "oci-layout",
                       "index.json", "blobs"});
  if (tar.exit_code != 0) fail("cannot pack the node images: " + tar.err, nullptr);
  RunResult imported = ctr({"images", "import", "--base-name", "localhost/sealift-pause", (node / "images.tar").string()});
  if (imported.exit_code != 0) fail("ctr images import: " + imported.err, &containerd_);

  // cgroup v1 (these machines) needs failCgroupV1: false. cgroupsPerQOS off: the pods' cgroups
  // go where containerd puts them, so nothing of the machine's cgroup tree is this cluster's.
  // Eviction thresholds near zero: a busy CI disk must not taint the node.
  util::write_file_atomic(
      node / "kubelet.yaml",
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
      "failCgroupV1: false\nfailSwapOn: false\ncgroupDriver: cgroupfs\ncgroupsPerQOS: false\n"
      "enforceNodeAllocatable: []\naddress: 127.0.0.1\nport: " +
          std::to_string(free_port()) +
          "\nreadOnlyPort: 0\nhealthzPort: 0\nserializeImagePulls: false\n"
          // No DNS server runs; naming one keeps kubelet from warning on every pod.
          "clusterDNS: [10.96.0.10]\nclusterDomain: cluster.local\n"
          "authentication:\n  anonymous: {enabled: false}\n  webhook: {enabled: false}\n"
          "authorization: {mode: AlwaysAllow}\n"
          "evictionHard: {memory.available: 1Mi, nodefs.available: 1%, imagefs.available: 1%}\n"
          "imageGCHighThresholdPercent: 100\nimageGCLowThresholdPercent: 99\n"
          "registerWithTaints:\n- {key: " + kRealNodeLabel + ", value: \"true\", effect: NoSchedule}\n"
          "containerRuntimeEndpoint: unix://" + sock.string() + "\n");
  kubelet_ = start_peer("kubelet",
                        {"--config=" + (node / "kubelet.yaml").string(), "--kubeconfig=" + kubeconfig_.string(),
                         "--hostname-override=" + std::string(kRealNode),
                         "--root-dir=" + (node / "kubelet").string(), "--cert-dir=" + (node / "kubelet-pki").string(),
                         "--node-labels=" + std::string(kRealNodeLabel) + "=true"},
                        dir_->path() / "kubelet.log");
}

void Cluster::stop_real_node() {
  const fs::path node = dir_->path() / "node";
  auto tasks = [&] {
    RunResult r = ctr({"tasks", "ls", "-q"});
    std::vector<std::string> ids;
    std::istringstream in(r.out);
    for (std::string id; in >> id;) ids.push_back(id);
    return ids;
  };
  // The containers outlive containerd and kubelet (their shims are their parents), so the pods
  // go first: force-deleted, kubelet stops them and tears down their network namespaces.
  if (kubelet_.running() && containerd_.running() && apiserver_.running()) {
    kubectl({"delete", "pods", "--all-namespaces", "--field-selector=spec.nodeName=" + std::string(kRealNode),
             "--force", "--grace-period=0", "--wait=false"});
    poll_until([&] { return tasks().empty(); }, 60);
  }
  kubelet_.stop();
  if (containerd_.running()) {
    for (const auto& id : tasks()) ctr({"tasks", "kill", "--signal", "SIGKILL", id});
    for (const auto& id : tasks()) ctr({"tasks", "delete", "--force", id});
  }
  containerd_.stop();
  // What kubelet mounted (secret and token volumes) and did not unmount: deepest first, so the
  // directory can go.
  std::vector<std::string> mounts;
  {
    std::istringstream table(util::read_file("/proc/self/mounts"));
    for (std::string line; std::getline(table, line);) {
      std::istringstream fields(line);
      std::string device, target;
      fields >> device >> target;
      if (target.rfind(node.string() + "/", 0) == 0) mounts.push_back(target);
    }
  }
  std::sort(mounts.rbegin(), mounts.rend());
  for (const auto& m : mounts) ::umount2(m.c_str(), MNT_DETACH);
  run({"ip", "link", "delete", kBridge});
  if (real_node_lock_ >= 0) ::close(real_node_lock_);
  real_node_lock_ = -1;
}

}  // namespace sealift::testenv
