#!/usr/bin/env bash
# Fuzzes every parser that reads outside input (docs/robustness.md, "Fuzzing"): builds the libFuzzer
# targets fuzz/<target>_fuzz.cc with clang, ASan and UBSan in build/fuzz, runs each in turn with its
# seeds (fuzz/corpus/<target>) and dictionary (fuzz/dict/<target>.dict) for its share of the time,
# and prints what each did. Any crash, sanitizer report, leak, timeout or out-of-memory fails the
# run; the input that caused it is kept in build/fuzz/findings/<target>/.
#
#   scripts/fuzz.sh [SECONDS]            SECONDS of fuzzing in all, shared evenly (default 60)
#   FUZZ_TARGETS="toc manifest" scripts/fuzz.sh 120    only these targets
#
# Reproduce a finding: build/fuzz/<target>_fuzz build/fuzz/findings/<target>/crash-…
# What fuzzing discovers is kept in build/fuzz/corpus/<target> and reused by the next run.
set -euo pipefail
cd "$(dirname "$0")/.."

TOTAL=${1:-60}
BUILD=${SEALIFT_FUZZ_BUILD:-build/fuzz}
RSS_LIMIT_MB=${FUZZ_RSS_LIMIT_MB:-1024}   # also the largest single allocation allowed
TIMEOUT=${FUZZ_TIMEOUT:-10}               # seconds per input (sanitized code is slow)
[[ "$TOTAL" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a whole number" >&2; exit 2; }

scripts/setup.sh   # clang-14 and libclang-rt-14-dev (libFuzzer) among the Debian packages
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
# A build directory already configured for fuzzing (scripts/test.sh's sanitized build, where the
# suites and the fuzz targets share one instrumented core library) is reused as it is. Otherwise:
# -O1 and line tables only keep the sanitized build of the core library to a few minutes; NDEBUG
# is left out so asserts count as findings too.
if ! grep -qs '^SEALIFT_FUZZ:BOOL=ON$' "$BUILD/CMakeCache.txt"; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DSEALIFT_FUZZ=ON -DSEALIFT_BUILD_TESTS=OFF \
    -DSEALIFT_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" >/dev/null
fi
ninja -C "$BUILD" -j "${FUZZ_BUILD_JOBS:-2}" fuzzers

if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  targets=()
  for f in fuzz/*_fuzz.cc; do t=$(basename "$f" _fuzz.cc); targets+=("$t"); done
fi
share=$(( TOTAL / ${#targets[@]} ))
[ "$share" -ge 1 ] || share=1

export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
LOGS="$BUILD/logs" FINDINGS="$BUILD/findings"
mkdir -p "$LOGS"
failed=()
rows=()
for t in "${targets[@]}"; do
  bin="$BUILD/${t}_fuzz" seeds="fuzz/corpus/$t" corpus="$BUILD/corpus/$t"
  [ -x "$bin" ] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
  [ -d "$seeds" ] || { echo "fuzz.sh: no seeds in $seeds" >&2; exit 2; }
  rm -rf "${FINDINGS:?}/$t"   # the findings of an earlier run of this target
  mkdir -p "$corpus" "$FINDINGS/$t"
  args=(-max_total_time="$share" -rss_limit_mb="$RSS_LIMIT_MB" -malloc_limit_mb="$RSS_LIMIT_MB" -timeout="$TIMEOUT"
        -print_final_stats=1 -artifact_prefix="$FINDINGS/$t/")
  [ -f "fuzz/dict/$t.dict" ] && args+=(-dict="fuzz/dict/$t.dict")
  printf 'fuzz: %-18s %ss ... ' "$t" "$share"
  rc=0
  "$bin" "${args[@]}" "$corpus" "$seeds" >"$LOGS/$t.log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOGS/$t.log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$LOGS/$t.log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  files=$(find "$corpus" -type f | wc -l)
  bytes=$(du -sb "$corpus" | cut -f1)
  found=$(find "$FINDINGS/$t" -type f | wc -l)
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    echo "FAILED (exit $rc)"
    failed+=("$t")
    grep -E 'ERROR: |runtime error|fuzz check failed|terminate called|what\(\)|SUMMARY' "$LOGS/$t.log" | head -5 | sed 's/^/    /' || true
    result="FAILED"
  else
    echo "ok"
    result="ok"
  fi
  rows+=("$(printf '%-18s %12s %7s %8s %7s %10s  %s' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$files" "$bytes" "$result")")
done

echo
printf '%-18s %12s %7s %8s %7s %10s  %s\n' target executions cov ft corpus bytes result
printf '%s\n' "${rows[@]}"
echo "logs: $LOGS/<target>.log"
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz.sh: findings in ${failed[*]}; the inputs are in $FINDINGS/<target>/" >&2
  echo "reproduce: $BUILD/<target>_fuzz $FINDINGS/<target>/<file>" >&2
  exit 1
fi
