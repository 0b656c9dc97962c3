#!/bin/bash
# device_target_open on loop devices (root): a loop device is not USB, so `cartable devices
# --all` lists it as refused and the target open refuses it, leaving every byte untouched.
# With the test-only USB waiver (tests/tools/device-open), the open, O_EXCL, flock and
# identity checks run for real; mounted and swap disks are refused by the real /proc files.
. "$(dirname "$0")/lib.sh"
need_root
need_tool losetup
: "${TOOL_DEVICE_OPEN:?run through meson test}"

LOOP= HOLDER= WATCH= MNT=
cleanup() {
        [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null && { wait "$HOLDER" 2>/dev/null || true; }
        [ -n "$WATCH" ] && kill "$WATCH" 2>/dev/null && { wait "$WATCH" 2>/dev/null || true; }
        [ -n "$MNT" ] && mountpoint -q "$MNT" && umount "$MNT"
        [ -n "$LOOP" ] && grep -q "^$LOOP " /proc/swaps && swapoff "$LOOP"
        # The read-only flag outlives the loop device's attachment: never leave it set.
        [ -n "$LOOP" ] && blockdev --setrw "$LOOP"
        [ -n "$LOOP" ] && losetup -d "$LOOP"
        rm -rf "$SCRATCH"
}
trap cleanup EXIT

head -c 8M /dev/urandom > img
sum=$(sha256sum < img)
# Watch events while the loop device appears and goes (kernel uevents, no udevd needed).
# watch_ready PID: until PID holds a netlink uevent socket (protocol 15) bound to a group:
# from then on the kernel queues every uevent for it.
watch_ready() {
        local i
        for _ in $(seq 1200); do
                for i in $(find "/proc/$1/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n'); do
                        awk -v i="$i" '$2 == 15 && $4 != "00000000" && $10 == i { found = 1 } END { exit !found }' \
                                /proc/net/netlink && return 0
                done
                kill -0 "$1" 2>/dev/null || fail "devices --watch ended: $(cat watch.err)"
                sleep 0.05
        done
        fail "devices --watch does not listen to uevents after 60 s"
}
# wait_event JQ-FILTER: until watch.json holds an event that matches.
wait_event() {
        for _ in $(seq 1200); do
                jq -s -e "any(.[]; $1)" watch.json >/dev/null 2>&1 && return 0
                sleep 0.05
        done
        cat watch.json; fail "no event $1 after 60 s"
}
"$CARTABLE" devices --watch --all --json > watch.json 2> watch.err &
WATCH=$!
watch_ready "$WATCH"
LOOP=$(losetup -f --show img)
blockdev --setrw "$LOOP"     # a read-only flag left by an earlier run outlives detaching
name=${LOOP#/dev/}

# Listed with --all, refused, with its reasons; never among the USB keys.
expect_exit 0 "$CARTABLE" devices --all
expect_in out "^$LOOP  8\.0 MiB  sectors 512/512  refused: not USB; not removable; too small \(8\.0 MiB < 64\.0 MiB\)$"
expect_exit 0 "$CARTABLE" devices
expect_not_in out "$LOOP"
expect_exit 0 "$CARTABLE" devices --all --json
jq -e --arg p "$LOOP" '.[] | select(.path == $p) | .eligible == false and .usb == false
        and (.reasons | index("not USB") != null) and .content.probed == false' out >/dev/null ||
        fail "$LOOP not refused as not USB in the JSON listing"

# The real policy refuses it, naming each rule, and writes nothing.
expect_exit 4 "$TOOL_DEVICE_OPEN" "$LOOP"
expect_in err "$LOOP: refused: not USB; not removable$"
expect_in out "^reason policy-not-usb$"
[ "$(sha256sum < "$LOOP")" = "$sum" ] || fail "$LOOP changed"

# With the waiver: opened through a symlink, identified by its dev_t, sizes from the kernel.
ln -s "$LOOP" link
expect_exit 0 "$TOOL_DEVICE_OPEN" --waive-usb link
expect_in out "^opened $LOOP devnum=7:[0-9]+ size=8388608 sectors=512/512 serial=\(none\)$"
expect_exit 4 "$TOOL_DEVICE_OPEN" --waive-usb --serial ABC123 "$LOOP"
expect_in err "serial \(none\) is not the expected ABC123"
expect_in out "^reason serial-mismatch$"
# An allow list: a disk without VID:PID is on no list, so it is refused.
expect_exit 4 "$TOOL_DEVICE_OPEN" --waive-usb --allow 1234:5678 "$LOOP"
expect_in err "$LOOP: refused: not allowed \(no VID:PID is not on the allow list\)$"
expect_exit 4 "$TOOL_DEVICE_OPEN" --waive-usb img
expect_in err "img: refused: a regular file, not a block device"
expect_in out "^reason not-a-block-device$"

# A second holder: O_EXCL gives EBUSY, a refusal (never retried without O_EXCL).
mkfifo hold
"$TOOL_DEVICE_OPEN" --waive-usb --hold "$LOOP" < hold > holder.out &
HOLDER=$!
exec 3> hold
for _ in $(seq 600); do grep -q opened holder.out && break; sleep 0.1; done
expect_in holder.out "^opened $LOOP"
expect_exit 5 "$TOOL_DEVICE_OPEN" --waive-usb "$LOOP"
expect_in err "$LOOP: refused: in use"
expect_in out "^reason in-use$"
exec 3>&-
wait "$HOLDER"; HOLDER=

# A flock holder without O_EXCL (this shell, through fd 4): the lock is refused.
exec 4< "$LOOP"
flock -x 4
expect_exit 5 "$TOOL_DEVICE_OPEN" --waive-usb "$LOOP"
expect_in err "$LOOP: refused: locked by another program \(flock\)"
expect_in out "^reason in-use$"
exec 4<&-

[ "$(sha256sum < "$LOOP")" = "$sum" ] || fail "$LOOP changed"

# Write-protected between the first judgement and the open: the second one refuses it.
expect_exit 4 "$TOOL_DEVICE_OPEN" --waive-usb --window "blockdev --setro $LOOP" "$LOOP"
expect_in err "$LOOP: refused: read-only \(write-protected\)$"
blockdev --setrw "$LOOP"
[ "$(sha256sum < "$LOOP")" = "$sum" ] || fail "$LOOP changed"

# Mounted and swap, from the real /proc/self/mountinfo and /proc/swaps, by dev_t.
if mkfs.ext4 -q "$LOOP" 2>/dev/null && mkdir mnt && mount "$LOOP" mnt 2>/dev/null; then
        MNT=$SCRATCH/mnt
        expect_exit 4 "$TOOL_DEVICE_OPEN" --waive-usb "$LOOP"
        expect_in err "$LOOP: refused: mounted \($name on $MNT\)$"
        expect_in out "^reason policy-mounted$"
        umount "$MNT"
fi
if mkswap -q "$LOOP" >/dev/null 2>&1 && swapon "$LOOP" 2>/dev/null; then
        expect_exit 4 "$TOOL_DEVICE_OPEN" --waive-usb "$LOOP"
        expect_in err "$LOOP: refused: swap \($name\)$"
        expect_in out "^reason policy-swap$"
        swapoff "$LOOP"
fi

losetup -d "$LOOP"
path=$LOOP LOOP=     # detached: the number may be someone else's from now on
wait_event '.event == "remove" and .device.path == "'"$path"'"'
kill -INT "$WATCH"
wait "$WATCH" || fail "devices --watch exited $?: $(cat watch.err)"
WATCH=
jq -s -e --arg p "$path" 'any(.[]; .event == "add" and .device.path == $p and .device.eligible == false)' watch.json >/dev/null ||
        { cat watch.json; fail "no add event for $path"; }
jq -s -e --arg p "$path" 'any(.[]; .event == "remove" and .device.path == $p)' watch.json >/dev/null ||
        { cat watch.json; fail "no remove event for $path"; }
echo "device-target: ok"
