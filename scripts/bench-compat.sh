#!/usr/bin/env bash
# make bench-compat: CPython's own regression tests (Debian's libpython3.11-testsuite) on the host
# as nobody, under bubblewrap with every namespace, and under `wu sandbox exec --profile default`
# (host mode): per mode, the share of the host's passing cases that pass, and per module the cases
# lost (scripts/bench-compat.py). Not part of `make test`: it takes tens of minutes.
# Needs root (cgroups, and to run the reference as nobody). COMPAT_MODULES="test_os test_pwd" runs
# fewer modules; results stay in .build/bench-compat (an existing report of a module is reused:
# remove the directory for a fresh run).
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "bench-compat needs root (cgroups, runuser)" >&2; exit 1; }
missing=""
for p in libpython3.11-testsuite bubblewrap python3.11; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    echo "== installing:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi

echo "== building wu"
swift build --product wu >/dev/null
args=(--wu .build/debug/wu --results "${RESULTS:-.build/bench-compat}")
[ -n "${COMPAT_MODULES:-}" ] && args+=(--modules "$COMPAT_MODULES")
python3 scripts/bench-compat.py "${args[@]}"
