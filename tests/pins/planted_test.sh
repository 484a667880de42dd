#!/usr/bin/env bash
# scripts/check-pins.sh must catch each way a Go module version can escape the repository: a
# tree with one planted defect at a time must fail, naming it; the clean tree must pass.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fresh() {
  rm -rf "$T/r"; mkdir -p "$T/r/scripts"
  cp -r "$SRC/scripts/peers" "$T/r/scripts/peers"
}
expect_fail() {  # expect_fail WHAT PATTERN
  local out rc=0
  out=$("$SRC/scripts/check-pins.sh" "$T/r" 2>&1) || rc=$?
  if [ "$rc" = 0 ]; then echo "FAIL: check-pins accepted $1"; exit 1; fi
  if ! grep -q -- "$2" <<<"$out"; then echo "FAIL: check-pins refused $1 without saying '$2':"; echo "$out"; exit 1; fi
  echo "ok: refused $1"
}
fresh
"$SRC/scripts/check-pins.sh" "$T/r" >/dev/null || { echo "FAIL: clean tree refused"; exit 1; }
echo "ok: clean tree passes"

fresh; printf 'go get -tool k8s.io/kubernetes/cmd/kube-apiserver\n' >"$T/r/scripts/a.sh"
expect_fail "go get without a version" "scripts/a.sh:1: 'go get'"
fresh; printf 'cd w && go get example.com/m@v1.2.3\n' >"$T/r/scripts/a.sh"
expect_fail "go get even with a version" "'go get' resolves"
fresh; printf 'x\n  go mod tidy >/dev/null 2>&1\n' >"$T/r/scripts/b.sh"
expect_fail "go mod tidy" "scripts/b.sh:2: 'go mod tidy'"
fresh; printf 'go install sigs.k8s.io/kwok/cmd/kwok@latest\n' >"$T/r/scripts/c.sh"
expect_fail "go install @latest" "without an exact"
fresh; printf 'GOBIN=x go install helm.sh/helm/v3/cmd/helm@v3.21\n' >"$T/r/scripts/c.sh"
expect_fail "go install of a partial version" "without an exact"
fresh; printf 'go run golang.org/x/tools/cmd/stringer@master\n' >"$T/r/scripts/c.sh"
expect_fail "go run @master" "without an exact"
fresh; printf 'HELM_VERSION=v3.21.4\nHELM4_VERSION=v4.3\n' >"$T/r/scripts/setup.sh"
expect_fail "a partial peer version line" "scripts/setup.sh:2: HELM4_VERSION=v4.3 is not an exact"
fresh; printf 'export COSIGN_VERSION="latest"\n' >"$T/r/scripts/setup.sh"
expect_fail "a version query in a peer version line" "COSIGN_VERSION=\"latest\" is not an exact"
fresh; printf 'COMMAND env GOFLAGS=-mod=mod go build .\n' >"$T/r/CMakeLists.txt"
expect_fail "-mod=mod" "CMakeLists.txt:1: -mod=mod"
fresh; rm "$T/r/scripts/peers/tools/go.sum"
expect_fail "a wrapper without go.sum" "peers/tools: no go.sum"
fresh; grep -v '^go.etcd.io/etcd/server/v3 v3.6.14/go.mod ' "$SRC/scripts/peers/tools/go.sum" >"$T/r/scripts/peers/tools/go.sum"
expect_fail "a go.sum without the required module" "no checksum for go.etcd.io/etcd/server/v3 v3.6.14"
fresh; sed -i 's#^\tgo.etcd.io/etcd/server/v3 v3.6.14$#\tgo.etcd.io/etcd/server/v3 latest#' "$T/r/scripts/peers/tools/go.mod"
expect_fail "a version query in a wrapper go.mod" "names a version query"
fresh; printf '# go get is mentioned in a comment only\ngo install github.com/google/go-containerregistry/cmd/crane@v0.21.9\nHELM4_VERSION=v4.3.1\n' >"$T/r/scripts/ok.sh"
"$SRC/scripts/check-pins.sh" "$T/r" >/dev/null || { echo "FAIL: an exact go install (and a comment) refused"; exit 1; }
echo "ok: exact go install and comments pass"
echo "planted-defect checks: all passed"
