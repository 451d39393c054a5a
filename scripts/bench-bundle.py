#!/usr/bin/env python3
"""make bench-bundle: wu pack / wu verify --extract against tar --zstd + sha256sum, side by side.

Builds a 1 GiB job (four large files and 10,000 small ones), then times, in alternating order:
  pack:            wu pack                     vs  sha256sum (every file) + tar --zstd -c
  verify+extract:  wu verify --extract         vs  tar --zstd -x + sha256sum -c
and prints the medians and the ratio wu/tar (goal: <= 1.0 for both).
"""
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WU = sys.argv[1] if len(sys.argv) > 1 else ".build/release/wu"
WORK = os.environ.get("BENCH_DIR", "/tmp/wu-bench-bundle")


def run(cmd, cwd=None):
    subprocess.run(cmd, shell=True, check=True, cwd=cwd, stdout=subprocess.DEVNULL)


def make_job(job):
    if os.path.exists(os.path.join(job, "wu.json")):
        return
    os.makedirs(os.path.join(job, "code"), exist_ok=True)
    os.makedirs(os.path.join(job, "inputs", "small"), exist_ok=True)
    with open(os.path.join(job, "wu.json"), "w") as spec:
        spec.write('{"name": "bench", "command": ["/bin/true"], "units": {"split": "inputs/large-*"}}\n')
    with open(os.path.join(job, "code", "run.sh"), "w") as code:
        code.write("#!/bin/sh\ntrue\n")
    # Large files: text-like data (base64 of random bytes compresses like real data, about 1.3:1).
    for i in range(4):
        run(f"head -c {180 << 20} /dev/urandom | base64 -w 76 > {job}/inputs/large-{i}.txt")
    rng = random.Random(7)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(4000)]
    for i in range(10_000):
        with open(os.path.join(job, "inputs", "small", f"s{i:05d}.txt"), "wb") as small:
            small.write(b" ".join(rng.choice(words) for _ in range(rng.randint(200, 1600))))


def timed(cmd, cwd=None, prepare=None):
    if prepare:
        prepare()
    start = time.perf_counter()
    run(cmd, cwd)
    return time.perf_counter() - start


def main():
    if not os.path.exists(WU):
        sys.exit(f"{WU} not found: build it with swift build -c release --product wu")
    job = os.path.join(WORK, "job")
    make_job(job)
    size = int(subprocess.check_output(["du", "-sb", job]).split()[0])
    print(f"job: {size / (1 << 30):.2f} GiB in {sum(len(f) for _, _, f in os.walk(job))} files; {ROUNDS} rounds, alternating")
    run(f"rm -f {WORK}/k.key {WORK}/k.pub && {WU} keygen {WORK}/k")

    wu_bundle, tar_bundle = f"{WORK}/job.wu", f"{WORK}/job.tar.zst"
    wu_out, tar_out = f"{WORK}/wu-out", f"{WORK}/tar-out"
    wu_pack = f"{WU} pack {job} -o {wu_bundle} --key {WORK}/k.key"
    tar_pack = f"find code inputs -type f -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS && tar --zstd -cf {tar_bundle} wu.json code inputs SHA256SUMS"
    wu_check = f"{WU} verify {wu_bundle} --trust {WORK}/k.pub --extract {wu_out}"
    tar_check = f"mkdir {tar_out} && tar --zstd -xf {tar_bundle} -C {tar_out} && cd {tar_out} && sha256sum -c --quiet SHA256SUMS"

    def clean(path):
        return lambda: shutil.rmtree(path, ignore_errors=True)

    results = {k: [] for k in ("wu pack", "tar pack", "wu verify+extract", "tar verify+extract")}
    run(wu_pack)
    run(tar_pack, cwd=job)  # warm the page cache for both
    for round_number in range(ROUNDS):
        order = [("wu", "tar"), ("tar", "wu")][round_number % 2]
        for who in order:
            if who == "wu":
                results["wu pack"].append(timed(wu_pack))
            else:
                results["tar pack"].append(timed(tar_pack, cwd=job))
        for who in order:
            if who == "wu":
                results["wu verify+extract"].append(timed(wu_check, prepare=clean(wu_out)))
            else:
                results["tar verify+extract"].append(timed(tar_check, prepare=clean(tar_out)))
    medians = {k: statistics.median(v) for k, v in results.items()}
    print(f"bundle sizes: wu {os.path.getsize(wu_bundle) / (1 << 20):.0f} MiB, tar {os.path.getsize(tar_bundle) / (1 << 20):.0f} MiB")
    for k, v in medians.items():
        print(f"{k:>20}: {v:6.2f} s (median of {ROUNDS})")
    for step in ("pack", "verify+extract"):
        ratio = medians[f"wu {step}"] / medians[f"tar {step}"]
        print(f"ratio wu/tar {step}: {ratio:.2f} (goal <= 1.0)")
    shutil.rmtree(wu_out, ignore_errors=True)
    shutil.rmtree(tar_out, ignore_errors=True)


if __name__ == "__main__":
    main()
