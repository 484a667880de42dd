# A local Kubernetes cluster for the demo and the benchmarks: the same cluster as the tests'
# tests/env/cluster.cc (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
# playing the kubelet for three fake Nodes), on 127.0.0.1 and free ports. Source this file, then:
#
#   start_cluster DIR   starts it with its state in DIR; writes DIR/kubeconfig (cluster admin,
#                       token auth) and DIR/pids; returns once the Nodes are Ready
#   start_cluster DIR --real-node SEALIFT_FIXTURES
#                       also one real worker, as tests/env/cluster.cc's real_node: kubelet,
#                       containerd, runc and CNI (bridge sealift0, 10.244.0.0/24), node
#                       "sealift-real-node", labelled and tainted sealift.dev/real-node=true
#                       (NoSchedule); SEALIFT_FIXTURES makes its pause image. One real node per
#                       machine at a time (flock on /tmp/sealift-real-node.lock, held by this shell)
#   trust_registry DIR HOST [CA]
#                       writes the real node's DIR/node/certs.d/HOST/hosts.toml as the README tells
#                       a site to (plain HTTP without CA)
#   stop_cluster DIR    stops the real node's pods, then what DIR/pids lists, by pid, in reverse
#                       start order
#
# Binaries come from scripts/setup.sh --cluster ($SEALIFT_PEERS/bin). Logs: DIR/*.log.

_cluster_peers() { echo "${SEALIFT_PEERS:-$HOME/.cache/sealift/peers}/bin"; }

_cluster_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

_cluster_fail() {
  local dir=$1 what=$2 log=${3:-}
  echo "cluster: $what (files in $dir)" >&2
  [ -n "$log" ] && tail -n 30 "$dir/$log" >&2
  stop_cluster "$dir"
  return 1
}

# _cluster_start DIR NAME ARGS...: starts peer NAME in the background and records its pid.
_cluster_start() {
  local dir=$1 name=$2; shift 2
  "$(_cluster_peers)/$name" "$@" >"$dir/$name.log" 2>&1 &
  echo "$! $name" >>"$dir/pids"
}

# _cluster_poll SECONDS CMD...: retries CMD every 0.2 s until it succeeds or time runs out.
_cluster_poll() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}

start_cluster() {
  local dir=$1 fixtures=
  if [ "${2:-}" = --real-node ]; then
    fixtures=${3:?start_cluster DIR --real-node SEALIFT_FIXTURES}
  fi
  local bin; bin=$(_cluster_peers)
  local p
  for p in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwok-stages.yaml \
    ${fixtures:+kubelet}; do
    [ -e "$bin/$p" ] || { echo "cluster: $bin/$p missing; run scripts/setup.sh --cluster" >&2; return 1; }
  done
  mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
  if [ -s "$dir/pids" ]; then echo "cluster: $dir/pids exists; stop_cluster $dir first" >&2; return 1; fi
  : >"$dir/pids"
  local objects
  objects="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tests/env/kwok/cluster-objects.yaml"

  local etcd_port etcd_peer api_port
  etcd_port=$(_cluster_free_port) etcd_peer=$(_cluster_free_port) api_port=$(_cluster_free_port)
  _cluster_start "$dir" etcd --data-dir="$dir/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer" \
    --initial-cluster="default=http://127.0.0.1:$etcd_peer" --unsafe-no-fsync --log-level=warn

  # Service account signing key (P-256: quick, accepted by the apiserver) and the admin token.
  (umask 077
   openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/sa.key" 2>/dev/null
   openssl pkey -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
   token=$(openssl rand -hex 24)
   echo "$token,admin,admin-uid,\"system:masters\"" >"$dir/tokens.csv"
   cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sealift-test
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $dir/pki/apiserver.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: sealift-test
  context:
    cluster: sealift-test
    user: admin
current-context: sealift-test
EOF
  ) || { _cluster_fail "$dir" "cannot write credentials"; return 1; }

  # --endpoint-reconciler-type=none: the "kubernetes" Service would point at 127.0.0.1, which
  # Endpoints reject as loopback.
  _cluster_start "$dir" kube-apiserver --etcd-servers="http://127.0.0.1:$etcd_port" \
    --secure-port="$api_port" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --cert-dir="$dir/pki" --service-cluster-ip-range=10.96.0.0/16 \
    --service-account-issuer="https://127.0.0.1:$api_port" --service-account-key-file="$dir/sa.pub" \
    --service-account-signing-key-file="$dir/sa.key" --authorization-mode=RBAC \
    --token-auth-file="$dir/tokens.csv" --allow-privileged=true \
    --endpoint-reconciler-type=none --profiling=false

  local kubectl=("$bin/kubectl" --kubeconfig="$dir/kubeconfig" --cache-dir="$dir/kubectl-cache")
  _cluster_poll 120 test -e "$dir/pki/apiserver.crt" &&
    _cluster_poll 120 "${kubectl[@]}" get --raw=/readyz ||
    { _cluster_fail "$dir" "kube-apiserver did not become ready" kube-apiserver.log; return 1; }

  # --secure-port=0: their health endpoints are not needed, so they take no ports at all.
  _cluster_start "$dir" kube-controller-manager --kubeconfig="$dir/kubeconfig" --leader-elect=false \
    --secure-port=0 --service-account-private-key-file="$dir/sa.key" --root-ca-file="$dir/pki/apiserver.crt"
  _cluster_start "$dir" kube-scheduler --kubeconfig="$dir/kubeconfig" --leader-elect=false --secure-port=0
  # The node-heartbeat-with-lease stage renews a node's status only every few minutes and leaves
  # liveness to the node's Lease, which kwok writes only with --node-lease-duration-seconds. Without
  # it the node lifecycle controller marks every node NotReady after its 50 s grace period, and
  # Deployments lose their available pods (helm --wait then waits for ever). 40 s is the kubelet's
  # default; kwok renews at a quarter of it. tests/env/cluster.cc starts kwok the same way.
  _cluster_start "$dir" kwok --kubeconfig="$dir/kubeconfig" --config="$bin/kwok-stages.yaml" \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake --node-lease-duration-seconds=40

  if [ -n "$fixtures" ]; then _cluster_start_real_node "$dir" "$fixtures" || return 1; fi

  "${kubectl[@]}" create -f "$objects" >/dev/null ||
    { _cluster_fail "$dir" "cannot create the kwok nodes"; return 1; }
  # `wait --all` sees only the nodes that exist; the kubelet registers its node when it is up.
  if [ -n "$fixtures" ]; then
    _cluster_poll 120 "${kubectl[@]}" get node sealift-real-node ||
      { _cluster_fail "$dir" "kubelet did not register its node" kubelet.log; return 1; }
  fi
  local log=kwok.log
  [ -n "$fixtures" ] && log=kubelet.log
  "${kubectl[@]}" wait --for=condition=Ready node --all --timeout=120s >/dev/null ||
    { _cluster_fail "$dir" "the nodes did not become Ready" "$log"; return 1; }
  # Pods are rejected until the controller manager has created the default ServiceAccount.
  _cluster_poll 120 "${kubectl[@]}" get serviceaccount default -n default ||
    { _cluster_fail "$dir" "the default ServiceAccount never appeared" kube-controller-manager.log; return 1; }
}

_cluster_ctr() { ctr --address "$1/node/containerd.sock" -n k8s.io "${@:2}"; }

# The real node of tests/env/cluster.cc (start_real_node: the same files, for the same reasons).
_cluster_start_real_node() {
  local dir=$1 fixtures=$2 node=$1/node
  mkdir -p "$node/cni" "$node/certs.d" "$node/images"
  exec {_cluster_lock_fd}>/tmp/sealift-real-node.lock
  flock -w 1200 "$_cluster_lock_fd" ||
    { _cluster_fail "$dir" "another real node held /tmp/sealift-real-node.lock for 20 minutes"; return 1; }
  cat >"$node/cni/10-sealift.conflist" <<CONF
{"cniVersion": "0.4.0", "name": "sealift", "plugins": [{"type": "bridge", "bridge": "sealift0", "isGateway": true, "ipMasq": false, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]], "dataDir": "$node/ipam"}}]}
CONF
  # restrict_oom_score_adj: without CAP_SYS_RESOURCE (a container) runc may not lower a process's
  # oom_score_adj, as the pod sandbox's -998 would.
  cat >"$node/containerd.toml" <<CONF
version = 2
root = "$node/containerd"
state = "$node/containerd-state"
[grpc]
  address = "$node/containerd.sock"
[ttrpc]
  address = "$node/containerd-ttrpc.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/sealift-pause:1"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$node/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$node/certs.d"
CONF
  containerd --config "$node/containerd.toml" >"$dir/containerd.log" 2>&1 &
  echo "$! containerd" >>"$dir/pids"
  _cluster_poll 120 _cluster_ctr "$dir" version ||
    { _cluster_fail "$dir" "containerd did not start" containerd.log; return 1; }
  "$fixtures" gen --node-images --out "$node/images" >/dev/null &&
    tar -C "$node/images" -cf "$node/images.tar" oci-layout index.json blobs &&
    _cluster_ctr "$dir" images import --base-name localhost/sealift-pause "$node/images.tar" >/dev/null ||
    { _cluster_fail "$dir" "cannot load the node's pause image" containerd.log; return 1; }
  cat >"$node/kubelet.yaml" <<CONF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
address: 127.0.0.1
port: $(_cluster_free_port)
readOnlyPort: 0
healthzPort: 0
serializeImagePulls: false
clusterDNS: [10.96.0.10]
clusterDomain: cluster.local
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
evictionHard: {memory.available: 1Mi, nodefs.available: 1%, imagefs.available: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
registerWithTaints:
- {key: sealift.dev/real-node, value: "true", effect: NoSchedule}
containerRuntimeEndpoint: unix://$node/containerd.sock
CONF
  _cluster_start "$dir" kubelet --config="$node/kubelet.yaml" --kubeconfig="$dir/kubeconfig" \
    --hostname-override=sealift-real-node --root-dir="$node/kubelet" \
    --cert-dir="$node/kubelet-pki" --node-labels=sealift.dev/real-node=true
}

trust_registry() {
  local dir=$1 host=$2 ca=${3:-} scheme=http
  mkdir -p "$dir/node/certs.d/$host"
  if [ -n "$ca" ]; then scheme=https; cp "$ca" "$dir/node/certs.d/$host/ca.crt"; fi
  {
    printf 'server = "%s://%s"\n\n[host."%s://%s"]\n  capabilities = ["pull", "resolve"]\n' "$scheme" "$host" "$scheme" "$host"
    if [ -n "$ca" ]; then printf '  ca = "%s"\n' "$dir/node/certs.d/$host/ca.crt"; fi
  } >"$dir/node/certs.d/$host/hosts.toml"
}

# The real node's containers outlive containerd and kubelet (their shims are their parents), so
# its pods go first: force-deleted, kubelet stops them and tears down their network namespaces.
_cluster_stop_real_node() {
  local dir=$1 i id
  local kubectl=("$(_cluster_peers)/kubectl" --kubeconfig="$dir/kubeconfig" --cache-dir="$dir/kubectl-cache")
  "${kubectl[@]}" delete pods --all-namespaces --field-selector=spec.nodeName=sealift-real-node --force \
    --grace-period=0 --wait=false >/dev/null 2>&1 || true
  for i in $(seq 300); do [ -z "$(_cluster_ctr "$dir" tasks ls -q 2>/dev/null)" ] && break; sleep 0.2; done
  _cluster_stop $(grep ' kubelet$' "$dir/pids" | cut -d' ' -f1)
  for id in $(_cluster_ctr "$dir" tasks ls -q 2>/dev/null); do _cluster_ctr "$dir" tasks kill --signal SIGKILL "$id" || true; done
  for id in $(_cluster_ctr "$dir" tasks ls -q 2>/dev/null); do _cluster_ctr "$dir" tasks delete --force "$id" || true; done
  _cluster_stop $(grep ' containerd$' "$dir/pids" | cut -d' ' -f1)
  # What kubelet mounted (secret and token volumes) and did not unmount, deepest first.
  awk -v p="$dir/node/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m" || true; done
  ip link delete sealift0 2>/dev/null || true
  if [ -n "${_cluster_lock_fd:-}" ]; then exec {_cluster_lock_fd}>&-; unset _cluster_lock_fd; fi
}

stop_cluster() {
  local dir=$1
  [ -f "$dir/pids" ] || return 0
  if grep -q ' kubelet$' "$dir/pids"; then _cluster_stop_real_node "$dir"; fi
  # The clients take 1-3 s each to shut down gracefully, so they are asked all at once; etcd goes
  # last, because a kube-apiserver that loses etcd first hangs in its shutdown.
  _cluster_stop $(grep -v ' etcd$' "$dir/pids" | tac | cut -d' ' -f1)
  _cluster_stop $(grep ' etcd$' "$dir/pids" | cut -d' ' -f1)
  rm -f "$dir/pids"
}

# _cluster_stop PID...: SIGTERM to all, then SIGKILL to whatever still runs after 5 s.
_cluster_stop() {
  local pid i pids=()
  for pid in "$@"; do kill "$pid" 2>/dev/null && pids+=("$pid"); done
  for pid in "${pids[@]}"; do
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}
