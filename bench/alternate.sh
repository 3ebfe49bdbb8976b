#!/usr/bin/env bash
# Alternated pairs, catgan then PyTorch, on one net and thread count at batch 100: one ratio per
# pair, so a change in the host's load between pairs shows as spread instead of as a bias.
# Usage: bench/alternate.sh NET THREADS [PAIRS] [OURS_ITERS] [TORCH_ITERS]
#   bench/alternate.sh pi-mnist 1 5 300 150;  bench/alternate.sh conv 2 4 24 16
# Same settings as bench/compare.sh (passive OpenMP waiting, OpenBLAS on its own kernels).
set -euo pipefail
[[ $# -ge 2 ]] || { sed -n '2,6p' "$0" >&2; exit 2; }
net=$1 t=$2 pairs=${3:-5} io=${4:-300} it=${5:-150}
CATGAN=${CATGAN:-build/catgan}
PYTHON=${PYTHON:-/usr/bin/python3}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
[[ -x "$CATGAN" ]] || { echo "alternate.sh: CATGAN=$CATGAN is not an executable" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/catgan-alt.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rate() { "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["images_per_second"])'; }
for ((r = 1; r <= pairs; r++)); do
    o=$("$CATGAN" train --data glyphs --arch "$net" --batch 100 --threads "$t" --iters "$io" \
        --json --quiet --out "$tmp/run$r" | rate)
    p=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PYTHON" "$here/torch_reference.py" \
        --net "$net" --threads "$t" --batch 100 --iters "$it" --repeats 1 --json | rate)
    "$PYTHON" -c "import sys; o, p = map(float, sys.argv[1:]); \
print('%s threads %s pair %s: ours %.1f torch %.1f ratio %.2f' % ('$net', $t, $r, o, p, o / p))" \
        "$o" "$p"
done
