#!/usr/bin/env bash
# Installs what sealift needs to build and test on Debian 12, and builds the real test peers
# from the Go module proxy into a cache outside the repository. Idempotent; quiet when all is there.
#
#   scripts/setup.sh            packages + core peers (helm 3 and 4, cosign 2 and 3, crane, oras, ociregistry)
#   scripts/setup.sh --cluster  also etcd, kube-apiserver & co., kwok (for install/upgrade tests)
#   scripts/setup.sh --bench    also the benchmark packages
#   scripts/setup.sh --all      everything
#   scripts/setup.sh --packages-only   only the Debian packages
#   scripts/setup.sh --peers-only      only the Go peers (with --cluster: those too); scripts/test.sh
#                               builds them in the background while it installs packages and builds
#
# Environment: SEALIFT_PEERS (default ~/.cache/sealift/peers).
#
# Every peer version is written down in this repository, and nothing is resolved at build time:
#   - modules without replaces are built with `go install PKG@vX.Y.Z` (exact: the module's own
#     go.mod fixes its dependencies, and go.sum lines are checked against the checksum database);
#     their versions are the *_VERSION lines below;
#   - peers that need a wrapper module (etcd, the Kubernetes control plane, oras, ociregistry) are built from
#     scripts/peers/<name>/ (go.mod, go.sum, main.go where needed) with `go build -mod=readonly`,
#     so a build that would need any module version not in go.mod/go.sum fails instead.
# Bumping a peer: edit its *_VERSION line here, or the `require` line of scripts/peers/<name>/go.mod
# and run `scripts/peers/update.sh <name>` (regenerates go.sum; for kubernetes also the replaces);
# commit both files. `scripts/check-pins.sh` (run by the suite) refuses unpinned go commands.
#
# When a peer fails to build, setup prints its name, its version and the last 40 lines of the
# go command's output, and exits non-zero.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
ROOT=$PWD

PEERS=${SEALIFT_PEERS:-$HOME/.cache/sealift/peers}
HELM_VERSION=v3.21.4
HELM4_VERSION=v4.3.1
COSIGN_VERSION=v2.6.4
COSIGN3_VERSION=v3.1.3
CRANE_VERSION=v0.21.9
KWOK_VERSION=v0.8.0
SYFT_VERSION=v1.57.1

want_cluster=0 want_bench=0 want_peers=1 want_packages=1
for a in "$@"; do
  case "$a" in
    --cluster) want_cluster=1 ;;
    --bench) want_bench=1 ;;
    --all) want_cluster=1; want_bench=1 ;;
    --packages-only) want_peers=0 ;;
    --peers-only) want_packages=0 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

log() { printf 'setup: %s\n' "$*" >&2; }
# Nothing fails silently: any command that stops this script says where.
trap 'log "FAILED at scripts/setup.sh line $LINENO: $BASH_COMMAND"' ERR

# --- Debian packages ---------------------------------------------------------------------------
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl openssl
  libarchive-dev libzstd-dev libssl-dev libcurl4-openssl-dev libyaml-cpp-dev nlohmann-json3-dev
  libsodium-dev libgtest-dev libgmock-dev libcli11-dev libfmt-dev libmicrohttpd-dev libcrypt-dev libpsl-dev libp11-dev
  docker-registry skopeo umoci zstd apache2-utils jq python3 ccache golang-go softhsm2
  chromium
  clang-14 libclang-rt-14-dev lld-14
)
[ "$want_bench" = 1 ] && packages+=(hyperfine time linux-perf valgrind)
missing=()
for p in "${packages[@]}"; do
  # golang-go is only a fallback when no Go toolchain is present at all.
  if [ "$p" = golang-go ]; then command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] && continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "$want_packages" = 1 ] && [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  aptlog=$(mktemp)
  if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$aptlog" 2>&1; then
    log "apt-get failed installing: ${missing[*]}"; tail -n 40 "$aptlog" >&2; rm -f "$aptlog"; exit 1
  fi
  rm -f "$aptlog"
  # Debian starts the registry as a service on :5000; tests start their own on free ports.
  if [[ " ${missing[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
fi

[ "$want_peers" = 1 ] || exit 0

# --- Go peers -----------------------------------------------------------------------------------
export PATH=/usr/local/go/bin:$PATH
# readonly: no go command here may add to or change a go.mod/go.sum. GOTOOLCHAIN=auto lets a
# module that says `go 1.26.N` (newer than the local toolchain) fetch that toolchain from the proxy.
export GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=auto CGO_ENABLED=0
mkdir -p "$PEERS/bin"

# run_go NAME VERSION CMD...: runs a go command quietly; on failure prints the peer, its version
# and the last 40 lines of the command's output, and returns 1 (callers clean up, then exit).
run_go() {
  local name=$1 version=$2; shift 2
  local out; out=$(mktemp "$PEERS/.log-$name.XXXXXX")
  if ! "$@" >"$out" 2>&1; then
    log "FAILED to build peer $name $version: $*"
    log "last 40 lines of the go command's output:"
    tail -n 40 "$out" >&2
    rm -f "$out"
    return 1
  fi
  rm -f "$out"
}

# go_install NAME VERSION PACKAGE [LDFLAGS]: builds PACKAGE@VERSION into $PEERS/NAME-VERSION/BIN,
# BIN being the package's last path element (helm4 v4.3.1 is $PEERS/helm4-v4.3.1/helm).
go_install() {
  local name=$1 version=$2 pkg=$3 ld=${4:-}
  local dir="$PEERS/$name-$version" bin=${pkg##*/}
  [[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || { log "peer $name: version '$version' is not exact"; exit 1; }
  [ -x "$dir/$bin" ] && return 0
  log "building $name $version from the Go module proxy"
  local tmp; tmp=$(mktemp -d "$PEERS/.build-$name.XXXXXX")
  local t0=$SECONDS
  run_go "$name" "$version" env GOBIN="$tmp" go install -trimpath -ldflags "-s -w $ld" "$pkg@$version" ||
    { rm -rf "$tmp"; exit 1; }
  mkdir -p "$dir" && mv "$tmp/$bin" "$dir/$bin.new" && mv "$dir/$bin.new" "$dir/$bin" && rm -rf "$tmp"
  log "built $name $version in $((SECONDS - t0)) s"
}

# wrapper_version NAME MODULE: the version scripts/peers/NAME/go.mod requires of MODULE.
wrapper_version() {
  local v
  v=$(awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' \
        "$ROOT/scripts/peers/$1/go.mod")
  [ -n "$v" ] || { log "scripts/peers/$1/go.mod does not require $2"; exit 1; }
  echo "$v"
}

# go_wrapped NAME VERSION LDFLAGS PACKAGE...: builds PACKAGEs of the locked wrapper module
# scripts/peers/NAME into $PEERS/NAME-VERSION-<hash of the wrapper>/, and sets PEER_DIR to it.
go_wrapped() {
  local name=$1 version=$2 ld=$3; shift 3
  local src="$ROOT/scripts/peers/$name"
  local files=("$src"/go.mod "$src"/go.sum) f
  for f in "$src"/*.go; do if [ -e "$f" ]; then files+=("$f"); fi; done
  local hash; hash=$(cat "${files[@]}" | sha256sum | cut -c1-12)
  local dir="$PEERS/$name-$version-$hash"
  local b ok=1
  for b in "$@"; do [ -x "$dir/$(basename "$b")" ] || ok=0; done
  if [ "$ok" = 0 ]; then
    log "building $name $version (locked wrapper module scripts/peers/$name)"
    local tmp t0=$SECONDS; tmp=$(mktemp -d "$PEERS/.build-$name.XXXXXX")
    (cd "$src" && run_go "$name" "$version" go build -mod=readonly -trimpath -ldflags "-s -w $ld" -o "$tmp/" "$@") ||
      { rm -rf "$tmp"; exit 1; }
    rm -rf "$dir.new" && mv "$tmp" "$dir.new" && rm -rf "$dir" && mv "$dir.new" "$dir"
    log "built $name $version in $((SECONDS - t0)) s"
  fi
  PEER_DIR=$dir
}

link_peer() { ln -sfn "$1" "$PEERS/bin/$2"; }

# The peers build in three streams at once. One go command alone leaves much of the machine idle
# (module downloads, one long link at the end of each binary), and a cold set-up is the largest
# part of a CI run. Each stream groups peers that share dependencies at the same versions, so the
# go build cache compiles them once; separate streams share little. A failing peer fails its
# stream; the others finish, then set-up exits non-zero.

# helm 3 and cosign 3 share the Kubernetes client libraries (v0.36.2) and much else; crane; syft.
stream_helm3_cosign3_syft() {
  go_install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  link_peer "$PEERS/helm-$HELM_VERSION/helm" helm
  # cosign v3 (sigstore bundles, OCI 1.1 referrers) beside v2: both read what sealift writes.
  go_install cosign "$COSIGN3_VERSION" github.com/sigstore/cosign/v3/cmd/cosign "-X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN3_VERSION"
  link_peer "$PEERS/cosign-$COSIGN3_VERSION/cosign" cosign3
  go_install crane "$CRANE_VERSION" github.com/google/go-containerregistry/cmd/crane
  link_peer "$PEERS/crane-$CRANE_VERSION/crane" crane
  # syft makes the images' SBOMs (sealift-bundle build --sbom); pure Go (its SQLite is modernc's).
  go_install syft "$SYFT_VERSION" github.com/anchore/syft/cmd/syft "-X main.version=$SYFT_VERSION"
  link_peer "$PEERS/syft-$SYFT_VERSION/syft" syft
}

# helm 4 and cosign 2 (older and newer Kubernetes libraries than the rest); the two small registries.
stream_helm4_cosign2_registries() {
  # Helm 4 beside helm 3: sites run either, and the installer drives both (helm/helm.h).
  go_install helm4 "$HELM4_VERSION" helm.sh/helm/v4/cmd/helm "-X helm.sh/helm/v4/internal/version.version=$HELM4_VERSION"
  link_peer "$PEERS/helm4-$HELM4_VERSION/helm" helm4
  go_install cosign "$COSIGN_VERSION" github.com/sigstore/cosign/v2/cmd/cosign "-X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION"
  link_peer "$PEERS/cosign-$COSIGN_VERSION/cosign" cosign
  # A registry with the OCI 1.1 referrers API (docker-registry 2.8 has none): CUE's ociregistry
  # through a wrapper that adds a listen address and htpasswd Basic auth. zot is not served by the
  # module proxy, and distribution v3.1.2 has no referrers route.
  local v
  v=$(wrapper_version ociregistry cuelabs.dev/go/oci/ociregistry)
  go_wrapped ociregistry "$v" "" example.local/sealift-peers/ociregistry
  link_peer "$PEER_DIR/ociregistry" ociregistry
  # oras (a client of `sealift-install serve` in tests/serve, and a benchmark peer) through a wrapper:
  # the proxy refuses oras.land/oras's version list, which `go install` reads to check deprecation.
  v=$(wrapper_version oras oras.land/oras)
  go_wrapped oras "$v" "" oras.land/oras/cmd/oras
  link_peer "$PEER_DIR/oras" oras
}

# The cluster: etcd, the Kubernetes control plane and kubectl, kwok and its stages.
stream_cluster() {
  # etcd: server/go.mod has replaces, so it is built through a wrapper (test-peers.md §6).
  local v minor ld p b
  v=$(wrapper_version etcd go.etcd.io/etcd/server/v3)
  go_wrapped etcd "$v" "" example.local/sealift-peers/etcd
  link_peer "$PEER_DIR/etcd" etcd

  # Kubernetes control plane: the root go.mod replaces its staging modules with ./staging paths;
  # the wrapper restates them against the published v0.X.Y modules (test-peers.md §7.4).
  v=$(wrapper_version kubernetes k8s.io/kubernetes)
  minor=${v#v1.}; minor=${minor%%.*}
  ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  go_wrapped kubernetes "$v" "$ld" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
        k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do link_peer "$PEER_DIR/$b" "$b"; done

  go_install kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
  link_peer "$PEERS/kwok-$KWOK_VERSION/kwok" kwok
  # kwok's stage definitions ship in its module zip; keep the ones the test cluster needs beside
  # the binary: what kwokctl's "fast" set uses (node-initialize, node heartbeat with leases, so
  # the node lifecycle controller keeps the nodes Ready as long as kwok renews their Leases, which
  # it does when started with --node-lease-duration-seconds; pod ready/complete/delete) plus the
  # volume stages, which provision a bound hostPath PV for each PVC of class kwok-volume.
  # Only Stage documents: the directories also hold kustomizations and a StorageClass.
  local st="$PEERS/kwok-$KWOK_VERSION/stages.yaml" dl src f
  if [ ! -f "$st" ]; then
    dl=$(mktemp "$PEERS/.log-kwok.XXXXXX")
    run_go kwok-stages "$KWOK_VERSION" sh -c "go mod download -json 'sigs.k8s.io/kwok@$KWOK_VERSION' > '$dl'" ||
      { rm -f "$dl"; exit 1; }
    src=$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' "$dl"); rm -f "$dl"
    { for f in "$src"/kustomize/stage/{node/fast,node/heartbeat-with-lease,pod/fast,volume/fast}/*.yaml; do
        grep -q '^kind: Stage$' "$f" || continue
        echo "---"; cat "$f"; done; } > "$st.tmp"
    mv "$st.tmp" "$st"
  fi
  link_peer "$st" kwok-stages.yaml
}

streams=(stream_helm3_cosign3_syft stream_helm4_cosign2_registries)
[ "$want_cluster" = 1 ] && streams+=(stream_cluster)
pids=()
for s in "${streams[@]}"; do ( "$s" ) & pids+=($!); done
failed=()
for i in "${!streams[@]}"; do wait "${pids[$i]}" || failed+=("${streams[$i]}"); done
[ ${#failed[@]} = 0 ] || { log "FAILED: ${failed[*]} (the first error is above)"; exit 1; }
exit 0
