#!/usr/bin/env bash
# Alternates catgan_bench binaries (e.g. two commits) on the same benchmarks and prints, per
# benchmark and binary, the best and the median of a counter over the rounds. On a shared host
# a single run moves by 10-30%; alternating puts both binaries in the same conditions.
#   bench/gemm_ab.sh ROUNDS FILTER BIN [BIN ...]
#   KEY=flops bench/gemm_ab.sh 3 '^conv/D/' old/catgan_bench build/bench/catgan_bench
# KEY is the counter (default peak_fraction; flops prints GFLOP/s). REPS=R (default 1) runs
# each benchmark R times per round, interleaved at random with the others of the same binary
# (short runs spread over the round: where the core's speed flips as neighbours come and go,
# the best of many short runs is what the code reaches on a quiet core).
set -euo pipefail
[[ $# -ge 3 ]] || { sed -n '2,7p' "$0" >&2; exit 2; }
rounds=$1 filter=$2
shift 2
key=${KEY:-peak_fraction}
reps=${REPS:-1}
flags=(--benchmark_min_time=0.2)
if ((reps > 1)); then
    flags=(--benchmark_min_time=0.05 --benchmark_min_warmup_time=0.02
           --benchmark_repetitions="$reps" --benchmark_enable_random_interleaving=true)
fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
for b in "$@"; do
    [[ -x "$b" ]] || { echo "gemm_ab.sh: $b is not an executable" >&2; exit 2; }
done
out=$(mktemp "${TMPDIR:-/tmp}/gemm_ab.XXXXXX")
trap 'rm -f "$out"' EXIT
for ((r = 1; r <= rounds; r++)); do
    i=0
    for b in "$@"; do
        echo "round $r/$rounds: $b" >&2
        "$b" --benchmark_filter="$filter" "${flags[@]}" 2>/dev/null |
            awk -v c="$i" -v key="$key" '$1 !~ /_(mean|median|stddev|cv)$/ {
                for (f = 2; f <= NF; f++) if (index($f, key "=") == 1) {
                    v = substr($f, length(key) + 2); sub(/G\/s$/, "", v); print c, $1, v } }' \
                >>"$out"
        i=$((i + 1))
    done
done
python3 - "$out" "$@" <<'PY'
import collections, os, statistics, sys
rows, bins = sys.argv[1], sys.argv[2:]
vals, order = collections.defaultdict(list), []
for line in open(rows):
    c, name, v = line.split()
    if name not in order:
        order.append(name)
    vals[(name, int(c))].append(float(v))
w = max([len(n) for n in order] + [9])
print("benchmark".ljust(w) + "".join(f"  {i}: best/median".rjust(20) for i in range(len(bins))))
# interleaved repetitions arrive in a random order
for n in sorted(order) if int(os.environ.get("REPS", "1")) > 1 else order:
    cells = [vals[(n, i)] for i in range(len(bins))]
    print(n.ljust(w) + "".join((f"{max(c):.3f}/{statistics.median(c):.3f}" if c else "-").rjust(20)
                               for c in cells))
for i, b in enumerate(bins):
    print(f"{i}: {b}")
PY
