#!/usr/bin/env python3
"""Markdown table of catgan_bench's GEMM rows (docs/gemm.md) from one or more CSV runs.

Usage: bench/gemm_table.py [--isa avx512] run1.csv [run2.csv ...]
Each cell is the best FLOP/s over the runs; "% peak" is against the best `peak/<isa>` of the
same runs, so the fraction does not depend on a nominal clock. Rows whose M, N and K are all
>= 32 are summarised at the end (the issue's 80%-of-peak bar, and ours against the better of
OpenBLAS and oneDNN).
"""
import csv
import re
import sys


def load(paths):
    best = {}
    for path in paths:
        with open(path, newline="") as f:
            # Google Benchmark prints its context lines before the CSV header
            lines = [l for l in f if l.startswith(("name,", '"'))]
        for row in csv.DictReader(lines):
            if not row.get("flops"):
                continue
            name = re.sub(r"/threads:\d+(/real_time)?$", "", row["name"])
            best[name] = max(best.get(name, 0.0), float(row["flops"]))
    return best


def main(argv):
    isa = "avx512"
    if argv[:1] == ["--isa"]:
        isa, argv = argv[1], argv[2:]
    if not argv:
        sys.stderr.write(__doc__)
        return 2
    d = load(argv)
    peak = d.get("peak/" + isa)
    if not peak:
        sys.stderr.write("gemm_table.py: no peak/%s row in %s\n" % (isa, ", ".join(argv)))
        return 1
    g = lambda v: "-" if v is None else "%.1f" % (v / 1e9)
    print("Peak (peak/%s, best of %d run(s)): %.1f GFLOP/s per core\n" % (isa, len(argv), peak / 1e9))
    print("| shape MxNxK | ours GFLOP/s | % peak | OpenBLAS | oneDNN | ours / best library |"
          " ours 2 threads | 2-thread speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    big = ok = ahead = 0
    for name, ours in d.items():
        if not name.startswith("gemm/%s/" % isa):
            continue
        shape = name.split("/", 2)[2]
        libs = [d.get("gemm_openblas/" + shape), d.get("gemm_onednn/" + shape)]
        mt = d.get("gemm_mt/%s/%s" % (isa, shape))
        have = [v for v in libs if v]
        ratio = "%.2fx" % (ours / max(have)) if have else "-"
        print("| %s | %.1f | %.0f%% | %s | %s | %s | %s | %s |"
              % (shape, ours / 1e9, 100 * ours / peak, g(libs[0]), g(libs[1]), ratio, g(mt),
                 "%.2fx" % (mt / ours) if mt else "-"))
        m, n, k = (int(x) for x in re.match(r"(\d+)x(\d+)x(\d+)", shape).groups())
        if min(m, n, k) >= 32:
            big += 1
            ok += ours >= 0.8 * peak
            ahead += bool(have) and ours >= max(have)
    print("\nShapes with M, N, K >= 32: %d; at >= 80%% of peak: %d; ahead of both libraries: %d"
          % (big, ok, ahead))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
