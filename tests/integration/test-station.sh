#!/bin/bash
# What a station refuses to write and how a key is cancelled: flash and image export on
# image files only; every refusal leaves the target as it was, every cancelled key is
# checked with verify, sfdisk and blkid.
. "$(dirname "$0")/lib.sh"
need_tool sfdisk
need_tool blkid
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
mkdir state
# The station trusts dep.pub through its configuration.
printf '[trust]\nkey = %s/dep.pub\n[station]\nstate-dir = %s/state\n' "$SCRATCH" "$SCRATCH" > cartable.conf
"$CARTABLE" key generate --secret dep.key --public dep.pub --unencrypted >/dev/null
"$CARTABLE" key generate --secret other.key --public other.pub --unencrypted >/dev/null
mkdir -p content/Cours
echo "Théorème de Pythagore" > content/Cours/pythagore.txt
head -c 3000000 /dev/urandom > content/Cours/film.bin
"$CARTABLE" image build --name college --version 1 --serial 1 --min-size 64M --key dep.key \
        --output rel.cart -q content >/dev/null

# --- item 8: an existing file that is not a key image is refused unless --force
cp rel.cart victim.cart
cp rel.cart victim.orig
expect_exit 4 "$CARTABLE" flash rel.cart victim.cart --size 128M
expect_in err 'victim.cart: exists and is not a key image .*give --force'
cmp victim.cart victim.orig || fail "flash changed a file that is not a key image"
# ... and the release's own file, even with --force, under another name too
ln rel.cart hardlink.cart
expect_exit 4 "$CARTABLE" flash rel.cart rel.cart --size 128M --force
expect_in err 'rel.cart: this is the release being flashed'
expect_exit 4 "$CARTABLE" flash rel.cart hardlink.cart --size 128M --force
expect_in err 'this is the release being flashed'
cmp rel.cart victim.orig || fail "flash changed the release it flashed"
# ... /proc and /sys like /dev
expect_exit 4 "$CARTABLE" flash rel.cart /proc/cartable-test.img --size 128M
expect_in err '/proc/cartable-test.img: a path under /proc, not a USB key'
expect_exit 4 "$CARTABLE" flash rel.cart /sys/kernel/cartable-test.img --size 128M
expect_in err 'under /sys'
# A blank file, a key image and, with --force, anything else are written.
truncate -s 128M blank.img
expect_exit 0 "$CARTABLE" flash rel.cart blank.img
expect_exit 0 "$CARTABLE" flash rel.cart blank.img
expect_exit 0 "$CARTABLE" flash rel.cart victim.cart --size 128M --force
expect_exit 0 "$CARTABLE" verify victim.cart

# --- item 11: the same situation gives the same code, with words that say it
mkdir adir
expect_exit 4 "$CARTABLE" flash rel.cart adir --size 128M
expect_in err 'adir: a directory, neither a USB key nor an image file'
ln -s blank.img link.img
expect_exit 4 "$CARTABLE" flash rel.cart link.img
expect_in err 'link.img: a symbolic link; give the image file.s own path'
expect_not_in err 'Too many levels'
expect_exit 4 "$CARTABLE" flash rel.cart /dev/disk/by-id/usb-cartable-test-absent --size 128M
expect_in err 'no such device \(is the key plugged in\?\)'
expect_exit 4 "$CARTABLE" flash rel.cart /dev/sdcartabletest --size 128M
expect_in err 'no such device \(is the key plugged in\?\)'

# --- item 12: --trust replaces the configured keys ("is it signed by other?": no)
expect_exit 0 "$CARTABLE" image verify rel.cart
expect_exit 3 "$CARTABLE" image verify rel.cart --trust other.pub
expect_exit 3 "$CARTABLE" flash rel.cart t12.img --size 128M --trust other.pub
[ ! -e t12.img ] || fail "an untrusted release created its target"
expect_exit 3 "$CARTABLE" verify blank.img --trust other.pub
expect_exit 3 "$CARTABLE" image export rel.cart --trust other.pub --size 128M --output t12.img
expect_exit 0 "$CARTABLE" verify blank.img --trust dep.pub --trust other.pub

# --- item 13: a release built for 64M keys flashes onto a 64 MiB key, MBR and GPT;
# a minimum the layout cannot meet is refused when the release is built
"$CARTABLE" image build --name college --version 1 --serial 1 --min-size 64M --scheme gpt \
        --key dep.key --output gpt.cart -q content >/dev/null
expect_exit 0 "$CARTABLE" flash rel.cart k64.img --size 64M
expect_exit 0 "$CARTABLE" verify k64.img
expect_exit 0 "$CARTABLE" flash gpt.cart g64.img --size 64M
expect_exit 0 "$CARTABLE" verify g64.img
sfdisk -d g64.img > table
expect_in table '^label: gpt$'
expect_exit 65 "$CARTABLE" image build --name college --version 1 --serial 1 --min-size 64M \
        --alignment 4M --key dep.key --output four.cart content
expect_in err 'min-size 64.0 MiB: a key that small cannot hold a partition aligned to 4.0 MiB .*give min-size 67M or more'
[ ! -e four.cart ] || fail "a refused build left its output"

# --- item 14: export to /dev/null, an empty --trust directory, a repeated --owner
expect_exit 4 "$CARTABLE" image export rel.cart --size 128M --output /dev/null
expect_in err '/dev/null: a character device under /dev; image export writes a new regular file'
expect_not_in err 'plugged in'
mkdir emptydir
expect_exit 3 "$CARTABLE" image verify rel.cart --trust emptydir
expect_in err 'emptydir: no public key \(\*\.pub\) in this directory'
expect_not_in err 'give --trust'
expect_exit 64 "$CARTABLE" flash rel.cart o.img --size 128M --owner first-name=Léa --owner first-name=Tom
expect_in err '--owner first-name given twice \("Léa", then "Tom"\)'
[ ! -e o.img ] || fail "a usage error created the target"

# --- item 11: a full file system under an image is an I/O failure (5), not a refusal
if [ "$(id -u)" = 0 ] && mkdir small && mount -t tmpfs -o size=2M cartable-test small 2>/dev/null; then
        trap 'umount "$SCRATCH/small" 2>/dev/null || true; rm -rf "$SCRATCH"' EXIT
        expect_exit 5 "$CARTABLE" flash rel.cart small/key.img --size 128M
        expect_in err 'small/key.img: the file system holding small/key.img is full: write: .*No space left on device'
        [ ! -e small/key.img ] || fail "a failed flash left its new image"
        expect_exit 5 "$CARTABLE" image export rel.cart --size 128M --output small/exp.img
        expect_in err 'is full'
        [ -z "$(ls small)" ] || fail "a failed export left $(ls small)"
        umount small
        trap 'rm -rf "$SCRATCH"' EXIT
else
        echo "no tmpfs mount (not root?): the full file system case is skipped"
fi

# --- cancelling: SIGINT during the write stops the key; it is not a key afterwards
head -c 200M /dev/urandom > content/Cours/big.bin
"$CARTABLE" image build --name college --version 2 --serial 2 --min-size 512M --key dep.key \
        --output big.cart -q content >/dev/null
# cancel_at SIGNAL STEP CMD...: run CMD (with --json), send SIGNAL as STEP begins; $rc, err.txt
cancel_at() {
        local sig=$1 step=$2 line; shift 2
        coproc RUN { exec "$@" --json 2>"$SCRATCH/err.txt"; }
        local pid=$RUN_PID
        while read -r line <&"${RUN[0]}"; do
                case $line in *"\"step\":\"$step\""*) kill "-$sig" "$pid"; break ;; esac
        done
        rc=0
        wait "$pid" || rc=$?
}
truncate -s 512M cut.img
cancel_at INT write "$CARTABLE" flash big.cart cut.img
[ "$rc" = 130 ] || { cat err.txt; fail "a cancelled flash exited $rc, expected 130"; }
expect_in err.txt 'cut.img: cancelled by SIGINT at step (write|read-back): the key is not usable'
expect_exit 2 "$CARTABLE" verify cut.img
blkid -p cut.img > blk || true
expect_not_in blk 'PTTYPE'
# Cancelled during the read-back, a key that was good before loses its table too.
expect_exit 0 "$CARTABLE" flash big.cart cut.img
sfdisk -d cut.img > /dev/null || fail "the flash left no table"
cancel_at TERM read-back "$CARTABLE" flash big.cart cut.img
[ "$rc" = 130 ] || { cat err.txt; fail "a flash cancelled in read-back exited $rc, expected 130"; }
expect_in err.txt 'cancelled by SIGTERM at step read-back: the key is not usable'
expect_exit 2 "$CARTABLE" verify cut.img
# A new image cancelled is removed; an export cancelled by SIGHUP leaves nothing.
cancel_at INT write "$CARTABLE" flash big.cart new.img --size 512M
[ "$rc" = 130 ] || fail "exit $rc, expected 130"
[ ! -e new.img ] || fail "a cancelled flash left its new image"
cancel_at HUP write "$CARTABLE" image export big.cart --size 512M --output exp.img
[ "$rc" = 130 ] || fail "exit $rc, expected 130"
expect_in err.txt 'cancelled by SIGHUP'
[ -z "$(ls exp.img* 2>/dev/null)" ] || fail "a cancelled export left $(ls exp.img*)"
echo "station: ok"
