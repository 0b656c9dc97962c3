#!/bin/bash
# hub-bench.sh [CARTABLE]: a station's day on the QEMU rig's hub model (tests/e2e/rig.sh,
# "Hubs"): every key reads and writes through its own throttle group (12 MiB/s write, 24 MiB/s
# read) stacked on its hub's, shared by all the hub's keys (USB 2.0: 36 MiB/s, reads and writes
# together; USB 3: 350 MiB/s, keys 30/90 MiB/s). With a release of realistic size (REL_MIB,
# default 340: a launcher, portable applications, courses; incompressible, built here from
# images/ent-college and a generated bundle, kept out of git), it measures:
#   - bus utilisation while keys are present: bytes moved (written + read back) / (bus rate x
#     (last key done - first key's udev event)), for each phase of HUB_PHASES (default
#     "usb2-1-8 usb2-2-8 usb3-1-8": 8 keys on one USB 2.0 hub, 16 keys as 8 on each of two,
#     8 USB 3 keys on a USB 3 hub); goal >= 0.95;
#   - each key's time from its arrival (udev's add event in the guest) to its first byte of
#     the release written (the batch's write step), median and worst, and what it is spent on;
#   - keys per hour of one station with two hubs (class of 30, collège of 600, the
#     département's 6,500 keys), from those figures, key swaps counted at SWAP_S (5) s a key;
#   - cartable's own CPU per key natively (image files on a tmpfs, /usr/bin/time), against
#     eight parallel dd + cmp of the same bytes, for this release and the e2e one; and the
#     emulated CPU's speed against the host's (busybox sha256sum of the release, both sides).
# Keys are hot-plugged all at once when the phase's batch listens: the worst arrival is then
# the busiest case (16 probes at once, on a bus the others fill). The keys' images live in
# /dev/shm (about REL_MIB MiB each; a phase's keys are removed before the next).
# Not a test: the figures go to docs/benchmarks.md. Needs root and tests/e2e/install-deps;
# boots one guest; about 7 minutes for the default phases here (418 s on 2 shared cores).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export CARTABLE=${1:-${CARTABLE:-$top/build/cmd/cartable}}
export BUILD_ROOT=${BUILD_ROOT:-$(dirname "$(dirname "$(realpath "$CARTABLE")")")}
export E2E_WORK=${E2E_WORK:-$BUILD_ROOT/bench/hub-work}
REL_MIB=${REL_MIB:-340}
HUB_PHASES=${HUB_PHASES:-usb2-1-8 usb2-2-8 usb3-1-8}
SWAP_S=${SWAP_S:-5}
KEY_FORMAT=${KEY_FORMAT:-blank}    # blank (zeros) or fat (FAT32, as sold)
source "$top/tests/e2e/rig.sh"
[ -x /usr/bin/time ] || fail "needs /usr/bin/time (package time)"
T0=$(now)
uptime0=$(uptime)

# The release: images/ent-college's recipe and content, plus a generated bundle of
# incompressible files shaped like a collège's key (sizes in KiB, cycling).
rig_prepare
rel=$E2E_WORK/guest/hub.cart
if stale "$rel" "$CARTABLE" "$E2E_WORK/guest/test.pub" || [ "$(cat "$E2E_WORK/hub.mib" 2>/dev/null)" != "$REL_MIB" ]; then
        rm -rf "$E2E_WORK/hub-bundle" "$rel"
        python3 - "$E2E_WORK/hub-bundle" "$REL_MIB" <<'EOF'
import os, sys
root, mib = sys.argv[1], int(sys.argv[2])
scale = mib / 340
def gen(d, n, sizes_kib, name, ext):
    os.makedirs(os.path.join(root, d), exist_ok=True)
    for i in range(max(1, round(n * scale))):
        with open(os.path.join(root, d, f"{name}{i:04d}.{ext}"), "wb") as f:
            f.write(os.urandom(sizes_kib[i % len(sizes_kib)] * 1024))
gen("Lanceur", 1, [8192], "lanceur", "exe")
gen("Lanceur/ressources", 30, [12], "icone", "png")
apps = {"LibreOfficePortable": 1000, "GeoGebraPortable": 250, "AudacityPortable": 150,
        "VLCPortable": 250, "ScratchPortable": 100}
for app, n in apps.items():
    for sub in range(4):
        gen(f"Applications/{app}/lib{sub}", n / 4, [8, 24, 64, 160, 480], "module", "dll")
gen("Cours/videos", 8, [8192], "cours", "mp4")
gen("Cours/fiches", 100, [160], "fiche", "pdf")
EOF
        "$CARTABLE" image build "$top/images/ent-college" "$E2E_WORK/hub-bundle" --key "$E2E_WORK/test.key" \
                --output "$rel" -q
        echo "$REL_MIB" >"$E2E_WORK/hub.mib"
        rm -f "$E2E_WORK/initrd.gz"
        rig_prepare     # the station image again, with this release
fi
rel_files=$(find "$E2E_WORK/hub-bundle" -type f | wc -l)

# 1. cartable's own CPU per key natively: 8 image files in memory (a tmpfs), one batch; against 8
# parallel dd + cmp of the bytes one key had written. Three rounds each, alternating.
native_cpu() { # native_cpu RELEASE LABEL: prints "LABEL written read cpu_per_key dd_cpu_per_key wall dd_wall" per round
        local r=$1 label=$2 d round i w
        # A tmpfs of its own: image files in memory (cartable refuses image paths under /dev).
        d=$E2E_WORK/native
        mkdir -p "$d"; mountpoint -q "$d" || mount -t tmpfs -o size=8G cartable-hub-native "$d"
        trap 'umount "$d"' EXIT
        for round in 1 2 3; do
                rm -rf "${d:?}"/*; "$CARTABLE" journal init --journal "$d/j.db" >/dev/null
                local t=(); for i in 1 2 3 4 5 6 7 8; do t+=(--target "$d/k$i.img"); done
                /usr/bin/time -f '%U %S %e' -o "$d/time" "$CARTABLE" batch "$r" --trust "$E2E_WORK/guest/test.pub" \
                        --journal "$d/j.db" --stock --size 2G --operator bench --json "${t[@]}" >"$d/ev" 2>"$d/err" ||
                        fail "native batch: $(tail -3 "$d/err")"
                [ "$(jq -s '[.[] | select(.event == "done")] | length' "$d/ev")" = 8 ] || fail "native batch: $(grep -v progress "$d/ev")"
                w=$(jq -s '[.[] | select(.event == "done")][0].bytes_written' "$d/ev")
                local rd; rd=$(jq -s '[.[] | select(.event == "done")][0].bytes_read' "$d/ev")
                read -r u s e <"$d/time"
                head -c "$w" /dev/urandom >"$d/src"
                rm -f "$d"/k*.img; sync
                /usr/bin/time -f '%U %S %e' -o "$d/time" bash -c 'for i in 1 2 3 4 5 6 7 8; do
                        (dd if="$1/src" of="$1/dd$i.img" bs=1M status=none && cmp "$1/src" "$1/dd$i.img") & done; wait' _ "$d"
                read -r du ds de <"$d/time"
                echo "$label $w $rd $(echo "scale=4; ($u + $s) / 8" | bc) $(echo "scale=4; ($du + $ds) / 8" | bc) $e $de"
                rm -f "$d"/dd*.img
        done
        umount "$d"; trap - EXIT
}
native=$E2E_WORK/native.txt
: >"$native"
native_cpu "$rel" big >>"$native"
native_cpu "$E2E_WORK/guest/release.cart" e2e >>"$native"
host_sha=$( { /usr/bin/time -f '%e' busybox sha256sum "$rel" >/dev/null; } 2>&1 )

# 2. The guest: the hubs' throttle groups on the command line, the keys hot-plugged per phase.
rig_scenario hubbench
KEYS=${RIG_KEYS_DIR:-/dev/shm}/cartable-hub-bench.$$
mkdir -p "$KEYS"
hub_group hub1 usb2; hub_group hub2 usb2; hub_group hub3 usb3
RIG_MEM=2048 RIG_APPEND="hubphases=${HUB_PHASES// /,}"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
rig_boot
trap 'rig_kill; rm -rf "$KEYS"' EXIT
for t in $HUB_PHASES; do
        IFS=- read -r kind hubs per <<<"$t"
        waitfor "^@@ MARK HUB_READY $t " 1800
        ids=()
        for k in $(seq "$per"); do
                for h in $(seq "$hubs"); do
                        if [ "$kind" = usb3 ]; then hub=hub3; else hub=hub$h; fi
                        id=${kind}x${hubs}h${h}k$k
                        # KEY_FORMAT=fat: a key as sold, FAT32 from its factory (its old content is
                        # then judged from its volume); blank: zeros, which a batch with --erase
                        # auto reads 16 MiB of to call blank (station/held.h).
                        if [ "$KEY_FORMAT" = fat ]; then
                                truncate -s 2G "$KEYS/$id.img"; mkfs.fat -F 32 -n USB "$KEYS/$id.img" >/dev/null
                        fi
                        ln -sf "$KEYS/$id.img" "$RUN/$id.img"
                        hub_plug "$id" "$(printf '%s%d%dK%03d' "${kind:3:1}" "$hubs" "$h" "$k")" "$hub"
                        ids+=("$id")
                        echo "$t $id $hub $(printf '%s%d%dK%03d' "${kind:3:1}" "$hubs" "$h" "$k")" >>"$RUN/keys.txt"
                done
        done
        echo "[hub-bench] $t: ${#ids[@]} keys plugged"
        waitfor "^@@ (MARK HUB_DONE $t |HUB_KEY_FAILED )" 3600
        ! console | grep -m3 '^@@ HUB_KEY_FAILED ' || fail "$t: a key failed (above); the phase would wait for it"
        for id in "${ids[@]}"; do mon "device_del $id"; done
        sleep 2
        for id in "${ids[@]}"; do rm -f "$KEYS/$id.img"; done
done
rig_wait 600
rm -rf "$KEYS"
load1=$(cut -d' ' -f1-3 /proc/loadavg)
uptime1=$(uptime)
console >"$RUN/console.protocol"

# 3. The table.
python3 "$top/bench/hub-report.py" --console "$RUN/console.protocol" --keys "$RUN/keys.txt" --native "$native" \
        --phases "$HUB_PHASES" --swap "$SWAP_S" --release-bytes "$(stat -c %s "$rel")" --release-files "$rel_files" \
        --host-sha "$host_sha" --qemu "$(qemu-system-x86_64 --version | sed -n 's/.*version \([0-9.]*\).*/\1/p;q')" \
        --load "$uptime0 / $load0 (guest start) / $uptime1" --date "$(date -u '+%Y-%m-%d %H:%M UTC')" --cores "$(nproc)"
echo
echo "(bench ran $(printf %.0f "$(since "$T0")") s; guest logs in $RUN)"
