#!/usr/bin/env bash
# The README's demo, in the suite: scripts/demo.sh at its small default scale, with the suite's own
# (sanitized) programs. Every step must run and succeed: the demo stops at the first failing
# command, and this test also checks that its summary lists every step.
#   tests/demo/demo_test.sh BUILD_DIR
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:?usage: demo_test.sh BUILD_DIR}
out=$(mktemp); trap 'rm -f "$out"' EXIT
rc=0
SEALIFT_DEMO_BUILD="$B" "$SRC/scripts/demo.sh" >"$out" 2>&1 || rc=$?
cat "$out"
[ "$rc" = 0 ] || { echo "demo_test: scripts/demo.sh exited $rc"; exit 1; }
steps=$(grep -c '^== ' "$out")
timed=$(sed -n '/^Time per step:/,$p' "$out" | grep -cE '^ +[0-9.]+s  ')
# Every step but the last ("Done") has a line in the time table.
[ "$steps" -ge 12 ] || { echo "demo_test: only $steps steps ran"; exit 1; }
[ "$timed" = $((steps - 1)) ] || { echo "demo_test: $steps steps but $timed timed"; exit 1; }
grep -q '^air-gap lint: every rendered image is locked$' "$out" || { echo "demo_test: the lint step did not run"; exit 1; }
if grep -q 'demo: FAILED\|not expected' "$out"; then echo "demo_test: the demo printed a failure"; exit 1; fi
echo "demo_test: $steps steps, all ran"
