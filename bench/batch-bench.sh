#!/bin/bash
# batch-bench.sh: 8 keys made three ways, side by side, on image files of this machine:
#   cartable batch with 8 --target at once (release checked once, 8 worker threads,
#   every key read back), the same 8 keys flashed one after another with cartable flash
#   (each flash opens and checks the release again), and 8 parallel dd of the bytes one
#   key uses (oflag=direct, no read-back), the floor of "just copy it".
# Bytes written are what each key's report says (--json); times are wall clock, each
# phase after a sync and a dropped page cache. The throttled version (keys at 12 MiB/s
# write, 24 MiB/s read) is for the QEMU rig of tests/e2e: BENCH_DEVICES="/dev/sdb /dev/sdc ..."
# makes run_batch and run_sequential flash those keys instead of image files (the dd
# column is then skipped: it would need the rig's raw rates); the rig has not used it yet.
#
#   bench/batch-bench.sh [BUILD_DIR] [CONTENT_MIB] [KEYS] [KEY_SIZE]    defaults: build 64 8 1G
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=$(realpath "${1:-build}")
CONTENT_MIB=${2:-64}
KEYS=${3:-8}
KEY_SIZE=${4:-1G}
C=$BUILD/cmd/cartable
for t in dd jq python3; do
        command -v $t >/dev/null || { echo "batch-bench: needs $t" >&2; exit 77; }
done
WORK=$(mktemp -d /var/tmp/cartable-batch-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
printf '[station]\nstate-dir = %s/state\nname = bench\n' "$WORK" > cartable.conf
export CARTABLE_CONFIG=$WORK/cartable.conf

python3 - "$CONTENT_MIB" <<'PY'
import os, random, sys
random.seed(1)
total, done, i = int(sys.argv[1]) << 20, 0, 0
while done < total:
    n = min(random.choice([random.randint(200, 48 << 10), random.randint(300 << 10, 5 << 20)]), total - done)
    d = f"content/d{i % 20:02d}"; os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:05d}.bin", "wb") as f: f.write(os.urandom(n))
    done += n; i += 1
PY
"$C" key generate --secret b.key --public b.pub --unencrypted >/dev/null
"$C" image build content --name bench --version 1 --serial 1 --key b.key --output rel.cart -q >/dev/null
files=$(find content -type f | wc -l)

now() { date +%s.%N; }
quiesce() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
DEVICES=(${BENCH_DEVICES:-})
[ ${#DEVICES[@]} = 0 ] || KEYS=${#DEVICES[@]}
targets() {
        if [ ${#DEVICES[@]} -gt 0 ]; then
                for d in "${DEVICES[@]:0:$KEYS}"; do printf -- '--target\n%s\n' "$d"; done
        else
                for i in $(seq "$KEYS"); do printf -- '--target\n%s/%s%d.img\n' "$WORK" "$1" "$i"; done
                printf -- '--size\n%s\n' "$KEY_SIZE"
        fi
}
target_n() { if [ ${#DEVICES[@]} -gt 0 ]; then echo "${DEVICES[$2 - 1]} --yes"; else echo "$WORK/$1$2.img --size $KEY_SIZE"; fi; }

# run_batch PREFIX: all keys at once; prints seconds, leaves the NDJSON in batch.json.
run_batch() {
        local t0 t1
        mapfile -t T < <(targets "$1")
        [ -e j.db ] || "$C" journal init --journal j.db >/dev/null
        quiesce; t0=$(now)
        "$C" batch rel.cart --trust b.pub --journal j.db --stock "${T[@]}" --force --json > batch.json
        t1=$(now)
        echo "$t1 - $t0" | bc -l
}
# run_sequential PREFIX: one flash after another.
run_sequential() {
        local t0 t1
        quiesce; t0=$(now)
        for i in $(seq "$KEYS"); do
                # shellcheck disable=SC2046
                "$C" flash rel.cart $(target_n "$1" "$i") --trust b.pub --json > "seq$i.json"
        done
        t1=$(now)
        echo "$t1 - $t0" | bc -l
}
# One key alone, through batch, for the "N at once vs one" ratio.
t_one=$(KEYS=1 run_batch one)
t_batch=$(run_batch par)
done_keys=$(jq -s '[.[] | select(.event == "done")] | length' batch.json)
[ "$done_keys" = "$KEYS" ] || { echo "batch-bench: $done_keys of $KEYS keys done" >&2; exit 1; }
bytes_batch=$(jq -s '[.[] | select(.event == "done") | .bytes_written] | add' batch.json)
read_batch=$(jq -s '[.[] | select(.event == "done") | .bytes_read] | add' batch.json)
t_seq=$(run_sequential seq)
bytes_seq=$(jq -s '[.[] | select(.event == "result") | .bytes_written] | add' seq*.json)
if [ ${#DEVICES[@]} -gt 0 ]; then
        printf 'batch-bench: %d keys: one %.2f s, at once %.2f s (%.2f x), one after another %.2f s\n' \
                "$KEYS" "$t_one" "$t_batch" "$(echo "$t_batch / $t_one" | bc -l)" "$t_seq"
        exit 0
fi
# The bytes one key uses: up to the end of its last written extent is not known to dd, so
# dd copies the first bytes_written bytes of a flashed key (the same amount, contiguous).
per_key=$(( bytes_batch / KEYS ))
count=$(( (per_key + 4194303) / 4194304 ))
quiesce; t0=$(now)
for i in $(seq "$KEYS"); do
        dd if="$WORK/par1.img" of="$WORK/dd$i.img" bs=4M count="$count" oflag=direct conv=notrunc status=none &
done
wait
t_dd=$(echo "$(now) - $t0" | bc -l)
bytes_dd=$(( count * 4194304 * KEYS ))

kph() { echo "3600 * $KEYS / $1" | bc -l; }
printf '\nbatch-bench: %d keys of %s, release of %d MiB (%d files), %s, %d cores\n\n' \
        "$KEYS" "$KEY_SIZE" "$CONTENT_MIB" "$files" "$(date -u +%Y-%m-%d)" "$(nproc)"
printf '| way | seconds | × one key | bytes written | read back | keys/hour |\n|---|---|---|---|---|---|\n'
printf '| one key alone (batch) | %.2f | 1.00 | %s | yes | %.0f |\n' "$t_one" "$((bytes_batch / KEYS))" "$(echo "3600 / $t_one" | bc -l)"
printf '| cartable batch, %d at once | %.2f | %.2f | %s | %s | %.0f |\n' "$KEYS" "$t_batch" \
        "$(echo "$t_batch / $t_one" | bc -l)" "$bytes_batch" "$read_batch" "$(kph "$t_batch")"
printf '| cartable flash, one after another | %.2f | %.2f | %s | yes | %.0f |\n' "$t_seq" \
        "$(echo "$t_seq / $t_one" | bc -l)" "$bytes_seq" "$(kph "$t_seq")"
printf '| %d parallel dd of the used bytes | %.2f | %.2f | %s | no | %.0f |\n' "$KEYS" "$t_dd" \
        "$(echo "$t_dd / $t_one" | bc -l)" "$bytes_dd" "$(kph "$t_dd")"
printf '\nbatch / sequential: %.2f; batch / dd: %.2f\n' "$(echo "$t_batch / $t_seq" | bc -l)" "$(echo "$t_batch / $t_dd" | bc -l)"
