#!/bin/bash
# Building a release from a ~300 MiB generated bundle set (a zstd tar of 1 MiB files, a
# gzip tar of small text files, a directory of large files overlaying some of them):
# cartable image build side by side with what a user would do instead, extracting the same
# bundles with bsdtar and hashing every file with sha256sum. Run once; prints seconds,
# peak memory (/usr/bin/time -v), bytes written and the ratios.
# Usage: bench/release-bench.sh [BUILD_DIR]
set -euo pipefail
BUILD=$(realpath "${1:-build}")
CARTABLE=$BUILD/cmd/cartable
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (package time)" >&2; exit 1; }
command -v bsdtar >/dev/null || { echo "needs bsdtar" >&2; exit 1; }
W=$(mktemp -d "${BENCH_DIR:-$PWD}/cartable-release-bench.XXXXXX")   # on disk, not tmpfs
trap 'rm -rf "$W"' EXIT
cd "$W"

# The bundle set: 150 MiB of 1 MiB random files, 20 MiB of 10 KiB text files, 128 MiB in
# four 32 MiB files, and 10 of the 1 MiB files replaced by the directory bundle.
mkdir -p g/b1/Videos g/b2/Cours g/b3/Videos g/b3/Archives
for i in $(seq -w 1 150); do head -c 1M /dev/urandom > "g/b1/Videos/clip$i.bin"; done
for i in $(seq -w 1 2000); do head -c 7680 /dev/urandom | base64 -w 76 > "g/b2/Cours/fiche$i.txt"; done
for i in 1 2 3 4; do head -c 32M /dev/urandom > "g/b3/Archives/annee$i.bin"; done
for i in $(seq -w 1 10); do head -c 1M /dev/urandom > "g/b3/Videos/clip0$i.bin"; done
bsdtar --format pax --zstd -cf b1.tar.zst -C g/b1 .
bsdtar --format pax --gzip -cf b2.tar.gz -C g/b2 .
mv g/b3 b3 && rm -rf g
"$CARTABLE" key generate --secret k.key --public k.pub --unencrypted >/dev/null 2>&1
sync

# run NAME CMD...: wall seconds (from time -v) and peak resident KiB.
run() {
        local name=$1; shift
        /usr/bin/time -v -o "time.$name" "$@" >/dev/null 2>"err.$name" || { cat "err.$name" >&2; exit 1; }
        secs[$name]=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
                for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "time.$name")
        mem[$name]=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "time.$name")
}
declare -A secs mem

run cartable "$CARTABLE" image build --key k.key --output bench.cart --name bench --version 1 --serial 1 \
        --time 0 --min-size 2G b1.tar.zst b2.tar.gz b3
# What a user would pick instead: extract the same bundles in order, then hash every file.
run baseline bash -c 'mkdir out && bsdtar -xf b1.tar.zst -C out && bsdtar -xf b2.tar.gz -C out &&
        cp -r b3/. out/ && find out -type f -print0 | sort -z | xargs -0 sha256sum >/dev/null'

content=$(du -sb --apparent-size out | cut -f1)
release=$(stat -c %s bench.cart)
printf '%-10s %8s %10s %14s\n' tool seconds peak-KiB bytes-written
printf '%-10s %8s %10s %14s\n' cartable "${secs[cartable]}" "${mem[cartable]}" "$release"
printf '%-10s %8s %10s %14s\n' baseline "${secs[baseline]}" "${mem[baseline]}" "$content"
awk -v a="${secs[cartable]}" -v b="${secs[baseline]}" -v m="${mem[cartable]}" -v n="${mem[baseline]}" \
        'BEGIN { printf "ratio cartable/baseline: time %.2f, peak memory %.2f\n", a / b, m / n }'
echo "(cartable also stages content once in a temporary file: about $((content / 1048576)) MiB more written)"
