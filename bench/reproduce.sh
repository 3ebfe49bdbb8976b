#!/usr/bin/env bash
# One reproduction run of issue 6 (the paper's MNIST and toy experiments, Springenberg, ICLR
# 2016): bench/reproduce.sh NAME SEED OUTDIR; protocols and results in docs/results.md.
# Re-running the same command resumes OUTDIR's checkpoint; the last line is a summary.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/reproduce.sh NAME SEED OUTDIR
  NAME    pi-mnist-100 | conv-100 | unsup-k20 | unsup-k10 | toy
  SEED    seed of every random choice (1, 2, 3 for the tables)
  OUTDIR  the run directory (toy: OUTDIR/moons and OUTDIR/circles); an existing one with a
          checkpoint is resumed
environment:
  MNIST_DIR  the four MNIST IDX files (default ../shared/data/mnist from the repository)
  CATGAN     the catgan binary (default build/catgan in the repository)
  BUDGET     replaces the NAME's budget, e.g. "--time 300" or "--epochs 10" (a budget
             without --iters/--epochs drops the learning-rate decay, which needs an end)
  THREADS    OpenMP threads (default: all cores)
  EXTRA      more train options for a new run, e.g. "--lr-decay-from 0.5" (a resumed run
             keeps the options it was started with)
EOF
}

die() { echo "reproduce.sh: $*" >&2; exit 2; }

[[ $# -eq 1 && ( $1 == -h || $1 == --help ) ]] && { usage; exit 0; }
[[ $# -eq 3 ]] || { usage >&2; exit 2; }
name=$1 seed=$2 outdir=$3
[[ $seed =~ ^[0-9]+$ ]] || die "SEED '$seed' must be a non-negative integer"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CATGAN=${CATGAN:-$root/build/catgan}
MNIST_DIR=${MNIST_DIR:-$root/../shared/data/mnist}
[[ -x $CATGAN ]] || die "CATGAN=$CATGAN is not an executable; build it first" \
    "(meson setup build && meson compile -C build) or set CATGAN"

need_mnist() {
    local f
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
             t10k-labels-idx1-ubyte; do
        [[ -e $MNIST_DIR/$f || -e $MNIST_DIR/$f.gz ]] ||
            die "MNIST_DIR=$MNIST_DIR lacks $f(.gz); set MNIST_DIR to the folder of the" \
                "four MNIST IDX files"
    done
}

# Settings per NAME (why each: docs/results.md). budget: the default stopping rule.
settings=() budget=()
case $name in
    pi-mnist-100)
        need_mnist
        settings=(--data "mnist:$MNIST_DIR" --arch pi-mnist --labels 100)
        budget=(--epochs 100) ;;
    conv-100)
        need_mnist
        settings=(--data "mnist:$MNIST_DIR" --arch conv --labels 100)
        budget=(--epochs 10) ;;
    unsup-k20)
        need_mnist
        settings=(--data "mnist:$MNIST_DIR" --arch conv --classes 20)
        budget=(--epochs 10) ;;
    unsup-k10)
        need_mnist
        settings=(--data "mnist:$MNIST_DIR" --arch conv --classes 10)
        budget=(--epochs 10) ;;
    toy) ;;
    *) die "NAME '$name' is not one of pi-mnist-100, conv-100, unsup-k20, unsup-k10, toy" ;;
esac
if [[ -n ${EXTRA:-} ]]; then
    read -r -a extra <<< "$EXTRA"
    settings+=("${extra[@]}")
fi

if [[ -n ${BUDGET:-} ]]; then
    read -r -a budget <<< "$BUDGET"
    if [[ " ${budget[*]} " != *" --iters "* && " ${budget[*]} " != *" --epochs "* ]]; then
        kept=() skip=0
        for a in ${settings[@]+"${settings[@]}"}; do
            if ((skip)); then skip=0; continue; fi
            if [[ $a == --lr-decay-from ]]; then
                echo "reproduce.sh: BUDGET '$BUDGET' has no end in iterations: no lr decay" >&2
                skip=1
                continue
            fi
            kept+=("$a")
        done
        settings=(${kept[@]+"${kept[@]}"})
    fi
fi
threads=()
[[ -n ${THREADS:-} ]] && threads=(--threads "$THREADS")

# Trains (or resumes) one run directory; prints nothing on stdout.
train() {
    local dir=$1; shift
    if [[ -e $dir/checkpoint.cgck ]]; then
        echo "reproduce.sh: resuming $dir" >&2
        "$CATGAN" train --resume "$dir" ${budget[@]+"${budget[@]}"} \
            ${threads[@]+"${threads[@]}"} >&2
    else
        if [[ -d $dir ]] && [[ -n $(ls -A "$dir") ]]; then
            die "$dir exists, is not empty and holds no checkpoint.cgck to resume"
        fi
        "$CATGAN" train "$@" ${settings[@]+"${settings[@]}"} ${budget[@]+"${budget[@]}"} \
            --seed "$seed" --out "$dir" \
            ${threads[@]+"${threads[@]}"} >&2
    fi
}

# One line from a summary.json: the scores that exist, iterations, wall time.
line() {
    /usr/bin/python3 - "$1" "$2" <<'EOF'
import json, sys
label, path = sys.argv[1], sys.argv[2]
s = json.load(open(path))
out = [label]
for k in ("test_error", "cluster_accuracy", "nmi", "kmeans_cluster_accuracy"):
    if s.get(k) is not None:
        out.append("%s %.4f" % (k, s[k]))
out.append("iterations %d, epochs %.1f, %.0f s, %d threads" %
           (s["iterations"], s["epochs"], s["seconds"], s["threads"]))
print("; ".join(out))
EOF
}

if [[ $name == toy ]]; then
    for d in moons circles; do train "$outdir/$d" --data "$d"; done
    echo "reproduce toy seed $seed: $(line moons "$outdir/moons/summary.json") |" \
         "$(line circles "$outdir/circles/summary.json")"
else
    train "$outdir"
    echo "reproduce $name seed $seed: $(line "$outdir" "$outdir/summary.json")"
fi
