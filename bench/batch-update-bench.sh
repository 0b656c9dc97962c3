#!/bin/bash
# batch-update-bench.sh: cartable batch --update of N image keys at once (release A, 64 files
# of 1 MiB, to B that differs by about 5 %: a third of it changed, a third added, a third
# removed) against one cartable batch that flashes B over N copies of the same keys, what
# a technician would run instead. Bytes are the sums of the batches' NDJSON done events
# (bytes_written, bytes_read); times are wall clock, after a sync and a dropped page cache.
#
#   bench/batch-update-bench.sh [BUILD_DIR] [KEYS] [FILES] [FILE_KIB] [KEY_SIZE]
#   defaults: build 8 64 1024 512M
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=$(realpath "${1:-build}")
KEYS=${2:-8}; FILES=${3:-64}; FILE_KIB=${4:-1024}; KEY_SIZE=${5:-512M}
C=$BUILD/cmd/cartable
for t in jq bc; do command -v $t >/dev/null || { echo "batch-update-bench: needs $t" >&2; exit 77; }; done
WORK=$(mktemp -d /var/tmp/cartable-batch-update-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
printf '[station]\nstate-dir = %s/state\n' "$WORK" > cartable.conf
export CARTABLE_CONFIG=$WORK/cartable.conf LC_ALL=C
T=(--trust k.pub --journal "$WORK/j.db")
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
now() { date +%s.%N; }
# sums FILE: bytes written and read back by the done events of a batch's NDJSON.
sums() { jq -rs '[.[] | select(.event == "done")] | "\(length) \(map(.bytes_written) | add) \(map(.bytes_read) | add)"' "$1"; }

"$C" key generate --secret k.key --public k.pub --unencrypted > /dev/null
"$C" journal init --journal j.db > /dev/null
# A: the example release and FILES course files of FILE_KIB; B: serial 2, about 5 % of the files.
cp -r "$SRC/images/ent-college" srca
sed -i 's/^min-size = .*/min-size = 256M/' srca/recipe.ini
mkdir -p xa/Ressources/cours
for i in $(seq 1 "$FILES"); do head -c $((FILE_KIB * 1024)) /dev/urandom > "xa/Ressources/cours/c$i.bin"; done
cp -r srca srcb; cp -r xa xb
sed -i 's/^serial = .*/serial = 2/; s/^version = .*/version = 2027.09/' srcb/recipe.ini
n=$(( (FILES * 5 + 99) / 100 )); per=$(( (n + 2) / 3 ))
for i in $(seq 1 "$per"); do
        head -c $((FILE_KIB * 1024)) /dev/urandom > "xb/Ressources/cours/c$i.bin"
        head -c $((FILE_KIB * 1024)) /dev/urandom > "xb/Ressources/cours/new$i.bin"
        rm "xb/Ressources/cours/c$((FILES - i + 1)).bin"
done
"$C" image build srca xa --key k.key --output a.cart -q
"$C" image build srcb xb --key k.key --output b.cart -q

targets=(); copies=()
for i in $(seq 1 "$KEYS"); do targets+=(--target "k$i.img"); copies+=(--target "f$i.img"); done
"$C" batch a.cart "${T[@]}" --stock --size "$KEY_SIZE" "${targets[@]}" > /dev/null
for i in $(seq 1 "$KEYS"); do cp --sparse=always "k$i.img" "f$i.img"; done

drop; t0=$(now)
"$C" batch b.cart "${T[@]}" --update --json "${targets[@]}" > update.json
t1=$(now); up_s=$(echo "$t1 - $t0" | bc -l)
drop; t0=$(now)
"$C" batch b.cart "${T[@]}" --stock --force --json "${copies[@]}" > flash.json
t1=$(now); fl_s=$(echo "$t1 - $t0" | bc -l)
read -r up_n up_w up_r <<< "$(sums update.json)"
read -r fl_n fl_w fl_r <<< "$(sums flash.json)"
[ "$up_n" = "$KEYS" ] && [ "$fl_n" = "$KEYS" ] || { echo "batch-update-bench: $up_n updated, $fl_n flashed of $KEYS" >&2; exit 1; }

printf '%d keys of %s; A: %d files of %d KiB; B: %d changed, %d added, %d removed\n' \
        "$KEYS" "$KEY_SIZE" "$FILES" "$FILE_KIB" "$per" "$per" "$per"
printf '%-28s %14s %14s %10s\n' what written read-back seconds
printf '%-28s %14d %14d %10.2f\n' "batch --update (A -> B)" "$up_w" "$up_r" "$up_s"
printf '%-28s %14d %14d %10.2f\n' "batch --stock --force (B)" "$fl_w" "$fl_r" "$fl_s"
echo "update/flash: written $(echo "scale=3; $up_w / $fl_w" | bc -l), time $(echo "scale=3; $up_s / $fl_s" | bc -l)"
