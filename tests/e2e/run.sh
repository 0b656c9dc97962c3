#!/bin/bash
# run.sh SCENARIO: one end-to-end scenario on emulated USB keys (see README, "End to end").
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
                dev $s .port | grep -qE '^[0-9]+-[0-9]+(\.[0-9]+)*$' || fail "$s: port $(dev $s .port)"
                [ "$(dev $s .size)" = 2147483648 ] || fail "$s: size $(dev $s .size)"
        done
        # Each refused disk, with the rule that refuses it.
        refused() { # refused SELECTOR RULE
                local rules; rules=$(jq -r "[.[] | select($1)] | .[0].refusals | join(\",\")" "$j")
                echo ",$rules," | grep -q ",$2," || fail "$1: refusals '$rules', expected '$2'"
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

# 3. A key pulled (device_del) while it is written; the two others finish; re-plugged, it flashes.
e2e_pulled() {
        stick p1 PULL0001 "throttling.bps-write=4194304"; stick p2 KEEP0002; stick p3 KEEP0003
        rig_boot
        waitfor "^@@ MARK WRITING PULL0001" 300
        sleep 1
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
        MTOOLS_SKIP_CHECK=1 mtype -i "$RUN/v1.img@@1M" "::/Mes documents/devoir.txt" | grep -q '^mon devoir' ||
                fail "mtools cannot read the pupil's file"
}

scenario=${1:?usage: run.sh discovery|pulled|ioerror|counterfeit|vfat}
declare -F "e2e_$scenario" >/dev/null || { echo "run.sh: no scenario '$scenario'" >&2; exit 64; }
rig_prepare
rig_scenario "$scenario"
"e2e_$scenario"
echo "[e2e] $scenario: PASS in $(since "$T_START") s"
