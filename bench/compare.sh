#!/usr/bin/env bash
# Side-by-side training speed and peak memory of catgan and PyTorch (issue 5, deliverables 1
# and 4): the same nets and iteration (CONTRACT.md), synthetic 28x28x1 data, one Markdown table.
# Usage: bench/compare.sh   (from the repository root; see docs/speed.md for the variables)
set -euo pipefail

CATGAN=${CATGAN:-build/catgan}
PYTHON=${PYTHON:-/usr/bin/python3}
NETS=${NETS:-"conv pi-mnist"}
THREADS=${THREADS:-"1 2"}
BATCHES=${BATCHES:-"32 100"}
# Iterations: ours reports images/s over its training steps only, so one long run is stable;
# PyTorch runs warm-up + REPEATS x N timed iterations and reports the median repeat.
ITERS_CONV=${ITERS_CONV:-30}
ITERS_PI=${ITERS_PI:-200}
TORCH_ITERS_CONV=${TORCH_ITERS_CONV:-10}
TORCH_ITERS_PI=${TORCH_ITERS_PI:-100}
REPEATS=${REPEATS:-3}
OURS_REPEATS=${OURS_REPEATS:-1}
# Passive waiting is PyTorch's best setting on 2 shared cores (NOTES.md); both get the same.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# Some of our machines set OPENBLAS_CORETYPE=Haswell (and OPENBLAS_L2_SIZE) for old OpenBLAS
# builds; on an AVX-512 core that costs PyTorch's dense layers ~15% (pi-mnist 1327 vs 1561
# images/s). PyTorch gets its best setting: both unset for its runs (TORCH_NATIVE_BLAS=0 keeps
# them); the header names the kernels OpenBLAS chose, and --check runs under the same setting.
TORCH_NATIVE_BLAS=${TORCH_NATIVE_BLAS:-1}
torch_env=(env)
[[ $TORCH_NATIVE_BLAS == 0 ]] || torch_env=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ref="$here/torch_reference.py"

die() { echo "compare.sh: $*" >&2; exit 1; }

[[ -x "$CATGAN" ]] || die "CATGAN=$CATGAN is not an executable; build it first" \
    "(meson setup build && meson compile -C build) or set CATGAN=<build dir>/catgan"
command -v "$PYTHON" > /dev/null || die "PYTHON=$PYTHON not found"
if ! terr=$("${torch_env[@]}" "$PYTHON" -c 'import torch' 2>&1); then
    die "PyTorch is missing: '$PYTHON -c \"import torch\"' failed (${terr##*$'\n'});" \
        "install Debian's python3-torch (apt-get install python3-torch) or set PYTHON to an" \
        "interpreter that has torch"
fi
[[ -r "$ref" ]] || die "$ref not found"
# The table names the tree's commit, so say when the binary predates the sources.
stale=$(find "$here/../src" "$here/../include" -newer "$CATGAN" \( -name '*.c' -o -name '*.h' \) \
        2> /dev/null | head -n 1)
if [[ -n $stale ]]; then
    echo "compare.sh: warning: $stale is newer than $CATGAN; rebuild for current numbers" >&2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/catgan-compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
results=${RESULTS:-$tmp/results.jsonl}
: > "$results"

# Reads one field of a JSON file ("a.b" for nested keys).
jget() {
    "$PYTHON" - "$1" "$2" << 'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(v)
EOF
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# ours NET THREADS BATCH ITERS -> "img/s rss isa", or returns 1 after showing the error
ours() {
    local net=$1 t=$2 b=$3 n=$4 r rates=() rss=0 isa=""
    for ((r = 0; r < OURS_REPEATS; r++)); do
        local dir="$tmp/ours-$net-$t-$b-$r"
        if ! "$CATGAN" train --data glyphs --arch "$net" --batch "$b" --threads "$t" \
                --iters "$n" --json --quiet --out "$dir" > "$dir.out" 2> "$dir.err"; then
            echo "compare.sh: $CATGAN train --arch $net --threads $t --batch $b failed:" >&2
            tail -n 5 "$dir.err" >&2
            return 1
        fi
        rates+=("$(jget "$dir/summary.json" images_per_second)")
        rss=$(jget "$dir/summary.json" peak_rss_mib)
        isa=$(jget "$dir/summary.json" isa)
    done
    echo "$(median "${rates[@]}") $rss $isa"
}

# torch NET THREADS BATCH ITERS -> "img/s rss version"
torch_run() {
    local net=$1 t=$2 b=$3 n=$4 f="$tmp/torch-$1-$2-$3.json"
    if ! "${torch_env[@]}" "$PYTHON" "$ref" --net "$net" --threads "$t" --batch "$b" \
            --iters "$n" --repeats "$REPEATS" --json > "$f" 2> "$f.err"; then
        echo "compare.sh: torch_reference.py --net $net --threads $t --batch $b failed:" >&2
        tail -n 5 "$f.err" >&2
        return 1
    fi
    cat "$f" >> "$results"
    echo "$(jget "$f" images_per_second) $(jget "$f" peak_rss_mib) $(jget "$f" torch)" \
         "$(jget "$f" openblas_core)"
}

for net in $NETS; do
    [[ $net == conv || $net == pi-mnist ]] || die "NETS: unknown net '$net' (conv, pi-mnist)"
done
# Debian's torch calls whatever libblas.so.3 the alternatives system points at: without
# libopenblas0-pthread that is the reference BLAS, and pi-mnist runs ~10x slower.
if ! "${torch_env[@]}" "$PYTHON" "$ref" --blas > /dev/null; then
    die "PyTorch's BLAS is not OpenBLAS (Debian's reference libblas.so.3 is selected): install" \
        "libopenblas0-pthread (apt-get install libopenblas0-pthread), or the comparison is unfair"
fi
# The reference must compute what it claims before its speed means anything.
for net in $NETS; do
    if ! out=$("${torch_env[@]}" "$PYTHON" "$ref" --net "$net" --check 2>&1); then
        printf '%s\n' "$out" >&2
        die "torch_reference.py --net $net --check failed"
    fi
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
status=0
isa="?"
tver="?"
blas_core="?"
for net in $NETS; do
    case $net in
        conv) n_ours=$ITERS_CONV; n_torch=$TORCH_ITERS_CONV ;;
        pi-mnist) n_ours=$ITERS_PI; n_torch=$TORCH_ITERS_PI ;;
        *) die "NETS: unknown net '$net' (conv, pi-mnist)" ;;
    esac
    for t in $THREADS; do
        for b in $BATCHES; do
            echo "compare.sh: $net threads $t batch $b ..." >&2
            # Ours and PyTorch back to back, so a change in the machine's load hits both.
            o=$(ours "$net" "$t" "$b" "$n_ours") || { status=1; o="- - -"; }
            p=$(torch_run "$net" "$t" "$b" "$n_torch") || { status=1; p="- - -"; }
            read -r oi orss oisa <<< "$o"
            read -r pi prss pver pcore <<< "$p"
            if [[ $oisa != - ]]; then isa=$oisa; fi
            if [[ $pver != - ]]; then tver=$pver; blas_core=$pcore; fi
            rows+=("$(awk -v net="$net" -v t="$t" -v b="$b" -v oi="$oi" -v pi="$pi" \
                -v orss="$orss" -v prss="$prss" 'function f(x, d) {
                    return x == "-" ? "FAIL" : sprintf("%." d "f", x) }
                BEGIN { r = (oi == "-" || pi == "-") ? "-" : sprintf("%.2fx", oi / pi)
                    printf "| %s | %s | %s | %s | %s | %s | %s | %s |", net, t, b, f(oi, 1),
                        f(pi, 1), r, f(orss, 0), f(prss, 0) }')")
        done
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

commit=$(git -C "$here/.." rev-parse --short HEAD 2> /dev/null || echo unknown)
if [[ $commit != unknown ]] && ! git -C "$here/.." diff --quiet HEAD 2> /dev/null; then
    commit="$commit+dirty"
fi
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "catgan tree $commit ($CATGAN, $isa) vs PyTorch $tver (OpenBLAS kernels $blas_core);" \
     "$(date '+%Y-%m-%d %H:%M'); $cpu," \
     "$(nproc) cores; OMP_WAIT_POLICY=$OMP_WAIT_POLICY; load average $load_before before," \
     "$load_after after"
echo "iterations: ours $ITERS_CONV conv / $ITERS_PI pi-mnist (median of $OURS_REPEATS run(s));" \
     "PyTorch 3 warm-up + median of $REPEATS x $TORCH_ITERS_CONV conv / $TORCH_ITERS_PI pi-mnist"
echo
echo "| net | threads | batch | ours img/s | torch img/s | ratio |" \
     "ours peak RSS MiB | torch peak RSS MiB |"
echo "|---|--:|--:|--:|--:|--:|--:|--:|"
printf '%s\n' "${rows[@]}"
[[ $status -eq 0 ]] || echo "compare.sh: some runs failed (see above)" >&2
exit $status
