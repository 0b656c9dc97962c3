#!/bin/bash
# mkinitrd.sh OUT.cpio.gz STATION.img CARTABLE GUEST_DIR: the guest.
#  OUT.cpio.gz  its initramfs: Debian's kernel modules for USB storage, virtio, ext4, vfat
#               and device-mapper (resolved with modprobe -D for the guest kernel), busybox,
#               systemd-udevd with the rules that name disks, dmsetup.
#  STATION.img  its system disk (ext2, on virtio, mounted read-only at /station): the
#               cartable binary with the shared libraries ldd resolves, the C.utf8 locale,
#               and GUEST_DIR (release, keys, configuration, roster) as /station/e2e. Kept
#               out of the initramfs, which the emulated CPU would unpack at every boot.
set -euo pipefail
out=$1 station=$2 cartable=$3 guest_dir=$4
here=$(cd "$(dirname "$0")" && pwd)
kver=${KVER:?}
root=$(mktemp -d "${TMPDIR:-/tmp}/e2e-initrd.XXXXXX")
sys=$(mktemp -d "${TMPDIR:-/tmp}/e2e-station.XXXXXX")
trap 'rm -rf "$root" "$sys"' EXIT

mkdir -p "$root"/{bin,dev,proc,sys,run,tmp,mnt,etc,lib64,lib/x86_64-linux-gnu,var/lib}
ln -s bin "$root/sbin"
mkdir -p "$root/usr"
ln -s ../bin "$root/usr/bin"; ln -s ../bin "$root/usr/sbin"; ln -s ../lib "$root/usr/lib"
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list); do [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"; done

# copy_with_libs SRC [DST]: a binary and every shared library ldd resolves, same paths.
copy_with_libs() {
        local src=$1 dst=${2:-$1} lib
        mkdir -p "$root$(dirname "$dst")"; rm -f "$root$dst"; cp -L "$src" "$root$dst"
        for lib in $(ldd "$src" 2>/dev/null | grep -oE '/[^ ]+' || true); do
                mkdir -p "$root$(dirname "$lib")"
                [ -e "$root$lib" ] || cp -L "$lib" "$root$lib"
        done
}

mods="xhci_pci xhci_hcd usb_storage sd_mod virtio_pci virtio_blk virtio_rng ext4 dm_mod vfat
      nls_cp437 nls_iso8859_1 nls_utf8 nls_ascii"
for m in $mods; do modprobe -S "$kver" -D "$m"; done | awk '$1 == "insmod" { print $2 }' | sort -u |
while read -r ko; do mkdir -p "$root$(dirname "$ko")"; cp "$ko" "$root$ko"; done
cp /lib/modules/"$kver"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$kver/" 2>/dev/null || true
depmod -b "$root" "$kver"

printf 'root:x:0:0:root:/:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\ndisk:x:6:\ntty:x:5:\nkmem:x:15:\ndialout:x:20:\ncdrom:x:24:\ntape:x:26:\naudio:x:29:\nvideo:x:44:\ninput:x:105:\nrender:x:106:\nsgx:x:107:\nkvm:x:108:\n' > "$root/etc/group"

# udevd: the rules that give ID_BUS, ID_SERIAL_SHORT, ID_USB_* and /dev/disk/by-id.
copy_with_libs /bin/udevadm
mkdir -p "$root/lib/systemd" "$root/lib/udev/rules.d" "$root/etc/udev"
ln -s /bin/udevadm "$root/lib/systemd/systemd-udevd"
for r in 50-udev-default 60-block 60-persistent-storage 80-drivers; do
        cp /lib/udev/rules.d/$r.rules "$root/lib/udev/rules.d/"
done
copy_with_libs /lib/udev/scsi_id
copy_with_libs /sbin/dmsetup
cp "$here/guest-init" "$root/init"
cp "$here/guest.sh" "$root/guest.sh"
chmod +x "$root/init" "$root/guest.sh"
# cartable runs from the system disk, with its own libraries.
printf '#!/bin/sh\nLD_LIBRARY_PATH=/station/lib exec /station/bin/cartable "$@"\n' >"$root/bin/cartable"
chmod +x "$root/bin/cartable"
ln -s /station/locale "$root/lib/locale"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"

mkdir -p "$sys/bin" "$sys/lib" "$sys/locale"
cp -L "$cartable" "$sys/bin/cartable"
for lib in $(ldd "$cartable" | grep -oE '/[^ ]+'); do cp -L "$lib" "$sys/lib/"; done
cp -a /usr/lib/locale/C.utf8 "$sys/locale/"
cp -a "$guest_dir" "$sys/e2e"
rm -f "$station"
mke2fs -q -t ext2 -L station -d "$sys" "$station" $(( $(du -sm "$sys" | cut -f1) * 5 / 4 + 16 ))M
