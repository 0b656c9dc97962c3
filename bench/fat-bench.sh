#!/bin/bash
# FAT32 engine against the tools a user would pick instead, measured in one run:
#   fatimg build (fatgen103 cluster size, then fat_choose_cluster_size) of a 300 MiB tree on
#   an 8 GiB volume, cp -r of the same tree, mkfs.fat -F 32 + mcopy -s into an 8 GiB image.
# Bytes written: the plan's bytes for fatimg, allocated blocks of the (sparse) images, and
# the tree's own allocation for cp. Every timing includes a sync of the file system.
# Usage: bench/fat-bench.sh [BUILD_DIR]   (default: build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
FATIMG=$BUILD/tests/tools/fatimg
[ -x "$FATIMG" ] || { echo "fat-bench: build first (ninja -C $BUILD)" >&2; exit 1; }
for t in mkfs.fat mcopy perl; do command -v $t >/dev/null || { echo "fat-bench: needs $t" >&2; exit 77; }; done
export LANG=C.UTF-8
W=$(mktemp -d "${TMPDIR:-/var/tmp}/fat-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

# 300 MiB: 6000 small files (1-32 KiB) in 60 directories, and 10 files of 20 MiB.
perl -e '
        srand(42);
        my $block = join("", map { chr(int(rand(256))) } 1..(1 << 20));
        sub put { my ($p, $n) = @_; open(my $f, ">:raw", $p) or die;
                  while ($n > 0) { my $k = $n < length($block) ? $n : length($block);
                                   print $f substr($block, int(rand(1000)), $k); $n -= $k; } close($f); }
        mkdir "src"; mkdir "src/Cours $_" for 0..59; mkdir "src/Vidéos";
        put(sprintf("src/Cours %d/Document élève %d.pdf", $_ % 60, $_), 1024 + int(rand(31 * 1024))) for 1..6000;
        put("src/Vidéos/Séquence $_.mp4", 20 << 20) for 1..10;'
sync -f .
content=$(find src -type f -printf '%s\n' | awk '{s += $1} END {print s}')
files=$(find src -type f | wc -l)

now() { date +%s.%N; }
alloc() { du -B1 "$1" | tail -n1 | cut -f1; }

t0=$(now); "$FATIMG" build --size 8G --time 1700000000 src default.img >default.out 2>/dev/null; sync -f .; t1=$(now)
"$FATIMG" build --size 8G --time 1700000000 --auto-cluster src auto.img >auto.out 2>/dev/null; sync -f .; t2=$(now)
cp -r src copy; sync -f .; t3=$(now)
truncate -s 8G mkfs.img
mkfs.fat -F 32 -i 12345678 mkfs.img >/dev/null
mcopy -s -i mkfs.img src/* ::/
sync -f .; t4=$(now)
layout=$("$FATIMG" layout-bench 100000)

val() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
fat_s=$(sub "$t1" "$t0"); auto_s=$(sub "$t2" "$t1"); cp_s=$(sub "$t3" "$t2"); mk_s=$(sub "$t4" "$t3")
def_bytes=$(val plan_bytes default.out); auto_bytes=$(val plan_bytes auto.out)
row() { # name seconds bytes
        awk -v n="$1" -v s="$2" -v b="$3" -v c="$content" -v ref="$fat_s" \
                'BEGIN { printf "%-44s %8.2f %9.2f %14d %9.3f\n", n, s, s / ref, b, b / c }'
}
echo "FAT32 on an 8 GiB volume: $files files, $content bytes of content"
printf '%-44s %8s %9s %14s %9s\n' "method" "seconds" "time/fat" "bytes written" "/content"
row "fatimg, $(val cluster_size default.out)-byte clusters (fatgen103)" "$fat_s" "$def_bytes"
row "fatimg, $(val cluster_size auto.out)-byte clusters (chosen)" "$auto_s" "$auto_bytes"
row "cp -r (same file system)" "$cp_s" "$(alloc copy)"
row "mkfs.fat -F 32 + mcopy -s" "$mk_s" "$(alloc mkfs.img)"
echo "allocated in the fatimg images: $(alloc default.img) and $(alloc auto.img) bytes (zero extents skipped)"
echo "metadata written by fatimg: $(val metadata_bytes default.out) and $(val metadata_bytes auto.out) bytes"
echo "layout of 100,000 files: $(echo "$layout" | awk '$1 == "add_seconds" {a = $2} $1 == "layout_seconds" {l = $2} END {printf "%.2f s to add, %.2f s to lay out", a, l}')"
