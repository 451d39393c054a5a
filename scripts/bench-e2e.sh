#!/usr/bin/env bash
# make bench-e2e: UNITS trivial units (/bin/true, replicas 1) through 2 real runners on this machine,
# with a real orchestrator on loopback. Prints units/s end to end and the overhead per unit: the time a
# runner slot spends per unit (claim + fetch + verify + sandbox + pack + upload + complete) minus the
# unit's own measured wall time. Goal: >= 80 units/s and < 25 ms overhead per unit on 2 cores.
#
# Environment: UNITS (1000), RUNNERS (2), SLOTS per runner (2), SCRATCH (.build), BIN (prebuilt binaries),
# KEEP_LOGS (a directory to copy the logs to).
set -euo pipefail
cd "$(dirname "$0")/.."
UNITS=${UNITS:-1000}
RUNNERS=${RUNNERS:-2}
SLOTS=${SLOTS:-2}
SCRATCH=${SCRATCH:-.build}
[ "$(id -u)" = 0 ] || { echo "bench-e2e needs root (runners use namespaces and cgroups)" >&2; exit 1; }

if [ -z "${BIN:-}" ]; then
  swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" >&2
  BIN="$SCRATCH/release"
fi

BIN=$(cd "$BIN" && pwd)
work=$(mktemp -d /tmp/wu-bench-e2e.XXXXXX)
chmod 711 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # KEEP_LOGS=DIR keeps the runners' logs (each unit's prepare_ms, sandbox_ms, pack_ms) for a closer look.
  if [ -n "${KEEP_LOGS:-}" ]; then mkdir -p "$KEEP_LOGS" && cp "$work"/*.log "$KEEP_LOGS"/; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 20000))
"$BIN/wu-orchestrator" serve --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/orchestrator.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
export WU_ORCHESTRATOR="http://127.0.0.1:$port"
export WU_TOKEN=$("$BIN/wu-orchestrator" token create --role requester --name bench --data-dir "$work/data")
runner_token=$("$BIN/wu-orchestrator" token create --role runner --name bench-runners --data-dir "$work/data")
(cd "$work" && "$BIN/wu" keygen bench >/dev/null)
"$BIN/wu-orchestrator" keys add --name bench "$work/bench.pub" --data-dir "$work/data" >/dev/null

mkdir -p "$work/job/code"
echo "trivial" > "$work/job/code/README"
python3 - "$work/job/wu.json" "$UNITS" <<'PY'
import json, sys
units = [{"id": f"u{i:05d}"} for i in range(int(sys.argv[2]))]
json.dump({"name": "trivial", "command": ["/bin/true"], "resources": {"cpus": 0.25, "memory": "64M", "disk": "1M", "wall_time": "10s", "pids": 8},
           "units": units}, open(sys.argv[1], "w"))
PY
"$BIN/wu" pack "$work/job" -o "$work/trivial.wu" --key "$work/bench.key" >/dev/null

for i in $(seq "$RUNNERS"); do
  "$BIN/wu-runner" --token "$runner_token" --cpus 1 --memory 1G --disk 2G --max-units "$SLOTS" --claim-wait 5 \
    --work-dir "$work/runner-$i" --trust "$work/bench.pub" --name "bench-$i" >"$work/runner-$i.log" 2>&1 &
  pids+=($!)
done
sleep 1

start=$(date +%s.%N)
job=$("$BIN/wu" submit "$work/trivial.wu" 2>/dev/null)
"$BIN/wu" wait "$job" --timeout 600 >/dev/null
end=$(date +%s.%N)
"$BIN/wu" status "$job" --json >"$work/status.json"

python3 - "$work/status.json" "$start" "$end" "$RUNNERS" "$SLOTS" <<'PY'
import json, sys
status = json.load(open(sys.argv[1]))
start, end, runners, slots = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
copies = [c for u in status["units"] for c in u["copies"] if c["state"] == "valid"]
elapsed = end - start
n = len(copies)
own = sum(c["usage"]["wall_ms"] for c in copies) / max(n, 1)
per_slot_ms = elapsed * 1000 * runners * slots / max(n, 1)
print(f"units: {n} valid of {len(status['units'])}, {runners} runners x {slots} slots, {elapsed:.2f} s from submit to completed")
print(f"throughput: {n / elapsed:.1f} units/s (goal >= 80)")
print(f"slot time per unit: {per_slot_ms:.1f} ms; the unit's own wall time: {own:.1f} ms")
print(f"overhead per unit: {per_slot_ms - own:.1f} ms (goal < 25 ms)")
PY
