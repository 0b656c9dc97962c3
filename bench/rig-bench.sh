#!/bin/bash
# rig-bench.sh [CARTABLE]: flash time on emulated USB keys throttled by QEMU to 12 MiB/s
# write and 24 MiB/s read (a common USB 2 key), in the e2e rig's guest (tests/e2e).
#   - one key: its flash (probe, layout, write, read-back) against its physical limit,
#     bytes written / write rate + bytes read / read rate, bytes from flash --json;
#   - 1, 4 and 8 keys at once (parallel cartable flash processes) against one after another
#     and against parallel dd of the same bytes (write, then read back, O_DIRECT).
# Prints a Markdown table. Goals: one key <= 1.10 x its limit, 8 at once <= 1.15 x one.
# Not a test: the figures go to the README's Benchmarks section. Needs root and
# tests/e2e/install-deps; boots one guest (about 3 minutes here).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export CARTABLE=${1:-${CARTABLE:-$top/build/cmd/cartable}}
export BUILD_ROOT=${BUILD_ROOT:-$top/build}
source "$top/tests/e2e/rig.sh"
WRITE_BPS=12582912 READ_BPS=25165824

rig_prepare
rig_scenario bench
for i in 1 2 3 4 5 6 7 8; do
        stick b$i BENCH00$i "throttling.bps-write=$WRITE_BPS,throttling.bps-read=$READ_BPS"
done
rig_boot
rig_wait 900
console | grep -q '^@@ BENCH_FAIL' && fail "$(console | grep '^@@ BENCH_FAIL')"

# One key: wall time, each step's time (from the timestamps of its JSON step events).
block one >"$RUN/one.tj"
result=$(grep '"event":"result"' "$RUN/one.tj" | cut -d' ' -f2-)
echo "$result" | jq -e '.outcome == "ok"' >/dev/null || fail "one key's flash: $result"
w=$(echo "$result" | jq .bytes_written); r=$(echo "$result" | jq .bytes_read)
wall=$(console | sed -n 's/^@@ BENCH one .*wall=//p')
start=$(console | sed -n 's/^@@ BENCH one start=\([^ ]*\) .*/\1/p')
limit=$(echo "scale=3; $w / $WRITE_BPS + $r / $READ_BPS" | bc)
steps=$(awk -v start="$start" 'NR == 1 { printf "release check %.2f s, ", $1 - start } { t = $1; sub(/^[^ ]* /, ""); if ($0 ~ /"event":"step"/) { match($0, /"step":"[^"]*"/);
        s = substr($0, RSTART + 8, RLENGTH - 9); if (prev != "") printf "%s %.2f s, ", prev, t - pt; prev = s; pt = t } }' "$RUN/one.tj" |
        sed 's/, done.*//; s/, $//')
ratio() { echo "scale=2; $1 / $2" | bc | sed 's/^\./0./'; }

echo
echo "Rig benchmark, $(date -u +%Y-%m-%d), keys throttled to 12 MiB/s write, 24 MiB/s read (QEMU, TCG, $(nproc) cores)"
echo
echo "| measure | time | against | ratio |"
echo "|---|---|---|---|"
echo "| one key, $(echo "scale=1; $w / 1048576" | bc) MiB written, $(echo "scale=1; $r / 1048576" | bc) MiB read back | $wall s | physical limit $limit s | $(ratio "$wall" "$limit") |"
echo "| its steps | $steps | | |"
for n in 1 4 8; do
        line=$(console | grep "^@@ BENCH n=$n ")
        seq=$(echo "$line" | sed 's/.* seq=\([^ ]*\).*/\1/'); par=$(echo "$line" | sed 's/.* par=\([^ ]*\).*/\1/')
        dd=$(echo "$line" | sed 's/.* dd=\([^ ]*\).*/\1/')
        echo "| $n at once | $par s | one after another $seq s; parallel dd $dd s; one key $wall s | $(ratio "$par" "$seq") × sequential, $(ratio "$par" "$dd") × dd, $(ratio "$par" "$wall") × one |"
done
