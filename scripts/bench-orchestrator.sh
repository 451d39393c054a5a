#!/usr/bin/env bash
# make bench-orchestrator: a real wu-orchestrator on loopback with an empty data dir, one job of
# UNITS trivial units (replicas 1), K simulated runners in one load process looping claim -> PUT ->
# complete, as a runner does (each unit packs and uploads its own output archive; the server checks
# it on complete). Prints units/s, claim/PUT/complete p50/p99, duplicate claims, the server's peak
# RSS and CPU per unit, once per SQLite synchronous mode (normal, full).
#
# Environment: UNITS (20000), RUNNERS (8), MODES ("normal full"), SWIFT (swift), SCRATCH (.build),
# BIN (skip the build and use this wu-orchestrator), SERVER_BIN (serve with this one instead, e.g.
# another commit's, under the same load).
set -euo pipefail
cd "$(dirname "$0")/.."
UNITS=${UNITS:-20000}
RUNNERS=${RUNNERS:-8}
MODES=${MODES:-normal full}
SWIFT=${SWIFT:-swift}
SCRATCH=${SCRATCH:-.build}

if [ -z "${BIN:-}" ]; then
  "$SWIFT" build -c release --scratch-path "$SCRATCH" --product wu-orchestrator >&2
  BIN="$SCRATCH/release/wu-orchestrator"
fi

SERVER=${SERVER_BIN:-$BIN}

WORK=$(mktemp -d /tmp/wu-bench-orch.XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "packing a job of $UNITS units..." >&2
"$BIN" bench-load --pack "$WORK/bundle" --units "$UNITS"

echo "machine: $(nproc) cores, $(uname -r); units=$UNITS runners=$RUNNERS"
for MODE in $MODES; do
  DATA="$WORK/data-$MODE"
  REQ=$("$SERVER" token create --data-dir "$DATA" --init --role requester --name bench-requester)
  RUN=$("$SERVER" token create --data-dir "$DATA" --role runner --name bench-runners)
  "$SERVER" keys add --data-dir "$DATA" --name bench "$WORK/bundle/bench.key.pub" >/dev/null
  "$SERVER" serve --data-dir "$DATA" --listen 127.0.0.1:0 --synchronous "$MODE" >"$WORK/server-$MODE.out" 2>"$WORK/server-$MODE.err" &
  SERVER_PID=$!
  PORT=""
  for _ in $(seq 1 100); do
    PORT=$(grep -o '127.0.0.1:[0-9]*' "$WORK/server-$MODE.out" 2>/dev/null | head -1 | cut -d: -f2 || true)
    [ -n "$PORT" ] && break
    sleep 0.1
  done
  [ -n "$PORT" ] || { echo "the server did not start:"; cat "$WORK/server-$MODE.err"; exit 1; }
  echo
  echo "== synchronous=$MODE =="
  STATUS=0
  "$BIN" bench-load --port "$PORT" --requester-token "$REQ" --runner-token "$RUN" --bundle "$WORK/bundle/bench.wu" --runners "$RUNNERS" || STATUS=$?
  RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
  echo "server peak RSS:   $((RSS_KB / 1024)) MiB"
  # CPU the server burned, per unit: less sensitive than units/s to other load on a shared machine.
  TICKS=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
  HZ=$(getconf CLK_TCK)
  awk -v t="$TICKS" -v hz="$HZ" -v n="$UNITS" 'BEGIN { printf "server CPU:        %.1f s (%.3f ms per unit)\n", t / hz, 1000 * t / hz / n }'
  echo "load average:      $(cut -d' ' -f1-3 /proc/loadavg)"
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || true
  SERVER_PID=""
  [ "$STATUS" = 0 ] || { echo "synchronous=$MODE failed"; exit "$STATUS"; }
done
