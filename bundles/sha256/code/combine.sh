#!/bin/sh
# Lists every chunk's digest in chunk order, then a digest of that list.
set -eu
for unit in $(ls /in | sort); do printf '%s  %s\n' "$(cat "/in/$unit/sha256")" "$unit"; done > /out/chunks.sha256
sha256sum /out/chunks.sha256 | cut -d' ' -f1 > /out/sha256
cat /out/chunks.sha256
