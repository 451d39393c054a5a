"""Sums every unit's /in/<unit>/counts.tsv into /out/counts.tsv and prints the ten most frequent words."""
import collections
import os

totals = collections.Counter()
for unit in sorted(os.listdir("/in")):
    path = os.path.join("/in", unit, "counts.tsv")
    if not os.path.isfile(path):
        continue
    with open(path, encoding="utf-8") as counts:
        for line in counts:
            word, count = line.rstrip("\n").split("\t")
            totals[word] += int(count)

with open("/out/counts.tsv", "w", encoding="utf-8") as out:
    for word in sorted(totals):
        out.write(f"{word}\t{totals[word]}\n")
for word, count in sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:10]:
    print(f"{count:6d} {word}")
