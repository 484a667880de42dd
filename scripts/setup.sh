#!/usr/bin/env bash
# Installs what sealift needs to build and test on Debian 12, and builds the real test peers
# from the Go module proxy into a cache outside the repository. Idempotent; quiet when all is there.
#
#   scripts/setup.sh            packages + core peers (helm 3 and 4, cosign 2 and 3, crane, oras, ociregistry, syft)
#   scripts/setup.sh --cluster  also etcd, kube-apiserver & co., kubelet, kwok (for install/upgrade tests)
#   scripts/setup.sh --bench    also the benchmark packages
#   scripts/setup.sh --portable also what the portable release needs (scripts/release.sh, tests/portable)
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
#   - every other peer (the Kubernetes control plane and kubelet, etcd, kwok, helm 3, cosign 2 and
#     3, crane, oras, ociregistry) is built from the locked module scripts/peers/tools/ (go.mod,
#     go.sum, main.go of the two small wrappers) with `go build -mod=readonly`, so a build that
#     would need any module version not in go.mod/go.sum fails instead.
# Bumping a peer: edit its *_VERSION line here (helm 4, syft), or its `require` line in
# scripts/peers/tools/go.mod and run `scripts/peers/update.sh tools` (regenerates go.sum and the
# Kubernetes staging replaces); commit both files. `scripts/check-pins.sh` (run by the suite) refuses unpinned go commands.
#
# When a peer fails to build, setup prints its name, its version and the last 40 lines of the
# go command's output, and exits non-zero.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
ROOT=$PWD

PEERS=${SEALIFT_PEERS:-$HOME/.cache/sealift/peers}
HELM4_VERSION=v4.3.1
SYFT_VERSION=v1.57.1

want_cluster=0 want_bench=0 want_portable=0 want_peers=1 want_packages=1
for a in "$@"; do
  case "$a" in
    --cluster) want_cluster=1 ;;
    --bench) want_bench=1 ;;
    --portable) want_portable=1 ;;
    --all) want_cluster=1; want_bench=1; want_portable=1 ;;
    --packages-only) want_peers=0 ;;
    --peers-only) want_packages=0 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
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
  libsodium-dev libgtest-dev libgmock-dev libcli11-dev libfmt-dev libmicrohttpd-dev libcrypt-dev libpsl-dev libp11-dev libp11-kit-dev
  docker-registry skopeo umoci zstd apache2-utils jq python3 ccache golang-go softhsm2
  chromium
  help2man rpm zsh  # man pages, rpmbuild for the .rpm, the zsh completion test (cmake/packaging.cmake)
  clang-14 libclang-rt-14-dev lld-14
  # The test cluster's real node (tests/env/cluster.cc, scripts/lib/cluster.sh): kubelet runs its
  # pods with these; busybox-static is the runnable layer of the fixture images.
  containerd runc containernetworking-plugins busybox-static iproute2
)
[ "$want_bench" = 1 ] && packages+=(hyperfine time linux-perf valgrind)
# The portable release (scripts/release.sh, tests/portable): sources are Debian source packages
# (dpkg-source), zig comes from PyPI (pip), libxcrypt needs autoreconf; the tests run the binaries
# in a Debian 11 root (debootstrap) and under qemu with Debian's arm64 libc.
[ "$want_portable" = 1 ] && packages+=(dpkg-dev python3-pip unzip autoconf automake libtool debootstrap
  qemu-user-static crossbuild-essential-arm64)
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
# The Go compiler spends a fifth of its CPU collecting garbage at the default GOGC=100; at 400 a
# cold build of k8s.io/client-go took 174 CPU-s instead of 214 (peak 0.6 GB instead of 0.45 per
# compile; 1000 saved only 5 % more).
export GOGC=${GOGC:-400}
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
# unless it is there. The module's own go.mod fixes its dependencies.
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

# wrapper_dir NAME: $PEERS/NAME-<hash of the locked wrapper scripts/peers/NAME>, where its
# binaries live; a change to its go.mod, go.sum or Go files makes a new directory.
wrapper_dir() {
  local src="$ROOT/scripts/peers/$1"
  echo "$PEERS/$1-$(find "$src" -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print0 |
                     LC_ALL=C sort -z | xargs -0 cat | sha256sum | cut -c1-12)"
}

# go_wrapped NAME LDFLAGS [-o BIN] PACKAGE...: builds the PACKAGEs of the locked wrapper module
# scripts/peers/NAME that are not in `wrapper_dir NAME` yet, in one go command (each binary named
# after its package, or BIN for a single package), and moves each into that directory.
go_wrapped() {
  local name=$1 ld=$2; shift 2
  local dir out="" p; dir=$(wrapper_dir "$name")
  if [ "$1" = -o ]; then out=$2; shift 2; fi
  local want=()
  for p in "$@"; do [ -x "$dir/${out:-${p##*/}}" ] || want+=("$p"); done
  [ ${#want[@]} -gt 0 ] || return 0
  log "building ${out:-${want[*]##*/}} (locked wrapper module scripts/peers/$name)"
  local tmp t0=$SECONDS; tmp=$(mktemp -d "$PEERS/.build-$name.XXXXXX")
  (cd "$ROOT/scripts/peers/$name" &&
     run_go "$name" "$(basename "$dir")" go build -mod=readonly -trimpath -ldflags "-s -w $ld" -o "$tmp/$out" "${want[@]}") ||
    { rm -rf "$tmp"; exit 1; }
  mkdir -p "$dir"
  for p in "$tmp"/*; do mv "$p" "$dir/$(basename "$p").new" && mv "$dir/$(basename "$p").new" "$dir/$(basename "$p")"; done
  rm -rf "$tmp"
  log "built ${out:-${want[*]##*/}} in $((SECONDS - t0)) s"
}

link_peer() { ln -sfn "$1" "$PEERS/bin/$2"; }

# The locked module scripts/peers/tools holds every peer that can share one set of dependencies:
# the Kubernetes control plane and kubelet (v1.36.3, whose staging modules it pins), etcd, kwok,
# helm 3, cosign 2 and 3, crane and oras. Built apart, their modules asked for five versions of the
# Kubernetes client libraries, seven of golang.org/x/net and six of gRPC, and the go build cache
# compiled each version once: about 38,000 Go files in all. Together, minimal version selection
# picks one version of each, and the same peers compile about 28,000 files (one go command, so
# nothing is compiled twice by two processes at once). Each peer keeps its own source at its
# released version; only shared dependencies may be newer than that release asked for, as a Go
# program built in a larger module would. helm 4 stays apart (it needs the v0.37 client
# libraries, which the v1.36 control plane cannot take), and so does syft (its own large tree).
k8s_version=$(wrapper_version tools k8s.io/kubernetes)
helm3_version=$(wrapper_version tools helm.sh/helm/v3)
cosign2_version=$(wrapper_version tools github.com/sigstore/cosign/v2)
cosign3_version=$(wrapper_version tools github.com/sigstore/cosign/v3)
kwok_version=$(wrapper_version tools sigs.k8s.io/kwok)
tools_core() {
  local dir; dir=$(wrapper_dir tools)
  go_wrapped tools "-X helm.sh/helm/v3/internal/version.version=$helm3_version" \
    helm.sh/helm/v3/cmd/helm github.com/google/go-containerregistry/cmd/crane oras.land/oras/cmd/oras \
    example.local/sealift-peers/tools/ociregistry
  # The two cosigns set the same version variable to different values: one go command each.
  go_wrapped tools "-X sigs.k8s.io/release-utils/version.gitVersion=$cosign2_version" -o cosign \
    github.com/sigstore/cosign/v2/cmd/cosign
  go_wrapped tools "-X sigs.k8s.io/release-utils/version.gitVersion=$cosign3_version" -o cosign3 \
    github.com/sigstore/cosign/v3/cmd/cosign
  local b; for b in helm crane oras ociregistry cosign cosign3; do link_peer "$dir/$b" "$b"; done
}
tools_cluster() {
  local dir minor ld="" p b; dir=$(wrapper_dir tools)
  minor=${k8s_version#v1.}; minor=${minor%%.*}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$k8s_version -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  go_wrapped tools "$ld" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubelet \
    example.local/sealift-peers/tools/etcd sigs.k8s.io/kwok/cmd/kwok
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet etcd kwok; do link_peer "$dir/$b" "$b"; done

  # kwok's stage definitions ship in its module zip; keep the ones the test cluster needs beside
  # the binaries: what kwokctl's "fast" set uses (node-initialize, node heartbeat with leases, so
  # the node lifecycle controller keeps the nodes Ready as long as kwok renews their Leases, which
  # it does when started with --node-lease-duration-seconds; pod ready/complete/delete) plus the
  # volume stages, which provision a bound hostPath PV for each PVC of class kwok-volume.
  # Only Stage documents: the directories also hold kustomizations and a StorageClass.
  local st="$dir/kwok-stages.yaml" dl src f
  if [ ! -f "$st" ]; then
    dl=$(mktemp "$PEERS/.log-kwok.XXXXXX")
    run_go kwok-stages "$kwok_version" sh -c "cd '$ROOT/scripts/peers/tools' && go mod download -json 'sigs.k8s.io/kwok@$kwok_version' > '$dl'" ||
      { rm -f "$dl"; exit 1; }
    src=$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' "$dl"); rm -f "$dl"
    { for f in "$src"/kustomize/stage/{node/fast,node/heartbeat-with-lease,pod/fast,volume/fast}/*.yaml; do
        grep -q '^kind: Stage$' "$f" || continue
        echo "---"; cat "$f"; done; } > "$st.tmp"
    mv "$st.tmp" "$st"
  fi
  link_peer "$st" kwok-stages.yaml
}

# Two streams at once: one go command alone leaves part of the machine idle (module downloads,
# the single-threaded end of each link). A failing peer fails its stream; the other finishes,
# then set-up exits non-zero.
stream_tools() {
  tools_core
  if [ "$want_cluster" = 1 ]; then tools_cluster; fi
}
stream_helm4_syft() {
  go_install helm4 "$HELM4_VERSION" helm.sh/helm/v4/cmd/helm "-X helm.sh/helm/v4/internal/version.version=$HELM4_VERSION"
  link_peer "$PEERS/helm4-$HELM4_VERSION/helm" helm4
  go_install syft "$SYFT_VERSION" github.com/anchore/syft/cmd/syft "-X main.version=$SYFT_VERSION"
  link_peer "$PEERS/syft-$SYFT_VERSION/syft" syft
}

streams=(stream_tools stream_helm4_syft)
pids=()
for s in "${streams[@]}"; do ( "$s" ) & pids+=($!); done
failed=()
for i in "${!streams[@]}"; do wait "${pids[$i]}" || failed+=("${streams[$i]}"); done
[ ${#failed[@]} = 0 ] || { log "FAILED: ${failed[*]} (the first error is above)"; exit 1; }
exit 0
