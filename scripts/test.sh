#!/usr/bin/env bash
# The README's test command: installs what is missing, builds (with ASan+UBSan by default, as CI
# does), and runs every test. The exit code is the verdict.
#
#   scripts/test.sh                  everything, sanitized
#   SEALIFT_SANITIZE=OFF scripts/test.sh   plain build (faster locally)
#   scripts/test.sh -R registry      pass extra arguments to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --cluster

SANITIZE=${SEALIFT_SANITIZE:-ON}
BUILD=${SEALIFT_BUILD_DIR:-build/test-$( [ "$SANITIZE" = ON ] && echo asan || echo plain )}
cmake -S . -B "$BUILD" -G Ninja -DSEALIFT_SANITIZE="$SANITIZE" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$BUILD"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$BUILD" --output-on-failure -j2 "$@"

# A minute of fuzzing every parser (clang, ASan+UBSan, build/fuzz); fails on any finding.
scripts/fuzz.sh 60
