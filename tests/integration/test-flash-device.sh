#!/bin/bash
# lib/ probe, layout and writer on real block devices (loop devices), through the
# flash-device test tool: the capacity probe on a good key and on counterfeits served by
# fake-key (FUSE), and the partition table replacing an old GPT, checked by sfdisk/blkid.
. "$(dirname "$0")/lib.sh"
need_root
need_tool losetup
need_tool sfdisk
: "${TOOL_FLASH_DEVICE:?}"

LOOPS=()
FUSE_PID=
cleanup() {
        for l in "${LOOPS[@]}"; do [ -n "$l" ] && losetup -d "$l" 2>/dev/null || true; done
        if [ -n "$FUSE_PID" ]; then
                fusermount3 -u "$SCRATCH/mnt" 2>/dev/null || umount "$SCRATCH/mnt" 2>/dev/null || true
                wait "$FUSE_PID" 2>/dev/null || true
        fi
        rm -rf "$SCRATCH"
}
trap cleanup EXIT
# attach VAR FILE: a loop device, detached on exit whatever happens.
attach() { local l; l=$(losetup -f --show "$2"); LOOPS+=("$l"); printf -v "$1" %s "$l"; }
# detach DEV: and forget it, so that the exit trap never touches a number reused since.
detach() {
        local keep=() l
        losetup -d "$1"
        for l in "${LOOPS[@]}"; do [ "$l" = "$1" ] || keep+=("$l"); done
        LOOPS=("${keep[@]}")
}

# A good key: the probe says so, and gives back every byte it touched.
head -c 64M /dev/urandom > good.img
cp good.img good.orig
attach L good.img
expect_exit 0 "$TOOL_FLASH_DEVICE" probe "$L"
expect_in out '^verdict good$'
expect_in out '^real 67108864$'
detach "$L"
cmp good.img good.orig || fail "the probe did not restore what it touched"

# Counterfeits: 256 MiB announced, 32 MiB real, wrapping or losing what lies past it. The
# probe says so, and lib/flash refuses them before writing anything.
if [ -n "${TOOL_FAKE_KEY:-}" ] && command -v fusermount3 >/dev/null && [ -e /dev/fuse ]; then
        mkdir -p content
        echo "cours" > content/intro.txt
        "$CARTABLE" key generate --secret dep.key --public dep.pub --unencrypted >/dev/null
        "$CARTABLE" image build --name college --version 1 --serial 1 --min-size 64M \
                --key dep.key --output rel.cart -q content >/dev/null
        for mode in wrap lose; do
                mkdir -p mnt
                truncate -s 0 backing.img
                truncate -s 32M backing.img
                "$TOOL_FAKE_KEY" --backing="$SCRATCH/backing.img" --size=268435456 --mode=$mode "$SCRATCH/mnt" -f 2>/dev/null &
                FUSE_PID=$!
                for _ in $(seq 600); do [ -e mnt/key ] && break; sleep 0.1; done
                [ -e mnt/key ] || fail "fake-key did not start"
                attach L mnt/key
                expect_exit 4 "$TOOL_FLASH_DEVICE" probe "$L"
                expect_in out '^real 33554432$'
                expect_in out "^verdict $( [ $mode = wrap ] && echo aliased || echo 'data lost')"
                expect_exit 4 "$TOOL_FLASH_DEVICE" flash rel.cart "$L" dep.pub
                expect_in err 'capacity probe: counterfeit key: it announces 256\.0 MiB but holds 32\.0 MiB'
                expect_in out '^outcome refused$'
                [ "$(tr -d '\0' < backing.img | wc -c)" = 0 ] || fail "bytes left on the $mode counterfeit"
                detach "$L"
                fusermount3 -u mnt
                wait "$FUSE_PID" || true
                FUSE_PID=
        done
else
        skip_part "fake-key or FUSE missing: counterfeit cases not run"
fi

# An old GPT is replaced by an MBR: no primary, no backup header left.
truncate -s 256M key.img
printf 'label: gpt\n,,L\n' | sfdisk -q key.img
attach L key.img
expect_exit 0 "$TOOL_FLASH_DEVICE" layout "$L" mbr
expect_in out '^partition 1048576 267386880$'
expect_in out '^direct 1$'
detach "$L"
sfdisk -d key.img > table
expect_in table '^label: dos$'
expect_in table 'start= *2048, size= *522240, type=c$'
blkid -p key.img > blk || true
expect_in blk 'PTTYPE="dos"'
[ "$(tail -c 512 key.img | tr -d '\0' | wc -c)" = 0 ] || fail "the GPT backup header survived"
[ "$(head -c 1024 key.img | tail -c 512 | tr -d '\0' | wc -c)" = 0 ] || fail "the GPT primary header survived"

# And the other way round: a GPT with one basic data partition.
attach L key.img
expect_exit 0 "$TOOL_FLASH_DEVICE" layout "$L" gpt
detach "$L"
sfdisk -d key.img > table
expect_in table '^label: gpt$'
expect_in table 'start= *2048, .*type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7'
echo "flash-device: ok"
