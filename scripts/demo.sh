#!/usr/bin/env bash
# make demo: the main job end to end on this machine, as DESIGN.md describes it.
#
# An orchestrator on loopback with the embedded SQLite in a temporary data dir, a requester key,
# three volunteers (one runner token each) capped at one core and 512M, `bundles/wordcount` (2 replicas, quorum 2)
# packed, submitted and waited for, then the word counts, the leaderboard and each unit's usage.
# Everything is stopped on exit, also on Ctrl-C. WU_DEMO_PAUSE=SECONDS keeps the dashboard up before
# the job starts and after it ends, to watch it live (its address and an operator token are printed).
set -euo pipefail
bin=$(cd "${1:-.build/debug}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/wu-demo.XXXXXX)
chmod 711 "$work"  # runners keep their unit directories here: sandboxed units must be able to pass through
port=${WU_DEMO_PORT:-$((20000 + RANDOM % 20000))}
pids=()

cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # Runners drain for up to --drain-timeout; anything still alive after 15 s is killed.
  for _ in $(seq 150); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "interrupted: stopping everything"; exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wu() { "$bin/wu" "$@"; }
orch() { "$bin/wu-orchestrator" "$@" --data-dir "$work/data"; }

step "orchestrator on http://127.0.0.1:$port (SQLite in $work/data)"
"$bin/wu-orchestrator" serve --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/orchestrator.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/health" >/dev/null || { cat "$work/orchestrator.log"; exit 1; }
export WU_ORCHESTRATOR="http://127.0.0.1:$port"

step "tokens and the requester's key"
requester_token=$(orch token create --role requester --name demo-requester)
admin_token=$(orch token create --role admin --name demo-operator)
(cd "$work" && wu keygen requester)
orch keys add --name requester "$work/requester.pub"

printf '\ndashboard: http://127.0.0.1:%s/  (sign in with the operator token %s)\n' "$port" "$admin_token"
if [ -n "${WU_DEMO_PAUSE:-}" ]; then
  echo "(WU_DEMO_PAUSE: waiting $WU_DEMO_PAUSE s so you can open the dashboard before the job starts)"
  sleep "$WU_DEMO_PAUSE"
fi

# Each volunteer gets its own runner token: copies of one unit go to distinct tokens, so three
# runners under one token would count as one volunteer and a quorum of 2 could never be reached.
step "three volunteers, each with its own runner token and capped at 1 cpu, 512M memory, 1G disk"
for i in 1 2 3; do
  runner_token=$(orch token create --role runner --name "volunteer-$i")
  "$bin/wu-runner" --token "$runner_token" --cpus 1 --memory 512M --disk 1G --max-units 2 --drain-timeout 5 \
    --work-dir "$work/runner-$i" --trust "$work/requester.pub" --name "volunteer-$i" --claim-wait 5 \
    >"$work/runner-$i.log" 2>&1 &
  pids+=($!)
done

step "pack bundles/wordcount (3 texts, 2 replicas each, quorum 2, then an aggregate)"
wu pack "$root/bundles/wordcount" -o "$work/wordcount.wu" --key "$work/requester.key"

step "try it locally first: wu run (the same sandbox, no orchestrator)"
wu run "$work/wordcount.wu" --trust "$work/requester.pub" -o "$work/local"

step "submit it"
export WU_TOKEN="$requester_token"
job=$(wu submit "$work/wordcount.wu")

step "wait for job $job"
wu wait "$job" --timeout 300

step "word counts (top 10 of the aggregate)"
wu results "$job" -o "$work/results"
sort -t$'\t' -k2,2nr -k1,1 "$work/results/aggregate/out/counts.tsv" | head -10
cmp -s "$work/results/aggregate/out/counts.tsv" "$work/local/aggregate/out/counts.tsv" \
  && echo "(the same as the local run, byte for byte)" || { echo "the remote result differs from the local run" >&2; exit 1; }

step "leaderboard"
wu leaderboard

step "each unit's usage"
wu status "$job"

step "a tampered bundle is refused before it reaches anyone"
cp "$work/wordcount.wu" "$work/tampered.wu"
printf '\x00' | dd of="$work/tampered.wu" bs=1 seek=300 conv=notrunc status=none
if wu submit "$work/tampered.wu" 2>"$work/refusal.txt"; then echo "a tampered bundle was accepted: this is a bug" >&2; exit 1; fi
echo "refused: $(cat "$work/refusal.txt")"

if [ -n "${WU_DEMO_PAUSE:-}" ]; then
  echo "(WU_DEMO_PAUSE: the dashboard stays up for $WU_DEMO_PAUSE s more)"
  sleep "$WU_DEMO_PAUSE"
fi
printf '\ndemo finished; stopping the runners and the orchestrator\n'
