#!/bin/bash
# tamper.sh [BUILD]: proof that the host's assertions can fail. After a full run of the
# suite, it copies the logs and key images of every scenario, falsifies one piece of
# evidence at a time (a udev property, an exit code, a message, a byte of a refused disk or
# of a key, a dmesg line), judges the copy again (E2E_REPLAY=1, no boot) and expects a
# failure each time. Prints "caught" or "MISSED" per change; exits 1 if any was missed.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:-$top/build}")
src=$build/tests/e2e/work
m=$(mktemp -d "${TMPDIR:-/tmp}/e2e-tamper.XXXXXX")
trap 'rm -rf "$m"' EXIT
missed=0
export CARTABLE=$build/cmd/cartable BUILD_ROOT=$build E2E_REPLAY=1 E2E_WORK=$m
cp -a --sparse=always "$src/." "$m/"
try() { # try SCENARIO DESCRIPTION COMMAND...
        local s=$1 d=$2; shift 2
        rm -rf $m/$s; cp -a --sparse=always $src/$s $m/$s
        ( cd $m/$s && eval "$@" )
        out=$($top/tests/e2e/run.sh $s 2>&1); rc=$?
        if [ $rc = 1 ]; then echo "caught ($s): $d -> $(echo "$out" | grep -m1 -E 'FAIL|FAILED')"
        else echo "MISSED ($s): $d (exit $rc)"; missed=1; fi
}
log() { echo "sed -i '$1' console.log"; }
try discovery "udev lacks ID_USB_DRIVER" "$(log 's/ID_USB_DRIVER=usb-storage/ID_USB_DRIVER=uas/')"
try discovery "serial eligible=false" "$(log '0,/\"eligible\":true/s//\"eligible\":false/')"
try discovery "held key flashed (rc 0)" "$(log 's/^@@ RC refuse-HELD0004 4/@@ RC refuse-HELD0004 0/')"
try discovery "write-protect reason missing" "$(log 's/refused: read-only (write-protected)/refused: too small/g')"
try discovery "virtio disk not refused as not USB" "$(log 's/\"not USB\"/\"swap\"/g')"
try discovery "system disk changed" "printf x | dd of=system.img bs=1 seek=4096 conv=notrunc status=none"
try discovery "mounted key changed" "printf x | dd of=um.img bs=1 seek=5000000 conv=notrunc status=none"
try discovery "flashed key's file corrupted" "printf x | dd of=ua.img bs=1 seek=10485860 conv=notrunc status=none; true"
try discovery "unflashed key written" "printf x | dd of=ub.img bs=1 seek=512 conv=notrunc status=none"
try discovery "flash exit code" "$(log 's/^@@ RC flash 0/@@ RC flash 5/')"
try pulled "pulled key's flash succeeded" "$(log 's/^@@ RC f1 5/@@ RC f1 0/')"
try pulled "message without the step" "$(log 's/: write: at byte/: at byte/')"
try pulled "re-plugged key not verified" "$(log 's/^@@ RC reverify 0/@@ RC reverify 1/')"
try pulled "a kept key's boot sector signature broken" "printf xx | dd of=p2.img bs=1 seek=\$((1048576+510)) conv=notrunc status=none"
try ioerror "wrong offset in message" "$(log 's/write: at byte 10485760/write: at byte 10485761/')"
try ioerror "json offset missing" "$(log 's/,\"offset\":[0-9]*//')"
try ioerror "sector 0 written on the failed key" "printf '\x55\xaa' | dd of=f1.img bs=1 seek=510 conv=notrunc status=none"
try ioerror "good key failed" "$(log 's/^@@ RC f2 0/@@ RC f2 5/')"
try counterfeit "probe says good" "$(log 's/aliased (wrap-around counterfeit)/good/g')"
try counterfeit "data not restored" "printf x | dd of=fake.img bs=1 seek=100 conv=notrunc status=none"
try vfat "a file's hash differs through vfat" "$(log '0,/ LISEZ-MOI.txt$/s/^@@| 478 c/@@| 478 d/')"
try vfat "FAT warning in dmesg" "$(log 's/^@@ END dmesg-ro/@@| FAT-fs (sda1): Volume was not properly unmounted.\n@@ END dmesg-ro/')"
try vfat "changed course file not caught" "$(log 's/^@@ RC verify-changed 1/@@ RC verify-changed 0/')"
try vfat "pupil's file reported missing too" "$(log 's/0 missing, 0 modified, 1 extra/1 missing, 0 modified, 1 extra/')"
exit $missed
