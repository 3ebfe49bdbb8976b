#!/usr/bin/env bash
# Set up catgan on Debian 12 (as root, or with sudo): install the Debian packages that are
# missing, configure and build with Meson in ./build. With the argument "test", also run every
# test: the Criterion suite, the same suite under ASan+UBSan (scripts/sanitize.sh) and each
# libFuzzer harness for 20 s (scripts/fuzz.sh). This is what CI runs.
#   bash scripts/setup.sh        # install + build
#   bash scripts/setup.sh test   # install + build + every test (about 13 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(gcc g++ meson ninja-build pkg-config python3 libsleef-dev libcriterion-dev
      libbenchmark-dev zlib1g-dev libpng-dev libcairo2-dev libopenmpi-dev openmpi-bin)
# the sanitizer and fuzzing runs need clang, its runtimes (libFuzzer, ASan) and its OpenMP
[ "${1:-}" = "test" ] && pkgs+=(clang-14 libclang-rt-14-dev libomp-14-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

if [ ! -f build/build.ninja ]; then
    meson setup build -Dwerror=true >/dev/null
fi
meson compile -C build >/dev/null || meson compile -C build

[ "${1:-}" = "test" ] || exit 0

# Criterion writes its summary to stderr: show each binary's line, then the totals.
summarise() {
    python3 - "$@" <<'PY'
import re, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path, errors="replace")
    except OSError:
        continue
    for line in lines:
        m = re.search(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)", line)
        if m:
            t, p, f, c = map(int, m.groups())
            passed += p; failed += f + c; skipped += t - p - f - c
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
}

rc=0
echo "== unit tests (build/)" >&2
meson test -C build --print-errorlogs --num-processes 2 || rc=1
grep -h "Synthesis" build/meson-logs/testlog.txt || true
echo "== the same tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)" >&2
bash scripts/sanitize.sh || rc=1
grep -h "Synthesis" build-asan/meson-logs/testlog.txt || true
echo "== libFuzzer harnesses, 20 s each (build-fuzz/)" >&2
bash scripts/fuzz.sh 20 || rc=1
summarise build/meson-logs/testlog.txt build-asan/meson-logs/testlog.txt
exit $rc
