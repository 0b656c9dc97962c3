#!/bin/bash
# rig-bench.sh [CARTABLE]: flash time on emulated USB keys throttled by QEMU to 12 MiB/s
# write and 24 MiB/s read (a common USB 2 key), in the e2e rig's guest (tests/e2e):
#   - one key: its flash (probe, layout, write, read-back) against its physical limit,
#     bytes written / write rate + bytes read / read rate, bytes from the key's report;
#   - 1, 4 and 8 keys at once in ONE cartable batch (the release checked once per batch)
#     against the same keys flashed one after another (cartable flash, a process each)
#     and against parallel dd of the bytes one key uses (O_DIRECT, no read-back);
#   - the same with a realistic release of BIG_MIB MiB (default 128; 0 skips it), built
#     here at bench time: one key, then eight at once;
#   - keys per hour for a class of 30 on one 8-port hub.
# Prints a Markdown table. Goals: one key <= 1.10 x its limit, 8 at once <= 1.15 x one.
# Not a test: the figures go to docs/benchmarks.md. Needs root and
# tests/e2e/install-deps; boots one guest. About 4 minutes here (2 shared cores); its own
# work directory (BUILD/bench/rig-work), so the e2e suite's guest stays small.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export CARTABLE=${1:-${CARTABLE:-$top/build/cmd/cartable}}
export BUILD_ROOT=${BUILD_ROOT:-$(dirname "$(dirname "$(realpath "$CARTABLE")")")}
export E2E_WORK=${E2E_WORK:-$BUILD_ROOT/bench/rig-work}
BIG_MIB=${BIG_MIB:-128}
source "$top/tests/e2e/rig.sh"
WRITE_BPS=12582912 READ_BPS=25165824
T0=$(now)

rig_prepare
big=$E2E_WORK/guest/big.cart
if [ "$BIG_MIB" -gt 0 ] && stale "$big" "$CARTABLE" "$E2E_WORK/guest/test.pub"; then
        # Course videos of 8 MiB each, incompressible, on top of the example release.
        rm -rf "$E2E_WORK/big" "$big"; mkdir -p "$E2E_WORK/big/Ressources/videos"
        for i in $(seq $(( (BIG_MIB + 7) / 8 ))); do
                head -c 8M /dev/urandom >"$E2E_WORK/big/Ressources/videos/video-$i.mp4"
        done
        "$CARTABLE" image build "$top/images/ent-college" "$E2E_WORK/big" --key "$E2E_WORK/test.key" --output "$big" -q
        rig_prepare     # the station image again, with the big release
fi
# Without it: a station image without it.
[ "$BIG_MIB" -gt 0 ] || [ ! -e "$big" ] || { rm -f "$big" "$E2E_WORK/initrd.gz"; rig_prepare; }
rig_scenario bench
# The keys' images in memory (RIG_KEYS_DIR, default under /dev/shm; up to 150 MiB of each
# key is written): a key's speed is then QEMU's throttle, not the latency of this host's
# disk under other work, which no USB key has.
KEYS=${RIG_KEYS_DIR:-/dev/shm}/cartable-rig-bench.$$
mkdir -p "$KEYS"
for i in 1 2 3 4 5 6 7 8; do
        ln -sf "$KEYS/b$i.img" "$RUN/b$i.img"
        stick b$i BENCH00$i "throttling.bps-write=$WRITE_BPS,throttling.bps-read=$READ_BPS"
done
load0=$(cut -d' ' -f1-3 /proc/loadavg)
rig_boot
trap 'rig_kill; rm -rf "$KEYS"' EXIT
rig_wait 1500
rm -rf "$KEYS"
load1=$(cut -d' ' -f1-3 /proc/loadavg)
console | grep -q '^@@ BENCH_FAIL' && fail "$(console | grep '^@@ BENCH_FAIL')"

val() { console | sed -n "s/^@@ BENCH $1 .*$2=\([^ ]*\).*/\1/p" | head -1; }
calc() { echo "scale=${3:-2}; $1 / $2" | bc | sed 's/^\./0./'; }
mib() { echo "scale=1; $1 / 1048576" | bc | sed 's/^\./0./'; }
limit() { echo "scale=3; $1 / $WRITE_BPS + $2 / $READ_BPS" | bc | sed 's/^\./0./'; }
# steps FILE START: each step's time from the stamped events (first line: the release check).
steps() {
        awk -v start="$2" 'NR == 1 && $0 ~ /"event":"(step|added)"/ { printf "start %.2f s, ", $1 - start }
                { t = $1; sub(/^[^ ]* /, "") } /"event":"started"/ { prev = "open and check"; pt = t }
                /"event":"step"/ { match($0, /"step":"[^"]*"/)
                  s = substr($0, RSTART + 8, RLENGTH - 9); if (prev != "") printf "%s %.2f s, ", prev, t - pt; prev = s; pt = t }
                /"event":"(done|result)"/ && prev != "" { printf "%s %.2f s", prev, t - pt; prev = "" }' "$1" | sed 's/, $//'
}
# The done events of a batch block: per key seconds (max), bytes written and read (one key).
batch_get() { block "$1" | cut -d' ' -f2- | jq -s "[.[] | select(.event == \"done\")] | $2"; }

# One synchronous 4 KiB I/O on a throttled key.
rt_r=$(calc "$(val roundtrip read4k)" 0.2 1); rt_w=$(calc "$(val roundtrip write4k)" 0.2 1)
rt_p=$(calc "$(val roundtrip par4k)" 0.2 1)

# One key with cartable flash (a process: it checks the release itself).
block one >"$RUN/one.tj"
result=$(grep -E '"event":"result"' "$RUN/one.tj" | cut -d' ' -f2-)
echo "$result" | jq -e '.outcome == "ok"' >/dev/null || fail "one key's flash: $result"
w=$(echo "$result" | jq .bytes_written); r=$(echo "$result" | jq .bytes_read)
lim=$(limit "$w" "$r")
one_wall=$(val one wall)
one_steps=$(awk -v start="$(val one start)" 'NR == 1 { printf "release check %.2f s, ", $1 - start }
        { t = $1; sub(/^[^ ]* /, "") } /"event":"step"/ { match($0, /"step":"[^"]*"/); s = substr($0, RSTART + 8, RLENGTH - 9)
          if (prev != "") printf "%s %.2f s, ", prev, t - pt; prev = s; pt = t }' "$RUN/one.tj" | sed 's/, done.*//; s/, $//')

# A batch row: NAME (block), N keys; sets b_wall, b_key (slowest key's own seconds), b_w, b_r.
batch_row() {
        b_wall=$(val "$1" wall)
        [ "$(batch_get "$1" length)" = "$2" ] || fail "$1: $(batch_get "$1" length) keys done, expected $2"
        b_key=$(printf %.2f "$(batch_get "$1" 'map(.seconds) | max')")
        b_w=$(batch_get "$1" '.[0].bytes_written'); b_r=$(batch_get "$1" '.[0].bytes_read')
        b_start=$(block "$1" | sed -n 1p | cut -d' ' -f1)
        b_check=$(echo "$b_start - $(val "$1" start)" | bc | sed 's/^\./0./')
}

echo
echo "Rig benchmark, $(date -u +%Y-%m-%d), keys throttled to 12 MiB/s write, 24 MiB/s read (QEMU $(qemu-system-x86_64 --version | sed -n 's/.*version \([0-9.]*\).*/\1/p'), TCG, guest of 2 vCPUs on $(nproc) host cores; host load $load0 before, $load1 after)"
echo
echo "| measure | time | against | ratio |"
echo "|---|---|---|---|"
echo "| one synchronous 4 KiB O_DIRECT I/O on a throttled key | read $rt_r ms, write $rt_w ms; reads from 4 processes at once $rt_p ms each | | |"
echo "| one key, \`cartable flash\`, $(mib "$w") MiB written, $(mib "$r") MiB read back | $one_wall s | physical limit $lim s | $(calc "$one_wall" "$lim") |"
echo "| its steps | $one_steps | | |"
batch_row batch-1 1
one_key=$b_key one_batch=$b_wall
echo "| one key in \`cartable batch\` ($(mib "$b_w") MiB written, $(mib "$b_r") MiB read back) | key $b_key s (batch $b_wall s, release check and start $b_check s) | physical limit $(limit "$b_w" "$b_r") s | key $(calc "$b_key" "$(limit "$b_w" "$b_r")") × limit, batch $(calc "$b_wall" "$(limit "$b_w" "$b_r")") × |"
echo "| its steps (batch events, ±0.25 s) | $(steps <(block batch-1) "$(val batch-1 start)") | | |"
for n in 1 4 8; do
        batch_row batch-$n $n
        seq=$(val seq-$n wall); dd=$(val dd-$n wall)
        echo "| $n at once, one \`cartable batch\` | $b_wall s (slowest key $b_key s) | one after another ($n × \`cartable flash\`) $seq s; $n parallel \`dd\` of $(mib "$b_w") MiB, no read-back, $dd s | $(calc "$b_wall" "$one_batch") × one key's batch, $(calc "$b_wall" "$seq") × sequential, $(calc "$b_wall" "$dd") × dd |"
done
eight=$b_wall eight_key=$b_key eight_check=$b_check
class=$(echo "$eight_check + 4 * $eight_key" | bc)
echo "| a class of 30 on one 8-port hub | $(printf %.0f "$class") s: release check once, then 4 rounds of up to 8 keys (slowest key of 8 at once, $eight_key s each), key swaps not counted | | $(printf %.0f "$(echo "30 * 3600 / $class" | bc -l)") keys per hour |"
if [ "$BIG_MIB" -gt 0 ]; then
        batch_row big-1 1
        big_one=$b_wall
        echo "| $(mib "$(stat -c %s "$big")") MiB release: one key in \`cartable batch\` ($(mib "$b_w") MiB written, $(mib "$b_r") MiB read back) | key $b_key s (batch $b_wall s, release check and start $b_check s) | physical limit $(limit "$b_w" "$b_r") s | key $(calc "$b_key" "$(limit "$b_w" "$b_r")") × limit, batch $(calc "$b_wall" "$(limit "$b_w" "$b_r")") × |"
        echo "| its steps (batch events, ±0.25 s) | $(steps <(block big-1) "$(val big-1 start)") | | |"
        batch_row big-8 8
        echo "| the same, 8 at once | $b_wall s (slowest key $b_key s) | 8 parallel \`dd\` of $(mib "$b_w") MiB, no read-back, $(val big-dd-8 wall) s | $(calc "$b_wall" "$big_one") × one key's batch, $(calc "$b_wall" "$(val big-dd-8 wall)") × dd |"
        class=$(echo "$b_check + 4 * $b_key" | bc)
        echo "| a class of 30, this release | $(printf %.0f "$class") s | | $(printf %.0f "$(echo "30 * 3600 / $class" | bc -l)") keys per hour |"
fi
echo
echo "(bench ran $(printf %.0f "$(since "$T0")") s; guest logs in $RUN)"
