#!/bin/sh
# The guest side of the e2e scenarios: guest.sh SCENARIO. It acts and reports; the host
# (tests/e2e/run.sh) judges. Protocol on the console, one line each:
#   @@ MARK NAME ...             a point the host may wait for
#   @@ RC NAME CODE              a command's exit code
#   @@ BEGIN NAME / @@ END NAME  a file's lines, each prefixed "@@| "
# The host never trusts the guest's own verdicts: it parses these blocks itself.
export PATH=/bin:/sbin LANG=C.UTF-8 CARTABLE_CONFIG=/station/e2e/cartable.conf
export DM_DISABLE_UDEV=1
release=/station/e2e/release.cart
up() { cut -d' ' -f1 /proc/uptime; }
mark() { echo "@@ MARK $* uptime=$(up)"; }
block() { echo "@@ BEGIN $2"; sed 's/^/@@| /' "$1"; echo "@@ END $2"; }
# run NAME CMD...: stdout and stderr as blocks NAME.out and NAME.err, then its code.
run() {
        name=$1; shift
        "$@" >/tmp/$name.out 2>/tmp/$name.err
        rc=$?
        block /tmp/$name.out $name.out; block /tmp/$name.err $name.err
        echo "@@ RC $name $rc"
        return $rc
}
# byid SERIAL: the /dev/disk/by-id link udev made for the stick with that serial.
byid() { for l in /dev/disk/by-id/usb-*_$1-0:0; do [ -e "$l" ] && { echo "$l"; return 0; }; done; return 1; }
# wait_stick SERIAL [TENTHS]: until udev has named it.
wait_stick() {
        i=0
        until byid "$1" >/dev/null; do
                i=$((i + 1)); [ $i -gt "${2:-600}" ] && { echo "@@ TIMEOUT stick $1"; return 1; }
                sleep 0.1
        done
}
wait_gone() {
        i=0
        while byid "$1" >/dev/null || [ -e "/sys/block/${2:-none}" ]; do
                i=$((i + 1)); [ $i -gt "${3:-600}" ] && { echo "@@ TIMEOUT gone $1"; return 1; }
                sleep 0.1
        done
}
disk_of() { readlink -f "$(byid "$1")"; }
sticks() { for s in "$@"; do wait_stick "$s" || return 1; done; udevadm settle -t 30; }
# flash_bg NAME SERIAL: flash in the background, JSON lines into /tmp/NAME.json.
flash_bg() {
        ( cartable flash "$release" "$(byid "$2")" --serial "$2" --yes --json \
                >/tmp/$1.json 2>/tmp/$1.err; echo $? >/tmp/$1.rc ) &
}
flash_report() {
        block /tmp/$1.json $1.json; block /tmp/$1.err $1.err; echo "@@ RC $1 $(cat /tmp/$1.rc)"
}

# 1. Discovery and policy with udevd, then one flash through /dev/disk/by-id.
scenario_discovery() {
        sticks E2EA0001 E2EB0002 MOUNTED3 HELD0004 WPROT005 FIXED006 || return 1
        i=0; until [ -e /sys/block/vda ] || [ $i -gt 300 ]; do sleep 0.1; i=$((i + 1)); done
        for d in /sys/block/sd* /sys/block/vda; do
                udevadm info -q property -n /dev/${d##*/} >/tmp/udev.${d##*/}
                block /tmp/udev.${d##*/} udev.${d##*/}
        done
        ls -l /dev/disk/by-id/ >/tmp/byid; block /tmp/byid byid
        mkdir -p /mnt/m
        run mount mount -t vfat -o ro "$(byid MOUNTED3)-part1" /mnt/m
        held=$(disk_of HELD0004)
        run dmsetup dmsetup create e2e-held --table "0 $(blockdev --getsz $held) linear $held 0"
        ls /sys/block/${held##*/}/holders >/tmp/holders; block /tmp/holders holders
        run devices-json cartable devices --all --json
        run devices cartable devices --all
        for s in MOUNTED3 HELD0004 WPROT005 FIXED006; do
                run refuse-$s cartable flash "$release" "$(byid $s)" --yes
        done
        run refuse-vda cartable flash "$release" /dev/vda --yes
        run flash cartable flash "$release" "$(byid E2EA0001)" --yes --json
        run verify cartable verify "$(byid E2EA0001)"
        run verify-json cartable verify "$(byid E2EA0001)" --json
        umount /mnt/m; dmsetup remove e2e-held
}

# 3. A key pulled while it is written; the other two finish; re-plugged, it is flashed.
scenario_pulled() {
        sticks PULL0001 KEEP0002 KEEP0003 || return 1
        pulled=$(disk_of PULL0001)
        for n in 1 2 3; do flash_bg f$n $( [ $n = 1 ] && echo PULL0001 || echo KEEP000$n ); done
        i=0; until grep -q '"step":"write"' /tmp/f1.json 2>/dev/null || [ $i -gt 600 ]; do
                sleep 0.1; i=$((i + 1)); done
        mark WRITING PULL0001
        wait
        wait_gone PULL0001 ${pulled##*/}
        for n in 1 2 3; do flash_report f$n; done
        for n in 2 3; do run verify$n cartable verify "$(byid KEEP000$n)"; done
        mark REPLUG_READY
        sticks PULL0001 || return 1
        run reflash cartable flash "$release" "$(byid PULL0001)" --serial PULL0001 --yes --json
        run reverify cartable verify "$(byid PULL0001)"
}

# 4. Write errors injected by QEMU's blkdebug on one key; the others finish.
scenario_ioerror() {
        sticks FAIL0001 GOOD0002 GOOD0003 || return 1
        flash_bg f1 FAIL0001; flash_bg f2 GOOD0002; flash_bg f3 GOOD0003
        wait
        for n in 1 2 3; do flash_report f$n; done
        for n in 2 3; do run verify$n cartable verify "$(byid GOOD000$n)"; done
        dmesg | grep -iE 'I/O error|critical' | tail -5 >/tmp/dmesg; block /tmp/dmesg dmesg
}

# 5. A counterfeit key (nbdkit wraps writes past its real size): the probe refuses it.
scenario_counterfeit() {
        sticks FAKE0001 || return 1
        run devices-json cartable devices --json
        run flash cartable flash "$release" "$(byid FAKE0001)" --yes --json
}

# 6. Linux's vfat driver reads a flashed key; a pupil's file is allowed, a course change is not.
scenario_vfat() {
        sticks VFAT0001 || return 1
        key=$(byid VFAT0001)
        run flash cartable flash "$release" "$key" --yes
        udevadm settle -t 30
        mkdir -p /mnt/k
        dmesg -c >/dev/null
        run mount-ro mount -t vfat -o ro,utf8 "$key-part1" /mnt/k
        (cd /mnt/k && find . -type f | sort | while read -r f; do
                echo "$(stat -c %s "$f") $(sha256sum "$f" | cut -d' ' -f1) ${f#./}"; done) >/tmp/files
        block /tmp/files files
        (cd /mnt/k && find . -type d | sort) >/tmp/dirs; block /tmp/dirs dirs
        umount /mnt/k
        dmesg >/tmp/dmesg-ro; block /tmp/dmesg-ro dmesg-ro
        run mount-rw mount -t vfat -o rw,utf8 "$key-part1" /mnt/k
        printf 'mon devoir\n' >"/mnt/k/Mes documents/devoir.txt"
        umount /mnt/k
        run verify-pupil cartable verify "$key"
        mount -t vfat -o rw,utf8 "$key-part1" /mnt/k
        echo '<p>changé par la clé</p>' >>/mnt/k/index.html
        umount /mnt/k
        run verify-changed cartable verify "$key"
        dmesg >/tmp/dmesg-rw; block /tmp/dmesg-rw dmesg-rw
}

# 2. cartable batch through udevd: a class of the demo roster, three keys present at start,
# one hot-plugged by the host, one pulled during its write step and plugged in again; then
# a second batch finds the four keys intact and ends by --idle-exit.
scenario_batch() {
        sticks PULL0001 BATC0002 BATC0003 || return 1
        j=/tmp/journal.db
        run import cartable roster import /station/e2e/manifests/rosters/demo-roster.csv --journal $j
        run roster-before cartable roster list --school 0750001A --class 6A --journal $j --json
        # The events as they come: the host acts on them (@@ EV lines), and keeps them all.
        mark BATCH_START
        ( cartable batch "$release" --trust /station/e2e/test.pub --journal $j \
                --school 0750001A --class 6A --count 4 --operator e2e --json 2>/tmp/batch.err
          echo $? >/tmp/batch.rc ) |
        while IFS= read -r l; do
                printf '%s\n' "$l" >>/tmp/batch.json
                case "$l" in *'"event":"progress"'*) ;; *) echo "@@ EV $l" ;; esac
        done
        mark BATCH_END
        block /tmp/batch.json batch.json; block /tmp/batch.err batch.err; echo "@@ RC batch $(cat /tmp/batch.rc)"
        run roster-after cartable roster list --school 0750001A --class 6A --journal $j --json
        run journal-verify cartable journal verify --journal $j
        udevadm settle -t 30
        for s in PULL0001 BATC0002 BATC0003 BATC0004; do run verify-$s cartable verify "$(byid $s)"; done
        # Again: every key holds the release intact, is left alone, and the batch ends idle.
        run again cartable batch "$release" --trust /station/e2e/test.pub --journal $j \
                --school 0750001A --class 6A --idle-exit 3 --operator e2e --json
        # The journal itself, for the host's sqlite3 (written back whole by SQLite at close).
        gzip -c $j | base64 >/tmp/journal.b64; block /tmp/journal.b64 journal.b64
}

# The rig benchmark (bench/rig-bench.sh), on 8 throttled keys: one key's flash with the
# time of each step, then 1, 4 and 8 keys one after another, at once, and with dd.
scenario_bench() {
        all="BENCH001 BENCH002 BENCH003 BENCH004 BENCH005 BENCH006 BENCH007 BENCH008"
        sticks $all || return 1
        a=$(up)
        cartable flash "$release" "$(byid BENCH001)" --yes --json 2>/tmp/one.err |
                while IFS= read -r l; do echo "$(up) $l"; done >/tmp/one.tj
        b=$(up)
        block /tmp/one.tj one; block /tmp/one.err one.err
        echo "@@ BENCH one start=$a wall=$(awk "BEGIN { print $b - $a }")"
        w=$(sed -n 's/.*"bytes_written":\([0-9]*\).*/\1/p' /tmp/one.tj)
        r=$(sed -n 's/.*"bytes_read":\([0-9]*\).*/\1/p' /tmp/one.tj)
        wm=$(( (w + 1048575) / 1048576 )); rm=$(( (r + 1048575) / 1048576 ))
        for n in 1 4 8; do
                keys=$(echo $all | cut -d' ' -f1-$n)
                a=$(up)
                # udev probes each key after its partition re-read: let it finish (a
                # station waits for udev too), or O_EXCL finds the key busy.
                for k in $keys; do
                        udevadm settle -t 30
                        cartable flash "$release" "$(byid $k)" --yes >/dev/null 2>/tmp/err ||
                                echo "@@ BENCH_FAIL seq $k $(tail -1 /tmp/err)"
                done
                b=$(up)
                udevadm settle -t 30
                b=$(up)
                for k in $keys; do
                        ( cartable flash "$release" "$(byid $k)" --yes >/dev/null 2>/tmp/err.$k ||
                          echo "@@ BENCH_FAIL par $k $(tail -1 /tmp/err.$k)" ) &
                done
                wait
                c=$(up)
                udevadm settle -t 30
                c=$(up)
                for k in $keys; do
                        ( d=$(readlink -f "$(byid $k)")
                          dd if=/dev/zero of=$d bs=1M count=$wm oflag=direct 2>/dev/null &&
                          dd if=$d of=/dev/null bs=1M count=$rm iflag=direct 2>/dev/null ||
                          echo "@@ BENCH_FAIL dd $k" ) &
                done
                wait
                d=$(up)
                echo "@@ BENCH n=$n seq=$(awk "BEGIN { print $b - $a }") par=$(awk "BEGIN { print $c - $b }") dd=$(awk "BEGIN { print $d - $c }") dd_mib=$wm+$rm"
        done
}

mark START "$1"
"scenario_$1"
rc=$?
sync
mark DONE "$1" rc=$rc
