#!/usr/bin/env bash
# The sealift demo: the main job end to end, on embedded defaults, from nothing.
#
#   vendor side   a local registry plays the upstream registries (docker.io, registry.k8s.io and
#                 ghcr.io all map onto it) and holds every image of the chart (multi-arch fixtures);
#                 keygen, lock, build the signed bundle of release 1.0.0.
#   customer side a Harbor-like target (real docker-registry with token auth + Harbor API stand-in)
#                 and a local cluster (etcd, kube-apiserver, controller-manager, scheduler, kwok);
#                 verify, push, install with values-prod.yaml.
#   next release  the vendor bumps the backend (one changed layer), builds 1.1.0 as a delta bundle
#                 against 1.0.0; the customer upgrades to it.
# Finally it shows `helm history`, the pods' images (all from the target by digest) and the time
# each step took. Everything runs on 127.0.0.1, stops when the demo ends however it ends, and every
# run starts from a fresh directory, so it is safe to run again.
#
# Environment: SEALIFT_DEMO_SCALE (default 0.05, about 50 MB of blobs per platform; 1.0 is real
# size), SEALIFT_DEMO_BUILD (default build/demo), SEALIFT_KEEP_TMP=1 keeps the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh
source scripts/lib/cluster.sh

SCALE=${SEALIFT_DEMO_SCALE:-0.05}
BUILD=${SEALIFT_DEMO_BUILD:-build/demo}
PEERS=${SEALIFT_PEERS:-$HOME/.cache/sealift/peers}

TIMINGS=()
step_start=0 step_name=""
step() {
  local now; now=$(date +%s.%N)
  [ -z "$step_name" ] || TIMINGS+=("$(printf '%6.1fs  %s' "$(awk -v a="$now" -v b="$step_start" 'BEGIN{print a-b}')" "$step_name")")
  step_name="$*" step_start=$now
  printf '\n== %s\n' "$*"
}

# Every command of every step must succeed: set -e stops the demo at the first failure (no step
# hides a command in an `a && b` list, which set -e does not stop), and this says where.
# Once the cluster runs, a failure also shows its nodes and the pods that are not running, so the
# log explains a flake without a rerun.
failed() {
  echo "demo: FAILED in step \"$step_name\" (line $1: $2)" >&2
  if [ -n "${WORK:-}" ] && [ -s "$WORK/cluster/kubeconfig" ]; then
    local k=("$PEERS/bin/kubectl" --kubeconfig="$WORK/cluster/kubeconfig")
    echo "demo: the cluster's nodes and the pods that are not Running:" >&2
    "${k[@]}" get nodes >&2 || true
    "${k[@]}" get pods -A --field-selector=status.phase!=Running >&2 || true
  fi
}
trap 'failed "$LINENO" "$BASH_COMMAND"' ERR

step "Installing what is missing (scripts/setup.sh --cluster)"
scripts/setup.sh --cluster

step "Building sealift into $BUILD"
# A user's ordinary Release build; a build directory that is already configured (the suite runs
# the demo with its own build) keeps its settings.
[ -f "$BUILD/CMakeCache.txt" ] || cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$BUILD" sealift-bundle sealift-install sealift-fixtures sealift-harborlike
BUNDLE="$BUILD/sealift-bundle" INSTALL="$BUILD/sealift-install"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sealift-demo.XXXXXX")
cleanup() {
  stop_cluster "$WORK/cluster" 2>/dev/null || true
  stop_all "$WORK"
  if [ -n "${SEALIFT_KEEP_TMP:-}" ]; then echo "demo: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Vendor side --------------------------------------------------------------------------------
step "Starting the upstream registry and pushing the chart's images (scale $SCALE)"
start_registry "$WORK/upstream"
UPSTREAM=$REGISTRY_HOST
"$BUILD/sealift-fixtures" push --scale "$SCALE" --registry "$UPSTREAM" --plain-http --json >"$WORK/fixtures.json"
"$BUILD/sealift-fixtures" push --scale "$SCALE" --release 2 --only backend --registry "$UPSTREAM" --plain-http >/dev/null
MIRRORS=(--mirror "docker.io=$UPSTREAM" --mirror "ghcr.io=$UPSTREAM" --mirror "registry.k8s.io=$UPSTREAM")
jq -r '"upstream http://'"$UPSTREAM"': \(.images | length) images, \(.blobs) distinct blobs, \(.bytes / 1e6 | floor) MB"' \
  "$WORK/fixtures.json"

step "Vendor: signing key (sealift-bundle keygen)"
export COSIGN_PASSWORD=demo-only-password
"$BUNDLE" keygen --dir "$WORK/vendor"

step "Vendor: lock every image of the chart by digest (sealift-bundle lock)"
cp -r chart "$WORK/chart-1.0.0"
"$BUNDLE" lock --chart "$WORK/chart-1.0.0" --lock "$WORK/images-1.0.0.lock" "${MIRRORS[@]}" --plain-http
"$BUNDLE" lint --chart "$WORK/chart-1.0.0" --lock "$WORK/images-1.0.0.lock" --helm "$PEERS/bin/helm" --quiet
echo "air-gap lint: every rendered image is locked"

step "Vendor: build the signed bundle of 1.0.0 (sealift-bundle build)"
"$BUNDLE" build --chart "$WORK/chart-1.0.0" --lock "$WORK/images-1.0.0.lock" --key "$WORK/vendor/cosign.key" \
  -o "$WORK/ai-saas-1.0.0.tar.zst" "${MIRRORS[@]}" --plain-http --cache "$WORK/cache" --sbom syft --syft "$PEERS/bin/syft"
"$BUNDLE" inspect "$WORK/ai-saas-1.0.0.tar.zst" >"$WORK/inspect.txt"
head -30 "$WORK/inspect.txt"

# --- Customer side ------------------------------------------------------------------------------
step "Customer: starting the Harbor-like target and the cluster"
mkdir -p "$WORK/harbor"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/harbor/token.key" 2>/dev/null
chmod 600 "$WORK/harbor/token.key"
openssl req -x509 -new -key "$WORK/harbor/token.key" -subj /CN=harbor-token-signer -days 2 \
  -out "$WORK/harbor/token.crt" 2>/dev/null
HARBOR_PORT=$(_env_free_port)
HARBOR="127.0.0.1:$HARBOR_PORT"
SEALIFT_REGISTRY_TOKEN_REALM="http://$HARBOR/service/token" SEALIFT_REGISTRY_TOKEN_CERT="$WORK/harbor/token.crt" \
  start_registry "$WORK/harbor/registry"
export HARBOR_ADMIN_USER=admin HARBOR_ADMIN_PASSWORD=demo-harbor-admin-pw
setpriv --pdeathsig KILL "$BUILD/sealift-harborlike" -listen "$HARBOR" -signing-key "$WORK/harbor/token.key" \
  -registry "http://$REGISTRY_HOST" >"$WORK/harbor/harborlike.log" 2>&1 &
echo "$! sealift-harborlike" >>"$WORK/harbor/pids"
for _ in $(seq 100); do if curl -s -o /dev/null "http://$HARBOR/v2/"; then break; fi; sleep 0.1; done
curl -s -o /dev/null "http://$HARBOR/v2/" || { echo "demo: the Harbor-like target did not start:" >&2; cat "$WORK/harbor/harborlike.log" >&2; exit 1; }
echo "Harbor-like target: http://$HARBOR (registry behind it: http://$REGISTRY_HOST)"
start_cluster "$WORK/cluster"
export KUBECONFIG="$WORK/cluster/kubeconfig"
export HELM_CACHE_HOME="$WORK/helm/cache" HELM_CONFIG_HOME="$WORK/helm/config" HELM_DATA_HOME="$WORK/helm/data"
"$PEERS/bin/kubectl" get nodes

# The customer has the bundle, the vendor's public key, Harbor credentials and a kubeconfig.
export SEALIFT_REGISTRY_USER=admin SEALIFT_REGISTRY_PASSWORD=$HARBOR_ADMIN_PASSWORD
TARGET=(--key "$WORK/vendor/cosign.pub" --registry "$HARBOR" --project ai-saas --plain-http)
HELM=(--helm "$PEERS/bin/helm" --kubectl "$PEERS/bin/kubectl" -n ai-saas)

step "Customer: verify the bundle (signature, then every digest)"
"$INSTALL" verify "$WORK/ai-saas-1.0.0.tar.zst" --key "$WORK/vendor/cosign.pub"

step "Customer: push to Harbor (project created) and install with values-prod.yaml"
"$INSTALL" install "$WORK/ai-saas-1.0.0.tar.zst" "${TARGET[@]}" --create-project --create-pull-robot \
  "${HELM[@]}" --timeout 5m -f chart/values-prod.yaml

# --- Next release -------------------------------------------------------------------------------
step "Vendor: release 1.1.0 changes the backend only; build it as a delta against 1.0.0"
cp -r chart "$WORK/chart-1.1.0"
sed -i 's#ghcr.io/sealift/backend:1.0.0#ghcr.io/sealift/backend:1.1.0#' "$WORK/chart-1.1.0/Chart.yaml"
sed -i 's/^version: 1.0.0/version: 1.1.0/; s/^appVersion: "1.0.0"/appVersion: "1.1.0"/' "$WORK/chart-1.1.0/Chart.yaml"
sed -i '/^backend:/,/^    digest:/ s/tag: "1.0.0"/tag: "1.1.0"/' "$WORK/chart-1.1.0/values.yaml"
"$BUNDLE" lock --chart "$WORK/chart-1.1.0" --lock "$WORK/images-1.1.0.lock" "${MIRRORS[@]}" --plain-http --quiet
"$BUNDLE" build --chart "$WORK/chart-1.1.0" --lock "$WORK/images-1.1.0.lock" --key "$WORK/vendor/cosign.key" \
  -o "$WORK/ai-saas-1.1.0-delta.tar.zst" --base "$WORK/ai-saas-1.0.0.tar.zst" "${MIRRORS[@]}" --plain-http \
  --cache "$WORK/cache" --sbom syft --syft "$PEERS/bin/syft"
ls -l "$WORK"/ai-saas-*.tar.zst

step "Customer: upgrade to 1.1.0 from the delta bundle"
"$INSTALL" upgrade "$WORK/ai-saas-1.1.0-delta.tar.zst" "${TARGET[@]}" "${HELM[@]}" --timeout 5m -f chart/values-prod.yaml

step "Result"
"$PEERS/bin/helm" history ai-saas-dashboard -n ai-saas
"$INSTALL" status --release ai-saas-dashboard "${HELM[@]}"
echo
echo "Pod images (every one from $HARBOR by digest):"
"$PEERS/bin/kubectl" get pods -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\t"}{range .spec.containers[*]}{.image}{" "}{end}{"\n"}{end}' |
  grep -v '^kube-system' | sort
if "$PEERS/bin/kubectl" get pods -A -o jsonpath='{range .items[*]}{range .spec.containers[*]}{.image}{"\n"}{end}{end}' |
   grep -v "^$HARBOR/ai-saas/.*@sha256:" | grep -q .; then
  echo "demo: some pod image is not from $HARBOR by digest" >&2
  exit 1
fi
step "Done"
echo
echo "Time per step:"
printf '  %s\n' "${TIMINGS[@]}"
