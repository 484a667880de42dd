#!/usr/bin/env bash
# The README's test command: installs what is missing, builds (with ASan+UBSan by default, as CI
# does), and runs every test. The exit code is the verdict.
#
#   scripts/test.sh                        everything, sanitized
#   SEALIFT_SANITIZE=OFF scripts/test.sh   plain gcc build (faster locally; fuzzing is skipped)
#   scripts/test.sh -R registry            pass extra arguments to ctest (fuzzing is skipped)
#   SEALIFT_PORTABLE_TESTS=ON scripts/test.sh -R portable   also the portable release binaries
#
# The library and the programs build as a unity build (batches of 8 sources behind the precompiled
# header): 8 sources of src/ took 51 CPU-s that way instead of 75 one by one, sanitized. A developer's
# own build (README) compiles file by file, which is better for small changes.
# The sanitized run builds once, with clang: the core library carries ASan, UBSan and libFuzzer's
# coverage instrumentation, so the same objects serve the test suites and the fuzz targets
# (scripts/fuzz.sh reuses the build directory instead of compiling the library a second time).
# The Go peers build in the background during the C++ build. A gcc -O3 Release build with -Werror
# (a packager's build) runs beside the suites, and the demo (tests/demo) runs in the suite. At the
# end it prints the wall time of each phase.
set -euo pipefail
cd "$(dirname "$0")/.."

PHASES=()
phase_start=$SECONDS
phase_done() { PHASES+=("$(printf '%6d s  %s' $((SECONDS - phase_start)) "$1")"); phase_start=$SECONDS; }
peers_pid="" deps_pid=""
report() {
  # The background set-up (and its go commands) never outlives this script.
  if [ -n "$peers_pid" ]; then kill -- -"$peers_pid" 2>/dev/null || true; fi
  if [ -n "$deps_pid" ]; then kill -- -"$deps_pid" 2>/dev/null || true; fi
  echo
  echo "test.sh: wall time per phase"
  printf '  %s\n' "${PHASES[@]}"
  printf '  %6d s  total\n' "$SECONDS"
}
trap report EXIT

# The Go peers (helm, cosign, syft, the Kubernetes control plane, ...) build in the background
# while the Debian packages install and the C++ build runs: neither needs the other, and each
# leaves idle time the other fills (module downloads and single-threaded links on one side, links
# of the test programs on the other). Their output is printed once they are done, not interleaved
# with the compiler's. Only a machine without any Go installs packages (golang-go) first.
peers_log=$(mktemp "${TMPDIR:-/tmp}/sealift-setup.XXXXXX")
start_peers() {
  # Its own session, so that an early exit stops the go commands too (report above).
  setsid scripts/setup.sh --peers-only --cluster >"$peers_log" 2>&1 &
  peers_pid=$!
}
PORTABLE=${SEALIFT_PORTABLE_TESTS:-OFF}
packages_args=(--packages-only)
[ "$PORTABLE" = ON ] && packages_args+=(--portable)
if command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ]; then
  start_peers
  scripts/setup.sh "${packages_args[@]}"
else
  scripts/setup.sh "${packages_args[@]}"
  start_peers
fi
phase_done "set-up: Debian packages (Go peers building beside)"
# The portable release's static libraries (tests/portable) build in the background as well, niced,
# one architecture after the other; cached by their pinned inputs, so a warm run skips this. The
# portable.release test waits for them (build-deps.sh takes a lock per architecture).
if [ "$PORTABLE" = ON ]; then
  deps_log=$(mktemp "${TMPDIR:-/tmp}/sealift-portable-deps.XXXXXX")
  setsid nice -n 10 sh -c 'scripts/portable/build-deps.sh amd64 && scripts/portable/build-deps.sh arm64' \
    >"$deps_log" 2>&1 &
  deps_pid=$!
fi
peers_done() {
  local rc=0
  wait "$peers_pid" || rc=$?
  peers_pid=""
  cat "$peers_log"; rm -f "$peers_log"
  [ "$rc" = 0 ] || { echo "test.sh: scripts/setup.sh --cluster failed (exit $rc)" >&2; exit "$rc"; }
}
trap 'exit 130' INT TERM

SANITIZE=${SEALIFT_SANITIZE:-ON}
# One test more than cores: most suites spend much of their time waiting (helm --wait, a registry,
# a cluster starting), and the CPU would idle.
JOBS=${SEALIFT_TEST_JOBS:-$(( $(nproc) + 1 ))}
if [ "$SANITIZE" = ON ]; then
  BUILD=${SEALIFT_BUILD_DIR:-build/test-asan}
  # -O1 and line tables: fast to compile, still file:line in every sanitizer report.
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DSEALIFT_SANITIZE=ON -DSEALIFT_FUZZ=ON -DSEALIFT_WERROR=ON -DSEALIFT_PCH=ON -DCMAKE_UNITY_BUILD=ON -DSEALIFT_PORTABLE_TESTS="$PORTABLE" >/dev/null
else
  BUILD=${SEALIFT_BUILD_DIR:-build/test-plain}
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEALIFT_SANITIZE=OFF -DSEALIFT_WERROR=ON \
    -DSEALIFT_PCH=ON -DCMAKE_UNITY_BUILD=ON -DSEALIFT_PORTABLE_TESTS="$PORTABLE" >/dev/null
fi
ninja -C "$BUILD"
phase_done "build ($( [ "$SANITIZE" = ON ] && echo "clang, ASan+UBSan+fuzzer coverage" || echo "gcc, plain"), beside the Go peers)"
peers_done
phase_done "set-up: Go peers (what was left after the build)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Leaks of third-party libraries that sealift cannot free (each explained in the file).
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}
ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS" "$@"
# In a whole run it is done by now (portable.release waited for it); its log says what it built
# and how long it took. A partial run (ctest arguments) stops it on exit instead.
if [ -n "$deps_pid" ] && [ $# -eq 0 ]; then wait "$deps_pid" || true; deps_pid=""; cat "$deps_log"; rm -f "$deps_log"; fi
phase_done "test suites (ctest -j$JOBS)"

# A minute of fuzzing every parser (clang, ASan+UBSan); fails on any finding. Only for the whole,
# sanitized run: the targets were built above with the suites.
if [ "$SANITIZE" = ON ] && [ $# -eq 0 ]; then
  SEALIFT_FUZZ_BUILD="$BUILD" scripts/fuzz.sh 60
  phase_done "fuzzing (scripts/fuzz.sh 60)"
fi
