#include "env/cluster.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "install/kubectl.h"
#include "util/encoding.h"
#include "util/fs.h"

namespace sealift::testenv {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double kStartTimeout = 120;
constexpr int kNodeLeaseSeconds = 40;

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
Process start_peer(const std::string& name, std::vector<std::string> args, const fs::path& log) {
  std::vector<std::string> argv = {"setpriv", "--pdeathsig", "KILL", "--", peer(name)};
  argv.insert(argv.end(), args.begin(), args.end());
  return Process(std::move(argv), log);
}

}  // namespace

Cluster::Cluster() : dir_(std::make_unique<TempDir>("sealift-cluster")) {
  kubeconfig_ = dir_->path() / "kubeconfig";
  start_etcd();
  write_credentials();
  start_apiserver();
  start_controllers();
  create_nodes();
}

Cluster::~Cluster() {
  // The clients take 1-3 s each to shut down gracefully, so they are asked all at once; etcd goes
  // last, because a kube-apiserver that loses etcd first hangs in its shutdown.
  std::vector<Process*> clients = {&kwok_, &scheduler_, &controller_manager_, &apiserver_};
  for (Process* p : clients) {
    if (p->running()) ::kill(p->pid(), SIGTERM);
  }
  for (Process* p : clients) p->stop();
  etcd_.stop();
}

Cluster& Cluster::shared() {
  // A failed start is remembered: every later test fails at once with the same reason instead of
  // waiting through another start.
  static std::unique_ptr<Cluster> cluster;
  static std::optional<std::string> failure;
  if (failure) throw std::runtime_error(*failure);
  if (!cluster) {
    try {
      cluster = std::make_unique<Cluster>();
    } catch (const std::exception& e) {
      failure = e.what();
      throw;
    }
  }
  return *cluster;
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
  RunResult nodes = kubectl({"wait", "--for=condition=Ready", "node", "--all", "--timeout=" +
                                                                                std::to_string(int(kStartTimeout)) + "s"});
  if (nodes.exit_code != 0) fail("kwok nodes did not become Ready: " + nodes.err, &kwok_);
  // Pods are rejected until the controller manager has created the namespace's default
  // ServiceAccount; waiting here keeps the first test from racing it.
  bool sa = poll_until([&] { return kubectl({"get", "serviceaccount", "default", "-n", "default"}).exit_code == 0; },
                       kStartTimeout);
  if (!sa) fail("the default ServiceAccount never appeared", &controller_manager_);
}

}  // namespace sealift::testenv
