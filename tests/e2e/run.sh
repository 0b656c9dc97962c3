#!/bin/bash
# run.sh SCENARIO: one end-to-end scenario on emulated USB keys (see docs/testing.md, "End to end").
# Boots the guest under QEMU with the keys the scenario needs, drives it through the QEMU
# monitor, parses the console log, then checks every key image on the host.
# Logs: $E2E_WORK/SCENARIO/ (console.log, monitor.log, qemu.log, the key images).
source "$(dirname "$0")/rig.sh"
T_START=$(now)

# 1. Discovery and policy with a real udevd; a flash through /dev/disk/by-id; verify.
e2e_discovery() {
        stick ua E2EA0001; stick ub E2EB0002
        # A key whose FAT partition the guest mounts (read-only).
        # The refused keys are small: their bytes are hashed before and after.
        local img
        [ -n "$REPLAY" ] || for img in um uh uw uf; do truncate -s 96M "$RUN/$img.img"; done
        if [ -z "$REPLAY" ]; then
                echo 'start=2048, size=131072, type=c' | sfdisk -q "$RUN/um.img"
                mkfs.fat -F 32 --offset 2048 -n MOUNTED "$RUN/um.img" 65536 >/dev/null 2>&1
        fi
        stick um MOUNTED3
        stick uh HELD0004                            # the guest puts device-mapper on it
        stick uw WPROT005 readonly=on                # write-protected
        stick uf FIXED006 "" removable=off           # a USB disk that is not removable
        if [ -z "$REPLAY" ]; then
                for img in uh uw uf; do head -c 1M /dev/urandom | dd of="$RUN/$img.img" conv=notrunc status=none; done
                sums {system,um,uh,uw,uf}.img >"$RUN/before.sha256"
        fi
        rig_boot
        waitfor "^@@ MARK DONE" 300
        rig_wait

        # udevd's identity of a key, as libudev gives it to cartable.
        local sda; sda=$(block byid | sed -n 's/.*usb-.*_E2EA0001-0:0 -> \.\.\/\.\.\/\(sd[a-z]*\)$/\1/p')
        [ -n "$sda" ] || fail "no /dev/disk/by-id/usb-*_E2EA0001-0:0 link"
        expect_block "udev.$sda" '^ID_BUS=usb$'
        expect_block "udev.$sda" '^ID_SERIAL_SHORT=E2EA0001$'
        expect_block "udev.$sda" '^ID_USB_DRIVER=usb-storage$'
        expect_block "udev.$sda" '^ID_USB_INTERFACES=:080650:$'
        expect_block "udev.$sda" '^ID_VENDOR_ID=46f4$'
        expect_block "udev.$sda" '^ID_PATH=pci-0000:00:0[0-9a-f].0-usb-0:[0-9.]+:1.0-scsi-0:0:0:0$'

        expect_rc devices-json 0
        local j=$RUN/devices.json; block devices-json.out >"$j"
        dev() { jq -r --arg s "$1" ".[] | select(.serial == \$s) | $2" "$j"; }
        local s
        for s in E2EA0001 E2EB0002; do
                [ "$(dev $s .eligible)" = true ] || fail "$s not eligible: $(dev $s .reasons)"
                [ "$(dev $s '.vendor_id + ":" + .product_id')" = 46f4:0001 ] || fail "$s: VID:PID $(dev $s '.vendor_id + ":" + .product_id')"
                [ "$(dev $s .manufacturer)" = QEMU ] || fail "$s: manufacturer $(dev $s .manufacturer)"
                # udev's identity (ID_VENDOR, ID_MODEL from the SCSI inquiry), not sysfs's
                [ "$(dev $s .product)" = "QEMU HARDDISK" ] || fail "$s: product $(dev $s .product)"
                grep -qE '^[0-9]+-[0-9]+(\.[0-9]+)*$' <<<"$(dev $s .port)" || fail "$s: port $(dev $s .port)"
                [ "$(dev $s .size)" = 2147483648 ] || fail "$s: size $(dev $s .size)"
        done
        # Each refused disk, with the rule that refuses it.
        refused() { # refused SELECTOR RULE
                local rules; rules=$(jq -r "[.[] | select($1)] | .[0].refusals | join(\",\")" "$j")
                grep -q ",$2," <<<",$rules," || fail "$1: refusals '$rules', expected '$2'"
        }
        refused '.name == "vda"' "not USB"
        refused '.serial == "MOUNTED3"' mounted
        refused '.serial == "HELD0004"' held
        refused '.serial == "WPROT005"' read-only
        refused '.serial == "FIXED006"' "not removable"
        expect_block devices.out 'QEMU QEMU HARDDISK  serial E2EA0001  port 2-[0-9]+ \(5000 Mb/s\).* removable .* eligible$'
        expect_block devices.out 'serial HELD0004 .* refused: held \(dm-0 holds sd[a-z]+\)$'
        expect_block devices.out '^/dev/vda .*refused: not USB'
        # flash refuses them too (4), saying why, and writes none of their bytes.
        for s in MOUNTED3:mounted HELD0004:held WPROT005:read-only FIXED006:"not removable"; do
                expect_rc "refuse-${s%%:*}" 4
                expect_block "refuse-${s%%:*}.err" "${s#*:}"
        done
        expect_rc refuse-vda 4
        expect_block refuse-vda.err "not USB"
        check_sums before.sha256 "a refused disk changed"

        expect_rc flash 0
        block flash.out | jq -e 'select(.event == "result") | .outcome == "ok" and .key.serial == "E2EA0001"
                and .key.vid_pid == "46f4:0001" and .key.probed and .bytes_read >= .bytes_written' >/dev/null ||
                fail "flash report: $(block flash.out | tail -1)"
        expect_rc verify 0
        expect_block verify.out 'intact'
        block verify-json.out | jq -e '.files > 0 or true' >/dev/null || fail "verify --json: not JSON"
        host_check_key "$RUN/ua.img" 0
        [ "$(du -k "$RUN/ub.img" | cut -f1)" = 0 ] || fail "the key that was not flashed has blocks written"
}

# 2. cartable batch of class 6A (demo roster) through udevd: three keys present at start, one
# hot-plugged (device_add) while they run, one pulled (device_del) during its write step and
# plugged in again; --count 4 ends it. Then a second batch leaves the four keys alone and
# ends by --idle-exit.
e2e_batch() {
        local thr="throttling.bps-write=12582912,throttling.bps-read=25165824"
        # The key pulled writes at 128 KiB/s: its 13 MB take 100 s, and it is pulled at most
        # PULL_BOUND s after its write step began (the waits below are bounded by it), so it is
        # still writing when pulled whatever the host's load: not a race the host may lose.
        # (1 and 2 MiB/s, with an unbounded wait between, each lost it once on a loaded host.)
        # A 1 MiB request takes 8 s at that rate, well within the guest's SCSI timeout (30 s).
        local pull_bound=60 t_write
        stick p1 PULL0001 "throttling.bps-write=131072"; stick b2 BATC0002 "$thr"; stick b3 BATC0003 "$thr"
        rig_boot
        waitfor '^@@ EV \{"event":"step".*"serial":"PULL0001".*"step":"write"' 240
        t_write=$(date +%s)
        plug b4 BATC0004 "$thr"
        echo "[e2e] hot-plugged BATC0004 while PULL0001 is written"
        waitfor '^@@ EV \{"event":"started".*"serial":"BATC0004"' $(( pull_bound - ($(date +%s) - t_write) ))
        # Up to its removal (the whole log when judged again), the key never left its write step:
        # what the bound above guarantees, checked.
        console | awk '!gone { print } /^@@ EV \{"event":"removed".*"serial":"PULL0001"/ { gone = 1 }' |
                grep -E '^@@ EV \{"event":"(step|done|failed)".*"serial":"PULL0001".*"(step":"read-back|outcome)' >/dev/null &&
                fail "PULL0001 had finished writing before it could be pulled"
        mon "device_del p1"
        echo "[e2e] pulled PULL0001 during its write step"
        waitfor '^@@ EV \{"event":"interrupted".*"serial":"PULL0001"' 60
        # Its first sector, as the key was left (it is flashed again below).
        [ -n "$REPLAY" ] || dd if="$RUN/p1.img" of="$RUN/pulled-sector0" bs=512 count=1 status=none
        # Back, it is erased first (its first MiB was written: not a blank key), zeros over its
        # 2 GiB: unthrottled, or that alone takes 170 s at the rig's 12 MiB/s.
        plug p1 PULL0001
        echo "[e2e] plugged PULL0001 in again"
        rig_wait

        # The batch's events (NDJSON), and the class as the journal had it before.
        local ev=$RUN/batch.json roster=$RUN/roster-before.json
        block batch.json >"$ev"; block roster-before.out >"$roster"
        expect_rc import 0
        [ "$(jq length "$roster")" = 10 ] || fail "class 6A: $(jq length "$roster") pupils, expected 10"
        expect_rc batch 5        # a key was interrupted
        jq -e . "$ev" >/dev/null || fail "batch --json: not NDJSON"
        n() { jq -s "[.[] | select($1)] | length" "$ev"; }
        [ "$(n '.event == "added"')" = 5 ] || fail "batch: $(n '.event == "added"') keys added, expected 5 (3 present, 1 hot-plugged, 1 re-plugged)"
        [ "$(n '.event == "started"')" = 5 ] || fail "batch: $(n '.event == "started"') keys started, expected 5"
        [ "$(n '.event == "failed" or .event == "refused" or .event == "no-pupil" or .event == "journal-error"')" = 0 ] ||
                fail "batch: unexpected events: $(grep -E '"event":"(failed|refused|no-pupil|journal-error)"' "$ev")"
        local s
        for s in PULL0001 BATC0002 BATC0003 BATC0004; do
                [ "$(n ".event == \"done\" and .serial == \"$s\" and .outcome == \"ok\" and .bytes_read >= .bytes_written
                        and .bytes_written > 13000000 and (.pupil | test(\"^0750001A/D10\"))")" = 1 ] ||
                        fail "batch: $s not done once, read back whole, for a pupil: $(grep "\"serial\":\"$s\"" "$ev" | grep -v progress)"
        done
        # The pulled key: interrupted in its write step, recorded key-removed, then started over
        # for the same pupil (the lowest without a key: the hot-plugged key had taken the next).
        [ "$(n '.event == "removed" and .serial == "PULL0001"')" = 1 ] || fail "batch: no removed event for PULL0001"
        jq -se '[.[] | select(.event == "interrupted")] | length == 1 and (.[0] | .serial == "PULL0001"
                and .outcome == "cancelled" and .step == "write" and .reason == "key-removed")' "$ev" >/dev/null ||
                fail "batch: the pulled key's event: $(grep '"event":"interrupted"' "$ev")"
        local lost; lost=$(jq -sr '.[] | select(.event == "interrupted") | .pupil' "$ev")
        [ "$(jq -sr '[.[] | select(.event == "done" and .serial == "PULL0001")][0].pupil' "$ev")" = "$lost" ] ||
                fail "batch: the pupil of the pulled key ($lost) did not get it when it came back"
        # Roster order: each key started goes to the first pupil of the class holding no key
        # and claimed by no key in progress, at that moment (replayed from the events).
        local order
        order=$(jq -rn --slurpfile r "$roster" '($r[0] | map("\(.school)/\(.id)")) as $order |
                reduce (inputs | select(.event != "progress")) as $e ({keyed: [], claimed: {}, errors: []};
                        . as $st | ($e.slot | tostring) as $slot |
                        if $e.event == "started" then
                                ([$order[] | select(. as $p | ($st.keyed | any(. == $p) | not) and
                                        ([$st.claimed[]] | any(. == $p) | not))][0]) as $want |
                                (if $e.pupil == $want then . else .errors += ["\($e.serial) went to \($e.pupil), roster order gives \($want)"] end)
                                | .claimed[$slot] = $e.pupil
                        elif $e.event == "done" then .keyed += [$e.pupil] | del(.claimed[$slot])
                        elif $e.event == "interrupted" or $e.event == "failed" then del(.claimed[$slot])
                        else . end) | .errors[]' "$ev")
        [ -z "$order" ] || fail "batch: not in roster order: $order"
        jq -se '[.[] | select(.event == "done") | .pupil] | length == (unique | length)' "$ev" >/dev/null ||
                fail "batch: a pupil got two keys"
        jq -se '.[-1] | .event == "summary" and .done == 4 and .interrupted == 1 and .failed == 0 and .without_key == 6' "$ev" >/dev/null ||
                fail "batch summary: $(tail -1 "$ev")"
        # The class afterwards: its first four pupils hold the keys the events gave them.
        local given after
        given=$(jq -sr '.[] | select(.event == "done") | "\(.pupil) usb:46f4:0001:\(.serial)"' "$ev" | sort)
        expect_rc roster-after 0
        after=$(block roster-after.out | jq -r '.[] | "\(.school)/\(.id) \(.key)"')
        [ "$(echo "$after" | head -4 | sort)" = "$given" ] && ! tail -n +5 <<<"$after" | grep -v ' null$' >/dev/null ||
                fail "roster list after the batch: $after; the events gave: $given"
        expect_rc journal-verify 0
        for s in PULL0001 BATC0002 BATC0003 BATC0004; do expect_rc verify-$s 0; expect_block verify-$s.out intact; done

        # The journal itself, read by sqlite3 on the host.
        local db=$RUN/journal.db q
        block journal.b64 | base64 -d | gunzip >"$db" || fail "the guest's journal did not come through"
        q() { sqlite3 -batch -noheader -separator ' ' "$db" "$1" || fail "sqlite3: $1"; }
        [ "$(q "SELECT pupil_school || '/' || pupil_id || ' ' || uid FROM keys WHERE status = 'issued' ORDER BY 1")" = "$given" ] ||
                fail "journal: issued keys $(q "SELECT pupil_id, uid, status FROM keys"), expected $given"
        [ "$(q "SELECT count(*) FROM keys WHERE status != 'issued'")" = 0 ] || fail "journal: keys not issued: $(q "SELECT uid, status FROM keys WHERE status != 'issued'")"
        [ "$(q "SELECT group_concat(coalesce(outcome, '') || ':' || coalesce(reason, '') || ':' || coalesce(step, '') || ':' || pupil_id, ' ')
                FROM (SELECT * FROM events WHERE kind = 'flashed' AND key_serial = 'PULL0001' ORDER BY seq)")" = \
             "started::check:${lost#*/} cancelled:key-removed:write:${lost#*/} started::check:${lost#*/} ok::done:${lost#*/}" ] ||
                fail "journal: PULL0001's events: $(q "SELECT outcome, reason, step, pupil_id FROM events WHERE key_serial = 'PULL0001' ORDER BY seq")"
        [ "$(q "SELECT count(*) FROM events WHERE kind = 'flashed' AND outcome = 'started'")" = 5 ] &&
        [ "$(q "SELECT count(*) FROM events WHERE kind = 'flashed' AND outcome != 'started'")" = 5 ] ||
                fail "journal: flashed events $(q "SELECT key_serial, outcome FROM events WHERE kind = 'flashed' ORDER BY seq")"
        [ "$(q "SELECT count(DISTINCT pupil_id) || ' ' || count(*) FROM events WHERE kind = 'issued'")" = "4 4" ] ||
                fail "journal: issued events $(q "SELECT pupil_id, key_serial FROM events WHERE kind = 'issued'")"
        local code=0 out
        out=$("$CARTABLE" journal verify --journal "$db" 2>&1) || code=$?
        [ $code = 0 ] || fail "journal verify on the host exited $code: $out"

        # The pulled key's first sector stayed blank: nothing takes it for a key.
        [ -f "$RUN/pulled-sector0" ] && cmp -s -n 512 "$RUN/pulled-sector0" /dev/zero || fail "the pulled key's first sector was written"
        # The second batch: every key left alone (skipped), nobody claimed, ended idle.
        expect_rc again 0
        block again.out | jq -se '([.[] | select(.event == "skipped")] | length) == 4 and
                ([.[] | select(.event == "started" or .event == "done")] | length) == 0 and
                (.[-1] | .event == "summary" and .skipped == 4 and .done == 0 and .without_key == 6)' >/dev/null ||
                fail "second batch: $(block again.out | grep -v progress)"
        for s in p1 b2 b3 b4; do host_check_key "$RUN/$s.img" 0; done
}

# 3. A key pulled (device_del) while it is written; the two others finish; re-plugged, it flashes.
e2e_pulled() {
        # 128 KiB/s: its 13 MB take 100 s, and it is pulled as soon as its write step is seen
        # (a few seconds): still writing, however loaded the host.
        stick p1 PULL0001 "throttling.bps-write=131072"; stick p2 KEEP0002; stick p3 KEEP0003
        rig_boot
        waitfor "^@@ MARK WRITING PULL0001" 300
        mon "device_del p1"
        echo "[e2e] pulled PULL0001 while it was being written"
        waitfor "^@@ MARK REPLUG_READY" 300
        plug p1 PULL0001
        rig_wait
        expect_rc f1 5
        # The step, the byte and the region, and the kernel's reason.
        expect_block f1.err '^cartable: /dev/disk/by-id/usb-QEMU_QEMU_HARDDISK_PULL0001-0:0: write: at byte [0-9]+ \(".+"\): (the key was removed \(No such device\)|Input/output error)$'
        block f1.json | jq -e 'select(.event == "result") | .outcome == "failed" and .step == "write"' >/dev/null ||
                fail "pulled key's report: $(block f1.json | tail -1)"
        local n
        for n in 2 3; do
                expect_rc f$n 0; expect_rc verify$n 0
        done
        expect_rc reflash 0
        expect_rc reverify 0
        for n in 1 2 3; do host_check_key "$RUN/p$n.img" 0; done
}

# 4. Write errors injected by blkdebug at one sector; the two others finish.
e2e_ioerror() {
        # Sector 20480: 10 MiB into the key, inside the course videos.
        printf '[inject-error]\nevent = "write_aio"\nerrno = "5"\nsector = "20480"\n' >"$RUN/blkdebug.conf"
        truncate -s 2G "$RUN/f1.img"
        FILE_OVERRIDE="blkdebug:$RUN/blkdebug.conf:$RUN/f1.img" stick f1 FAIL0001
        stick f2 GOOD0002; stick f3 GOOD0003
        rig_boot
        rig_wait
        expect_rc f1 5
        local off
        off=$(block f1.json | jq -r 'select(.event == "result") | select(.outcome == "failed" and .step == "write") | .offset')
        [ -n "$off" ] || fail "blkdebug key's report names no write offset: $(block f1.json | tail -1)"
        [ "$off" -le $((20480 * 512)) ] && [ "$off" -gt $((20480 * 512 - 64 * 1048576)) ] ||
                fail "reported offset $off does not hold the failing sector 20480"
        expect_block f1.err "^cartable: /dev/disk/by-id/usb-QEMU_QEMU_HARDDISK_FAIL0001-0:0: write: at byte $off \(\"/Ressources/videos/cours-2.mp4\"\): Input/output error\$"
        expect_block dmesg 'I/O error'
        # Sector 0 is written last: the failed key has no partition table, nothing takes it for a key.
        cmp -s -n 512 "$RUN/f1.img" /dev/zero || fail "the failed key's first sector was written"
        local code=0; "$CARTABLE" verify "$RUN/f1.img" --trust "$E2E_WORK/guest/test.pub" >/dev/null 2>&1 || code=$?
        [ $code = 2 ] || fail "verify of the failed key exited $code, expected 2 (not a cartable key)"
        local n
        for n in 2 3; do expect_rc f$n 0; expect_rc verify$n 0; host_check_key "$RUN/f$n.img" 0; done
}

# 5. A counterfeit key: 2 GiB advertised, 64 MiB real, writes past 64 MiB wrap around.
e2e_counterfeit() {
        if [ -z "$REPLAY" ]; then
                head -c 64M /dev/urandom >"$RUN/fake.img"
                sums fake.img >"$RUN/before.sha256"
        fi
        nbdkit -f -U "$RUN/nbd.sock" cc "$E2E_SRC/counterfeit.c" file="$RUN/fake.img" size=2G \
                >"$RUN/nbdkit.log" 2>&1 &
        NBDKIT_PID=$!
        local i; for i in $(seq 100); do [ -S "$RUN/nbd.sock" ] && break; sleep 0.1; done
        [ -S "$RUN/nbd.sock" ] || fail "nbdkit did not start: $(cat "$RUN/nbdkit.log")"
        FILE_OVERRIDE="nbd+unix:///?socket=$RUN/nbd.sock" stick fake FAKE0001
        rig_boot
        rig_wait
        kill "$NBDKIT_PID"; wait "$NBDKIT_PID" 2>/dev/null || true; NBDKIT_PID=
        expect_block devices-json.out '"serial":"FAKE0001"|"serial": "FAKE0001"'
        expect_rc flash 4
        block flash.out | jq -e 'select(.event == "result") | .outcome == "refused" and .step == "capacity probe"
                and .key.real_capacity == 67108864 and (.key.probe | test("wrap-around")) and .bytes_written == 0' >/dev/null ||
                fail "counterfeit report: $(block flash.out | tail -1)"
        expect_block flash.err ': capacity probe: counterfeit key: it announces 2\.0 GiB but holds 64\.0 MiB'
        check_sums before.sha256 "the counterfeit key's data was not restored"
}

# 6. Linux's vfat driver: the files of the release; a pupil's file; a changed course file.
e2e_vfat() {
        stick v1 VFAT0001
        rig_boot
        rig_wait
        expect_rc flash 0
        expect_rc mount-ro 0
        # Every file of the release, with its size and SHA-256, and nothing else.
        jq -r '.manifest.files[] | select(.type == "file") | "\(.size) \(.sha256) \(.path)"' \
                "$E2E_WORK/release.json" | sort -k3 >"$RUN/expected-files"
        block files | grep -v '^[0-9]* [0-9a-f]* \.cartable/' | sort -k3 >"$RUN/vfat-files"
        diff "$RUN/expected-files" "$RUN/vfat-files" >&2 || fail "vfat's view differs from the release"
        expect_block files ' \.cartable/manifest\.json$'
        expect_block files ' \.cartable/key\.json$'
        expect_block dirs '^\./Mes documents$'
        expect_not_block dmesg-ro 'FAT-fs|fat-fs|vfat'
        expect_rc mount-rw 0
        expect_rc verify-pupil 0
        expect_block verify-pupil.out '^extra +Mes documents/devoir\.txt$'
        expect_block verify-pupil.out ': intact: .* 0 missing, 0 modified, 1 extra \(allowed\), 0 in sealed directories$'
        [ "$(block verify-pupil.out | grep -c '^extra')" = 1 ] || fail "verify-pupil: more than the pupil's file: $(block verify-pupil.out)"
        expect_rc verify-changed 1
        expect_block verify-changed.out '^modified +index\.html \([0-9]+ bytes, expected 1497\)$'
        expect_not_block dmesg-rw 'FAT-fs|fat-fs'
        host_check_key "$RUN/v1.img" 1
        MTOOLS_SKIP_CHECK=1 mtype -i "$RUN/v1.img@@1M" "::/Mes documents/devoir.txt" | grep '^mon devoir' >/dev/null ||
                fail "mtools cannot read the pupil's file"
}

# 7. batch --update in the guest of a key whose pupil wrote files through Linux's vfat: the
# pupil's files byte for byte (vfat in the guest, mtools on the host), the one in the new
# release's way moved, the key intact against serial 2, an updated event in the journal.
e2e_update() {
        stick u1 UPDT0001
        rig_boot
        rig_wait
        expect_rc flash 0
        expect_rc mount-rw 0
        expect_rc update 0
        local ev=$RUN/update.json
        block update.out >"$ev"
        jq -se '[.[] | select(.event == "done" and .serial == "UPDT0001" and .outcome == "ok"
                and .update.kind == "update" and .update.to_version == "2027.09"
                and .update.moved_files == [{"path": "Ressources/fractions.html",
                        "to": "Mes documents/Déplacés par cartable/fractions.html"}])] | length == 1' "$ev" >/dev/null ||
                fail "batch --update: $(grep -v progress "$ev")"
        jq -se '[.[] | select(.event == "failed" or .event == "not-updatable" or .event == "journal-error")] | length == 0' \
                "$ev" >/dev/null || fail "batch --update: unexpected events: $(cat "$ev")"
        expect_rc verify 0
        expect_block verify.out 'intact: ent-college 2027\.09'
        expect_rc journal 0
        block journal.out | jq -e '[.[] | select(.kind == "updated" and .outcome == "ok" and .release_serial == 2
                and (.key | endswith(":UPDT0001")))] | length == 1' >/dev/null || fail "journal: no updated event: $(block journal.out)"
        # The pupil's files, as vfat read them after the update, are those it wrote before.
        local f sum path
        [ "$(block pupil-before | wc -l)" = 3 ] || fail "the guest did not list the pupil's three files"
        block pupil-before | while read -r sum path; do
                [ "$path" = Ressources/fractions.html ] && path="Mes documents/Déplacés par cartable/fractions.html"
                grep -qxF "$sum $path" <(block files) || fail "vfat after the update: /$path is not the pupil's file"
        done || exit 1
        expect_rc mount-ro 0
        expect_not_block dmesg-update 'FAT-fs|fat-fs'
        # mtools on the host reads the same bytes.
        block pupil-before | while read -r sum path; do
                [ "$path" = Ressources/fractions.html ] && path="Mes documents/Déplacés par cartable/fractions.html"
                f=$(MTOOLS_SKIP_CHECK=1 mtype -i "$RUN/u1.img@@1M" "::/$path" | sha256sum | cut -d' ' -f1)
                [ "$f" = "$sum" ] || fail "mtools on the host: /$path is not the pupil's file"
        done || exit 1
        host_check_key "$RUN/u1.img" 0
        local out; out=$("$CARTABLE" verify "$RUN/u1.img" --trust "$E2E_WORK/guest/test.pub" 2>&1)
        echo "$out" | grep -q 'intact: ent-college 2027\.09' || fail "verify on the host: $out"
}

# 8. The hub model: keys on a USB 2.0 hub (RIG_HUB, RIG_HUBS, RIG_KEYS_PER_HUB; here 1 hub
# of 3 keys unless set) go through their own throttle group stacked on the hub's shared one,
# as QEMU itself reports it; one batch flashes them all at once, and every key is verified.
# No rate is asserted (timing belongs in bench/hub-bench.sh): the chain and the outcome are.
e2e_hub() {
        RIG_KEYS_PER_HUB=${RIG_KEYS_PER_HUB:-3} rig_hubs h
        RIG_APPEND="hubkeys=${HUB_SERIALS// /,}"
        rig_boot
        waitfor '^@@ MARK HUB_KEYS' 300
        local key id serial hub h
        if [ -z "$REPLAY" ]; then
                mon "info block" >"$RUN/info-block.txt"
                for h in "${!HUB_KIND[@]}"; do mon "qom-get /objects/$h limits" >"$RUN/$h.limits.json"; done
                for key in "${HUB_KEYS[@]}"; do mon "qom-get /objects/k${key%%:*} limits" >"$RUN/k${key%%:*}.limits.json"; done
        fi
        rig_wait
        for h in "${!HUB_KIND[@]}"; do
                hub_rates "${HUB_KIND[$h]}"
                jq -e --argjson b "$HUB_BUS_BPS" '."bps-total" == $b and ."bps-read" == 0 and ."bps-write" == 0' \
                        "$RUN/$h.limits.json" >/dev/null || fail "$h's throttle group: $(cat "$RUN/$h.limits.json")"
        done
        for key in "${HUB_KEYS[@]}"; do
                IFS=: read -r id serial hub <<<"$key"
                hub_rates "${HUB_KIND[$hub]}"
                # QEMU's view of the key's drive: the key's filter over its hub's, over the image.
                sed -n "s/^d$id (#block[0-9]*): json:\(.*\) (throttle)\$/\1/p" "$RUN/info-block.txt" |
                        jq -e --arg k "k$id" --arg h "$hub" --arg f "/$id.img" '.driver == "throttle" and ."throttle-group" == $k
                                and .file.driver == "throttle" and .file."throttle-group" == $h and (.file.file.filename | endswith($f))' >/dev/null ||
                        fail "$id: not behind its own throttle group and $hub's: $(grep "^d$id " "$RUN/info-block.txt")"
                jq -e --argjson w "$HUB_KEY_WRITE_BPS" --argjson r "$HUB_KEY_READ_BPS" \
                        '."bps-write" == $w and ."bps-read" == $r and ."bps-total" == 0' "$RUN/k$id.limits.json" >/dev/null ||
                        fail "$id's throttle group: $(cat "$RUN/k$id.limits.json")"
        done
        expect_rc batch 0
        local ev=$RUN/batch.json n=${#HUB_KEYS[@]}
        block batch.out >"$ev"
        jq -se --argjson n "$n" '([.[] | select(.event == "done" and .outcome == "ok" and .bytes_read >= .bytes_written
                and .bytes_written > 13000000)] | length) == $n and ([.[] | select(.event == "failed" or .event == "interrupted")] | length) == 0' \
                "$ev" >/dev/null || fail "batch on the hub: $(grep -v progress "$ev")"
        for key in "${HUB_KEYS[@]}"; do
                IFS=: read -r id serial hub <<<"$key"
                expect_rc "verify-$serial" 0; expect_block "verify-$serial.out" intact
                host_check_key "$RUN/$id.img" 0
        done
}

scenario=${1:?usage: run.sh discovery|batch|pulled|ioerror|counterfeit|vfat|update|hub}
declare -F "e2e_$scenario" >/dev/null || { echo "run.sh: no scenario '$scenario'" >&2; exit 64; }
rig_prepare
rig_scenario "$scenario"
"e2e_$scenario"
echo "[e2e] $scenario: PASS in $(since "$T_START") s"
