#!/bin/sh
# Writes a greeting to /out and reports progress.
echo "hello, ${1:-nobody}, from unit $WU_UNIT_ID of job $WU_JOB_ID" > /out/greeting.txt
echo 1 > "$WU_PROGRESS"
cat /out/greeting.txt
