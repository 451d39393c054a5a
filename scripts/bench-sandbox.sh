#!/usr/bin/env bash
# make bench-sandbox: /bin/true under the `default` profile (all namespaces + pivot_root + cgroups
# + seccomp), side by side in one run, medians of >= 200 runs:
#   1. whole process: `wu sandbox exec` vs bwrap (same binds + the same seccomp filter, no cgroups)
#      vs `unshare` with all namespaces (the floor);
#   2. in process: spawn-to-exit as the runner pays it (wu-bench-sandbox) vs the same bwrap command,
#      with the sandbox prepared ahead (what wu-runner does: its profile's part made on a background
#      thread between units; never overlapping a measurement) and made at start (wu run).
# Needs root (cgroups), bubblewrap and python3 (make bench-deps installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-200}
SCRATCH=${SCRATCH:-.build}

[ "$(id -u)" = 0 ] || { echo "bench-sandbox needs root (cgroups)" >&2; exit 1; }
for tool in bwrap python3; do command -v $tool >/dev/null || { echo "missing $tool (make bench-deps)" >&2; exit 1; }; done

echo "== building wu (release, static stdlib)"
swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --product wu >/dev/null
WU="$SCRATCH/release/wu"
HAVE_INPROC=0
if grep -q '"wu-bench-sandbox"' Package.swift; then
    swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --product wu-bench-sandbox >/dev/null && HAVE_INPROC=1
fi

# Warm up: compiles the default profile's filter once into the root-owned cache.
"$WU" sandbox exec --profile default -- /bin/true
OUT=$(mktemp -d)
if [ "$HAVE_INPROC" = 1 ]; then
    # The very filter wu installs (the cache directory is shared with every other wu checkout).
    FILTER="$OUT/default.bpf"
    "$SCRATCH/release/wu-bench-sandbox" --write-filter "$FILTER"
else
    FILTER=$(ls -t /var/cache/wu/seccomp/*.bpf | head -1)
fi
echo "== seccomp filter (shared by wu and bwrap): $FILTER ($(stat -c %s "$FILTER") bytes)"

# The same binds as the default profile (symlinks replicated as symlinks).
BWRAP=(bwrap --unshare-all --die-with-parent --new-session --cap-drop ALL --ro-bind /usr /usr)
for p in /bin /sbin /lib /lib64 /lib32; do
    if [ -L "$p" ]; then BWRAP+=(--symlink "$(readlink "$p")" "$p"); elif [ -e "$p" ]; then BWRAP+=(--ro-bind "$p" "$p"); fi
done
for p in /etc/ld.so.cache /etc/alternatives /etc/localtime; do [ -e "$p" ] && BWRAP+=(--ro-bind "$p" "$p"); done
BWRAP+=(--proc /proc --dev /dev --tmpfs /tmp --dir /code --dir /in --dir /out --hostname wu --seccomp 9)
BWRAP_CMD="${BWRAP[*]} /bin/true 9<$FILTER"  # the last word: descriptor 9 opened on the filter
UNSHARE_CMD="unshare --fork --pid --mount --net --uts --ipc --user --map-root-user --mount-proc /bin/true"
WU_CMD="$WU sandbox exec --profile default --memory 256M --cpus 1 --pids 64 -- /bin/true"

echo "== 1. whole process, $RUNS runs each, interleaved"
# Interleaved (wu, bwrap, unshare, then the reverse order, and so on), each started with
# posix_spawn and waited for: the machine's drift over the run (these are shared machines) hits
# all three alike, which one block of runs per command (hyperfine) does not. Wall time from spawn
# to reaped, spawn included, so the ratios are if anything pulled towards 1.
python3 - "$RUNS" "$FILTER" "$WU_CMD" "$BWRAP_CMD" "$UNSHARE_CMD" <<'PY'
import os, shlex, statistics, sys, time
runs, filt = int(sys.argv[1]), sys.argv[2]
cmds = {"wu": sys.argv[3], "bwrap": sys.argv[4], "unshare": sys.argv[5]}
def once(cmd):
    argv = shlex.split(cmd)
    actions = []
    if argv[-1].startswith("9<"):  # the filter on descriptor 9, as bwrap --seccomp 9 reads it
        actions = [(os.POSIX_SPAWN_OPEN, 9, argv.pop()[2:], os.O_RDONLY, 0)]
    start = time.perf_counter_ns()
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
    _, status = os.waitpid(pid, 0)
    elapsed = (time.perf_counter_ns() - start) / 1e6
    if status != 0: sys.exit(f"{cmd!r} failed with status {status}")
    return elapsed
names = list(cmds)
for name in names:
    for _ in range(20): once(cmds[name])  # warm-up
times = {name: [] for name in names}
for i in range(runs):
    for name in (names if i % 2 == 0 else names[::-1]): times[name].append(once(cmds[name]))
med = {k: statistics.median(v) for k, v in times.items()}
for k in names:
    q = statistics.quantiles(times[k], n=4)
    print(f"  {k:8s} median {med[k]:7.2f} ms  (quartiles {q[0]:.2f} .. {q[2]:.2f} ms)")
print(f"  wu / bwrap   = {med['wu'] / med['bwrap']:.2f}x   (goal <= 1.0x; bwrap applies no cgroups)")
print(f"  wu / unshare = {med['wu'] / med['unshare']:.2f}x")
PY

if [ "$HAVE_INPROC" = 1 ]; then
    echo "== 2. in process (spawn-to-exit as the runner pays it), $RUNS runs each"
    # bwrap from the same process, the filter on descriptor 9.
    BW_ARGS=("${BWRAP[@]}" /bin/true)
    WU_BENCH_SECCOMP_FILE="$FILTER" "$SCRATCH/release/wu-bench-sandbox" "$RUNS" "${BW_ARGS[@]}" > "$OUT/inproc.json"
    python3 - "$OUT/inproc.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  bwrap median {r['bwrap_median_ms']:.2f} ms")
print(f"  wu, sandbox prepared ahead (as wu-runner runs units): median {r['wu_prepared_median_ms']:.2f} ms")
print(f"    wu / bwrap = {r['prepared_ratio']:.2f}x   (goal <= 0.5x)")
print(f"    CPU per start, preparing the next sandbox included: {r['wu_prepared_total_cpu_ms_per_start']:.2f} ms (goal < 5 ms)")
print(f"  wu, sandbox made at start (wu run, or no prepared sandbox left): median {r['wu_median_ms']:.2f} ms")
print(f"    wu / bwrap = {r['ratio']:.2f}x")
print(f"    runner CPU per start {r['wu_runner_cpu_ms_per_start']:.2f} ms; with the sandbox's own processes {r['wu_total_cpu_ms_per_start']:.2f} ms (goal < 5 ms)")
print(f"  the denied-syscall report: {r['wu_median_ms']:.2f} ms with it, {r['wu_without_report_median_ms']:.2f} ms without = {r['report_cost_ratio']:.2f}x (a unit denied nothing)")
PY
else
    echo "== 2. in process: skipped (Package.swift has no wu-bench-sandbox product yet)"
fi
rm -rf "$OUT"
