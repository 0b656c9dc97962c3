#!/bin/bash
# update-bench.sh: what cartable update writes and reads back for a release B that differs
# from A by about 5 % of its content (files changed, added, removed), against a full flash
# of B on the same key, on image files of this machine; and cartable repair of one missing
# 8 MiB file. Bytes are what the commands report (update's summary line, flash --json);
# times are wall clock, after a sync and a dropped page cache.
#
#   bench/update-bench.sh [BUILD_DIR] [FILES] [FILE_KIB] [KEY_SIZE]    defaults: build 64 1024 512M
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(realpath "${1:-build}")
FILES=${2:-64}
FILE_KIB=${3:-1024}
KEY_SIZE=${4:-512M}
C=$BUILD/cmd/cartable
for t in jq python3; do
        command -v $t >/dev/null || { echo "update-bench: needs $t" >&2; exit 77; }
done
WORK=$(mktemp -d /var/tmp/cartable-update-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
printf '[station]\nstate-dir = %s/state\nname = bench\n' "$WORK" > cartable.conf
export CARTABLE_CONFIG=$WORK/cartable.conf LC_ALL=C
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
now() { date +%s.%N; }

"$C" key generate --secret k.key --public k.pub --unencrypted > /dev/null
recipe() {   # recipe DIR SERIAL
        mkdir -p "$1/content/Cours"
        printf '[release]\nname = bench\nversion = %s\nserial = %s\ntime = 2026-09-01T00:00:00Z\n[layout]\nscheme = mbr\nlabel = BENCH\nmin-size = 256M\nsealed = Cours\n[content]\nbundle = content\n' "$2" "$2" > "$1/recipe.ini"
}
recipe a 1
for i in $(seq 1 "$FILES"); do head -c $((FILE_KIB * 1024)) /dev/urandom > "a/content/Cours/c$i.bin"; done
cp -r a b
sed -i 's/^serial = .*/serial = 2/; s/^version = .*/version = 2/' b/recipe.ini
# About 5 % of the content: a third changed, a third added, a third removed.
n=$(( (FILES * 5 + 99) / 100 )); per=$(( (n + 2) / 3 ))
for i in $(seq 1 "$per"); do head -c $((FILE_KIB * 1024)) /dev/urandom > "b/content/Cours/c$i.bin"; done
for i in $(seq 1 "$per"); do head -c $((FILE_KIB * 1024)) /dev/urandom > "b/content/Cours/new$i.bin"; done
for i in $(seq $((FILES - per + 1)) "$FILES"); do rm "b/content/Cours/c$i.bin"; done
changed=$(( 2 * per * FILE_KIB * 1024 ))   # bytes of content written: changed and added files
"$C" image build a --key k.key --output a.cart > build.log 2>&1 || { cat build.log; exit 1; }
"$C" image build b --key k.key --output b.cart > /dev/null 2>&1

"$C" flash a.cart key.img --size "$KEY_SIZE" --trust k.pub > /dev/null
# A full flash of B, for comparison.
drop; t0=$(now)
"$C" flash b.cart full.img --size "$KEY_SIZE" --trust k.pub --json > full.json
t1=$(now)
full_s=$(echo "$t1 - $t0" | bc -l)
full_w=$(jq -s "map(select(.event == \"result\"))[0].bytes_written" full.json); full_r=$(jq -s "map(select(.event == \"result\"))[0].bytes_read" full.json)

drop; t0=$(now)
"$C" update b.cart key.img --trust k.pub > update.out
t1=$(now)
up_s=$(echo "$t1 - $t0" | bc -l)
up_w=$(grep -o '[0-9]* bytes written' update.out | cut -d' ' -f1)
up_r=$(grep -o '[0-9]* read back' update.out | cut -d' ' -f1)

# repair of one missing 8 MiB file.
head -c $((8 * 1024 * 1024)) /dev/urandom > b/content/Cours/big.bin
sed -i 's/^serial = .*/serial = 3/; s/^version = .*/version = 3/' b/recipe.ini
"$C" image build b --key k.key --output c.cart > /dev/null 2>&1
"$C" update c.cart key.img --trust k.pub > /dev/null
MTOOLS_SKIP_CHECK=1 mdel -i key.img@@1M ::Cours/big.bin
drop; t0=$(now)
"$C" repair c.cart key.img --trust k.pub > repair.out
t1=$(now)
rep_s=$(echo "$t1 - $t0" | bc -l)
rep_w=$(grep -o '[0-9]* bytes written' repair.out | cut -d' ' -f1)

printf 'content: %d files of %d KiB; B differs by %d files changed, %d added, %d removed (%d bytes to write)\n' \
        "$FILES" "$FILE_KIB" "$per" "$per" "$per" "$changed"
printf '%-22s %14s %14s %10s\n' what written read-back seconds
printf '%-22s %14d %14d %10.2f\n' "flash B (full)" "$full_w" "$full_r" "$full_s"
printf '%-22s %14d %14d %10.2f\n' "update A -> B" "$up_w" "$up_r" "$up_s"
printf '%-22s %14d %14s %10.2f\n' "repair 8 MiB missing" "$rep_w" "-" "$rep_s"
python3 -c "print('update/changed (written): %.3f; update/flash: written %.3f, time %.3f' % ($up_w / $changed, $up_w / $full_w, $up_s / $full_s))"
