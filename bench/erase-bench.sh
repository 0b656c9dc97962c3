#!/bin/bash
# erase-bench.sh: what erasing a returned key costs, for keys of 1, 8 and 32 GiB (sparse
# image files, so the run needs no disk of that size free beforehand, only while it runs):
# cartable flash --erase always (the writer's zeros over every sector the layout leaves,
# in pipelined aligned O_DIRECT requests, plus a sampled read-back) against the baseline
# a technician would type, dd if=/dev/zero of=KEY bs=4M oflag=direct conv=notrunc, then
# the same flash without erase. Each key holds a previous pupil's files first; the run
# checks that none of their marker bytes survive cartable's erase. Printed: seconds,
# bytes of zeros, MB/s, and the ratio cartable/dd, in one run on the same file system;
# then the time each size would take at the QEMU rig's USB rate (12 MiB/s, tests/e2e),
# computed from the bytes, not measured.
#
#   bench/erase-bench.sh [BUILD_DIR] [SIZES_GIB...]      defaults: build 1 8 32
# WORK=/some/dir puts the images there (default /var/tmp): it needs the largest size free.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=$(realpath "${1:-build}")
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1 8 32)
CARTABLE=$BUILD/cmd/cartable
for t in dd mcopy python3; do
        command -v $t >/dev/null || { echo "erase-bench: needs $t" >&2; exit 77; }
done
W=$(mktemp -d "${WORK:-/var/tmp}/cartable-erase-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
# A copy: a rebuild during the run does not change the program measured.
cp "$CARTABLE" ./cartable
C=$W/cartable
export CARTABLE_CONFIG=$W/none.conf
printf '[station]\nstate-dir = %s/state\n' "$W" > none.conf
"$C" key generate --secret k.key --public k.pub --unencrypted >/dev/null
cp -r "$SRC/images/ent-college" recipe
sed -i 's/^min-size = .*/min-size = 64M/' recipe/recipe.ini
"$C" image build recipe --key k.key --output rel.cart >/dev/null 2>&1
head -c 8M /dev/urandom | base64 -w 76 | sed 's/^/MARK-ERASE-BENCH /' > pupil.txt

now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }
rate() { python3 -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]) / 1e6:.0f}')" "$1" "$2"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }

# A key of SIZE GiB that held a pupil's files: flashed, files added with mtools.
prepare() {
        rm -f key.img
        "$C" flash rel.cart key.img --size "$1G" --trust k.pub >/dev/null 2>&1
        MTOOLS_SKIP_CHECK=1 mcopy -i key.img@@1M pupil.txt ::/devoir.txt
        sync
}

printf '%-6s %-22s %9s %14s %7s %s\n' size run seconds "bytes of zeros" MB/s "ratio to dd"
for g in "${SIZES[@]}"; do
        prepare "$g"
        t0=$(now)
        "$C" flash rel.cart key.img --trust k.pub --erase always --json > erase.json 2>/dev/null
        t1=$(now)
        cart=$(secs "$t0" "$t1")
        bytes=$(python3 -c "import json,sys; print([json.loads(l) for l in open('erase.json')][-1]['erase']['bytes'])")
        erase_s=$(python3 -c "import json,sys; print(round([json.loads(l) for l in open('erase.json')][-1]['erase']['seconds'], 2))")
        # Zeros as line ends: grep never holds a 32 GiB "line".
        ! tr '\0' '\n' < key.img | grep -q -a MARK-ERASE-BENCH || { echo "erase-bench: a marker survived the erase" >&2; exit 1; }

        prepare "$g"
        t0=$(now)
        dd if=/dev/zero of=key.img bs=4M count=$((g * 256)) oflag=direct conv=notrunc,fsync status=none
        t1=$(now)
        dd_s=$(secs "$t0" "$t1")

        prepare "$g"
        t0=$(now)
        "$C" flash rel.cart key.img --trust k.pub --erase never >/dev/null 2>&1
        t1=$(now)
        plain=$(secs "$t0" "$t1")

        dd_bytes=$((g * 1024 * 1024 * 1024))
        printf '%-6s %-22s %9s %14s %7s %s\n' "${g}G" "cartable --erase always" "$cart" "$bytes" "$(rate "$bytes" "$cart")" "$(ratio "$cart" "$dd_s")"
        printf '%-6s %-22s %9s %14s %7s\n' "" "  of which the erase" "$erase_s" "" "$(rate "$bytes" "$erase_s")"
        printf '%-6s %-22s %9s %14s %7s %s\n' "" "dd if=/dev/zero" "$dd_s" "$dd_bytes" "$(rate "$dd_bytes" "$dd_s")" 1.00
        printf '%-6s %-22s %9s %14s %7s\n' "" "cartable, no erase" "$plain" 0 -
        printf '%-6s %-22s %9s\n' "" "at 12 MiB/s (rig rate)" "$(python3 -c "print(f'{$bytes / (12 * 1048576):.0f}')")"
        rm -f key.img
done
