#!/usr/bin/env bash
# The README's test command: installs what is missing, builds (with ASan+UBSan by default, as CI
# does), and runs every test. The exit code is the verdict.
#
#   scripts/test.sh                        everything, sanitized
#   SEALIFT_SANITIZE=OFF scripts/test.sh   plain gcc build (faster locally; fuzzing is skipped)
#   scripts/test.sh -R registry            pass extra arguments to ctest (fuzzing is skipped)
#
# The sanitized run builds once, with clang: the core library carries ASan, UBSan and libFuzzer's
# coverage instrumentation, so the same objects serve the test suites and the fuzz targets
# (scripts/fuzz.sh reuses the build directory instead of compiling the library a second time).
# A gcc -O3 Release build with -Werror (a packager's build) runs beside the suites, and the demo
# (tests/demo) runs in the suite. At the end it prints the wall time of each phase.
set -euo pipefail
cd "$(dirname "$0")/.."

PHASES=()
phase_start=$SECONDS
phase_done() { PHASES+=("$(printf '%6d s  %s' $((SECONDS - phase_start)) "$1")"); phase_start=$SECONDS; }
report() {
  echo
  echo "test.sh: wall time per phase"
  printf '  %s\n' "${PHASES[@]}"
  printf '  %6d s  total\n' "$SECONDS"
}
trap report EXIT

scripts/setup.sh --cluster
phase_done "set-up (Debian packages and Go peers)"

SANITIZE=${SEALIFT_SANITIZE:-ON}
JOBS=${SEALIFT_TEST_JOBS:-$(nproc)}
if [ "$SANITIZE" = ON ]; then
  BUILD=${SEALIFT_BUILD_DIR:-build/test-asan}
  # -O1 and line tables: fast to compile, still file:line in every sanitizer report.
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DSEALIFT_SANITIZE=ON -DSEALIFT_FUZZ=ON -DSEALIFT_WERROR=ON >/dev/null
else
  BUILD=${SEALIFT_BUILD_DIR:-build/test-plain}
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEALIFT_SANITIZE=OFF -DSEALIFT_WERROR=ON >/dev/null
fi
ninja -C "$BUILD"
phase_done "build ($( [ "$SANITIZE" = ON ] && echo "clang, ASan+UBSan+fuzzer coverage" || echo "gcc, plain"))"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS" "$@"
phase_done "test suites (ctest -j$JOBS)"

# A minute of fuzzing every parser (clang, ASan+UBSan); fails on any finding. Only for the whole,
# sanitized run: the targets were built above with the suites.
if [ "$SANITIZE" = ON ] && [ $# -eq 0 ]; then
  SEALIFT_FUZZ_BUILD="$BUILD" scripts/fuzz.sh 60
  phase_done "fuzzing (scripts/fuzz.sh 60)"
fi
