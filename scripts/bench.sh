#!/usr/bin/env bash
# sealift side by side with what users already have (issue 8). Not a test: it starts its own
# registries, runs every scenario several times and prints a table of medians, min–max, ratios
# against the peers measured in the same run, and peak RSS. docs/benchmarks.md has a run and its
# reading.
#
#   scripts/bench.sh [--scale S] [--runs N] [--only LIST] [--build DIR] [--work DIR] [--keep]
#
#   --scale S   fixture scale: 1.0 (default) is about 1 GB of blobs per architecture, both
#               architectures; 0.1 for a quick look
#   --runs N    timed runs per tool and scenario (default 5); the median is reported
#   --only LIST comma-separated scenarios to time, out of build,push,repush,verify,delta,memory,
#               floor,archive,serve (default all); inputs of the others are still made once, untimed.
#               archive is scripts/bench-bundle.sh (the archive layer alone, in the build/ directory)
#   --build DIR build directory with the programs (default $SEALIFT_BUILD_DIR or build-bench;
#               configured as Release with tests when missing, for the fixture generator and the
#               Harbor stand-in)
#   --work DIR  scratch directory (default a new one under ${TMPDIR:-/var/tmp}); needs about
#               10× the fixture size
#   --keep      keep the scratch directory (logs of every run are under DIR/logs)
#
# Peers: skopeo, zstd, tar, sha256sum from Debian; crane and oras from ~/.cache/sealift/peers/bin
# (scripts/setup.sh). A peer or sealift subcommand that is missing shows as "not available". Tools run with their own default concurrency.
# Runs of the tools of one scenario are interleaved (round robin, each round in a rotated order) so
# that load from others on a shared machine spreads over all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=lib/env.sh
. scripts/lib/env.sh

SCALE=1.0
RUNS=5
ONLY=build,push,repush,verify,delta,memory,floor,archive,serve
BUILD=${SEALIFT_BUILD_DIR:-build-bench}
WORK=
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --runs needs a positive number" >&2; exit 2; }
wanted() { [[ ",$ONLY," == *",$1,"* ]]; }

say() { printf '%s\n' "$*" >&2; }

# --- programs --------------------------------------------------------------------------------
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSEALIFT_BUILD_TESTS=ON >/dev/null
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
[ "$build_type" = Release ] || say "bench.sh: warning: $BUILD is a '$build_type' build, not Release"
ninja -C "$BUILD" sealift-bundle sealift-install sealift-fixtures sealift-harborlike >/dev/null
BUILD=$(cd "$BUILD" && pwd)
BUNDLE=$BUILD/sealift-bundle
INSTALL=$BUILD/sealift-install
FIXTURES=$BUILD/sealift-fixtures
HARBORLIKE=$BUILD/sealift-harborlike
PEERS=${SEALIFT_PEERS:-$HOME/.cache/sealift/peers/bin}
peer() { # the path of a peer program, or nothing
  if [ -x "$PEERS/$1" ]; then echo "$PEERS/$1"; else command -v "$1" || true; fi
}
CRANE=$(peer crane)
ORAS=$(peer oras)
SKOPEO=$(peer skopeo)
has_subcommand() { "$1" "$2" --help >/dev/null 2>&1; }

# --- scratch directory and servers -------------------------------------------------------------
if [ -z "$WORK" ]; then
  WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/sealift-bench.XXXXXX")
else
  mkdir -p "$WORK" && WORK=$(cd "$WORK" && pwd)
fi
cleanup() {
  stop_all "$WORK"
  if [ "$KEEP" = 1 ]; then say "scratch directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$WORK/cmd" "$WORK/logs"
: >"$WORK/results.tsv"
: >"$WORK/facts.tsv"
fact() { printf '%s\t%s\n' "$1" "$2" >>"$WORK/facts.tsv"; }
fact scale "$SCALE"
fact runs "$RUNS"

export COSIGN_PASSWORD=sealift-bench
export HARBOR_ADMIN_USER=admin HARBOR_ADMIN_PASSWORD
HARBOR_ADMIN_PASSWORD=$(openssl rand -hex 16)
# sealift-install reads the Harbor API credentials from here; the registries behind the stand-in
# have no auth, so the peers push with none and nobody pays for token round trips.
export DOCKER_CONFIG=$WORK/docker
mkdir -p "$DOCKER_CONFIG" && chmod 700 "$DOCKER_CONFIG"
echo '{"auths":{}}' >"$DOCKER_CONFIG/config.json"

# start_target DIR: a Harbor-like target (tests/env/harbor: Harbor's API and /v2/ proxied to a
# plain docker-registry) with the project "bench"; sets TARGET_HOST. Everyone pushes through the
# same front, so its proxy costs every tool the same.
start_target() {
  local dir=$1 port pid
  start_registry "$dir/registry"
  mkdir -p "$dir/front"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/front/token.key" 2>/dev/null
  port=$(_env_free_port)
  setpriv --pdeathsig KILL -- "$HARBORLIKE" -listen "127.0.0.1:$port" -signing-key "$dir/front/token.key" \
    -registry "http://$REGISTRY_HOST" -project bench >"$dir/front/log" 2>&1 &
  pid=$!
  echo "$pid sealift-harborlike" >"$dir/front/pids"
  local deadline=$((SECONDS + 30))
  until curl -s -o /dev/null --noproxy '*' "http://127.0.0.1:$port/v2/"; do
    kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ] || { say "start_target: the Harbor stand-in did not start"; cat "$dir/front/log" >&2; return 1; }
    sleep 0.1
  done
  TARGET_HOST=127.0.0.1:$port
  python3 - "$DOCKER_CONFIG/config.json" "$TARGET_HOST" <<'EOF'
import base64, json, os, sys
path, host = sys.argv[1:]
with open(path) as f:
    config = json.load(f)
user, password = os.environ["HARBOR_ADMIN_USER"], os.environ["HARBOR_ADMIN_PASSWORD"]
config["auths"][host] = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
with open(path, "w") as f:
    json.dump(config, f)
EOF
}
# The target's storage, emptied between runs (the registry keeps no cache of it in memory).
wipe_target() { echo "rm -rf '$1/registry/storage/docker'"; }

# --- the timing loop ---------------------------------------------------------------------------
# A scenario is a list of tools, each with a command script and a preparation script (untimed,
# run before every timed run). A tool whose script is "n/a" is reported as not available.
TOOLS=() CMDS=() PREPS=()
tool() { TOOLS+=("$1"); CMDS+=("$2"); PREPS+=("${3:-}"); }
script() { # NAME: the script body comes on stdin; prints its path
  local f=$WORK/cmd/$1.sh
  { echo 'set -euo pipefail'; cat; } >"$f"
  echo "$f"
}
# CPU seconds (user + system) the registries and the Harbor stand-in have used so far: the other
# half of every transfer, which /usr/bin/time does not see.
CLOCK_TICKS=$(getconf CLK_TCK)
servers_cpu() {
  find "$WORK" -name pids -type f -exec cat {} + 2>/dev/null | while read -r pid _; do
    cat "/proc/$pid/stat" 2>/dev/null || true
  done | awk -v hz="$CLOCK_TICKS" '{ t += $14 + $15 } END { printf "%.2f", t / hz }'
}
timed() { # SCENARIO TOOL RUN SCRIPT
  local log=$WORK/logs/$1-$2-$3.log seconds kb user sys before after cpu server
  before=$(servers_cpu)
  if /usr/bin/time -f '%e %M %U %S' -o "$WORK/time.out" bash "$4" >"$log" 2>&1; then
    after=$(servers_cpu)
    read -r seconds kb user sys < <(tail -n 1 "$WORK/time.out")
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
    server=$(awk -v a="$before" -v b="$after" 'BEGIN { print b - a }')
    printf '%s\t%s\t%s\tok\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$seconds" "$kb" "$cpu" "$server" >>"$WORK/results.tsv"
    say "  $1 run $3: $2 ${seconds} s, CPU ${cpu} s (servers ${server} s), peak RSS $((kb / 1024)) MiB"
  else
    printf '%s\t%s\t%s\tfailed\t0\t0\t0\t0\n' "$1" "$2" "$3" >>"$WORK/results.tsv"
    say "  $1 run $3: $2 FAILED; $log ends with:"
    tail -n 5 "$log" | sed 's/^/    /' >&2
    return 1
  fi
}
run_scenario() { # SCENARIO RUNS: times the registered tools, then forgets them
  local scenario=$1 runs=$2 n=${#TOOLS[@]} run k i
  local -A failed=()
  say "== $scenario: ${TOOLS[*]}"
  for ((i = 0; i < n; i++)); do [ "${CMDS[i]}" != n/a ] || failed[$i]=1; done
  for ((run = 1; run <= runs; run++)); do
    for ((k = 0; k < n; k++)); do
      i=$(((k + run - 1) % n))
      [ -z "${failed[$i]:-}" ] || continue
      [ -z "${PREPS[i]}" ] || bash "${PREPS[i]}"
      timed "$scenario" "${TOOLS[i]}" "$run" "${CMDS[i]}" || failed[$i]=1
    done
  done
  for ((i = 0; i < n; i++)); do
    [ "${CMDS[i]}" != n/a ] || printf '%s\t%s\t0\tn/a\t0\t0\t0\t0\n' "$scenario" "${TOOLS[i]}" >>"$WORK/results.tsv"
  done
  TOOLS=() CMDS=() PREPS=()
}

# --- machine -----------------------------------------------------------------------------------
{
  echo "- CPU: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "- memory: $(free -g | awk '/^Mem:/ { print $2 }') GiB; kernel $(uname -r); scratch: $(df -h --output=source,fstype "$WORK" | tail -n 1 | tr -s ' ')"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- sealift $("$BUNDLE" --version 2>/dev/null) ($build_type); skopeo $("$SKOPEO" --version | awk '{ print $3 }'); crane ${CRANE:+$("$CRANE" version)}; oras ${ORAS:+$("$ORAS" version | awk '/^Version/ { print $2 }')}; $(zstd -V | grep -o 'v[0-9.]*' | sed 's/^/zstd /'); docker-registry $(docker-registry --version | awk '{ print $3 }')"
} >"$WORK/machine.md"
cat "$WORK/machine.md" >&2

# --- fixtures, key, lock -----------------------------------------------------------------------
# make_upstream DIR SCALE: a registry with the fixture images at SCALE; sets UPSTREAM.
make_upstream() {
  start_registry "$1"
  UPSTREAM=$REGISTRY_HOST
  say "pushing fixtures at scale $2 to $UPSTREAM"
  "$FIXTURES" push --scale "$2" --registry "$UPSTREAM" --plain-http --json >"$1/fixtures.json"
}
mkdir -p "$WORK/keys"
"$BUNDLE" keygen --dir "$WORK/keys" >/dev/null </dev/null
KEY=$WORK/keys/cosign.key
PUB=$WORK/keys/cosign.pub
mirrors() { echo "--mirror docker.io=$1 --mirror ghcr.io=$1 --mirror registry.k8s.io=$1"; }

# make_lock OUT UPSTREAM: the lock of the fixtures in UPSTREAM, written by sealift itself.
make_lock() {
  # shellcheck disable=SC2046
  "$BUNDLE" lock --chart chart --lock "$1" $(mirrors "$2") --plain-http >"$WORK/logs/lock.log" 2>&1 ||
    { say "bench.sh: sealift-bundle lock failed:"; cat "$WORK/logs/lock.log" >&2; return 1; }
}

make_upstream "$WORK/upstream" "$SCALE"
MAIN_UPSTREAM=$UPSTREAM
fact fixture_bytes "$(jq .bytes "$WORK/upstream/fixtures.json")"
has_subcommand "$BUNDLE" lock || { say "bench.sh: sealift-bundle lock is missing"; exit 1; }
make_lock "$WORK/images.lock" "$UPSTREAM"
python3 bench/fixture_lock.py images "$WORK/images.lock" >"$WORK/images.txt"
# The chart's images, one "NAME REPOSITORY TAG DIGEST" each: the peers' work list.
mapfile -t IMAGES <"$WORK/images.txt"
say "${#IMAGES[@]} images, $(jq .bytes "$WORK/upstream/fixtures.json") bytes of distinct blobs"

# --- 1. build ----------------------------------------------------------------------------------
B=$WORK/build
mkdir -p "$B"
# sealift_build_script NAME UPSTREAM LOCK OUT CACHE [EXTRA...]
sealift_build_script() {
  local name=$1 upstream=$2 lock=$3 out=$4 cache=$5; shift 5
  script "$name" <<EOF
'$BUNDLE' build -o '$out' --key '$KEY' --chart '$ROOT/chart' --lock '$lock' $(mirrors "$upstream") --plain-http --cache '$cache' --quiet $*
EOF
}
has_subcommand "$BUNDLE" build || { say "bench.sh: sealift-bundle build is missing"; exit 1; }
BUILD_SEALIFT=$(sealift_build_script build-sealift "$UPSTREAM" "$WORK/images.lock" "$B/sealift.tar.zst" "$B/cache")
BUILD_SEALIFT_PREP=$(script build-sealift-prep <<<"rm -rf '$B/cache' '$B/sealift.tar.zst'")
BUILD_SKOPEO=$(script build-skopeo < <(
  for line in "${IMAGES[@]}"; do
    read -r name repo _ digest _ <<<"$line"
    echo "'$SKOPEO' copy --quiet --all --src-tls-verify=false docker://$UPSTREAM/$repo@$digest oci:$B/skopeo:$name"
  done
  echo "tar -C '$B/skopeo' -cf - . | zstd -q -T0 -3 -o '$B/skopeo.tar.zst'"))
BUILD_SKOPEO_PREP=$(script build-skopeo-prep <<<"rm -rf '$B/skopeo' '$B/skopeo.tar.zst'")
BUILD_CRANE=n/a BUILD_ORAS=n/a
if [ -n "$CRANE" ]; then
  BUILD_CRANE=$(script build-crane < <(
    for line in "${IMAGES[@]}"; do
      read -r name repo _ digest _ <<<"$line"
      echo "'$CRANE' pull --insecure --format oci $UPSTREAM/$repo@$digest '$B/crane/$name'"
    done))
fi
BUILD_CRANE_PREP=$(script build-crane-prep <<<"rm -rf '$B/crane'")
if [ -n "$ORAS" ]; then
  BUILD_ORAS=$(script build-oras < <(
    for line in "${IMAGES[@]}"; do
      read -r name repo _ digest _ <<<"$line"
      echo "'$ORAS' copy --from-plain-http $UPSTREAM/$repo@$digest --to-oci-layout '$B/oras:$name' >/dev/null"
    done))
fi
BUILD_ORAS_PREP=$(script build-oras-prep <<<"rm -rf '$B/oras'")

if wanted build; then
  tool sealift "$BUILD_SEALIFT" "$BUILD_SEALIFT_PREP"
  tool skopeo+tar+zstd "$BUILD_SKOPEO" "$BUILD_SKOPEO_PREP"
  tool crane-pull "$BUILD_CRANE" "$BUILD_CRANE_PREP"
  tool oras-copy "$BUILD_ORAS" "$BUILD_ORAS_PREP"
  # The Go module proxy here serves neither hauler nor a zarf that builds (docs/benchmarks.md).
  tool hauler n/a
  tool zarf n/a
  run_scenario build "$RUNS"
fi
# Inputs of the later scenarios, made once when the build scenario did not run (or failed).
[ -s "$B/sealift.tar.zst" ] || { bash "$BUILD_SEALIFT_PREP"; bash "$BUILD_SEALIFT"; }
[ -s "$B/skopeo.tar.zst" ] || { bash "$BUILD_SKOPEO_PREP"; bash "$BUILD_SKOPEO"; }
[ -d "$B/crane" ] || [ "$BUILD_CRANE" = n/a ] || bash "$BUILD_CRANE"
[ -d "$B/oras" ] || [ "$BUILD_ORAS" = n/a ] || bash "$BUILD_ORAS"
BUNDLE_FILE=$WORK/bundle.tar.zst
mv "$B/sealift.tar.zst" "$BUNDLE_FILE"
fact bundle_bytes "$(stat -c %s "$BUNDLE_FILE")"
[ ! -s "$B/skopeo.tar.zst" ] || fact skopeo_bundle_bytes "$(stat -c %s "$B/skopeo.tar.zst")"

# --- 2. and 3. push ----------------------------------------------------------------------------
# push_script NAME TOOL TARGET BUNDLE: one tool's push of everything into TARGET's project bench.
# skopeo 1.9 finds no image in an OCI layout whose index.json lists Docker manifest lists (as
# sealift's does, byte for byte as upstream), so the do-it-yourself push unpacks the
# do-it-yourself bundle of scenario 1: the same images, tar | zstd of skopeo's own layout.
push_script() {
  local name=$1 tool=$2 target=$3 bundle=$4 u=$WORK/unpack-$1
  case "$tool" in
    sealift)
      has_subcommand "$INSTALL" push || { echo n/a; return; }
      script "$name" <<<"'$INSTALL' push '$bundle' --key '$PUB' --registry $target --project bench --plain-http --quiet" ;;
    unpack+skopeo)
      script "$name" < <(
        echo "mkdir -p '$u' && zstd -q -dc '$B/skopeo.tar.zst' | tar -C '$u' -xf -"
        for line in "${IMAGES[@]}"; do
          read -r img repo tag _ _ <<<"$line"
          echo "'$SKOPEO' copy --quiet --all --dest-tls-verify=false 'oci:$u:$img' docker://$target/bench/$repo:$tag"
        done) ;;
    crane-push)
      [ -n "$CRANE" ] || { echo n/a; return; }
      script "$name" < <(
        for line in "${IMAGES[@]}"; do
          read -r img repo tag _ _ <<<"$line"
          echo "'$CRANE' push --insecure '$B/crane/$img' $target/bench/$repo:$tag >/dev/null"
        done) ;;
    oras-copy)
      [ -n "$ORAS" ] || { echo n/a; return; }
      script "$name" < <(
        for line in "${IMAGES[@]}"; do
          read -r img repo tag _ _ <<<"$line"
          echo "'$ORAS' copy --from-oci-layout '$B/oras:$img' --to-plain-http $target/bench/$repo:$tag >/dev/null"
        done) ;;
  esac
}
PUSH_TOOLS=(sealift unpack+skopeo crane-push oras-copy)

if wanted push; then
  start_target "$WORK/target"
  for t in "${PUSH_TOOLS[@]}"; do
    tool "$t" "$(push_script "push-$t" "$t" "$TARGET_HOST" "$BUNDLE_FILE")" \
      "$(script "push-$t-prep" <<<"$(wipe_target "$WORK/target"); rm -rf '$WORK/unpack-push-$t'")"
  done
  run_scenario push "$RUNS"
  rm -rf "$WORK"/unpack-*
fi

if wanted repush; then
  # One target per tool, filled by an untimed first push; the timed pushes find everything there.
  for t in "${PUSH_TOOLS[@]}"; do
    start_target "$WORK/target-$t"
    cmd=$(push_script "repush-$t" "$t" "$TARGET_HOST" "$BUNDLE_FILE")
    [ "$cmd" = n/a ] || bash "$cmd" >"$WORK/logs/repush-$t-first.log" 2>&1 ||
      { say "first push of $t failed: $WORK/logs/repush-$t-first.log"; cmd=n/a; }
    tool "$t" "$cmd" "$(script "repush-$t-prep" <<<"rm -rf '$WORK/unpack-repush-$t'")"
  done
  run_scenario repush "$RUNS"
  rm -rf "$WORK"/unpack-*
fi

# --- 4. verify ---------------------------------------------------------------------------------
V=$WORK/verify
verify_script() { # NAME BUNDLE
  has_subcommand "$INSTALL" verify || { echo n/a; return; }
  script "$1" <<<"'$INSTALL' verify '$2' --key '$PUB' --quiet"
}
if wanted verify; then
  tool sealift "$(verify_script verify-sealift "$BUNDLE_FILE")"
  tool zstd+tar+sha256sum "$(script verify-shell <<EOF
mkdir -p '$V' && zstd -q -dc '$BUNDLE_FILE' | tar -C '$V' -xf -
cd '$V/blobs/sha256' && for f in *; do printf '%s  %s\n' "\$f" "\$f"; done | sha256sum -c --quiet
EOF
)" "$(script verify-shell-prep <<<"rm -rf '$V'")"
  run_scenario verify "$RUNS"
  if has_subcommand "$INSTALL" verify; then
    fact verified_bytes "$("$INSTALL" verify "$BUNDLE_FILE" --key "$PUB" --json | tail -n 1 | jq .bytes)"
  fi
  rm -rf "$V"
fi

# --- 5. delta ----------------------------------------------------------------------------------
if wanted delta; then
  say "== delta: release 2 changes the backend's top layer"
  "$FIXTURES" push --scale "$SCALE" --release 2 --only backend --registry "$MAIN_UPSTREAM" --plain-http --json \
    >"$WORK/upstream/fixtures-r2.json"
  python3 bench/fixture_lock.py relock "$WORK/images.lock" "$WORK/upstream/fixtures-r2.json" >"$WORK/images-r2.lock"
  D=$WORK/delta
  mkdir -p "$D"
  bash "$(sealift_build_script delta-full "$MAIN_UPSTREAM" "$WORK/images-r2.lock" "$D/full.tar.zst" "$D/cache")"
  bash "$(sealift_build_script delta-delta "$MAIN_UPSTREAM" "$WORK/images-r2.lock" "$D/delta.tar.zst" "$D/cache" \
    --base "'$BUNDLE_FILE'")"
  fact full2_bytes "$(stat -c %s "$D/full.tar.zst")"
  fact delta_bytes "$(stat -c %s "$D/delta.tar.zst")"
  rm -rf "$D"
fi

# --- 6. memory at a quarter of the scale -------------------------------------------------------
if wanted memory; then
  SMALL=$(awk -v s="$SCALE" 'BEGIN { printf "%g", s / 4 }')
  fact small_scale "$SMALL"
  S=$WORK/small
  make_upstream "$S/upstream" "$SMALL"
  make_lock "$S/images.lock" "$UPSTREAM"
  tool sealift "$(sealift_build_script small-build "$UPSTREAM" "$S/images.lock" "$S/bundle.tar.zst" "$S/cache")" \
    "$(script small-build-prep <<<"rm -rf '$S/cache' '$S/bundle.tar.zst'")"
  run_scenario small-build "$RUNS"
  start_target "$S/target"
  tool sealift "$(push_script small-push sealift "$TARGET_HOST" "$S/bundle.tar.zst")" \
    "$(script small-push-prep <<<"$(wipe_target "$S/target")")"
  run_scenario small-push "$RUNS"
  tool sealift "$(verify_script small-verify "$S/bundle.tar.zst")"
  run_scenario small-verify "$RUNS"
  stop_all "$S"
  rm -rf "$S"
fi

# --- 7. serve ----------------------------------------------------------------------------------
# The bundle served in place by `sealift-install serve` against docker-registry serving the same
# images from its filesystem (pushed there by sealift, untimed); the same client (curl, every blob
# of every repository to /dev/null) against each, alone and 40 at once. The servers' peak RSS
# (VmHWM, reset through clear_refs once they are up) is read after the 40 parallel pulls.
vmhwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
if wanted serve && has_subcommand "$INSTALL" serve; then
  SV=$WORK/serve
  mkdir -p "$SV"
  port=$(_env_free_port)
  setpriv --pdeathsig KILL -- "$INSTALL" serve "$BUNDLE_FILE" --key "$PUB" --project bench \
    --listen "127.0.0.1:$port" --quiet >"$SV/log" 2>&1 &
  serve_pid=$!
  echo "$serve_pid sealift-install" >"$SV/pids"
  until curl -s -o /dev/null --noproxy '*' "http://127.0.0.1:$port/v2/"; do
    kill -0 "$serve_pid" 2>/dev/null || { say "sealift-install serve did not start"; cat "$SV/log" >&2; exit 1; }
    sleep 0.2
  done
  SERVE_HOST=127.0.0.1:$port
  fact serve_rss_kb_start "$(vmhwm "$serve_pid")"
  start_registry "$SV/registry"
  SERVE_REGISTRY=$REGISTRY_HOST
  registry_pid=$(awk '{ print $1; exit }' "$SV/registry/pids")
  "$INSTALL" push "$BUNDLE_FILE" --key "$PUB" --registry "$SERVE_REGISTRY" --project bench --registry-type oci \
    --plain-http --quiet
  fact registry_rss_kb_start "$(vmhwm "$registry_pid")"
  # Every (repository, blob) pair, as the registry's storage lists them: the same for both servers.
  ( cd "$SV/registry/storage/docker/registry/v2/repositories" &&
    find . -mindepth 1 -type d -path '*/_layers/sha256/*' | sed -E 's#^\./(.*)/_layers/sha256/([0-9a-f]{64})$#\1 sha256:\2#' |
    grep -v '/_layers/' ) >"$SV/blobs.txt"
  fact serve_pull_bytes "$(while read -r repo digest; do
      stat -c %s "$SV/registry/storage/docker/registry/v2/blobs/sha256/${digest:7:2}/${digest:7}/data"
    done <"$SV/blobs.txt" | awk '{ t += $1 } END { print t }')"
  pull_all() { # HOST: one client, every blob in turn
    echo "while read -r repo digest; do curl -sf --noproxy '*' -o /dev/null \"http://$1/v2/\$repo/blobs/\$digest\"; done <'$SV/blobs.txt'"
  }
  tool sealift "$(script serve-pull-sealift <<<"$(pull_all "$SERVE_HOST")")"
  tool docker-registry "$(script serve-pull-registry <<<"$(pull_all "$SERVE_REGISTRY")")"
  run_scenario serve-pull "$RUNS"
  echo 5 >"/proc/$serve_pid/clear_refs"
  echo 5 >"/proc/$registry_pid/clear_refs"
  pull_40() { printf 'for i in $(seq 40); do bash %s & done; wait\n' "$(script "$2" <<<"$(pull_all "$1")")"; }
  tool sealift "$(script serve-pull-40-sealift <<<"$(pull_40 "$SERVE_HOST" serve-pull-one-sealift)")"
  tool docker-registry "$(script serve-pull-40-registry <<<"$(pull_40 "$SERVE_REGISTRY" serve-pull-one-registry)")"
  run_scenario serve-pull-40 "$RUNS"
  fact serve_rss_kb_40 "$(vmhwm "$serve_pid")"
  fact registry_rss_kb_40 "$(vmhwm "$registry_pid")"
  stop_all "$SV"
fi

# --- machine floors ----------------------------------------------------------------------------
# openssl speed's last line: "sha256  <16384 B>" in thousands of bytes per second. Alone it
# divides by its CPU time (what one core can do); with -multi by wall time, so on a shared machine
# it gets what the others leave, as the timed tools do.
sha256_rate() { openssl speed "$@" -seconds 3 -bytes 16384 -evp sha256 2>/dev/null | tail -n 1 | awk '{ sub("k", "", $NF); print $NF / 1000 }'; }
if wanted floor; then
  say "== machine floors"
  fact sha256_1core_cpu_mbs "$(sha256_rate)"
  fact sha256_2core_mbs "$(sha256_rate -multi 2)"
  mb=$(awk -v s="$SCALE" 'BEGIN { m = int(1024 * s); print (m < 256 ? 256 : m) }')
  fact write_mbs "$(dd if=/dev/zero of="$WORK/dd" bs=1M count="$mb" conv=fdatasync 2>&1 |
    awk '/copied,/ { for (i = 1; i < NF; i++) if ($i == "copied,") print $1 / 1e6 / $(i + 1) }')"
  rm -f "$WORK/dd"
  # The biggest layer, straight from the upstream registry: what one HTTP stream gets here.
  read -r repo digest < <(jq -r '.images[] | .repository as $r | .manifests[].layers[] | "\($r) \(.)"' \
    "$WORK/upstream/fixtures.json" | while read -r r d; do
      echo "$(stat -c %s "$WORK/upstream/storage/docker/registry/v2/blobs/sha256/${d:7:2}/${d:7}/data") $r $d"
    done | sort -n | tail -n 1 | cut -d' ' -f2-)
  fact registry_read_mbs "$(curl -s --noproxy '*' -o /dev/null -w '%{speed_download}' "http://$MAIN_UPSTREAM/v2/$repo/blobs/$digest" | awk '{ print $1 / 1e6 }')"
  if [ -d "$B/skopeo" ]; then
    bytes=$(du -sb "$B/skopeo" | cut -f1)
    start=$(date +%s.%N)
    tar -C "$B/skopeo" -cf - . | zstd -q -T0 -3 >/dev/null
    fact zstd_mbs "$(awk -v b="$bytes" -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { print b / 1e6 / (e - s) }')"
  fi
fi
if wanted archive; then
  # The archive layer alone on incompressible bytes, beside zstd: scripts/bench-bundle.sh, in its
  # own (RelWithDebInfo) build directory, which it configures.
  mb=$(awk -v s="$SCALE" 'BEGIN { m = int(1024 * s); print (m < 256 ? 256 : m) }')
  say "== archive layer (scripts/bench-bundle.sh, $mb MiB)"
  SIZE_MB=$mb scripts/bench-bundle.sh >"$WORK/archive.txt" 2>&1 || say "bench-bundle.sh failed: $WORK/archive.txt"
fi

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/machine.md"
{
  echo "## sealift benchmark, scale $SCALE, $RUNS runs per tool"
  echo
  cat "$WORK/machine.md"
  echo
  python3 bench/report.py "$WORK"
  if [ -s "$WORK/archive.txt" ]; then
    echo "Archive layer alone (scripts/bench-bundle.sh, $mb MiB of incompressible bytes):"
    echo
    sed 's/^/    /' "$WORK/archive.txt"
  fi
} | tee "$WORK/report.md"
