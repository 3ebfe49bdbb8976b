#!/usr/bin/env bash
# Mean +- sample standard deviation of summary.json fields over run directories (the seeds of
# one bench/reproduce.sh NAME), for the tables of docs/results.md.
# usage: bench/aggregate.sh DIR...   e.g. bench/aggregate.sh runs/pi-mnist-100/s{1,2,3}
# FIELDS (default: the scores, iterations, seconds) picks the fields, space-separated.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: bench/aggregate.sh DIR... (each with summary.json)" >&2; exit 2; }
FIELDS=${FIELDS:-"test_error cluster_accuracy nmi kmeans_cluster_accuracy kmeans_nmi iterations epochs seconds"}
exec /usr/bin/python3 - "$FIELDS" "$@" <<'EOF'
import json, math, os, sys
fields, dirs = sys.argv[1].split(), sys.argv[2:]
runs = []
for d in dirs:
    p = os.path.join(d, "summary.json")
    try:
        runs.append(json.load(open(p)))
    except (OSError, ValueError) as e:
        sys.exit("aggregate.sh: %s: %s" % (p, e))
print("%d runs: %s" % (len(runs), " ".join(dirs)))
for f in fields:
    v = [r[f] for r in runs if r.get(f) is not None]
    if not v:
        continue
    m = sum(v) / len(v)
    # sample std (n - 1): three seeds are a sample of the seeds one could have drawn
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    vals = ", ".join("%.4g" % x for x in v)
    print("%-24s %.4f +- %.4f  (n=%d: %s)" % (f, m, sd, len(v), vals))
EOF
