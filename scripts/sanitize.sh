#!/usr/bin/env bash
# Builds catgan with AddressSanitizer + UndefinedBehaviorSanitizer in build-asan and runs the
# whole test suite there (issue 7; STACK.md 3). UBSan does not recover (meson.build adds
# -fno-sanitize-recover=all) and a leak fails its test binary (tests/common.c).
#   bash scripts/sanitize.sh            # configure once, build, run every test
# The benchmarks are not built here (-Dbench=disabled): bench-smoke alone would take minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build-asan
if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Db_sanitize=address,undefined -Dbuildtype=debugoptimized \
        -Dbench=disabled -Dwerror=true >/dev/null
fi
meson compile -C "$dir" >/dev/null || meson compile -C "$dir"

# Only leaks whose whole stack is inside fontconfig/cairo/libpng caches are suppressed.
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
# allocator_may_return_null: an impossible allocation returns NULL as glibc does, so the
# out-of-memory paths (e.g. a batch that does not fit, test_model) are tested, not reported.
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:halt_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
start=$(date +%s)
rc=0
# Instrumented code runs several times slower; the per-test timeouts (300-600 s) get room.
meson test -C "$dir" --print-errorlogs --num-processes 2 --timeout-multiplier 3 || rc=$?
echo "sanitize: meson test finished in $(( $(date +%s) - start )) s (rc $rc)" >&2
exit $rc
