#!/bin/bash
# flash-bench.sh: one key made four ways, side by side on the same content and key size:
#   cartable (lib/flash on a loop device: probe, wipe, table, FAT32, write, full read-back),
#   dd of a full golden image, bmaptool copy of it, and sfdisk + mkfs.fat + mcopy.
# Bytes written are counted by the kernel (/sys/block/loopN/stat, sectors written); the
# key's raw write and read rates are measured with dd oflag=direct / iflag=direct in the
# same run, which gives cartable's physical limit. Run as root, once: it writes GiBs.
#
#   bench/flash-bench.sh [BUILD_DIR] [CONTENT_MIB] [KEY_SIZE]     defaults: build 341 8G
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=$(realpath "${1:-build}")
CONTENT_MIB=${2:-341}
KEY_SIZE=${3:-8G}
CARTABLE=$BUILD/cmd/cartable
FLASH_DEVICE=$BUILD/tests/tools/flash-device
[ "$(id -u)" = 0 ] || { echo "flash-bench: needs root (loop devices)" >&2; exit 77; }
for t in losetup sfdisk mkfs.fat mcopy bmaptool dd python3; do
        command -v $t >/dev/null || { echo "flash-bench: needs $t" >&2; exit 77; }
done

WORK=$(mktemp -d /var/tmp/cartable-bench.XXXXXX)
L=
cleanup() { [ -n "$L" ] && losetup -d "$L" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap '[ -n "$L" ] && losetup -d "$L"; echo "kept $WORK"' EXIT
cd "$WORK"

# Mixed content, reproducible: many small files, some medium, a few large ones.
python3 - "$CONTENT_MIB" <<'PY'
import os, random, sys
random.seed(1)
total = int(sys.argv[1]) << 20
budget = [int(total * 0.07), int(total * 0.40), total]   # small, medium, then large
done, i = 0, 0
def write(path, n):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(os.urandom(n))
while done < budget[0]:
    n = random.randint(200, 48 << 10); write(f"content/Cours/ch{i % 40:02d}/fiche-{i:04d}.html", n); done += n; i += 1
while done < budget[1]:
    n = random.randint(300 << 10, 5 << 20); write(f"content/Documents/doc-{i:04d}.pdf", n); done += n; i += 1
while done < budget[2]:
    n = min(random.randint(20 << 20, 60 << 20), budget[2] - done); write(f"content/Logiciels/app-{i:03d}.zip", n); done += n; i += 1
PY
content_bytes=$(find content -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
files=$(find content -type f | wc -l)

# The release (key, signed manifest), then a golden image of the same key for dd/bmaptool.
"$CARTABLE" key generate --secret bench.key --public bench.pub --unencrypted >/dev/null
"$CARTABLE" image build --name bench --version 1 --serial 1 --min-size "$KEY_SIZE" \
        --key bench.key --output bench.cart -q content >/dev/null
"$CARTABLE" image export bench.cart --trust bench.pub --size "$KEY_SIZE" --output golden.img \
        --volume-id 2026-0001 --time 1788249600 >/dev/null
bmaptool -q create golden.img > golden.bmap

truncate -s "$KEY_SIZE" key.img
fresh_key() {   # a blank key: a new sparse backing file under a direct-I/O loop device
        [ -n "$L" ] && losetup -d "$L"
        rm -f key.img; truncate -s "$KEY_SIZE" key.img
        L=$(losetup -f --show --direct-io=on key.img)
}
sectors_written() { awk '{print $7}' "/sys/block/${L##*/}/stat"; }
# run NAME CMD...: bytes the kernel wrote to the key and wall time of CMD.
declare -A BYTES TIME
run() {
        local name=$1; shift
        # Sources warm, as on a station that flashes many keys from one release; the key's
        # own I/O bypasses the page cache (direct-I/O loop device).
        sync; cat bench.cart golden.img > /dev/null
        local s0 t0 t1
        s0=$(sectors_written); t0=$(date +%s.%N)
        "$@" >"$name.log" 2>&1 || { cat "$name.log"; echo "flash-bench: $name failed" >&2; exit 1; }
        sync
        t1=$(date +%s.%N)
        BYTES[$name]=$(( ($(sectors_written) - s0) * 512 ))
        TIME[$name]=$(echo "$t1 - $t0" | bc)
}

fresh_key
# The key's raw rates, on the region cartable writes first.
rate_mib=256
run rate-write dd if=/dev/zero of="$L" bs=4M count=$((rate_mib / 4)) oflag=direct
t0=$(date +%s.%N); dd if="$L" of=/dev/null bs=4M count=$((rate_mib / 4)) iflag=direct 2>/dev/null; t1=$(date +%s.%N)
write_rate=$(echo "$rate_mib * 1048576 / ${TIME[rate-write]}" | bc)
read_rate=$(echo "$rate_mib * 1048576 / ($t1 - $t0)" | bc)

fresh_key; run cartable "$FLASH_DEVICE" flash "$WORK/bench.cart" "$L" "$WORK/bench.pub"
cart_read=$(awk '/^read /{print $2}' cartable.log)
cluster=$(awk '/^cluster /{print $2}' cartable.log)
direct=$(awk '/^direct /{print $2}' cartable.log)
flash_s=$(awk '/^flash_seconds /{print $2}' cartable.log)
losetup -d "$L"; L=
# The layout's floor, from the volume cartable made: the MBR, the boot region (boot sector,
# FSInfo and their backups: 8 sectors), both FATs whole, content and directories rounded up
# to clusters.
floor=$(python3 - key.img "$WORK/content" <<'PY'
import os, struct, sys
img, content = sys.argv[1], sys.argv[2]
with open(img, 'rb') as f:
    f.seek(446 + 8); start = struct.unpack('<I', f.read(4))[0] * 512
    f.seek(start); bs = f.read(512)
ss, spc, rsv, nfats = struct.unpack('<H', bs[11:13])[0], bs[13], struct.unpack('<H', bs[14:16])[0], bs[16]
fatsz = struct.unpack('<I', bs[36:40])[0]
cs = ss * spc
up = lambda n: -(-n // cs) * cs
total = 512 + 8 * ss + nfats * fatsz * ss
for root, dirs, files in os.walk(content):
    names = dirs + files
    entries = 2 + sum(1 + -(-len(n) // 13) for n in names)
    total += up(entries * 32)
    total += sum(up(os.path.getsize(os.path.join(root, n))) for n in files)
# /.cartable: its directory, manifest, signature and key record (small files), and the root's entry
cart = '.cartable'
total += up(32 * 12) + 3 * cs
print(total)
PY
)
L=$(losetup -f --show --direct-io=on key.img)

fresh_key; run dd dd if=golden.img of="$L" bs=4M oflag=direct conv=fsync
fresh_key; run bmaptool bmaptool copy --bmap golden.bmap golden.img "$L"
mkfs_mcopy() {
        printf 'label: dos\nstart=2048, type=c\n' | sfdisk -q "$L"
        mkfs.fat -F 32 --offset 2048 -n BENCH "$L" $(( $(blockdev --getsz "$L") / 2 - 1024 )) >/dev/null
        MTOOLS_SKIP_CHECK=1 mcopy -s -i "$L@@1M" content/* ::/
}
fresh_key; run mkfs-mcopy mkfs_mcopy

limit=$(echo "scale=3; ${BYTES[cartable]} / $write_rate + $cart_read / $read_rate" | bc)
printf '\nflash-bench: %s of content in %d files, on a %s key (loop device, direct I/O)\n' \
        "$(numfmt --to=iec-i --suffix=B "$content_bytes")" "$files" "$KEY_SIZE"
printf 'key raw rates: write %s/s, read %s/s (dd, O_DIRECT, 4 MiB requests)\n' \
        "$(numfmt --to=iec-i --suffix=B "$write_rate")" "$(numfmt --to=iec-i --suffix=B "$read_rate")"
printf 'layout floor: %s (cluster %s); cartable O_DIRECT=%s\n\n' "$(numfmt --to=iec-i --suffix=B "$floor")" "$cluster" "$direct"
printf '%-12s %14s %10s %10s %9s\n' method "bytes written" "x content" "x floor" "seconds"
for m in cartable dd bmaptool mkfs-mcopy; do
        printf '%-12s %14d %10.3f %10.3f %9.2f\n' "$m" "${BYTES[$m]}" \
                "$(echo "scale=4; ${BYTES[$m]} / $content_bytes" | bc)" \
                "$(echo "scale=4; ${BYTES[$m]} / $floor" | bc)" "${TIME[$m]}"
done
printf '\nphysical limit: %s s (bytes written / write rate + %s read back / read rate)\n' \
        "$limit" "$(numfmt --to=iec-i --suffix=B "$cart_read")"
printf 'cartable, one key (probe, wipe, layout, write, read-back): %s s = %.2f x the limit\n' \
        "$flash_s" "$(echo "scale=4; $flash_s / $limit" | bc)"
printf 'cartable, whole command (+ start, release signature and SHA-256 of every payload): %s s = %.2f x\n' \
        "${TIME[cartable]}" "$(echo "scale=4; ${TIME[cartable]} / $limit" | bc)"
