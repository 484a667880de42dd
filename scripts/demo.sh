#!/usr/bin/env bash
# The sealift demo, on embedded defaults: installs what is missing, builds into build/demo, starts a
# local registry that plays the vendor's upstream registries (docker.io, registry.k8s.io, ghcr.io
# all map onto it), fills it with every image the chart uses (multi-arch fixtures), and shows what
# is there. Everything it starts runs on 127.0.0.1 and stops when it ends, however it ends; every
# run starts from a fresh directory, so it is safe to run again.
#
#   scripts/demo.sh
#
# Environment: SEALIFT_DEMO_SCALE (default 0.05, about 50 MB of blobs per platform; 1.0 is real
# size), SEALIFT_DEMO_BUILD (default build/demo), SEALIFT_KEEP_TMP=1 keeps the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh

SCALE=${SEALIFT_DEMO_SCALE:-0.05}
BUILD=${SEALIFT_DEMO_BUILD:-build/demo}

step() { printf '\n== %s\n' "$*"; }

step "Installing what is missing (scripts/setup.sh)"
scripts/setup.sh

step "Building sealift into $BUILD"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$BUILD" sealift-bundle sealift-install sealift-fixtures

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sealift-demo.XXXXXX")
cleanup() {
  stop_all "$WORK"
  if [ -n "${SEALIFT_KEEP_TMP:-}" ]; then echo "demo: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "Starting the upstream registry (docker-registry on 127.0.0.1, a free port)"
start_registry "$WORK/upstream"
UPSTREAM=$REGISTRY_HOST
echo "upstream registry: http://$UPSTREAM (storage $WORK/upstream/storage, pid $(cut -d' ' -f1 "$WORK/upstream/pids"))"

step "Pushing the chart's images at scale $SCALE (sealift-fixtures)"
"$BUILD/sealift-fixtures" push --scale "$SCALE" --registry "$UPSTREAM" --plain-http --json >"$WORK/fixtures.json"

step "What the upstream registry holds"
jq -r '.images[] | [.source, .repository + ":" + .tag, .digest] | @tsv' "$WORK/fixtures.json" |
  while IFS=$'\t' read -r source path digest; do
    printf '%s\n    -> %s/%s\n    index %s\n' "$source" "$UPSTREAM" "$path" "$digest"
    jq -r --arg p "$path" '.images[] | select(.repository + ":" + .tag == $p) | .manifests[] |
      "    \(.platform)  \(.digest)  \(.layers | length) layers"' "$WORK/fixtures.json"
  done
jq -r '"\(.images | length) images, \(.blobs) distinct blobs, \(.bytes / 1e6 | floor) MB " +
  "(linux/amd64 \(.platformBytes["linux/amd64"] / 1e6 | floor) MB, linux/arm64 \(.platformBytes["linux/arm64"] / 1e6 | floor) MB)"' \
  "$WORK/fixtures.json"

step "Checking with skopeo that the registry serves exactly those bytes"
ref=$(jq -r '.images[] | select(.name == "postgres") | .repository + ":" + .tag' "$WORK/fixtures.json")
want=$(jq -r '.images[] | select(.name == "postgres") | .digest' "$WORK/fixtures.json")
got="sha256:$(skopeo inspect --raw --tls-verify=false "docker://$UPSTREAM/$ref" | sha256sum | cut -d' ' -f1)"
echo "skopeo inspect --raw docker://$UPSTREAM/$ref | sha256sum -> $got"
[ "$got" = "$want" ] || { echo "demo: digest mismatch: expected $want" >&2; exit 1; }
arm64=$(jq -r '.images[] | select(.name == "postgres") | .manifests[] | select(.platform == "linux/arm64") | .digest' \
  "$WORK/fixtures.json")
skopeo --override-os linux --override-arch arm64 inspect --tls-verify=false "docker://$UPSTREAM/$ref" |
  jq -r --arg m "$arm64" '"skopeo picks linux/arm64 (\($m)): \(.Layers | length) layers, config says \(.Os)/\(.Architecture)"'

step "Done; stopping the registry"
