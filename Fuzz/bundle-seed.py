#!/usr/bin/env python3
"""Turns a packed bundle (.wu) into a seed of the bundle fuzz target (docs/fuzzing.md):
the manifest's bytes, a NUL, then the tar stream after WU-SIGNATURE (the harness signs anew).
usage: zstd -dc job.wu | Fuzz/bundle-seed.py > Fuzz/corpus/bundle/seed-job"""
import io, sys, tarfile

data = sys.stdin.buffer.read()
with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
    members = tar.getmembers()
    assert [m.name for m in members[:2]] == ["WU-MANIFEST.json", "WU-SIGNATURE"], "not a wu bundle"
    manifest = tar.extractfile(members[0]).read()
    payload = members[2].offset if len(members) > 2 else members[1].offset_data + ((members[1].size + 511) // 512) * 512
end = len(data.rstrip(b"\0"))
end = (end + 511) // 512 * 512
sys.stdout.buffer.write(manifest + b"\0" + data[payload:end] + b"\0" * 1024)
