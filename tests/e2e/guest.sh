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

# 7. cartable batch --update of a flashed key whose pupil wrote files through vfat: one in
# Mes documents, one in a folder of its own, one where the new release puts a file.
scenario_update() {
        sticks UPDT0001 || return 1
        key=$(byid UPDT0001)
        j=/tmp/journal.db
        run init cartable journal init --journal $j
        run flash cartable flash "$release" "$key" --yes --journal $j
        udevadm settle -t 30
        mkdir -p /mnt/k
        run mount-rw mount -t vfat -o rw,utf8 "$key-part1" /mnt/k
        printf 'mon devoir\n' >"/mnt/k/Mes documents/devoir.txt"
        mkdir -p "/mnt/k/Mes documents/Français"
        head -c 300000 /dev/urandom >"/mnt/k/Mes documents/Français/Une rédaction au nom long.txt"
        printf 'mes fractions à moi\n' >/mnt/k/Ressources/fractions.html
        (cd /mnt/k && sha256sum "Mes documents/devoir.txt" "Mes documents/Français/Une rédaction au nom long.txt" \
                Ressources/fractions.html) >/tmp/pupil-before
        umount /mnt/k
        block /tmp/pupil-before pupil-before
        dmesg -c >/dev/null
        run update cartable batch /station/e2e/update.cart --trust /station/e2e/test.pub --journal $j \
                --update --idle-exit 3 --operator e2e --json
        udevadm settle -t 30
        run verify cartable verify "$key"
        run journal cartable journal show --journal $j --json
        run mount-ro mount -t vfat -o ro,utf8 "$key-part1" /mnt/k
        (cd /mnt/k && find . -type f | sort | while read -r f; do
                echo "$(sha256sum "$f" | cut -d' ' -f1) ${f#./}"; done) >/tmp/files
        block /tmp/files files
        umount /mnt/k
        dmesg >/tmp/dmesg-update; block /tmp/dmesg-update dmesg-update
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

# 8. Keys on the hub model (the host checks QEMU's chain of throttle groups meanwhile): one
# batch flashes them at once, then each is verified.
scenario_hub() {
        serials=$(sed -n 's/.* hubkeys=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' ')
        sticks $serials || return 1
        mark HUB_KEYS
        cartable journal init --journal /tmp/hub.db >/dev/null
        t=""; for s in $serials; do t="$t --target $(byid $s)"; done
        run batch cartable batch "$release" --trust /station/e2e/test.pub --journal /tmp/hub.db \
                --stock --operator e2e --json $t
        udevadm settle -t 30
        for s in $serials; do run verify-$s cartable verify "$(byid $s)"; done
}

# The rig benchmark (bench/rig-bench.sh), on 8 throttled keys. Every line of a block is
# prefixed with the guest's uptime when it came, so the host can time each step.
stamp() { while IFS= read -r l; do case "$l" in *'"event":"progress"'*) ;; *) echo "$(up) $l" ;; esac; done; }
el() { awk "BEGIN { print $2 - $1 }"; }
settle() { udevadm settle -t 30; }
# bench_batch NAME RELEASE KEYS...: one cartable batch of those keys at once (release
# checked once), a fresh journal; its events as block NAME, its wall time. BENCH_MODE
# (default --stock --force): the batch's mode; BENCH_KEEP_JOURNAL=1: the journal the keys
# were flashed into, kept (batch --update).
bench_batch() {
        name=$1 rel=$2; shift 2
        t=""; for k in "$@"; do t="$t --target $(byid $k)"; done
        [ -n "${BENCH_KEEP_JOURNAL:-}" ] ||
                { rm -f /tmp/bench.db*; cartable journal init --journal /tmp/bench.db >/dev/null; }
        settle
        a=$(up)
        cartable batch "$rel" --trust /station/e2e/test.pub --journal /tmp/bench.db ${BENCH_MODE:---stock --force} \
                --operator bench --json $t 2>/tmp/$name.err | stamp >/tmp/$name.tj
        b=$(up)
        grep -q '"event":"failed"\|"event":"interrupted"' /tmp/$name.tj && echo "@@ BENCH_FAIL $name $(grep -m1 '"event":"failed"\|"event":"interrupted"' /tmp/$name.tj)"
        block /tmp/$name.tj $name; block /tmp/$name.err $name.err
        echo "@@ BENCH $name start=$a wall=$(el $a $b)"
}
# bench_dd NAME MIB KEYS...: parallel dd of MIB MiB onto each key (O_DIRECT), no read-back.
bench_dd() {
        name=$1 mib=$2; shift 2
        settle
        a=$(up)
        for k in "$@"; do
                ( dd if=/dev/zero of=$(disk_of $k) bs=1M count=$mib oflag=direct 2>/dev/null ||
                  echo "@@ BENCH_FAIL dd $k" ) &
        done
        wait
        b=$(up)
        echo "@@ BENCH $name wall=$(el $a $b)"
}
scenario_bench() {
        all="BENCH001 BENCH002 BENCH003 BENCH004 BENCH005 BENCH006 BENCH007 BENCH008"
        sticks $all || return 1
        echo "@@ BENCH crng $(dmesg | grep -m1 'crng init done' | tr -s ' ' | tr ' ' _) uptime=$(up)"
        # The cost of one synchronous 4 KiB round trip on a throttled key (the probe's unit).
        d=$(disk_of BENCH008)
        a=$(up); dd if=$d of=/dev/null bs=4096 count=200 iflag=direct 2>/dev/null
        b=$(up); dd if=/dev/zero of=$d bs=4096 count=200 oflag=direct 2>/dev/null
        c=$(up); dd if=$d of=/dev/null bs=4096 count=200 iflag=direct 2>/dev/null
        e=$(up); dd if=/dev/zero of=$d bs=819200 count=1 oflag=direct 2>/dev/null
        f=$(up)
        # The same 200 reads from 4 processes at once: does queueing them save round trips?
        for o in 0 1 2 3; do dd if=$d of=/dev/null bs=4096 count=50 skip=$((o * 1000)) iflag=direct 2>/dev/null & done
        wait
        g=$(up)
        echo "@@ BENCH roundtrip read4k=$(el $a $b) write4k=$(el $b $c) reread4k=$(el $c $e) write800k=$(el $e $f) par4k=$(el $f $g)"
        # One key with cartable flash: each step's time (the process checks the release too).
        settle
        a=$(up)
        cartable flash "$release" "$(byid BENCH001)" --yes --json 2>/tmp/one.err | stamp >/tmp/one.tj
        b=$(up)
        block /tmp/one.tj one; block /tmp/one.err one.err
        echo "@@ BENCH one start=$a wall=$(el $a $b)"
        w=$(sed -n 's/.*"bytes_written":\([0-9]*\).*/\1/p' /tmp/one.tj)
        wm=$(( (w + 1048575) / 1048576 ))
        for n in 1 4 8; do
                keys=$(echo $all | cut -d' ' -f1-$n)
                bench_batch batch-$n "$release" $keys
                a=$(up)
                for k in $keys; do
                        settle
                        cartable flash "$release" "$(byid $k)" --yes >/dev/null 2>/tmp/err ||
                                echo "@@ BENCH_FAIL seq $k $(tail -1 /tmp/err)"
                done
                b=$(up)
                echo "@@ BENCH seq-$n wall=$(el $a $b)"
                bench_dd dd-$n $wm $keys
        done
        # A realistic release (100+ MiB), when the host built one: one key, then eight.
        if [ -f /station/e2e/big.cart ]; then
                bench_batch big-1 /station/e2e/big.cart BENCH001
                bench_batch big-8 /station/e2e/big.cart $all
                w=$(sed -n 's/.*"event":"done".*"bytes_written":\([0-9]*\).*/\1/p' /tmp/big-1.tj)
                bench_dd big-dd-8 $(( (w + 1048575) / 1048576 )) $all
        fi
}

# The hub benchmark (bench/hub-bench.sh). Phases KIND-HUBS-PERHUB (hubphases= on the kernel
# command line, e.g. usb2-1-8,usb2-2-8): for each, a batch in stock mode waits for keys
# (--count: all of the phase's); once it listens (it holds its netlink socket, after its
# release check) the guest says HUB_READY and the host hot-plugs the keys. Each event is
# stamped with the guest's uptime (a builtin read: no process per line), progress thinned
# to a line a second per key; udevadm monitor
# stamps the kernel's and udev's add events; /proc/stat and the batch's own CPU are kept.
stampu() { while IFS= read -r l; do read -r u _ </proc/uptime; echo "$u $l"; done; }
# thin FILE: the stamped events, each key's progress cut to one short line a second
# ("UPTIME P SERIAL STEP BYTES"), so that the console carries a few hundred KB per phase.
thin() {
        awk '!/"event":"progress"/ { print; next }
                { match($0, /"serial":"[^"]*"/); s = substr($0, RSTART + 10, RLENGTH - 11)
                  match($0, /"step":"[^"]*"/); st = substr($0, RSTART + 8, RLENGTH - 9); gsub(/ /, "-", st)
                  match($0, /"done":[0-9]+/); d = substr($0, RSTART + 7, RLENGTH - 7)
                  at = ""; if (match($0, /"at":[0-9.e+-]+/)) at = substr($0, RSTART + 5, RLENGTH - 5)
                  if ($1 - last[s] >= 1 || st != lst[s]) { print $1, "P", s, st, d, at; last[s] = $1; lst[s] = st } }' "$1"
}
cpustat() { head -1 /proc/stat | tr -s ' ' | cut -d' ' -f2-9 | tr ' ' :; }
scenario_hubbench() {
        big=/station/e2e/hub.cart
        phases=$(sed -n 's/.* hubphases=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' ')
        udevadm monitor --kernel --udev --property --subsystem-match=block >/tmp/udevmon 2>&1 &
        umon=$!
        # The emulated CPU against the host's on the same work: busybox's sha256sum of the
        # release, once it is in the page cache (the host runs the same binary).
        cat $big >/dev/null
        a=$(up); busybox sha256sum $big >/dev/null; b=$(up)
        echo "@@ BENCH tcg sha256=$(el $a $b) bytes=$(stat -c %s $big)"
        for t in $phases; do
                n=$(echo $t | awk -F- '{ print $2 * $3 }')
                i=0; while ls /sys/block | grep -q '^sd'; do
                        i=$((i + 1)); [ $i -gt 600 ] && { echo "@@ TIMEOUT the last phase's keys"; return 1; }
                        sleep 0.2
                done
                rm -f /tmp/hub.db*; cartable journal init --journal /tmp/hub.db >/dev/null
                c0=$(cpustat); a=$(up)
                # The batch writes to a file, never waiting for a reader: the lines are stamped
                # with the guest's uptime as they come (stampu, behind when the CPUs are busy;
                # each event's own time is its "at", from the batch's start).
                : >/tmp/$t.json
                ( cartable batch $big --trust /station/e2e/test.pub --journal /tmp/hub.db --stock --count $n \
                        --operator bench --json >/tmp/$t.json 2>/tmp/$t.err
                  echo $? >/tmp/$t.rc; read -r st </proc/self/stat; echo "$st" >/tmp/$t.stat ) &
                job=$!
                tail -f /tmp/$t.json | stampu >/tmp/$t.tj &
                stamp=$!
                # A key that fails is never done: the phase would wait for it (--count) until
                # the host's timeout. Its event is told on the console at once.
                tail -f /tmp/$t.json 2>/dev/null | while IFS= read -r l; do
                        case $l in *'"event":"failed"'* | *'"event":"refused"'* | *'"event":"journal-error"'*)
                                echo "@@ HUB_KEY_FAILED $l";; esac
                done &
                watch=$!
                i=0; until p=$(pidof cartable) && ls -l /proc/$p/fd 2>/dev/null | grep -q socket; do
                        i=$((i + 1)); [ $i -gt 6000 ] && { echo "@@ TIMEOUT batch $t never listened"; return 1; }
                        sleep 0.1
                done
                r=$(up)
                mark HUB_READY $t
                wait $job
                kill $watch 2>/dev/null || true
                i=0; until [ "$(wc -l </tmp/$t.tj)" -ge "$(wc -l </tmp/$t.json)" ] || [ $i -gt 600 ]; do
                        i=$((i + 1)); sleep 0.1
                done
                kill $stamp 2>/dev/null || true
                b=$(up); c1=$(cpustat)
                thin /tmp/$t.tj >/tmp/$t.thin; block /tmp/$t.thin $t; block /tmp/$t.err $t.err
                # fields 16 and 17 of the subshell's stat: its children's CPU (the batch), in ticks
                echo "@@ BENCH $t start=$a ready=$r end=$b rc=$(cat /tmp/$t.rc) cpu0=$c0 cpu1=$c1 batchcpu=$(cut -d' ' -f16,17 /tmp/$t.stat | tr ' ' :) hz=100"
                mark HUB_DONE $t
        done
        kill $umon; sleep 1
        block /tmp/udevmon udevmon
}

# The update benchmark (bench/update-bench.sh --rig), on one throttled key, three runs: a
# full flash of B against update A -> B (5 % differs), update --check-content, and repair of
# one missing 8 MiB file (default: every file read; --quick). Each timed command's output
# as block NAME.out, then "@@ BENCH NAME rc=CODE wall=SECONDS".
timed() {
        name=$1; shift
        settle
        a=$(up)
        "$@" >/tmp/$name.out 2>/tmp/$name.err
        rc=$?
        b=$(up)
        block /tmp/$name.out $name.out
        [ $rc = 0 ] || block /tmp/$name.err $name.err
        echo "@@ BENCH $name rc=$rc wall=$(el $a $b)"
}
# The station's rollback state forgotten: A again after B.
fresh() { rm -rf /run/cartable/*; settle; }
rm_big() { settle; mount -t vfat -o rw,utf8 "$1-part1" /mnt/k && rm /mnt/k/Cours/big.bin; umount /mnt/k; }
# batch --update of 8 keys at once (A to B, 5 % differs) against one batch flashing B
# over the 8 (bench/update-bench.sh --rig-batch).
scenario_update_batch_bench() {
        all="UPDB0001 UPDB0002 UPDB0003 UPDB0004 UPDB0005 UPDB0006 UPDB0007 UPDB0008"
        sticks $all || return 1
        e=/station/e2e
        for i in 1 2 3; do
                fresh; bench_batch flash-b-$i $e/update-b.cart $all
                fresh; bench_batch flash-a-$i $e/update-a.cart $all
                BENCH_MODE=--update BENCH_KEEP_JOURNAL=1
                bench_batch update-$i $e/update-b.cart $all
                BENCH_MODE= BENCH_KEEP_JOURNAL=
                # Again: every key intact, skipped unwritten.
                BENCH_MODE=--update BENCH_KEEP_JOURNAL=1
                bench_batch again-$i $e/update-b.cart $all
                BENCH_MODE= BENCH_KEEP_JOURNAL=
        done
        for k in $all; do run verify-$k cartable verify "$(byid $k)" >/dev/null || echo "@@ BENCH_FAIL verify $k"; done
}
scenario_update_bench() {
        sticks UPDB0001 || return 1
        k=$(byid UPDB0001) e=/station/e2e
        mkdir -p /mnt/k
        for i in 1 2 3; do
                fresh; timed flash-b-$i cartable flash $e/update-b.cart "$k" --yes --json
                fresh; cartable flash $e/update-a.cart "$k" --yes >/dev/null 2>/tmp/err ||
                        echo "@@ BENCH_FAIL flash A: $(tail -1 /tmp/err)"
                timed update-$i cartable update $e/update-b.cart "$k" --yes
                fresh; cartable flash $e/update-a.cart "$k" --yes >/dev/null 2>/tmp/err ||
                        echo "@@ BENCH_FAIL flash A: $(tail -1 /tmp/err)"
                timed update-cc-$i cartable update $e/update-b.cart "$k" --yes --check-content
                settle
                cartable update $e/update-c.cart "$k" --yes >/dev/null 2>/tmp/err ||
                        echo "@@ BENCH_FAIL update C: $(tail -1 /tmp/err)"
                settle
                rm_big "$k"
                timed repair-$i cartable repair $e/update-c.cart "$k" --yes
                rm_big "$k"
                timed repair-quick-$i cartable repair $e/update-c.cart "$k" --yes --quick
                run verify-$i cartable verify "$k" >/dev/null || echo "@@ BENCH_FAIL verify $i"
        done
}

mark START "$1"
"scenario_$1"
rc=$?
sync
mark DONE "$1" rc=$rc
