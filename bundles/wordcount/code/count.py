"""Counts the words of one text file (the last argument) into /out/counts.tsv, sorted, one 'word<TAB>count' a line."""
import collections
import re
import sys

counts = collections.Counter()
with open(sys.argv[-1], encoding="utf-8") as text:
    for line in text:
        counts.update(word.lower() for word in re.findall(r"[A-Za-z']+", line))

with open("/out/counts.tsv", "w", encoding="utf-8") as out:
    for word in sorted(counts):
        out.write(f"{word}\t{counts[word]}\n")
print(f"{sum(counts.values())} words, {len(counts)} distinct")
