#!/usr/bin/env bash
# Set up catgan on Debian 12 (as root): install the missing Debian packages, configure and
# build with Meson in ./build. With the argument "test", also run every test.
#   bash scripts/setup.sh        # install + build
#   bash scripts/setup.sh test   # install + build + meson test (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(gcc g++ meson ninja-build pkg-config libsleef-dev libcriterion-dev libbenchmark-dev
      zlib1g-dev libpng-dev libcairo2-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f build/build.ninja ]; then
    meson setup build -Dwerror=true >/dev/null
fi
meson compile -C build >/dev/null || meson compile -C build

if [ "${1:-}" = "test" ]; then
    rc=0
    meson test -C build --print-errorlogs --num-processes 2 || rc=$?
    # Criterion writes its summary to stderr; show each binary's line and the total.
    python3 - build/meson-logs/testlog.txt <<'PY' || rc=1
import re, sys
passed = failed = skipped = 0
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)", line)
    if m:
        print(line.strip())
        t, p, f, c = map(int, m.groups())
        passed += p; failed += f + c; skipped += t - p - f - c
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
    exit $rc
fi
