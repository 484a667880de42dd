# A local Kubernetes cluster for the demo and the benchmarks: the same cluster as the tests'
# tests/env/cluster.cc (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
# playing the kubelet for three fake Nodes), on 127.0.0.1 and free ports. Source this file, then:
#
#   start_cluster DIR   starts it with its state in DIR; writes DIR/kubeconfig (cluster admin,
#                       token auth) and DIR/pids; returns once the Nodes are Ready
#   stop_cluster DIR    stops what DIR/pids lists, by pid, in reverse start order
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
  local dir=$1
  local bin; bin=$(_cluster_peers)
  local p
  for p in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwok-stages.yaml; do
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

  "${kubectl[@]}" create -f "$objects" >/dev/null ||
    { _cluster_fail "$dir" "cannot create the kwok nodes"; return 1; }
  "${kubectl[@]}" wait --for=condition=Ready node --all --timeout=120s >/dev/null ||
    { _cluster_fail "$dir" "kwok nodes did not become Ready" kwok.log; return 1; }
  # Pods are rejected until the controller manager has created the default ServiceAccount.
  _cluster_poll 120 "${kubectl[@]}" get serviceaccount default -n default ||
    { _cluster_fail "$dir" "the default ServiceAccount never appeared" kube-controller-manager.log; return 1; }
}

stop_cluster() {
  local dir=$1
  [ -f "$dir/pids" ] || return 0
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
