#!/usr/bin/env bash
# Regenerates a locked peer wrapper after a version bump. The only script allowed to resolve Go
# module versions: run it by hand, review the diff of go.mod and go.sum, commit both.
#
#   1. edit the `require` line of scripts/peers/NAME/go.mod (e.g. k8s.io/kubernetes v1.36.3)
#   2. scripts/peers/update.sh NAME
#   3. git add scripts/peers/NAME && git commit
#
# For a wrapper that requires k8s.io/kubernetes (tools) it also rewrites the replace block: every
# staging module that the upstream go.mod replaces with ./staging/src/k8s.io/<m> is pinned to the
# published k8s.io/<m> v0.MINOR.PATCH.
# Peers built with `go install PKG@vX.Y.Z` (no wrapper) are bumped in scripts/setup.sh instead.
set -euo pipefail
cd "$(dirname "$0")"
name=${1:?usage: scripts/peers/update.sh NAME (one of: $(ls -d */ | tr -d / | tr '\n' ' '))}
[ -f "$name/go.mod" ] || { echo "update.sh: no wrapper scripts/peers/$name" >&2; exit 2; }
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=auto GOFLAGS=-mod=mod
cd "$name"
if grep -q "^[[:space:]]*k8s.io/kubernetes v" go.mod; then
  k=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' go.mod)
  [[ "$k" =~ ^v1\.[0-9]+\.[0-9]+$ ]] || { echo "update.sh: go.mod requires k8s.io/kubernetes '$k', not an exact v1.X.Y" >&2; exit 2; }
  s=v0.${k#v1.}
  upstream=$(go mod download -json "k8s.io/kubernetes@$k" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  go mod edit -dropreplace=k8s.io/kubernetes 2>/dev/null || true
  for old in $(go mod edit -json | jq -r '.Replace[]?.Old.Path'); do go mod edit "-dropreplace=$old"; done
  for m in $(sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$upstream"); do
    go mod edit "-replace=$m=$m@$s"
  done
fi
go mod tidy
echo "update.sh: scripts/peers/$name regenerated; review and commit go.mod and go.sum"
