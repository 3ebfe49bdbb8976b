#!/usr/bin/env bash
# Our own thread scaling, measured as alternated pairs: `catgan train --profile` at 1 thread,
# then at THREADS, one ratio of the per-iteration times per pair, so a change in the host's
# load between pairs shows as spread instead of as a bias (issue 5: 2 threads >= 1.8x on conv).
# Usage: bench/scaling.sh [NET] [PAIRS] [ITERS] [THREADS]
#   bench/scaling.sh conv 6 20 2;  bench/scaling.sh pi-mnist 5 200 2
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,6p' "$0"; exit 0 ;; esac
net=${1:-conv} pairs=${2:-6} iters=${3:-20} t=${4:-2}
CATGAN=${CATGAN:-build/catgan}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
[[ -x "$CATGAN" ]] || { echo "scaling.sh: CATGAN=$CATGAN is not an executable" >&2; exit 1; }
[[ $pairs =~ ^[1-9][0-9]*$ && $iters =~ ^[1-9][0-9]*$ && $t =~ ^[1-9][0-9]*$ ]] ||
    { echo "scaling.sh: PAIRS, ITERS and THREADS must be positive integers" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/catgan-scaling.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# ms per iteration from the profile's total line ("   total   448.55 ms per iteration, ...")
ms() {
    "$CATGAN" train --data glyphs --arch "$net" --batch 100 --threads "$1" --iters "$iters" \
        --profile --quiet --out "$tmp/run$2-$1" 2>&1 | awk '$1 == "total" { print $2 }'
}
ratios=()
for ((r = 1; r <= pairs; r++)); do
    a=$(ms 1 "$r") b=$(ms "$t" "$r")
    [[ -n $a && -n $b ]] || { echo "scaling.sh: pair $r: no profile total" >&2; exit 1; }
    x=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
    ratios+=("$x")
    echo "$net pair $r: 1 thread $a ms, $t threads $b ms per iteration: scaling ${x}x"
done
med=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 }
    END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "$net: median scaling ${med}x at $t threads over $pairs pairs"
