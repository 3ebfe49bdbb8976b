#!/usr/bin/env bash
# OpenMP waiting at 2 threads: passive (catgan's default) against short spins before sleeping
# (GOMP_SPINCOUNT), on idle cores and with another process busy on one core. docs/speed.md.
# Usage: bench/spin_wait.sh [NET] [ROUNDS] [ITERS]     e.g. bench/spin_wait.sh pi-mnist 3 200
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,4p' "$0"; exit 0 ;; esac
net=${1:-pi-mnist} rounds=${2:-3} iters=${3:-200}
CATGAN=${CATGAN:-build/catgan}
PYTHON=${PYTHON:-/usr/bin/python3}
[[ -x "$CATGAN" ]] || { echo "spin_wait.sh: CATGAN=$CATGAN is not an executable" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/catgan-spin.XXXXXX")
hog=
trap '[[ -n $hog ]] && kill "$hog" 2>/dev/null; rm -rf "$tmp"' EXIT
rate() { "$PYTHON" -c 'import json, sys; print("%.0f" % json.load(sys.stdin)["images_per_second"])'; }
run() { # run SETTING: images/s at 2 threads
    rm -rf "$tmp/run"
    env OMP_WAIT_POLICY=passive $1 "$CATGAN" train --data glyphs --arch "$net" --batch 100 \
        --threads 2 --iters "$iters" --json --quiet --out "$tmp/run" | rate
}
for phase in idle busy; do
    if [[ $phase == busy ]]; then (while :; do :; done) & hog=$!; fi
    for ((r = 1; r <= rounds; r++)); do
        for sc in "" GOMP_SPINCOUNT=2000 GOMP_SPINCOUNT=20000; do
            echo "$phase $net ${sc:-passive}: $(run "$sc") images/s"
        done
    done
    if [[ -n $hog ]]; then kill "$hog"; wait "$hog" 2>/dev/null || true; hog=; fi
done
