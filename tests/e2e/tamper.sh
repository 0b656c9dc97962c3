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
# jedit SQL: the guest's journal, carried in the console log (gzip, base64), changed by SQL.
jedit() {
        local db; db=$(mktemp)
        tr -d '\r' <console.log | awk '$0 == "@@ BEGIN journal.b64" { on = 1; next } $0 == "@@ END journal.b64" { on = 0 }
                on { sub(/^@@\| ?/, ""); print }' | base64 -d | gunzip >"$db"
        sqlite3 "$db" "$1"
        { tr -d '\r' <console.log | sed '/^@@ BEGIN journal.b64$/,$d'; echo "@@ BEGIN journal.b64"
          gzip -c "$db" | base64 | sed 's/^/@@| /'; tr -d '\r' <console.log | sed -n '/^@@ END journal.b64$/,$p'; } >console.new
        mv console.new console.log; rm -f "$db"
}
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
try batch "batch exit code" "$(log 's/^@@ RC batch 5/@@ RC batch 0/')"
try batch "hot-plugged key never started" "$(log '/^@@| {"event":"started".*BATC0004/d')"
try batch "a key given out of roster order" "$(log '/^@@| {"event":"started".*BATC0004/s/D1010/D1013/')"
try batch "a pupil given two keys" "$(log '/^@@| {"event":"done".*BATC0003/s/D1007/D1004/')"
try batch "pulled key recorded failed, not interrupted" "$(log '/^@@| /s/"event":"interrupted"/"event":"failed"/')"
try batch "pulled key's reason not key-removed" "$(log '/^@@| {"event":"interrupted"/s/key-removed/io-error/')"
try batch "pulled key's pupil not served when it came back" "$(log '/^@@| {"event":"done".*PULL0001/s/D1001/D1013/')"
try batch "summary miscounts pupils without a key" "$(log 's/^\(@@| {"event":"summary","done":4.*\)"without_key":6/\1"without_key":7/')"
try batch "roster list: a fifth pupil holds a key" "$(log '/^@@| .*"id":"D1013"/s/"key":null/"key":"usb:46f4:0001:X"/')"
try batch "a key not intact for verify in the guest" "$(log 's/^@@ RC verify-BATC0004 0/@@ RC verify-BATC0004 1/')"
try batch "second batch wrote a key" "$(log '0,/^@@| {"event":"skipped"/s/"event":"skipped"/"event":"started"/')"
try batch "journal: a key issued to nobody" "jedit \"UPDATE keys SET status = 'failed' WHERE serial = 'BATC0003'\""
try batch "journal: the pulled key's interruption missing" "jedit \"DELETE FROM events WHERE outcome = 'cancelled'\""
try batch "journal: hash chain broken" "jedit \"UPDATE events SET pupil_id = 'D1013' WHERE kind = 'issued' AND key_serial = 'BATC0004'\""
try batch "pulled key had left its write step when pulled" "$(log '/^@@ EV {"event":"removed".*PULL0001/i @@ EV {"event":"step","serial":"PULL0001","step":"read-back"}')"
try batch "pulled key's first sector written" "printf '\\x55\\xaa' | dd of=pulled-sector0 bs=1 seek=510 conv=notrunc status=none"
try batch "a batch key's boot sector broken" "printf xx | dd of=b3.img bs=1 seek=\$((1048576+510)) conv=notrunc status=none"
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
try hub "a key's drive behind another hub" "sed -i '0,/\"throttle-group\": \"hub1\"/s//\"throttle-group\": \"hub2\"/' info-block.txt"
try hub "two keys in one key's group" "sed -i 's/\"throttle-group\": \"khh1k2\"/\"throttle-group\": \"khh1k1\"/' info-block.txt"
try hub "the hub's bus not shared (no bps-total)" "sed -i 's/\"bps-total\": 37748736/\"bps-total\": 0/' hub1.limits.json"
try hub "a key's write rate unlimited" "sed -i 's/\"bps-write\": 12582912/\"bps-write\": 0/' khh1k3.limits.json"
try hub "a key on the hub not done" "$(log '0,/\"event\":\"done\"/s//\"event\":\"failed\"/')"
exit $missed
