#!/bin/bash
# update-bench.sh: what cartable update writes and reads back for a release B that differs
# from A by about 5 % of its content (files changed, added, removed; B a year later, so
# every file's time is new), against a full flash of B on the same key, and against
# update --check-content (every file read before and after, as update did before its
# quick check); and cartable repair of one missing 8 MiB file (its default reads every
# file; --quick reads what it restores). Bytes are what the commands report (update's
# summary line, flash --json); times are wall clock, after a sync and a dropped page
# cache; each figure is the median of RUNS runs, with the host's load (2 shared cores).
#
#   bench/update-bench.sh [BUILD_DIR] [FILES] [FILE_KIB] [KEY_SIZE]    defaults: build 64 1024 512M
#   RUNS=3 (default)
#   bench/update-bench.sh --rig [BUILD_DIR]: the same on one key of the QEMU rig
#       (tests/e2e) throttled to 12 MiB/s write and 24 MiB/s read; needs root and
#       tests/e2e/install-deps; 60 files of 1 MiB (3 differ); boots one guest, about 5
#       minutes here. The guest's scenario is update_bench in tests/e2e/guest.sh.
#   bench/update-bench.sh --rig-batch [BUILD_DIR]: cartable batch --update of 8 keys of the
#       rig at once (each throttled as above, no shared hub) against one batch flashing B
#       over the 8, and batch --update again (every key intact, skipped); 3 runs. The
#       guest's scenario is update_batch_bench.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
RUNS=${RUNS:-3}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# recipe DIR SERIAL YEAR: a release "bench" of DIR/content, sealed Cours.
recipe() {
        mkdir -p "$1/content/Cours"
        printf '[release]\nname = bench\nversion = %s\nserial = %s\ntime = %s-09-01T00:00:00Z\n[layout]\nscheme = mbr\nlabel = BENCH\nmin-size = 256M\nsealed = Cours\n[content]\nbundle = content\n' "$2" "$2" "$3" > "$1/recipe.ini"
}
# releases C FILES FILE_KIB KEY PUB OUTDIR: a.cart, b.cart (5 % differs, a year later),
# c.cart (b with an 8 MiB file more); sets changed (content bytes B writes) and per.
releases() {
        local C=$1 files=$2 kib=$3 key=$4 out=$6 w
        w=$(mktemp -d /var/tmp/cartable-update-releases.XXXXXX)
        recipe "$w/a" 1 2026
        for i in $(seq 1 "$files"); do head -c $((kib * 1024)) /dev/urandom > "$w/a/content/Cours/c$i.bin"; done
        cp -r "$w/a" "$w/b"
        recipe "$w/b" 2 2027
        # About 5 % of the content: a third changed, a third added, a third removed.
        local n=$(( (files * 5 + 99) / 100 ))
        per=$(( (n + 2) / 3 ))
        for i in $(seq 1 "$per"); do head -c $((kib * 1024)) /dev/urandom > "$w/b/content/Cours/c$i.bin"; done
        for i in $(seq 1 "$per"); do head -c $((kib * 1024)) /dev/urandom > "$w/b/content/Cours/new$i.bin"; done
        for i in $(seq $((files - per + 1)) "$files"); do rm "$w/b/content/Cours/c$i.bin"; done
        changed=$(( 2 * per * kib * 1024 ))
        rm -f "$out"/update-[abc].cart
        "$C" image build "$w/a" --key "$key" --output "$out/update-a.cart" -q
        "$C" image build "$w/b" --key "$key" --output "$out/update-b.cart" -q
        head -c $((8 * 1024 * 1024)) /dev/urandom > "$w/b/content/Cours/big.bin"
        recipe "$w/b" 3 2027
        "$C" image build "$w/b" --key "$key" --output "$out/update-c.cart" -q
        rm -rf "$w"
}

# rig_start SCENARIO N BUILD_DIR: the releases, the guest and N keys throttled as one key
# of the rig (12 MiB/s write, 24 MiB/s read), serials UPDB000n; runs the guest to its end.
rig_start() {
        export CARTABLE=$(realpath "${3:-build}/cmd/cartable")
        export BUILD_ROOT=$(dirname "$(dirname "$CARTABLE")")
        export E2E_WORK=${E2E_WORK:-$BUILD_ROOT/bench/update-rig-work}
        source "$top/tests/e2e/rig.sh"
        WRITE_BPS=12582912 READ_BPS=25165824
        rig_check_host
        mkdir -p "$E2E_WORK/guest"
        [ -f "$E2E_WORK/guest/test.pub" ] || "$CARTABLE" key generate --secret "$E2E_WORK/test.key" \
                --public "$E2E_WORK/guest/test.pub" --unencrypted --comment "cartable bench key" >/dev/null
        if stale "$E2E_WORK/guest/update-c.cart" "$CARTABLE"; then
                releases "$CARTABLE" 60 1024 "$E2E_WORK/test.key" "$E2E_WORK/guest/test.pub" "$E2E_WORK/guest"
        fi
        rig_prepare
        rig_scenario "$1"
        KEYS=${RIG_KEYS_DIR:-/dev/shm}/cartable-update-bench.$$
        mkdir -p "$KEYS"
        for i in $(seq 1 "$2"); do
                ln -sf "$KEYS/u$i.img" "$RUN/u$i.img"
                stick u$i UPDB000$i "throttling.bps-write=$WRITE_BPS,throttling.bps-read=$READ_BPS"
        done
        load0=$(uptime)
        rig_boot
        trap 'rig_kill; rm -rf "$KEYS"' EXIT
        rig_wait 3000
        load1=$(uptime)
        console | grep -q '^@@ BENCH_FAIL' && fail "$(console | grep '^@@ BENCH_FAIL')"
        return 0
}
# wall NAME: the median over the runs; n_ok NAME: the runs that exited 0.
wall() { console | sed -n "s/^@@ BENCH $1-[0-9]* \(rc=0 \|start=[^ ]* \)wall=\([^ ]*\).*/\2/p" | median; }
n_ok() { console | grep -c "^@@ BENCH $1-[0-9]* \(rc=0 \|start=\)" || true; }

if [ "${1:-}" = --rig ]; then
        rig_start update_bench 1 "${2:-build}"
        # bytes NAME WHAT: the first run's figure.
        summary() { block "$1-1.out" | grep -o "[0-9]* $2" | head -1 | cut -d' ' -f1; }
        fw=$(block flash-b-1.out | jq -s 'map(select(.event == "result"))[0].bytes_written')
        fr=$(block flash-b-1.out | jq -s 'map(select(.event == "result"))[0].bytes_read')
        f=$(wall flash-b)
        echo "QEMU rig, one key throttled to 12 MiB/s write, 24 MiB/s read; B = 60 files of 1 MiB, 5 % differs"
        echo "host load before: $load0"
        echo "host load after:  $load1"
        printf '| %-30s | %12s | %12s | %8s | %10s | %5s |\n' what written read-back seconds "x flash" runs
        printf '| %-30s | %12d | %12d | %8.2f | %10s | %5s |\n' "flash B (full)" "$fw" "$fr" "$f" 1 "$(n_ok flash-b)"
        for x in update update-cc repair repair-quick; do
                s=$(wall $x)
                printf '| %-30s | %12s | %12s | %8.2f | %10.3f | %5s |\n' "$x" "$(summary $x 'bytes written')" \
                        "$(summary $x 'read back')" "$s" "$(echo "$s / $f" | bc -l)" "$(n_ok $x)"
        done
        exit 0
fi

if [ "${1:-}" = --rig-batch ]; then
        rig_start update_batch_bench 8 "${2:-build}"
        # sums NAME: keys done (or skipped), bytes written and read back, from the first run's events.
        sums() { block "$1-1" | sed 's/^[0-9.]* //' | jq -rs '[.[] | select(.event == "done" or .event == "skipped")] |
                "\(length) \(map(.bytes_written // 0) | add) \(map(.bytes_read // 0) | add)"'; }
        f=$(wall flash-b)
        echo "QEMU rig, 8 keys each throttled to 12 MiB/s write, 24 MiB/s read (no shared hub);"
        echo "B = 60 files of 1 MiB, 5 % differs; median of 3 runs"
        echo "host load before: $load0"
        echo "host load after:  $load1"
        printf '| %-34s | %4s | %12s | %12s | %8s | %10s | %5s |\n' what keys written read-back seconds "x flash" runs
        for x in flash-b update again; do
                read -r n w r <<< "$(sums $x)"
                s=$(wall $x)
                printf '| %-34s | %4s | %12s | %12s | %8.2f | %10.3f | %5s |\n' "batch $x" "$n" "$w" "$r" "$s" \
                        "$(echo "$s / $f" | bc -l)" "$(n_ok $x)"
        done
        exit 0
fi

BUILD=$(realpath "${1:-build}")
FILES=${2:-64}
FILE_KIB=${3:-1024}
KEY_SIZE=${4:-512M}
C=$BUILD/cmd/cartable
for t in jq python3 bc; do
        command -v $t >/dev/null || { echo "update-bench: needs $t" >&2; exit 77; }
done
WORK=$(mktemp -d /var/tmp/cartable-update-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
printf '[station]\nstate-dir = %s/state\nname = bench\n' "$WORK" > cartable.conf
export CARTABLE_CONFIG=$WORK/cartable.conf LC_ALL=C
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
now() { date +%s.%N; }
# timed NAME CMD...: its output in NAME.out, its seconds appended to NAME.s
timed() { local n=$1 t0 t1; shift; drop; t0=$(now); "$@" > "$n.out"; t1=$(now); echo "$t1 - $t0" | bc -l >> "$n.s"; }
fresh() { rm -rf state; }   # the station's rollback state: A again after B
rm_big() { MTOOLS_SKIP_CHECK=1 mdel -i key.img@@1M ::Cours/big.bin; }

"$C" key generate --secret k.key --public k.pub --unencrypted > /dev/null
releases "$C" "$FILES" "$FILE_KIB" k.key k.pub .
load0=$(uptime)
for run in $(seq 1 "$RUNS"); do
        rm -f full.img key.img
        fresh; timed flash "$C" flash update-b.cart full.img --size "$KEY_SIZE" --trust k.pub --json
        fresh; "$C" flash update-a.cart key.img --size "$KEY_SIZE" --trust k.pub > /dev/null 2>&1
        cp --sparse=always key.img key-a.img
        timed update "$C" update update-b.cart key.img --trust k.pub
        fresh; cp --sparse=always key-a.img key.img
        timed update-cc "$C" update update-b.cart key.img --trust k.pub --check-content
        "$C" update update-c.cart key.img --trust k.pub > /dev/null
        rm_big
        timed repair "$C" repair update-c.cart key.img --trust k.pub
        rm_big
        timed repair-quick "$C" repair update-c.cart key.img --trust k.pub --quick
        "$C" verify key.img --trust k.pub > /dev/null
done
load1=$(uptime)

full_w=$(jq -s 'map(select(.event == "result"))[0].bytes_written' flash.out)
full_r=$(jq -s 'map(select(.event == "result"))[0].bytes_read' flash.out)
full_s=$(median < flash.s)
printf 'content: %d files of %d KiB; B differs by %d files changed, %d added, %d removed (%d bytes to write)\n' \
        "$FILES" "$FILE_KIB" "$per" "$per" "$per" "$changed"
echo "image files on this host, median of $RUNS runs; load before: $load0"
echo "                                              load after:  $load1"
printf '| %-30s | %12s | %12s | %8s | %10s |\n' what written read-back seconds "x flash"
printf '| %-30s | %12d | %12d | %8.2f | %10s |\n' "flash B (full)" "$full_w" "$full_r" "$full_s" 1
for x in update update-cc repair repair-quick; do
        w=$(grep -o '[0-9]* bytes written' $x.out | cut -d' ' -f1)
        r=$(grep -o '[0-9]* read back' $x.out | cut -d' ' -f1)
        s=$(median < $x.s)
        printf '| %-30s | %12d | %12d | %8.2f | %10.3f |\n' "$x" "$w" "$r" "$s" "$(echo "$s / $full_s" | bc -l)"
done
up_w=$(grep -o '[0-9]* bytes written' update.out | cut -d' ' -f1)
up_r=$(grep -o '[0-9]* read back' update.out | cut -d' ' -f1)
python3 -c "print('update: written %.3f x changed content, read back %.3f x; update/flash: written %.3f, time %.3f' % ($up_w / $changed, $up_r / $changed, $up_w / $full_w, $(median < update.s) / $full_s))"
