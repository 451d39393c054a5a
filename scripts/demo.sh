#!/usr/bin/env bash
# make demo: what a requester does with wu, on this machine, in a temporary directory.
set -euo pipefail
bin=$(cd "${1:-.build/debug}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/wu-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
wu="$bin/wu"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "a requester's signing key"
(cd "$work" && "$wu" keygen requester)

for job in hello wordcount sha256; do
  step "pack and verify bundles/$job"
  "$wu" pack "$root/bundles/$job" -o "$work/$job.wu" --key "$work/requester.key"
  "$wu" verify "$work/$job.wu" --trust "$work/requester.pub"
done

step "inspect wordcount.wu (no trust needed to look)"
"$wu" inspect "$work/wordcount.wu"

step "a tampered bundle is refused"
cp "$work/hello.wu" "$work/tampered.wu"
printf '\x00' | dd of="$work/tampered.wu" bs=1 seek=200 conv=notrunc status=none
if "$wu" verify "$work/tampered.wu" --trust "$work/requester.pub"; then
  echo "a tampered bundle verified: this is a bug" >&2; exit 1
else
  echo "(refused, exit $?, as it should be)"
fi

if "$wu" help run >/dev/null 2>&1; then
  step "run every unit of wordcount locally in the sandbox (wu run)"
  "$wu" run "$work/wordcount.wu" --trust "$work/requester.pub" -o "$work/results"
  echo; echo "word counts (aggregate):"; head -20 "$work/results/aggregate/out/counts.tsv"
fi
printf '\ndemo finished\n'
