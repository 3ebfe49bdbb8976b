#!/usr/bin/env python3
"""Markdown table of catgan_bench's GEMM rows (docs/gemm.md) from one or more CSV runs.

Usage: bench/gemm_table.py [--isa avx512] [--best] [--order LIST] run1.csv [run2.csv ...]
Each run is read against its own `peak/<isa>` row (this host's throughput moves by 10-20%
between runs), and every cell is the median over the runs of that run's figure: GFLOP/s,
fraction of that run's peak, ours over the better of OpenBLAS and oneDNN in that run, and the
2-thread speed-up. --best takes instead each benchmark's best run (GFLOP/s cells; the fraction
is against the best peak): on a host whose core speed flips between two levels as neighbours
come and go (Zen 3, 2026-12: 57 and 92 GFLOP/s from the same kernel), the best of several
short runs is what each code reaches when the core is its own. A run made with
--benchmark_repetitions=R (best with --benchmark_enable_random_interleaving=true, which spreads
every benchmark's repetitions over the whole run) counts each repetition: the median of them,
or the best with --best. Interleaved runs list the rows in a random order: --order LIST
takes the row order from a file of `catgan_bench --benchmark_list_tests` output. Rows whose
M, N and K are all >= 32 are summarised at the end (the issue's 80%-of-peak bar, and ours
against both libraries). Shapes of your own: CG_BENCH_GEMM_SHAPES=MxNxK[/ta][/tb],... in
catgan_bench's environment adds them to every column.
"""
import csv
import re
import statistics
import sys


def bench_name(name):
    """A benchmark's name without the suffixes a run adds (threads, real time, repeats)."""
    return re.sub(r"/threads:\d+(/real_time)?(/repeats:\d+)?$", "", name)


def load(path, pick):
    """{name: GFLOP/s}; pick chooses among repetitions of one benchmark (max or median)."""
    with open(path, newline="") as f:
        # Google Benchmark prints its context lines before the CSV header
        lines = [l for l in f if l.startswith(("name,", '"'))]
    reps = {}
    for row in csv.DictReader(lines):
        # --benchmark_repetitions gives one row per repetition, then aggregate rows named
        # ..._mean, _median, _stddev, _cv: keep every repetition
        if row.get("flops") and not re.search(r"_(mean|median|stddev|cv)$", row["name"]):
            reps.setdefault(bench_name(row["name"]), []).append(float(row["flops"]))
    return {name: pick(v) for name, v in reps.items()}


def cells(run, isa, shape):
    """This run's figures for one shape: ours, OpenBLAS, oneDNN, 2 threads (GFLOP/s), the
    fraction of peak, ours / best library, 2-thread speed-up (None where a row is missing)."""
    ours = run.get("gemm/%s/%s" % (isa, shape))
    ob, dn = run.get("gemm_openblas/" + shape), run.get("gemm_onednn/" + shape)
    mt = run.get("gemm_mt/%s/%s" % (isa, shape))
    libs = [v for v in (ob, dn) if v]
    return [ours, ob, dn, mt, ours / run["peak/" + isa],
            ours / max(libs) if libs else None, mt / ours if mt else None]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def best_run(runs):
    """One run made of each benchmark's best GFLOP/s over the runs."""
    out = {}
    for run in runs:
        for name, v in run.items():
            out[name] = max(out.get(name, 0.0), v)
    return out


def main(argv):
    isa, best = "avx512", False
    order = None
    if argv[:1] in (["-h"], ["--help"]):
        sys.stdout.write(__doc__)
        return 0
    while argv[:1] in (["--isa"], ["--best"], ["--order"]):
        if argv[0] == "--best":
            best, argv = True, argv[1:]
        elif argv[0] == "--order":
            with open(argv[1]) as f:
                order = [bench_name(l.strip()) for l in f]
            argv = argv[2:]
        else:
            isa, argv = argv[1], argv[2:]
    if not argv:
        sys.stderr.write(__doc__)
        return 2
    try:
        runs = [load(p, max if best else statistics.median) for p in argv]
    except OSError as e:
        sys.stderr.write("gemm_table.py: %s: %s (options go before the CSV files)\n"
                         % (e.filename, e.strerror))
        return 2
    for path, run in zip(argv, runs):
        if "peak/" + isa not in run:
            sys.stderr.write("gemm_table.py: no peak/%s row in %s\n" % (isa, path))
            return 1
    peaks = ", ".join("%.1f" % (r["peak/" + isa] / 1e9) for r in runs)
    how = "the best of" if best else "the median over"
    print("Peak (peak/%s) per run: %s GFLOP/s per core; each cell is %s the %d "
          "run(s)\n" % (isa, peaks, how, len(runs)))
    if best:
        runs = [best_run(runs)]
    print("| shape MxNxK | ours GFLOP/s | % peak | OpenBLAS | oneDNN | ours / best library |"
          " ours 2 threads | 2-thread speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    g = lambda v: "-" if v is None else "%.1f" % (v / 1e9)
    x = lambda v: "-" if v is None else "%.2fx" % v
    big = ok = ahead = 0
    names = order if order else list(runs[0])
    shapes = [n.split("/", 2)[2] for n in names if n.startswith("gemm/%s/" % isa)]
    for shape in shapes:
        per = [cells(r, isa, shape) for r in runs if "gemm/%s/%s" % (isa, shape) in r]
        if not per:
            continue
        ours, ob, dn, mt, frac, ratio, up = (median(col) for col in zip(*per))
        print("| %s | %s | %.0f%% | %s | %s | %s | %s | %s |"
              % (shape, g(ours), 100 * frac, g(ob), g(dn), x(ratio), g(mt), x(up)))
        m, n, k = (int(v) for v in re.match(r"(\d+)x(\d+)x(\d+)", shape).groups())
        if min(m, n, k) >= 32:
            big += 1
            ok += frac >= 0.8
            ahead += ratio is not None and ratio >= 1.0
    print("\nShapes with M, N, K >= 32: %d; at >= 80%% of peak: %d; ahead of both libraries: %d"
          % (big, ok, ahead))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
