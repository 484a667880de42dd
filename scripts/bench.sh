#!/usr/bin/env bash
# sealift side by side with what users already have (issue 8). Not a test: it starts its own
# registries, runs every scenario several times and prints a table of medians, min–max, ratios
# against the peers measured in the same run, and peak RSS. docs/benchmarks.md has a run and its
# reading.
#
#   scripts/bench.sh [--scale S] [--runs N] [--only LIST] [--big-gb N] [--big-split SIZE]
#                    [--build DIR] [--work DIR] [--keep] [--portable DIR]
#
#   --scale S   fixture scale: 1.0 (default) is about 1 GB of blobs per architecture, both
#               architectures; 0.1 for a quick look
#   --runs N    timed runs per tool and scenario (default 5); the median is reported
#   --only LIST comma-separated scenarios to time, out of build,push,repush,verify,delta,memory,
#               serve,install,floor,archive,big (default all); inputs of the others are still made
#               once, untimed. archive is scripts/bench-bundle.sh (the archive layer alone, in the
#               build/ directory); install needs the cluster peers (scripts/setup.sh --cluster)
#   --big-gb N  size of the big-bundle scenario's fixtures in GB (default 10); it needs about
#               3.2 N + 1 GB free in the scratch directory and refuses to start without them
#   --big-split SIZE  part size of the big scenario's split bundle (default 4G, FAT32 media)
#   --build DIR build directory with the programs (default $SEALIFT_BUILD_DIR or build-bench;
#               configured as Release with tests when missing, for the fixture generator and the
#               Harbor stand-in)
#   --work DIR  scratch directory (default a new one under ${TMPDIR:-/var/tmp}); needs about
#               10× the fixture size
#   --keep      keep the scratch directory (logs of every run are under DIR/logs)
#   --portable DIR  also time the portable release binaries in DIR (an unpacked tarball of
#               scripts/release.sh) in the build and verify scenarios, as "sealift-portable": the
#               ratio to "sealift" (the Release build) shows what the static OpenSSL, zstd and
#               libc++ cost (at most 10 % slower, issue 26)
#
# Peers: skopeo, zstd, tar, sha256sum, curl from Debian; crane, oras, syft, helm and the cluster from
# ~/.cache/sealift/peers/bin (scripts/setup.sh --cluster). A peer or sealift subcommand that is
# missing shows as "not available". Tools run with their own default concurrency. sealift builds
# without SBOMs (--sbom none) where it is compared with peers that make none; with syft present
# the build scenario adds a "sealift+sbom" row, and with Debian's softhsm2 a "sealift+pkcs11" row
# (the same build signed by a key in a SoftHSM2 token). The push scenario's "curl-floor" is the target's
# own limit: the same blobs, manifests and tags sent by plain parallel curl uploads.
# Scenario 8 (install) times install and upgrade by phase; scenario 9 (big) times each step once,
# with its resources. The load average is sampled every 5 s for the whole run.
# Runs of the tools of one scenario are interleaved (round robin, each round in a rotated order) so
# that load from others on a shared machine spreads over all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=lib/env.sh
. scripts/lib/env.sh
# shellcheck source=lib/cluster.sh
. scripts/lib/cluster.sh

SCALE=1.0
RUNS=5
ONLY=build,push,repush,verify,delta,memory,floor,archive,serve,install,big
BIG_GB=10
BIG_SPLIT=4G
BUILD=${SEALIFT_BUILD_DIR:-build-bench}
WORK=
KEEP=0
PORTABLE=
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --big-gb) BIG_GB=$2; shift 2 ;;
    --big-split) BIG_SPLIT=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --portable) PORTABLE=$(cd "$2" && pwd); shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --runs needs a positive number" >&2; exit 2; }
if ! [[ $BIG_GB =~ ^[0-9]*\.?[0-9]+$ ]] || ! awk -v g="$BIG_GB" 'BEGIN { exit !(g > 0) }'; then
  echo "bench.sh: --big-gb needs a positive number of GB" >&2; exit 2
fi
wanted() { [[ ",$ONLY," == *",$1,"* ]]; }
for s in ${ONLY//,/ }; do
  case "$s" in
    build|push|repush|verify|delta|memory|floor|archive|serve|install|big) ;;
    *) echo "bench.sh: unknown scenario '$s' in --only (see --help)" >&2; exit 2 ;;
  esac
done

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
SYFT=$(peer syft)
HELM=$(peer helm)
has_subcommand() { "$1" "$2" --help >/dev/null 2>&1; }

# --- scratch directory and servers -------------------------------------------------------------
if [ -z "$WORK" ]; then
  WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/sealift-bench.XXXXXX")
else
  mkdir -p "$WORK" && WORK=$(cd "$WORK" && pwd)
fi
# The big scenario needs, at its peak (its first build), the upstream registry's copy of the
# fixtures, the blob cache and the bundle: 3 N GB, plus margin. Checked before anything runs, so
# that a long run does not fail at its end, and again when the scenario starts.
big_need_bytes() { awk -v g="$BIG_GB" 'BEGIN { printf "%.0f", (3.2 * g + 1) * 1e9 }'; }
big_disk_ok() {
  local avail; avail=$(df -B1 --output=avail "$WORK" | tail -n 1 | tr -d ' ')
  [ "$avail" -ge "$(big_need_bytes)" ] && return 0
  say "bench.sh: the big scenario (--big-gb $BIG_GB) needs $(awk -v b="$(big_need_bytes)" 'BEGIN { printf "%.1f", b / 1e9 }') GB free in $WORK," \
    "$(awk -v b="$avail" 'BEGIN { printf "%.1f", b / 1e9 }') GB are; free space, use a smaller --big-gb, another --work, or leave big out of --only"
  return 1
}
LOAD_PID=
cleanup() {
  [ -z "$LOAD_PID" ] || kill "$LOAD_PID" 2>/dev/null || true
  stop_cluster "$WORK/install/cluster" 2>/dev/null || true
  stop_all "$WORK"
  if [ "$KEEP" = 1 ]; then say "scratch directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if wanted big && ! big_disk_ok; then exit 2; fi
mkdir -p "$WORK/cmd" "$WORK/logs"
# The 1-minute load average every 5 s for the whole run: the report's min / median / max.
(while :; do cut -d' ' -f1 /proc/loadavg; sleep 5; done) >"$WORK/loadavg.txt" &
LOAD_PID=$!
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
# The same build signed by a P-256 key made in a SoftHSM2 token (issue 29): what signing through
# PKCS#11 costs beyond the token's own signing time. Only when Debian's softhsm2 is installed.
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
PKCS11_URI=
if [ -f "$SOFTHSM_MODULE" ] && command -v softhsm2-util >/dev/null; then
  mkdir -p "$WORK/softhsm/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$WORK/softhsm/tokens" >"$WORK/softhsm/softhsm2.conf"
  export SOFTHSM2_CONF=$WORK/softhsm/softhsm2.conf
  (umask 077 && echo 2468 >"$WORK/softhsm/pin")
  softhsm2-util --init-token --free --label bench --so-pin 1357 --pin 2468 >"$WORK/logs/softhsm.log" 2>&1 &&
    "$BUNDLE" keygen --pkcs11 'pkcs11:token=bench;object=vendor' --pkcs11-module "$SOFTHSM_MODULE" \
      --pin-file "$WORK/softhsm/pin" --dir "$WORK/softhsm/keys" >>"$WORK/logs/softhsm.log" 2>&1 &&
    PKCS11_URI='pkcs11:token=bench;object=vendor' ||
    { say "bench.sh: no SoftHSM2 token (see $WORK/logs/softhsm.log); the sealift+pkcs11 row is skipped"; }
fi
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
# sealift_build_script NAME UPSTREAM LOCK OUT CACHE [EXTRA...]: the chart is $BUILD_CHART (default
# chart/). Without SBOMs unless EXTRA says --sbom: the peers make none.
sealift_build_script() {
  local name=$1 upstream=$2 lock=$3 out=$4 cache=$5 sbom="--sbom none"; shift 5
  [[ " $* " != *" --sbom "* ]] || sbom=
  script "$name" <<EOF
'${BUNDLE_PROGRAM:-$BUNDLE}' build -o '$out' --key '$KEY' --chart '${BUILD_CHART:-$ROOT/chart}' --lock '$lock' $(mirrors "$upstream") --plain-http --cache '$cache' --quiet $sbom $*
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
  # What SBOMs cost: the same build with syft making one per image and platform.
  if [ -n "$SYFT" ]; then
    tool sealift+sbom "$(sealift_build_script build-sealift-sbom "$UPSTREAM" "$WORK/images.lock" "$B/sealift-sbom.tar.zst" \
      "$B/cache-sbom" --sbom syft --syft "'$SYFT'")" \
      "$(script build-sealift-sbom-prep <<<"rm -rf '$B/cache-sbom' '$B/sealift-sbom.tar.zst'")"
  fi
  if [ -n "$PKCS11_URI" ]; then
    tool sealift+pkcs11 "$(script build-sealift-pkcs11 <<EOF
'$BUNDLE' build -o '$B/sealift-pkcs11.tar.zst' --key '$PKCS11_URI' --pkcs11-module '$SOFTHSM_MODULE' --pin-file '$WORK/softhsm/pin' --chart '${BUILD_CHART:-$ROOT/chart}' --lock '$WORK/images.lock' $(mirrors "$UPSTREAM") --plain-http --cache '$B/cache-pkcs11' --quiet --sbom none
EOF
)" "$(script build-sealift-pkcs11-prep <<<"rm -rf '$B/cache-pkcs11' '$B/sealift-pkcs11.tar.zst'")"
  fi
  if [ -n "$PORTABLE" ]; then
    tool sealift-portable "$(BUNDLE_PROGRAM=$PORTABLE/sealift-bundle sealift_build_script build-sealift-portable \
      "$UPSTREAM" "$WORK/images.lock" "$B/sealift-portable.tar.zst" "$B/cache-portable")" \
      "$(script build-sealift-portable-prep <<<"rm -rf '$B/cache-portable' '$B/sealift-portable.tar.zst'")"
  fi
  tool skopeo+tar+zstd "$BUILD_SKOPEO" "$BUILD_SKOPEO_PREP"
  tool crane-pull "$BUILD_CRANE" "$BUILD_CRANE_PREP"
  tool oras-copy "$BUILD_ORAS" "$BUILD_ORAS_PREP"
  # The Go module proxy here serves neither hauler nor a zarf that builds (docs/benchmarks.md).
  tool hauler n/a
  tool zarf n/a
  run_scenario build "$RUNS"
  rm -rf "$B/cache-sbom" "$B/sealift-sbom.tar.zst" "$B/cache-pkcs11" "$B/sealift-pkcs11.tar.zst" "$B/cache-portable" "$B/sealift-portable.tar.zst"
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

# The push floor: what the target takes to accept the same blobs, manifests and tags from the
# simplest client, curl, 8 transfers at once (curl --parallel: one process per step, so the client
# costs next to nothing). Untimed preparation (once): sealift pushes the bundle,
# bench/push_floor.py lists what the target then holds and keeps every blob's and manifest's bytes
# in files. Timed: one upload session per distinct blob in the first repository holding it (POST),
# the whole blob in one PUT ?digest= (monolithic; docker-registry 2.8 takes no single-POST upload),
# largest first; mounts into the other repositories that hold it; every manifest by digest
# (children before indexes); the tags. Any answer but 2xx fails the run.
floor_script() { # NAME TARGET_DIR: prints the script's path, or n/a
  local f=$WORK/floor t=$TARGET_HOST
  if [ -z "$(command -v curl)" ] || ! has_subcommand "$INSTALL" push; then echo n/a; return; fi
  "$INSTALL" push "$BUNDLE_FILE" --key "$PUB" --registry "$t" --project bench --plain-http --quiet \
    >"$WORK/logs/floor-prep.log" 2>&1 || { say "curl-floor: the untimed sealift push failed: $WORK/logs/floor-prep.log"; echo n/a; return; }
  rm -rf "$f" && mkdir -p "$f/cfg"
  read -r n bytes manifests tags < <(python3 bench/push_floor.py "$2/registry/storage" "$f")
  fact floor_blobs "$n"; fact floor_bytes "$bytes"; fact floor_manifests "$manifests"; fact floor_tags "$tags"
  bash "$(wipe_target "$2" | script floor-wipe)"
  # curl configuration files (-K), one transfer per url.
  awk -v t="$t" '{ printf "url = \"http://%s/v2/%s/blobs/uploads/\"\noutput = \"/dev/null\"\n", t, $2 }' "$f/blobs.txt" >"$f/cfg/post"
  awk -v t="$t" '{ for (i = 3; i <= NF; i++) printf "url = \"http://%s/v2/%s/blobs/uploads/?mount=%s&from=%s\"\noutput = \"/dev/null\"\n", t, $i, $1, $2 }' \
    "$f/blobs.txt" >"$f/cfg/mount"
  local kind
  for kind in manifests indexes tags; do
    # One file per media type (the Content-Type header is per invocation): KIND@TYPE, "/" as "%".
    awk -v t="$t" -v f="$f" -v kind="$kind" -v dir="$f/cfg" '
      { ref = $2; m = $3; d = (kind == "tags") ? $4 : $2; sub("^sha256:", "", d); gsub("/", "%", m)
        n = dir "/" kind "@" m
        printf "upload-file = \"%s/manifests/%s\"\nurl = \"http://%s/v2/%s/manifests/%s\"\noutput = \"/dev/null\"\n", f, d, t, $1, ref > n }
    ' "$f/$kind.txt"
  done
  script "$1" <<EOF
c=(curl -sS --no-progress-meter -Z --parallel-max 8 --noproxy '*' -H 'Expect:' -w '%{http_code} %{url_effective}\n')
ok() { awk '\$1 !~ /^2/ { print "curl-floor: HTTP " \$0 >"/dev/stderr"; bad = 1 } END { exit bad }' "\$1"; }
r=\$(mktemp -d)
trap 'rm -rf "\$r"' EXIT
"\${c[@]}" -X POST -K '$f/cfg/post' -w '%{http_code} %{url_effective} %header{location}\n' >"\$r/sessions"
ok "\$r/sessions"
# Sessions belong to repositories, not blobs: the blobs of a repository take its sessions in turn.
awk -v t='$t' -v f='$f' 'NR == FNR { r = \$2; sub("^http://[^/]*/v2/", "", r); sub("/blobs/uploads/\$", "", r)
    loc[r, n[r]++] = \$3; next }
  { l = loc[\$2, u[\$2]++]; if (l ~ /^\//) l = "http://" t l
    printf "upload-file = \"%s/blobs/%s\"\nurl = \"%s%sdigest=%s\"\noutput = \"/dev/null\"\n", f, substr(\$1, 8), l, (index(l, "?") ? "&" : "?"), \$1 }' \\
  "\$r/sessions" '$f/blobs.txt' >"\$r/put"
"\${c[@]}" -H 'Content-Type: application/octet-stream' -K "\$r/put" >"\$r/puts"
ok "\$r/puts"
if [ -s '$f/cfg/mount' ]; then "\${c[@]}" -X POST -K '$f/cfg/mount' >"\$r/mounts"; ok "\$r/mounts"; fi
for kind in manifests indexes tags; do
  for cfg in '$f/cfg/'"\$kind"@*; do
    [ -e "\$cfg" ] || continue
    mt=\${cfg##*/\$kind@}
    "\${c[@]}" -H "Content-Type: \${mt//[%]//}" -K "\$cfg" >"\$r/out"
    ok "\$r/out"
  done
done
EOF
}

if wanted push; then
  start_target "$WORK/target"
  for t in "${PUSH_TOOLS[@]}"; do
    tool "$t" "$(push_script "push-$t" "$t" "$TARGET_HOST" "$BUNDLE_FILE")" \
      "$(script "push-$t-prep" <<<"$(wipe_target "$WORK/target"); rm -rf '$WORK/unpack-push-$t'")"
  done
  tool curl-floor "$(floor_script push-curl-floor "$WORK/target")" \
    "$(script push-curl-floor-prep <<<"$(wipe_target "$WORK/target")")"
  run_scenario push "$RUNS"
  rm -rf "$WORK"/unpack-* "$WORK/floor"
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
  [ -z "$PORTABLE" ] ||
    tool sealift-portable "$(script verify-sealift-portable <<<"'$PORTABLE/sealift-install' verify '$BUNDLE_FILE' --key '$PUB' --quiet")"
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
# Release 2 of the fixtures (a new top layer of the backend) in the main upstream, once.
push_release2() {
  [ -s "$WORK/upstream/fixtures-r2.json" ] ||
    "$FIXTURES" push --scale "$SCALE" --release 2 --only backend --registry "$MAIN_UPSTREAM" --plain-http --json \
      >"$WORK/upstream/fixtures-r2.json"
}
if wanted delta; then
  say "== delta: release 2 changes the backend's top layer"
  push_release2
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

# --- 8. install end to end ------------------------------------------------------------------------
# sealift-install install (verify, push, helm) into a local cluster (etcd, kube-apiserver,
# controller-manager, scheduler, kwok: scripts/lib/cluster.sh) and a Harbor stand-in, with
# values-prod.yaml as in scripts/demo.sh; then upgrade with a delta bundle of release 1.1.0 (the
# demo's next release: the backend's new top layer). Every run starts from nothing: a new cluster
# and an empty target; an upgrade run installs 1.0.0 first (untimed). A new cluster rather than
# uninstalling: the chart keeps its namespaces on uninstall, and with namespaces and ReplicaSets
# deleted and made again under the same names, kube-controller-manager 1.3x stopped updating the
# new ReplicaSets' status (stale informer reads), so helm --wait waited for its timeout. The
# phases come from each run's --report JSON.
if wanted install; then
  I=$WORK/install
  mkdir -p "$I"
  if [ -z "$HELM" ] || ! has_subcommand "$INSTALL" install || ! start_cluster "$I/cluster"; then
    say "== install: not available (helm, sealift-install install or the cluster peers missing: scripts/setup.sh --cluster)"
    tool install n/a; tool upgrade n/a
    run_scenario install 0
  else
    export KUBECONFIG=$I/cluster/kubeconfig
    export HELM_CACHE_HOME=$I/helm/cache HELM_CONFIG_HOME=$I/helm/config HELM_DATA_HOME=$I/helm/data
    start_target "$I/target"
    INSTALL_TARGET_HOST=$TARGET_HOST
    # Release 1.1.0, as the demo makes it: the chart's version and backend tag bumped, locked
    # against release 2 of the fixtures, built as a delta against the bundle of scenario 1.
    push_release2
    cp -r chart "$I/chart-1.1.0"
    sed -i 's#ghcr.io/sealift/backend:1.0.0#ghcr.io/sealift/backend:1.1.0#' "$I/chart-1.1.0/Chart.yaml"
    sed -i 's/^version: 1.0.0/version: 1.1.0/; s/^appVersion: "1.0.0"/appVersion: "1.1.0"/' "$I/chart-1.1.0/Chart.yaml"
    sed -i '/^backend:/,/^    digest:/ s/tag: "1.0.0"/tag: "1.1.0"/' "$I/chart-1.1.0/values.yaml"
    # shellcheck disable=SC2046
    "$BUNDLE" lock --chart "$I/chart-1.1.0" --lock "$I/images-1.1.0.lock" $(mirrors "$MAIN_UPSTREAM") --plain-http --quiet
    bash "$(BUILD_CHART=$I/chart-1.1.0 sealift_build_script install-delta "$MAIN_UPSTREAM" "$I/images-1.1.0.lock" \
      "$I/delta.tar.zst" "$I/cache" --base "'$BUNDLE_FILE'")"
    rm -rf "$I/cache"
    NS=bench-app
    # The same flags as the demo's install, minus the pull robot (kwok's nodes pull nothing).
    release_flags="--key '$PUB' --registry $INSTALL_TARGET_HOST --project bench --plain-http --helm '$HELM' -n $NS --kubeconfig '$KUBECONFIG' --timeout 10m -f '$ROOT/chart/values-prod.yaml' --quiet"
    : >"$WORK/phases.tsv"
    fresh=$(script install-fresh <<EOF
. '$ROOT/scripts/lib/cluster.sh'
stop_cluster '$I/cluster'
rm -rf '$I/cluster' '$I/helm'
start_cluster '$I/cluster'
$(wipe_target "$I/target")
EOF
)
    # release_script NAME COMMAND BUNDLE: the timed command, then its phases into phases.tsv.
    release_script() {
      script "$1" <<EOF
'$INSTALL' $2 '$3' $release_flags --report '$I/$1.json'
jq -r '.phases[] | "$1\t\(.phase)\t\(.seconds)"' '$I/$1.json' >>'$WORK/phases.tsv'
EOF
    }
    tool install "$(release_script install install "$BUNDLE_FILE")" "$fresh"
    tool upgrade-delta "$(release_script upgrade-delta upgrade "$I/delta.tar.zst")" \
      "$(script upgrade-prep <<<"bash '$fresh'; '$INSTALL' install '$BUNDLE_FILE' $release_flags")"
    run_scenario install "$RUNS"
    fact install_delta_bytes "$(stat -c %s "$I/delta.tar.zst")"
    stop_cluster "$I/cluster"
    stop_all "$I"
    unset KUBECONFIG
  fi
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

# --- 9. big bundles --------------------------------------------------------------------------------
# sealift-fixtures --big N: 3 images, two platforms, one layer of N/2 GB, about N GB of unique
# incompressible bytes; a minimal chart naming them, locked by sealift. Each step once, in order,
# under /usr/bin/time: build (cold cache) to one file, verify it, build again (cold) into
# --big-split parts, verify the parts, push the parts into an empty target. Recorded per step:
# wall, CPU, peak RSS, the bytes the process wrote (%O, 512-byte blocks: a push or verify that
# wrote a temporary copy of the bundle would show it) and, for builds, the largest size of the
# blob cache during the build (du every second): the temporary disk the build needs. Everything
# of the earlier scenarios is stopped and deleted first, and each artifact as soon as it is done.
big_step() { # STEP BYTES_FILE_GLOB CACHE_DIR_OR_EMPTY SCRIPT
  local step=$1 glob=$2 cache=$3 log=$WORK/logs/big-$1.log seconds kb user sys out sampler='' peak=0 bytes
  say "  big: $step"
  if [ -n "$cache" ]; then
    (while :; do du -sb "$cache" 2>/dev/null | cut -f1; sleep 1; done) >"$WORK/big-$step.du" &
    sampler=$!
  fi
  if ! /usr/bin/time -f '%e %M %U %S %O' -o "$WORK/time.out" bash "$4" >"$log" 2>&1; then
    [ -z "$sampler" ] || kill "$sampler"
    say "  big: $step FAILED; $log ends with:"; tail -n 5 "$log" | sed 's/^/    /' >&2
    printf '%s\tfailed\t0\t0\t0\t0\t0\t0\n' "$step" >>"$WORK/big.tsv"
    return 1
  fi
  if [ -n "$sampler" ]; then
    kill "$sampler"; wait "$sampler" 2>/dev/null || true
    # The cache as the build left it too: a build shorter than a second has no other sample.
    du -sb "$cache" 2>/dev/null | cut -f1 >>"$WORK/big-$step.du"
    peak=$(sort -n "$WORK/big-$step.du" | tail -n 1); peak=${peak:-0}
  fi
  read -r seconds kb user sys out < <(tail -n 1 "$WORK/time.out")
  # shellcheck disable=SC2086
  bytes=$(stat -c %s $glob | awk '{ t += $1 } END { print t }')
  printf '%s\tok\t%s\t%s\t%s\t%s\t%s\t%s\n' "$step" "$seconds" "$kb" \
    "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$((out * 512))" "$peak" "$bytes" >>"$WORK/big.tsv"
  say "  big: $step ${seconds} s, peak RSS $((kb / 1024)) MiB, wrote $((out * 512 / 1048576)) MiB, cache peak $((peak / 1048576)) MiB"
}
if wanted big; then
  say "== big: a bundle of about $BIG_GB GB"
  # Nothing of the earlier scenarios is needed any more: their servers stop, their files go.
  stop_all "$WORK"
  rm -rf "$WORK/upstream" "$WORK/build" "$WORK/delta" "$WORK/small" "$WORK/install" "$WORK"/target* "$WORK/serve" "$BUNDLE_FILE"
  if big_disk_ok; then
    G=$WORK/big
    mkdir -p "$G/tmp"
    fact big_gb "$BIG_GB"
    fact big_split "$BIG_SPLIT"
    start_registry "$G/upstream"
    # The generator writes its layout to TMPDIR before pushing: the scratch disk, checked above.
    TMPDIR=$G/tmp "$FIXTURES" push --big "$BIG_GB" --registry "$REGISTRY_HOST" --plain-http --json >"$G/fixtures.json"
    rm -rf "$G/tmp"
    fact big_fixture_bytes "$(jq .bytes "$G/fixtures.json")"
    # A minimal chart whose images are exactly the big ones, each an image block of values.yaml
    # as chart/ has them, named in the sealift.dev/images annotation that lock reads.
    mkdir -p "$G/chart/templates"
    {
      printf 'apiVersion: v2\nname: sealift-big\ndescription: The big-bundle images of scripts/bench.sh\ntype: application\n'
      printf 'version: 1.0.0\nappVersion: "1.0.0"\nannotations:\n  sealift.dev/images: |\n'
      jq -r '.images[] | "    - name: \(.name)\n      image: \(.source)\n      component: \(.name)\n      valuesPaths: [\(.name | gsub("-"; "_")).image]"' "$G/fixtures.json"
    } >"$G/chart/Chart.yaml"
    jq -r '.images[] | (.source | capture("^(?<r>[^/]+)/(?<p>.*):(?<t>[^:]+)$")) as $s |
      "\(.name | gsub("-"; "_")):\n  image:\n    registry: \($s.r)\n    repository: \($s.p)\n    tag: \"\($s.t)\"\n    digest: \"\""' \
      "$G/fixtures.json" >"$G/chart/values.yaml"
    # shellcheck disable=SC2016
    jq -r '.images[] | .name | gsub("-"; "_") as $k |
      "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: \(.)\nspec:\n  containers:\n    - name: main\n      image: {{ with .Values.\($k).image }}{{ .registry }}/{{ .repository }}{{ if .digest }}@{{ .digest }}{{ else }}:{{ .tag }}{{ end }}{{ end }}"' \
      "$G/fixtures.json" >"$G/chart/templates/pods.yaml"
    # shellcheck disable=SC2046
    "$BUNDLE" lock --chart "$G/chart" --lock "$G/images.lock" $(mirrors "$REGISTRY_HOST") --plain-http >"$WORK/logs/big-lock.log" 2>&1 ||
      { say "bench.sh: sealift-bundle lock of the big chart failed:"; cat "$WORK/logs/big-lock.log" >&2; exit 1; }
    big_build() { # NAME OUT [EXTRA...]
      local name=$1 out=$2; shift 2
      BUILD_CHART=$G/chart sealift_build_script "$name" "$REGISTRY_HOST" "$G/images.lock" "$out" "$G/cache" "$@"
    }
    big_verify() { script "$1" <<<"'$INSTALL' verify '$2' --key '$PUB' --quiet"; }
    rm -rf "$G/cache"
    if big_step build "$G/one/big.tar.zst" "$G/cache" "$(mkdir -p "$G/one"; big_build big-build "$G/one/big.tar.zst")"; then
      big_step verify "$G/one/big.tar.zst" "" "$(big_verify big-verify "$G/one/big.tar.zst")" || true
    fi
    rm -rf "$G/one" "$G/cache"
    big_step build-split "$G/split/big.tar.zst.[0-9][0-9][0-9]" "$G/cache" \
      "$(mkdir -p "$G/split"; big_build big-build-split "$G/split/big.tar.zst" --split-size "$BIG_SPLIT")" || true
    rm -rf "$G/cache"
    stop_all "$G/upstream"
    rm -rf "$G/upstream"
    if compgen -G "$G/split/big.tar.zst.000" >/dev/null; then
      fact big_parts "$(find "$G/split" -name 'big.tar.zst.[0-9][0-9][0-9]' | wc -l)"
      big_step verify-split "$G/split/big.tar.zst.[0-9][0-9][0-9]" "" "$(big_verify big-verify-split "$G/split/big.tar.zst")" || true
      start_target "$G/target"
      big_step push-split "$G/split/big.tar.zst.[0-9][0-9][0-9]" "" \
        "$(push_script big-push sealift "$TARGET_HOST" "$G/split/big.tar.zst")" || true
      stop_all "$G/target"
    fi
    rm -rf "$G"
  fi
fi

echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/machine.md"
[ -z "$LOAD_PID" ] || kill "$LOAD_PID" 2>/dev/null || true
LOAD_PID=
sort -n "$WORK/loadavg.txt" | awk '{ v[NR] = $1 } END { if (NR) printf "- load average (1 min) during the run, every 5 s: min %s, median %s, max %s (%d samples)\n", v[1], v[int((NR + 1) / 2)], v[NR], NR }' \
  >>"$WORK/machine.md"
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
