#!/usr/bin/env bash
# Installs what sealift needs to build and test on Debian 12, and builds the real test peers
# from the Go module proxy into a cache outside the repository. Idempotent; quiet when all is there.
#
#   scripts/setup.sh            packages + core peers (helm, cosign, crane)
#   scripts/setup.sh --cluster  also etcd, kube-apiserver & co., kwok (for install/upgrade tests)
#   scripts/setup.sh --bench    also oras (benchmark peer)
#   scripts/setup.sh --all      everything
#
# Environment: SEALIFT_PEERS (default ~/.cache/sealift/peers).
set -euo pipefail

PEERS=${SEALIFT_PEERS:-$HOME/.cache/sealift/peers}
HELM_VERSION=v3.21.4
COSIGN_VERSION=v2.6.4
CRANE_VERSION=v0.21.9
ORAS_VERSION=v1.3.3
ETCD_VERSION=v3.6.14
KUBE_VERSION=1.36.3
KWOK_VERSION=v0.8.0

want_cluster=0 want_bench=0
for a in "$@"; do
  case "$a" in
    --cluster) want_cluster=1 ;;
    --bench) want_bench=1 ;;
    --all) want_cluster=1; want_bench=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

log() { printf 'setup: %s\n' "$*" >&2; }

# --- Debian packages ---------------------------------------------------------------------------
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl openssl
  libarchive-dev libzstd-dev libssl-dev libcurl4-openssl-dev libyaml-cpp-dev nlohmann-json3-dev
  libsodium-dev libgtest-dev libgmock-dev libcli11-dev libfmt-dev
  docker-registry skopeo umoci zstd apache2-utils jq python3 ccache golang-go
  clang-14 libclang-rt-14-dev
)
[ "$want_bench" = 1 ] && packages+=(hyperfine time linux-perf valgrind)
missing=()
for p in "${packages[@]}"; do
  # golang-go is only a fallback when no Go toolchain is present at all.
  if [ "$p" = golang-go ]; then command -v go >/dev/null 2>&1 && continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the registry as a service on :5000; tests start their own on free ports.
  if [[ " ${missing[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
fi

# --- Go peers -----------------------------------------------------------------------------------
export PATH=/usr/local/go/bin:$PATH
export GOFLAGS=-mod=mod GOTOOLCHAIN=auto CGO_ENABLED=0
mkdir -p "$PEERS"

# go_install NAME VERSION PACKAGE [LDFLAGS]: builds PACKAGE@VERSION into $PEERS/NAME-VERSION/NAME.
go_install() {
  local name=$1 version=$2 pkg=$3 ld=${4:-}
  local dir="$PEERS/$name-$version"
  [ -x "$dir/$name" ] && return 0
  log "building $name $version from the Go module proxy"
  local tmp; tmp=$(mktemp -d "$PEERS/.build-$name.XXXXXX")
  GOBIN="$tmp" go install -trimpath -ldflags "-s -w $ld" "$pkg@$version"
  mkdir -p "$dir" && mv "$tmp/$name" "$dir/$name" && rm -rf "$tmp"
}

link_peer() { ln -sfn "$1" "$PEERS/bin/$2"; }
mkdir -p "$PEERS/bin"

go_install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
go_install cosign "$COSIGN_VERSION" github.com/sigstore/cosign/v2/cmd/cosign "-X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION"
go_install crane "$CRANE_VERSION" github.com/google/go-containerregistry/cmd/crane
link_peer "$PEERS/helm-$HELM_VERSION/helm" helm
link_peer "$PEERS/cosign-$COSIGN_VERSION/cosign" cosign
link_peer "$PEERS/crane-$CRANE_VERSION/crane" crane

# go_wrapped NAME MODULE VERSION PACKAGE: builds through a throwaway wrapper module. Used where
# `go install pkg@version` fails: the proxy refuses oras.land/oras's version list, which
# `go install` reads to check deprecation; `go get` of an exact version does not need it.
go_wrapped() {
  local name=$1 module=$2 version=$3 pkg=$4
  local dir="$PEERS/$name-$version"
  [ -x "$dir/$name" ] && return 0
  log "building $name $version (wrapper module)"
  local w; w=$(mktemp -d "$PEERS/.build-$name.XXXXXX")
  (cd "$w" && go mod init "example.local/$name" >/dev/null 2>&1 &&
   go get "$module@$version" >/dev/null 2>&1 &&
   go build -trimpath -ldflags "-s -w" -o "$name" "$pkg")
  mkdir -p "$dir" && mv "$w/$name" "$dir/$name" && rm -rf "$w"
}

if [ "$want_bench" = 1 ]; then
  go_wrapped oras oras.land/oras "$ORAS_VERSION" oras.land/oras/cmd/oras
  link_peer "$PEERS/oras-$ORAS_VERSION/oras" oras
fi

if [ "$want_cluster" = 1 ]; then
  # etcd: server/go.mod has replaces, so build through a wrapper module (test-peers.md §6).
  d="$PEERS/etcd-$ETCD_VERSION"
  if [ ! -x "$d/etcd" ]; then
    log "building etcd $ETCD_VERSION (wrapper module)"
    w=$(mktemp -d "$PEERS/.build-etcd.XXXXXX")
    (cd "$w" && cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
     go mod init example.local/etcd >/dev/null 2>&1
     go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1
     go mod tidy >/dev/null 2>&1
     go build -trimpath -ldflags "-s -w" -o etcd .)
    mkdir -p "$d" && mv "$w/etcd" "$d/etcd" && rm -rf "$w"
  fi
  link_peer "$d/etcd" etcd

  # Kubernetes control plane: root go.mod replaces staging modules; wrapper restates them (§7.4).
  d="$PEERS/kubernetes-v$KUBE_VERSION"
  if [ ! -x "$d/kube-apiserver" ] || [ ! -x "$d/kubectl" ] || [ ! -x "$d/kube-scheduler" ] || [ ! -x "$d/kube-controller-manager" ]; then
    log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl v$KUBE_VERSION (wrapper module; slow)"
    w=$(mktemp -d "$PEERS/.build-k8s.XXXXXX")
    S=v0.${KUBE_VERSION#1.}
    (cd "$w"
     go mod init example.local/k8s-peers >/dev/null 2>&1
     go mod edit -go=1.26.0
     MOD=$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
     for m in $(sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$MOD"); do
       go mod edit "-replace=$m=$m@$S"
     done
     go mod edit "-require=k8s.io/kubernetes@v$KUBE_VERSION"
     go get -tool k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
                  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl >/dev/null 2>&1
     MINOR=${KUBE_VERSION#1.}; MINOR=${MINOR%%.*}
     LD="-s -w"
     for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
       LD="$LD -X $p.gitVersion=v$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean"
     done
     go build -trimpath -ldflags "$LD" -o bin/ \
       k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
       k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
    mkdir -p "$d" && mv "$w"/bin/* "$d/" && rm -rf "$w"
  fi
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do link_peer "$d/$b" "$b"; done

  go_install kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
  link_peer "$PEERS/kwok-$KWOK_VERSION/kwok" kwok
  # kwok's stage definitions ship in its module zip; keep the ones the test cluster needs beside
  # the binary: what kwokctl's "fast" set uses (node-initialize, node heartbeat with leases, so
  # the node lifecycle controller keeps the nodes Ready; pod ready/complete/delete) plus the
  # volume stages, which provision a bound hostPath PV for each PVC of class kwok-volume.
  # Only Stage documents: the directories also hold kustomizations and a StorageClass.
  st="$PEERS/kwok-$KWOK_VERSION/stages.yaml"
  if [ ! -f "$st" ]; then
    src=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    { for f in "$src"/kustomize/stage/{node/fast,node/heartbeat-with-lease,pod/fast,volume/fast}/*.yaml; do
        grep -q '^kind: Stage$' "$f" || continue
        echo "---"; cat "$f"; done; } > "$st.tmp"
    mv "$st.tmp" "$st"
  fi
  link_peer "$st" kwok-stages.yaml
fi
exit 0
