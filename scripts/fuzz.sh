#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ with clang (ASan + UBSan + libFuzzer) in build-fuzz and
# runs each for SECONDS (default 20) on a copy of its committed seed corpus (issue 7). Exit 1 on
# any finding: the crashing input is kept as build-fuzz/artifacts/<target>-crash-*.
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]     # targets: idx png checkpoint cli
#   bash scripts/fuzz.sh 0                         # build the harnesses only
# Needs clang and libclang-rt-dev (libFuzzer, sanitizer runtimes) and libomp-dev (-fopenmp).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(idx png checkpoint cli)
dir=build-fuzz

CC=${CC:-}
if [ -z "$CC" ]; then
    for c in clang-14 clang; do command -v "$c" >/dev/null && CC=$c && break; done
fi
[ -n "$CC" ] || { echo "fuzz: clang not found (apt-get install clang libclang-rt-dev libomp-dev)" >&2; exit 2; }
san=(-fsanitize=address,undefined -fno-sanitize-recover=all)

# The library, as the project builds it, compiled with clang and libFuzzer's coverage hooks.
if [ ! -f "$dir/build.ninja" ]; then
    CC=$CC meson setup "$dir" -Db_sanitize=address,undefined -Db_lundef=false \
        -Dbuildtype=debugoptimized -Dbench=disabled -Dmpi=disabled \
        -Dc_args=-fsanitize=fuzzer-no-link >/dev/null
fi
# the harnesses link the library by hand, without libmpi: its MPI part stays a stub
meson configure "$dir" -Dmpi=disabled >/dev/null
meson compile -C "$dir" catgan_internal >/dev/null || meson compile -C "$dir" catgan_internal

flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -Wall -Wextra -fopenmp -Iinclude -Isrc "${san[@]}")
libs=("$dir/libcatgan_internal.a" $(pkg-config --libs sleef zlib libpng cairo) -lm)
mkdir -p "$dir/fuzz" "$dir/artifacts"
for t in "${targets[@]}"; do
    extra=()
    [ "$t" = cli ] && extra=(src/cli/args.c src/cli/run.c)
    "$CC" "${flags[@]}" -fsanitize=fuzzer "fuzz/fuzz_$t.c" "${extra[@]}" "${libs[@]}" \
        -o "$dir/fuzz/fuzz_$t"
done

[ "$secs" = 0 ] && exit 0

export ASAN_OPTIONS="detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
rc=0
for t in "${targets[@]}"; do
    work="$dir/corpus/$t"
    mkdir -p "$work"
    opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="$dir/artifacts/$t-")
    [ -f "fuzz/$t.dict" ] && opts+=(-dict="fuzz/$t.dict")
    [ "$t" = cli ] && opts+=(-close_fd_mask=2)   # its parse errors go to stderr by design
    echo "fuzz: $t for ${secs}s" >&2
    if ! "$dir/fuzz/fuzz_$t" "${opts[@]}" "$work" "fuzz/corpus/$t" > "$dir/fuzz_$t.log" 2>&1; then
        echo "fuzz: $t FOUND A PROBLEM (see $dir/fuzz_$t.log, input in $dir/artifacts/)" >&2
        tail -40 "$dir/fuzz_$t.log" >&2
        rc=1
    fi
    grep -E '^stat::number_of_executed_units|^Done ' "$dir/fuzz_$t.log" >&2 || true
done
exit $rc
