# Sourced by run.sh and bench/rig-bench.sh: the host side of the QEMU rig.
#   rig_prepare             packages, signing key, release, initramfs (cached in $E2E_WORK)
#   stick NAME SERIAL [DRIVE_OPTS] [DEVICE_OPTS]   a usb-storage key backed by NAME.img
#   rig_boot SCENARIO       QEMU (TCG) with the keys, a virtio system disk, the monitor
#   waitfor PATTERN SECS    until the console log has a line matching PATTERN
#   mon COMMAND             one QEMU monitor command (device_add, device_del, drive_add)
#   rig_wait                until the guest powers off
#   block NAME / rc NAME    what the guest printed between markers, a command's exit code
#   hub_group / hub_stick / hub_plug / rig_hubs   the hub model (see "Hubs" below)
set -euo pipefail
: "${CARTABLE:?run through meson test, or set CARTABLE=build/cmd/cartable}"
CARTABLE=$(realpath "$CARTABLE")
E2E_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# By hand, the build directory is the one that holds the binary (BUILD/cmd/cartable).
BUILD_ROOT=${BUILD_ROOT:-$(dirname "$(dirname "$CARTABLE")")}
E2E_WORK=${E2E_WORK:-$BUILD_ROOT/tests/e2e/work}
mkdir -p "$E2E_WORK"

fail() { echo "FAIL: $*" >&2; [ -n "${LOG:-}" ] && echo "(console log: $LOG)" >&2; exit 1; }
# A scenario that cannot run is skipped (77), except in CI, where a skipped safety test fails.
skip() {
        if [ "${CI:-}" = true ]; then echo "FAIL (CI, would skip): $*" >&2; exit 1; fi
        echo "SKIP: $*" >&2; exit 77
}
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc | sed 's/^\./0./'; }

rig_check_host() {
        [ "$(id -u)" = 0 ] || skip "needs root (loop devices for the host checks)"
        local missing
        if ! missing=$("$E2E_SRC/install-deps" --check); then
                if [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ]; then
                        "$E2E_SRC/install-deps"
                else
                        skip "missing packages: $missing (run tests/e2e/install-deps)"
                fi
        fi
        KVER=$(cd /lib/modules && ls | sort -V | tail -1)
        [ -n "$KVER" ] && [ -f "/boot/vmlinuz-$KVER" ] || skip "no Debian kernel for the guest (linux-image-amd64)"
        export KVER
}

# newer_than FILE OTHER...: FILE is missing or older than one of OTHER.
stale() { local f=$1; shift; [ -e "$f" ] || return 0; local o; for o in "$@"; do [ "$o" -nt "$f" ] && return 0; done; return 1; }

# The signing key, the release and the initramfs, made once and reused while nothing they
# are made of changed (a lock serialises concurrent scenario runs).
rig_prepare() {
        rig_check_host
        local g=$E2E_WORK/guest t0
        exec 9>"$E2E_WORK/.lock"; flock 9
        t0=$(now)
        mkdir -p "$g"
        if [ ! -f "$g/test.pub" ]; then
                "$CARTABLE" key generate --secret "$E2E_WORK/test.key" --public "$g/test.pub" \
                        --unencrypted --comment "cartable e2e test key: never trust it" >/dev/null
        fi
        if stale "$g/release.cart" "$CARTABLE" "$g/test.pub"; then
                # The example release plus 12 MiB of course videos, so that writing takes time.
                rm -rf "$E2E_WORK/extra" "$g/release.cart"
                mkdir -p "$E2E_WORK/extra/Ressources/videos"
                local i
                for i in 1 2 3; do
                        head -c 4M /dev/urandom >"$E2E_WORK/extra/Ressources/videos/cours-$i.mp4"
                done
                "$CARTABLE" image build "$E2E_SRC/../../images/ent-college" "$E2E_WORK/extra" \
                        --key "$E2E_WORK/test.key" --output "$g/release.cart" -q
                "$CARTABLE" image show "$g/release.cart" --trust "$g/test.pub" --json >"$E2E_WORK/release.json"
        fi
        if stale "$g/update.cart" "$g/release.cart"; then
                # Serial 2 of it, for the update scenario: a resource changed, one added
                # (fractions.html), one removed.
                rm -rf "$E2E_WORK/update-src" "$g/update.cart"
                cp -r "$E2E_SRC/../../images/ent-college" "$E2E_WORK/update-src"
                sed -i 's/^serial = .*/serial = 2/; s/^version = .*/version = 2027.09/' "$E2E_WORK/update-src/recipe.ini"
                echo "Réviser : relire, résumer, réciter." >>"$E2E_WORK/update-src/content/Ressources/methode-revision.txt"
                printf '<!doctype html><title>Fractions</title>\n' >"$E2E_WORK/update-src/content/Ressources/fractions.html"
                rm "$E2E_WORK/update-src/content/Ressources/multiplications.html"
                "$CARTABLE" image build "$E2E_WORK/update-src" "$E2E_WORK/extra" \
                        --key "$E2E_WORK/test.key" --output "$g/update.cart" -q
        fi
        printf '[trust]\nkey = /station/e2e/test.pub\n[station]\nstate-dir = /run/cartable\n' >"$g/cartable.conf"
        # A small class for the batch scenario, when manifests/ has one.
        if [ -d "$E2E_SRC/../../manifests" ]; then
                mkdir -p "$g/manifests"
                cp -r "$E2E_SRC/../../manifests/." "$g/manifests/"
        fi
        if stale "$E2E_WORK/initrd.gz" "$CARTABLE" "$g"/*.cart "$E2E_SRC"/{guest-init,guest.sh,mkinitrd.sh}; then
                "$E2E_SRC/mkinitrd.sh" "$E2E_WORK/initrd.gz.new" "$E2E_WORK/station.img" "$CARTABLE" "$g"
                mv "$E2E_WORK/initrd.gz.new" "$E2E_WORK/initrd.gz"
        fi
        flock -u 9
        echo "[e2e] guest ready in $(since "$t0") s (kernel $KVER, initramfs $(du -h "$E2E_WORK/initrd.gz" | cut -f1))"
}

# A scenario's own directory: key images, console log, monitor socket.
rig_scenario() {
        SCENARIO=$1
        RUN=$E2E_WORK/$SCENARIO
        # E2E_REPLAY=1: judge the last run's logs and images again, without booting (to
        # work on the host's assertions).
        if [ "${E2E_REPLAY:-}" = 1 ] && [ -f "$RUN/console.log" ]; then
                REPLAY=1
        else
                REPLAY=
                rm -rf "$RUN"; mkdir -p "$RUN"
        fi
        LOG=$RUN/console.log
        MON=$RUN/monitor.sock
        DEVS=(-device qemu-xhci,id=xhci,p2=15,p3=15)   # enough ports: no 12 Mb/s hub inserted
        N_STICKS=0
        [ -n "$REPLAY" ] || cp --sparse=always "$E2E_WORK/station.img" "$RUN/system.img"
}

# key_drive ID FILE [HUB]: a key's -drive options. On a hub (hub_stick, hub_plug), two QEMU
# throttle filters are stacked over the image: the key's own group (its limits), on top of
# the hub's group, which every key of that hub shares (the bus).
key_drive() {
        local id=$1 file=$2 hub=${3:-} common=cache=unsafe,werror=report,rerror=report
        if [ -z "$hub" ]; then
                echo "if=none,id=d$id,file=$file,format=raw,$common"
        else
                echo "if=none,id=d$id,driver=throttle,throttle-group=k$id,file.driver=throttle,file.throttle-group=$hub,file.file.driver=file,file.file.filename=$file,$common"
        fi
}

# stick ID SERIAL [DRIVE_OPTS] [DEVICE_OPTS]: a 2 GiB sparse key image $RUN/ID.img.
stick() {
        local id=$1 serial=$2 dopts=${3:-} vopts=${4:-removable=on}
        [ -e "$RUN/$id.img" ] || [ -n "$REPLAY" ] || truncate -s 2G "$RUN/$id.img"
        DEVS+=(-drive "$(key_drive "$id" "${FILE_OVERRIDE:-$RUN/$id.img}" "${STICK_HUB:-}")${dopts:+,$dopts}"
               -device "usb-storage,bus=${STICK_BUS:-xhci.0},drive=d$id,id=$id,serial=$serial,$vopts")
        N_STICKS=$((N_STICKS + 1))
}

# plug ID SERIAL [DRIVE_OPTS]: hot-plug (or re-plug) a key through the monitor.
plug() {
        [ -e "$RUN/$1.img" ] || [ -n "$REPLAY" ] || truncate -s 2G "$RUN/$1.img"
        mon "drive_add 0 $(key_drive "$1" "$RUN/$1.img" "${STICK_HUB:-}")${3:+,$3}"
        mon "device_add usb-storage,bus=${STICK_BUS:-xhci.0},drive=d$1,id=$1,serial=$2,removable=on"
}

# Hubs. On a real USB 2.0 hub every key shares one bus of about 35-40 MiB/s, reads and
# writes alike (half duplex): eight keys at once are bound by the bus, not by each key.
# QEMU's own usb-hub is a 12 Mb/s USB 1.1 device, so each hub is an xHCI controller of its
# own (xhci-NAME: 15 root ports, and room for 16 keys on two hubs), and the hub is modelled
# where the bytes are limited: a throttle group per hub (its bps-total is the bus), under a
# throttle group per key (the key's write and read rates).
#   hub_rates KIND     sets HUB_BUS_BPS, HUB_KEY_WRITE_BPS, HUB_KEY_READ_BPS for usb2
#                      (36 MiB/s shared; keys 12 MiB/s write, 24 MiB/s read) or usb3
#                      (350 MiB/s shared; USB 3 keys 30 MiB/s write, 90 MiB/s read);
#                      RIG_BUS_BPS, RIG_KEY_WRITE_BPS, RIG_KEY_READ_BPS override them.
#   hub_group NAME KIND   the hub's controller and throttle group (before rig_boot)
#   hub_stick ID SERIAL HUB / hub_plug ID SERIAL HUB   a key on that hub, cold or hot-plugged
#   rig_hubs PREFIX    the rig's options: RIG_HUB=usb2|usb3 (default usb2), RIG_HUBS=1|2
#                      (default 1), RIG_KEYS_PER_HUB=N (default 8); keys PREFIXhHkK with
#                      serials HUBHKNNN, listed in HUB_SERIALS (and ID:SERIAL:HUB in HUB_KEYS).
hub_rates() {
        case $1 in
        usb2) HUB_BUS_BPS=37748736 HUB_KEY_WRITE_BPS=12582912 HUB_KEY_READ_BPS=25165824 ;;
        usb3) HUB_BUS_BPS=367001600 HUB_KEY_WRITE_BPS=31457280 HUB_KEY_READ_BPS=94371840 ;;
        *) fail "hub kind '$1': usb2 or usb3" ;;
        esac
        HUB_BUS_BPS=${RIG_BUS_BPS:-$HUB_BUS_BPS}
        HUB_KEY_WRITE_BPS=${RIG_KEY_WRITE_BPS:-$HUB_KEY_WRITE_BPS}
        HUB_KEY_READ_BPS=${RIG_KEY_READ_BPS:-$HUB_KEY_READ_BPS}
}
declare -A HUB_KIND=() HUB_KEY_GROUP=()
# throttle_group ID LIMITS: a QEMU throttle group, on the command line or in the running QEMU.
throttle_group() {
        if [ -n "${QEMU_PID:-}" ]; then mon "object_add throttle-group,id=$1,$2"
        else DEVS+=(-object "throttle-group,id=$1,$2"); fi
}
hub_group() {
        [ -z "${QEMU_PID:-}" ] || fail "hub_group $1: before rig_boot (its controller is on the command line)"
        hub_rates "$2"
        HUB_KIND[$1]=$2
        DEVS+=(-device "qemu-xhci,id=xhci-$1,p2=15,p3=15")
        throttle_group "$1" "x-bps-total=$HUB_BUS_BPS"
}
hub_key_group() {
        [ -z "${HUB_KEY_GROUP[$1]:-}" ] || return 0     # plugged in again: its group is there
        HUB_KEY_GROUP[$1]=1
        hub_rates "${HUB_KIND[$2]:?no hub $2 (hub_group first)}"
        throttle_group "k$1" "x-bps-write=$HUB_KEY_WRITE_BPS,x-bps-read=$HUB_KEY_READ_BPS"
}
hub_stick() { hub_key_group "$1" "$3"; local STICK_HUB=$3 STICK_BUS=xhci-$3.0; stick "$1" "$2"; }
hub_plug() { hub_key_group "$1" "$3"; local STICK_HUB=$3 STICK_BUS=xhci-$3.0; plug "$1" "$2"; }
rig_hubs() {
        local kind=${RIG_HUB:-usb2} hubs=${RIG_HUBS:-1} per=${RIG_KEYS_PER_HUB:-8} h k
        case $hubs in 1|2) ;; *) fail "RIG_HUBS=$hubs: 1 or 2" ;; esac
        [ "$per" -ge 1 ] && [ "$per" -le 14 ] || fail "RIG_KEYS_PER_HUB=$per: 1 to 14 (a hub's controller has 15 ports)"
        local serial
        HUB_SERIALS= HUB_KEYS=()
        for h in $(seq "$hubs"); do hub_group "hub$h" "$kind"; done
        for k in $(seq "$per"); do
                for h in $(seq "$hubs"); do
                        serial=$(printf 'HUB%dK%03d' "$h" "$k")
                        hub_stick "$1h${h}k$k" "$serial" "hub$h"
                        HUB_SERIALS+="${HUB_SERIALS:+ }$serial"
                        HUB_KEYS+=("$1h${h}k$k:$serial:hub$h")
                done
        done
}

rig_boot() {
        BOOT_T0=$(now)
        if [ -n "$REPLAY" ]; then QEMU_PID=; return 0; fi
        BOOT_T0=$(now)
        qemu-system-x86_64 -accel tcg -machine q35 -smp 2 -m "${RIG_MEM:-1024}" -display none -no-reboot -nodefaults \
                -serial "file:$LOG" -monitor "unix:$MON,server,nowait" \
                -kernel "/boot/vmlinuz-$KVER" -initrd "$E2E_WORK/initrd.gz" \
                -append "console=ttyS0 loglevel=1 panic=-1 e2e=$SCENARIO${RIG_APPEND:+ $RIG_APPEND}" \
                -drive "if=none,id=sys,file=$RUN/system.img,format=raw" -device virtio-blk-pci,drive=sys \
                -device virtio-rng-pci \
                "${DEVS[@]}" >"$RUN/qemu.log" 2>&1 &
        QEMU_PID=$!
        trap 'rig_kill' EXIT
}

rig_kill() {
        if [ -n "${QEMU_PID:-}" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
                kill "$QEMU_PID" 2>/dev/null || true
                wait "$QEMU_PID" 2>/dev/null || true
        fi
        [ -n "${NBDKIT_PID:-}" ] && kill "$NBDKIT_PID" 2>/dev/null || true
}

# The console log without carriage returns, only the protocol's lines.
console() { [ -e "$LOG" ] || return 0; tr -d '\r' <"$LOG" 2>/dev/null | grep -a '^@@[ |]' || true; }

waitfor() {
        local pattern=$1 end=$(( $(date +%s) + $2 ))
        [ -z "$REPLAY" ] || { console | grep -E -- "$pattern" >/dev/null || fail "no '$pattern' in the log"; return 0; }
        until console | grep -E -- "$pattern" >/dev/null; do
                kill -0 "$QEMU_PID" 2>/dev/null || { tail -30 "$LOG" >&2; fail "QEMU exited before '$pattern'"; }
                [ "$(date +%s)" -lt "$end" ] || { tail -30 "$LOG" >&2; fail "timeout ($2 s) waiting for '$pattern'"; }
                sleep 0.2
        done
}

mon() {
        local out
        [ -z "$REPLAY" ] || return 0
        out=$(echo "$1" | socat - "UNIX-CONNECT:$MON" | tr -d '\r' | grep -avE '^(QEMU [0-9]|\(qemu\))' || true)
        echo "$out" >>"$RUN/monitor.log"
        [ -z "$(echo "$out" | grep -iE 'error|could not')" ] || fail "monitor: $1: $out"
        [ -z "$out" ] || [ "$out" = OK ] || echo "$out"
}

rig_wait() {
        waitfor "^@@ POWEROFF" "${1:-300}"
        [ -z "$QEMU_PID" ] || wait "$QEMU_PID" || true
        QEMU_PID=
        echo "[e2e] $SCENARIO: guest ran $(since "$BOOT_T0") s"
        console | grep "^@@ GUEST_RC 0" >/dev/null || { console | tail -20 >&2; fail "the guest script failed"; }
}

# block NAME: the lines the guest printed between @@ BEGIN NAME and @@ END NAME.
block() {
        console | awk -v n="$1" '$0 == "@@ BEGIN " n { on = 1; found = 1; next }
                $0 == "@@ END " n { on = 0; next } on { sub(/^@@\| ?/, ""); print }
                END { if (!found) exit 1 }' || fail "the guest printed no block '$1'"
}
rc() {
        local v
        v=$(console | sed -n "s/^@@ RC $1 \([0-9]*\)$/\1/p" | tail -1)
        [ -n "$v" ] || fail "the guest printed no exit code for '$1'"
        echo "$v"
}
# expect_rc NAME CODE: the guest's command NAME exited CODE (its stderr shown otherwise).
expect_rc() {
        local got; got=$(rc "$1")
        [ "$got" = "$2" ] || { (block "$1.err"; block "$1.out"; block "$1.json") >&2 2>/dev/null || true
                               fail "$1: exit code $got, expected $2"; }
}
# expect_block NAME PATTERN: grep -E PATTERN in the block.
# (grep without -q: it reads all its input, so a long log never dies of SIGPIPE under pipefail)
expect_block() { block "$1" | grep -E -- "$2" >/dev/null || { block "$1" >&2; fail "'$2' not in $1"; }; }
expect_not_block() { ! block "$1" | grep -E -- "$2" >/dev/null || { block "$1" >&2; fail "'$2' unexpectedly in $1"; }; }

# host_check_key IMG VERIFY_CODE: the key image judged by tools that are not cartable's:
# its partition table (sfdisk), its file system (blkid, fsck.fat on an offset loop
# device, mtools), then cartable verify on the image file.
host_check_key() {
        local img=$1 want=$2 off=1048576 dump fs loop code=0 out
        dump=$(sfdisk -d "$img" 2>&1) || fail "$img: sfdisk: $dump"
        grep -qE "^$img""1 : start= *2048, .*type=c" <<<"$dump" || fail "$img: partition table: $dump"
        fs=$(blkid -p -O $off -o export "$img") || fail "$img: blkid found no file system at 1 MiB"
        # (here-strings, not echo | grep -q: grep quitting early would kill echo with SIGPIPE,
        # which pipefail reports as a failure when echo wrote its lines one by one)
        grep -qx 'TYPE=vfat' <<<"$fs" && grep -qx 'VERSION=FAT32' <<<"$fs" &&
                grep -qxF 'LABEL=ENT\ COLLEGE' <<<"$fs" || fail "$img: blkid: $fs"
        loop=$(losetup -f --show -r -o $off "$img")
        out=$(fsck.fat -n "$loop" 2>&1) || code=$?
        losetup -d "$loop"
        [ $code = 0 ] || fail "$img: fsck.fat -n exited $code: $out"
        out=$(MTOOLS_SKIP_CHECK=1 mdir -i "$img@@$off" ::/Ressources/videos 2>&1) || fail "$img: mdir: $out"
        grep -q "cours-3" <<<"$out" || fail "$img: mdir shows no cours-3.mp4: $out"
        MTOOLS_SKIP_CHECK=1 mcopy -n -i "$img@@$off" ::/Ressources/videos/cours-2.mp4 "$RUN/cours-2.mp4"
        cmp -s "$RUN/cours-2.mp4" "$E2E_WORK/extra/Ressources/videos/cours-2.mp4" || fail "$img: cours-2.mp4 differs (mtools)"
        code=0
        out=$("$CARTABLE" verify "$img" --trust "$E2E_WORK/guest/test.pub" 2>&1) || code=$?
        [ "$code" = "$want" ] || fail "$img: cartable verify exited $code, expected $want: $out"
        echo "[e2e] $img: sfdisk, blkid, fsck.fat, mtools and verify ($want) agree"
}

# sums NAME... >FILE / check_sums FILE: sha256 of files of $RUN, to compare a refused disk
# before and after (names relative to $RUN, so that a replayed copy checks its own files).
sums() { (cd "$RUN" && sha256sum "$@"); }
check_sums() { (cd "$RUN" && sha256sum -c --quiet "$1") || fail "$2"; }
