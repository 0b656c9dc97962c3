#!/bin/bash
# lib/flash on real block devices (loop devices, as root): O_EXCL, flock, O_DIRECT,
# BLKRRPART, the capacity probe against counterfeits (fake-key over FUSE), an injected
# write error (nbdkit's error filter under nbdfuse). At the command line, a loop device is
# not USB: cartable flash refuses it and leaves it untouched.
. "$(dirname "$0")/lib.sh"
need_root
need_tool losetup
need_tool fsck.fat
: "${TOOL_FLASH_DEVICE:?}"
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
printf '[station]\nstate-dir = %s\n' "$SCRATCH" > cartable.conf

LOOPS=()
PIDS=()
cleanup() {
        for l in "${LOOPS[@]}"; do [ -n "$l" ] && losetup -d "$l" 2>/dev/null || true; done
        for m in "$SCRATCH"/mnt*; do [ -d "$m" ] && { fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null || true; }; done
        for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        rm -rf "$SCRATCH"
}
trap cleanup EXIT
# attach VAR [losetup options] FILE: a loop device, detached on exit whatever happens.
attach() { local var=$1 l; shift; l=$(losetup -f --show "$@"); LOOPS+=("$l"); printf -v "$var" %s "$l"; }
# detach DEV: and forget it, so that the exit trap never touches a number reused since.
detach() {
        local keep=() l
        losetup -d "$1"
        for l in "${LOOPS[@]}"; do [ "$l" = "$1" ] || keep+=("$l"); done
        LOOPS=("${keep[@]}")
}

mkdir -p content/Cours content/Outils
head -c 2500000 /dev/urandom > content/Outils/outil.bin
echo "cours" > content/Cours/intro.txt
"$CARTABLE" key generate --secret dep.key --public dep.pub --unencrypted >/dev/null
"$CARTABLE" image build --name college --version 2026.1 --serial 1 --min-size 64M \
        --key dep.key --output rel.cart -q content >/dev/null

# The command line refuses a loop device (not USB) and writes nothing on it.
head -c 128M /dev/urandom > disk.img
cp disk.img disk.orig
attach L disk.img
expect_exit 4 "$CARTABLE" flash rel.cart "$L" --trust dep.pub --yes
expect_in err 'not USB'
expect_exit 4 "$CARTABLE" flash rel.cart "$L" --trust dep.pub --yes --json
expect_in out '"outcome":"refused".*"reason":"policy-not-usb","error":"[^"]*: refused: not USB'
expect_exit 4 "$CARTABLE" flash rel.cart "$L" --trust dep.pub
detach "$L"
cmp disk.img disk.orig || fail "a refused loop device was written"

# lib/station and lib/flash on the loop device, over an old GPT: probe, write, read-back, BLKRRPART.
truncate -s 0 disk.img
truncate -s 256M disk.img
printf 'label: gpt\n,,L\n' | sfdisk -q disk.img
attach L disk.img
expect_exit 0 "$TOOL_FLASH_DEVICE" flash rel.cart "$L" dep.pub
expect_in out '^outcome ok$'
expect_in out "^device $L\$"
expect_in out '^probed 1$'
expect_in out '^direct 1$'
expect_in out '^real 268435456$'
expect_exit 0 "$CARTABLE" verify "$L" --trust dep.pub
detach "$L"
sfdisk -d disk.img > table
expect_in table '^label: dos$'
expect_in table 'start= *2048, size= *522240, type=c$'
[ "$(tail -c 512 disk.img | tr -d '\0' | wc -c)" = 0 ] || fail "the GPT backup header survived"
attach P -o 1048576 disk.img
fsck.fat -n "$P" > fsck.log 2>&1 || { cat fsck.log; fail "fsck.fat found errors"; }
detach "$P"
mcopy -n -i disk.img@@1M ::/Outils/outil.bin got
cmp got content/Outils/outil.bin || fail "outil.bin differs"

# A 4Kn key (4096-byte logical sectors): the table counts 4096-byte sectors, verify finds it.
truncate -s 512M disk4k.img
attach L --sector-size 4096 disk4k.img
expect_exit 0 "$TOOL_FLASH_DEVICE" flash rel.cart "$L" dep.pub --no-probe
expect_in out '^outcome ok$'
expect_exit 0 "$CARTABLE" verify "$L" --trust dep.pub
detach "$L"
fdisk -l -b 4096 disk4k.img > table4k
expect_in table4k 'disk4k.img1 +256 +131071 +130816 +511M +c '
expect_exit 0 "$CARTABLE" verify disk4k.img --trust dep.pub

# An image file on a file system whose disk has 4096-byte sectors: O_DIRECT is taken, then
# 512-byte aligned I/O is refused (EINVAL); writes and read-back go on buffered.
if command -v mkfs.ext4 >/dev/null; then
        truncate -s 256M fs4k.img
        attach L --sector-size 4096 fs4k.img
        mkfs.ext4 -q "$L"
        mkdir mnt4k
        mount "$L" mnt4k
        expect_exit 0 "$CARTABLE" flash rel.cart mnt4k/key.img --size 128M --trust dep.pub
        expect_in out 'buffered I/O'
        expect_exit 0 "$CARTABLE" verify mnt4k/key.img --trust dep.pub
        umount mnt4k
        detach "$L"
else
        skip_part "mkfs.ext4 missing: image on a 4096-byte sector file system not run"
fi

# A counterfeit: 256 MiB announced, 32 MiB real. Refused by the probe; nothing kept.
if [ -n "${TOOL_FAKE_KEY:-}" ] && command -v fusermount3 >/dev/null && [ -e /dev/fuse ]; then
        mkdir mnt
        truncate -s 32M backing.img
        "$TOOL_FAKE_KEY" --backing="$SCRATCH/backing.img" --size=268435456 --mode=wrap "$SCRATCH/mnt" -f 2>/dev/null &
        PIDS+=($!)
        for _ in $(seq 600); do [ -e mnt/key ] && break; sleep 0.1; done
        attach L mnt/key
        expect_exit 4 "$TOOL_FLASH_DEVICE" flash rel.cart "$L" dep.pub
        expect_in err 'capacity probe: counterfeit key: it announces 256.0 MiB but holds 32.0 MiB'
        expect_in out '^outcome refused$'
        expect_in out '^reason counterfeit$'
        detach "$L"
        [ "$(tr -d '\0' < backing.img | wc -c)" = 0 ] || fail "the probe left bytes on the counterfeit"
else
        skip_part "fake-key or FUSE missing: counterfeit case not run"
fi

# A key that reads back other bytes than were written (one byte of the FAT32 boot sector,
# inverted by fake-key's liar mode): the flash fails at read-back, naming the offset, exit 5.
if [ -n "${TOOL_FAKE_KEY:-}" ] && command -v fusermount3 >/dev/null && [ -e /dev/fuse ]; then
        mkdir mnt3
        truncate -s 128M liar.img
        "$TOOL_FAKE_KEY" --backing="$SCRATCH/liar.img" --size=134217728 --mode=liar --flip-at=1048579 "$SCRATCH/mnt3" -f 2>/dev/null &
        PIDS+=($!)
        for _ in $(seq 600); do [ -e mnt3/key ] && break; sleep 0.1; done
        # The command line, on the same lying file: exit 5, the JSON report says failed.
        expect_exit 5 "$CARTABLE" flash rel.cart mnt3/key --trust dep.pub --json
        expect_in err 'read-back: at byte 1048579 \(".+"\): the key holds other bytes than were written'
        tail -n1 out | jq -e '.event == "result" and .outcome == "failed" and .step == "read-back"
                and .offset == 1048579' >/dev/null || fail "the report does not say read-back failed at 1048579"
        attach L mnt3/key
        expect_exit 5 "$TOOL_FLASH_DEVICE" flash rel.cart "$L" dep.pub --no-probe
        expect_in err 'read-back: at byte 1048579 \(".+"\): the key holds other bytes than were written'
        expect_in out '^outcome failed$'
        expect_in out '^step read-back$'
        expect_in out '^failed_offset 1048579$'
        detach "$L"
        # The bytes were written (the backing file holds them); only reading lied.
        [ "$(dd if=liar.img bs=1 skip=1048579 count=1 status=none | od -An -c | tr -d ' ')" = M ] ||
                fail "the boot sector's OEM name was not written"
else
        skip_part "fake-key or FUSE missing: read-back mismatch case not run"
fi

# An injected write error names the step, the offset and what was being written.
if command -v nbdkit >/dev/null && command -v nbdfuse >/dev/null; then
        mkdir mnt2
        truncate -s 256M nbd.img
        nbdkit -f -U "$SCRATCH/nbd.sock" -P "$SCRATCH/nbd.pid" --filter=error file file="$SCRATCH/nbd.img" \
                error=EIO error-pwrite-rate=100% 2>nbdkit.log &
        PIDS+=($!)
        # The pid file is written once nbdkit accepts connections (the socket, before).
        for _ in $(seq 600); do [ -s nbd.pid ] && break; sleep 0.1; done
        nbdfuse "$SCRATCH/mnt2" --unix "$SCRATCH/nbd.sock" 2>nbdfuse.log &
        PIDS+=($!)
        for _ in $(seq 600); do [ -e mnt2/nbd ] && break; sleep 0.1; done
        attach L mnt2/nbd
        expect_exit 5 "$TOOL_FLASH_DEVICE" flash rel.cart "$L" dep.pub --no-probe
        expect_in err 'write: at byte [0-9]+ \(".+"\): Input/output error'
        expect_in out '^step write$'
        expect_in out '^reason io-error$'
        expect_exit 5 "$TOOL_FLASH_DEVICE" flash rel.cart "$L" dep.pub
        expect_in err 'capacity probe: at byte [0-9]+ \("probe (read|write|restore)"\): Input/output error'
        detach "$L"
else
        skip_part "nbdkit or nbdfuse missing: write error case not run"
fi
echo "flash-loop: ok"
