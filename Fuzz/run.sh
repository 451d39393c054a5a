#!/usr/bin/env bash
# Runs each fuzz target for SECONDS on its corpus (Fuzz/corpus/<target>), then shrinks the corpus to
# the inputs that add coverage. Stops at the first crash with the reproducer's path (docs/fuzzing.md).
# usage: Fuzz/run.sh WU_FUZZ_BINARY SECONDS TARGET...
set -euo pipefail
# Crashes go to libFuzzer and AddressSanitizer, not to the Swift runtime's backtracer (which outlives the run).
export SWIFT_BACKTRACE=enable=no
fuzzer=$1 seconds=$2
shift 2
cd "$(dirname "$0")/.."
for target in "$@"; do
    corpus=Fuzz/corpus/$target
    crashes=.build-fuzz/crashes/$target
    mkdir -p "$corpus" "$crashes"
    echo "== $target: ${seconds}s on $corpus (log: .build-fuzz/$target.log)"
    # -timeout: an input that takes 10 s is a hang, reported like a crash.
    if ! "$fuzzer" "$target" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$crashes/" "$corpus" > ".build-fuzz/$target.log" 2>&1; then
        tail -n 30 ".build-fuzz/$target.log"
        echo "wu-fuzz $target found a crash; reproducer: $(ls -t "$crashes"/* | head -n 1)" >&2
        echo "replay it with: $fuzzer $target <reproducer>; fix, then add it to $corpus (docs/fuzzing.md)" >&2
        exit 1
    fi
    grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|Done )" ".build-fuzz/$target.log" | tail -n 2
    # Keep the corpus small: drop libFuzzer's own inputs (named by SHA-1) that add no coverage;
    # named seeds and reproducers always stay.
    kept=$(mktemp -d)
    if "$fuzzer" "$target" -merge=1 "$kept" "$corpus" > ".build-fuzz/$target.merge.log" 2>&1 && [ -n "$(ls "$kept")" ]; then
        for file in "$corpus"/*; do
            name=$(basename "$file")
            if [[ $name =~ ^[0-9a-f]{40}$ && ! -e $kept/$name ]]; then rm -f "$file"; fi
        done
    else
        echo "   the merge failed (.build-fuzz/$target.merge.log); the corpus is left as it is" >&2
    fi
    rm -rf "$kept"
    # ...and under FUZZ_CORPUS_KB (128 KiB) per target, so the replay in `make test` stays in seconds:
    # the largest of libFuzzer's inputs go first.
    limit=$(( ${FUZZ_CORPUS_KB:-128} * 1024 ))
    total=$(find "$corpus" -type f -printf '%s\n' | awk '{ sum += $1 } END { print sum + 0 }')
    for name in $(ls -S "$corpus" | grep -E '^[0-9a-f]{40}$' || true); do
        [ "$total" -le "$limit" ] && break
        total=$(( total - $(stat -c %s "$corpus/$name") ))
        rm -f "$corpus/$name"
    done
    echo "   corpus: $(ls "$corpus" | wc -l) inputs, $(du -sh --apparent-size "$corpus" | cut -f1) (FUZZ_CORPUS_KB counts bytes, not disk blocks)"
done
