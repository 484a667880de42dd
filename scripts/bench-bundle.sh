#!/usr/bin/env bash
# Throughput and peak memory of the bundle archive on an incompressible payload (what image layers
# are), against `zstd -T2 -3` and `tar | zstd` on the same data. Not a test: numbers vary with the
# machine; reads come from the page cache, so they measure decompression, not the disk.
#
#   scripts/bench-bundle.sh                 1 GiB payload, build dir build/
#   SIZE_MB=256 SEALIFT_BUILD_DIR=build-x scripts/bench-bundle.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${SEALIFT_BUILD_DIR:-build}
SIZE_MB=${SIZE_MB:-1024}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$BUILD" bundle_archive_bench >/dev/null
BENCH="$BUILD/bundle_archive_bench"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sealift-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
head -c "${SIZE_MB}M" /dev/urandom > "$WORK/payload"
sync

# Runs a command and prints its throughput over wall-clock time and over CPU time (user + system,
# all threads: what the work costs on a machine shared with other jobs), and its peak RSS.
measure() {
  local label=$1
  shift
  /usr/bin/time -f '%e %M %U %S' -o "$WORK/time" "$@" >/dev/null
  read -r seconds rss_kb user sys < "$WORK/time"
  awk -v l="$label" -v s="$seconds" -v r="$rss_kb" -v u="$user" -v y="$sys" -v m="$SIZE_MB" \
    'BEGIN { c = u + y; printf "%-36s %6.0f MiB/s wall (%5.1f s)  %6.0f MiB/s CPU (%5.1f s)  peak RSS %5.1f MiB\n",
             l, m / s, s, m / c, c, r / 1024 }'
}

echo "payload: $SIZE_MB MiB from /dev/urandom, $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg)," \
  "zstd $(zstd -V | grep -o 'v[0-9.]*')"
measure "sealift write (2 threads, level 3)" "$BENCH" write "$WORK/payload" "$WORK/bundle.tar.zst" 2 3
measure "sealift write (1 thread, level 3)" "$BENCH" write "$WORK/payload" "$WORK/bundle1.tar.zst" 1 3
measure "sealift write (2 threads, level 1)" "$BENCH" write "$WORK/payload" "$WORK/bundle-l1.tar.zst" 2 1
measure "zstd -T2 -3" zstd -q -f -T2 -3 "$WORK/payload" -o "$WORK/payload.zst"
measure "tar | zstd -T2 -3" sh -c "tar -C '$WORK' -cf - payload | zstd -q -T2 -3 -o '$WORK/payload.tar.zst'"
measure "sealift read (1 thread)" "$BENCH" read "$WORK/bundle.tar.zst" 1
measure "sealift read (2 threads)" "$BENCH" read "$WORK/bundle.tar.zst" 2
measure "zstd -d" zstd -q -d -c "$WORK/payload.zst"
measure "zstd -d | tar -x" sh -c "mkdir -p '$WORK/x' && zstd -q -d -c '$WORK/payload.tar.zst' | tar -C '$WORK/x' -xf -"
ls -l "$WORK"/*.zst | awk '{ printf "%s %d bytes\n", $NF, $5 }' | sed "s|$WORK/||"
