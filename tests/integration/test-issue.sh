#!/bin/bash
# cartable issue: a stock key handed to a pupil, its owner file and key record rewritten in
# place. Checked with fsck.fat -n, mtools, cartable verify and identify, and the journal's
# own shell (sqlite3, or psql when run under tests/pg-server.sh). Every refusal leaves the
# image's bytes and the journal as they were. identify finds a key without key.json and
# with its volume renamed.
. "$(dirname "$0")/lib.sh"
need_tool fsck.fat
need_tool mtype
need_tool jq
C=$CARTABLE
M() { MTOOLS_SKIP_CHECK=1 "$@"; }
if [ -n "${CARTABLE_TEST_PG_URL:-}" ]; then
        q() { "$CARTABLE_TEST_PG_BIN/psql" -X -A -t -q "$CARTABLE_TEST_PG_URL" -c "$1"; }
        printf '[station]\nstate-dir = %s/state\nname = atelier-1\n[journal]\nurl = %s\n' "$SCRATCH" "$CARTABLE_TEST_PG_URL" > cartable.conf
else
        need_tool sqlite3
        q() { sqlite3 -batch j.db "$1"; }
        printf '[station]\nstate-dir = %s/state\nname = atelier-1\n[journal]\npath = %s/j.db\n' "$SCRATCH" "$SCRATCH" > cartable.conf
fi
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
n_events() { q 'SELECT count(*) FROM events'; }
state() { echo "$(sha256sum < "$1") $(n_events) $(q 'SELECT status FROM keys ORDER BY uid' | tr '\n' ' ')"; }
# refused CODE IMAGE ARGS...: cartable issue exits CODE and changes neither the image nor the journal.
refused() {
        local code=$1 img=$2 before; shift 2
        before=$(state "$img")
        expect_exit "$code" "$C" issue "$img" "$@"
        [ "$(state "$img")" = "$before" ] || fail "a refused issue ($*) changed $img or the journal"
}
# The FAT volume of a key image (MBR, the partition at 1 MiB) for fsck.fat.
volume() { dd if="$1" of=vol.img bs=1M skip=1 conv=sparse status=none; }
fsck_clean() {
        volume "$1"
        fsck.fat -n vol.img > fsck.out 2>&1 || { cat fsck.out; fail "fsck.fat -n $1"; }
        [ "$(wc -l < fsck.out)" = 2 ] || { cat fsck.out; fail "fsck.fat -n $1 said more than its two lines"; }
}

"$C" key generate --secret dep.key --public dep.pub --unencrypted > /dev/null
"$C" key generate --secret other.key --public other.pub --unencrypted > /dev/null
# The example release, on 64 MiB keys: each refusal hashes the whole image twice.
cp -r "$SOURCE_ROOT/images/ent-college" recipe
sed -i 's/^min-size = .*/min-size = 64M/' recipe/recipe.ini
"$C" image build recipe --key dep.key --output rel.cart > /dev/null 2>&1 || fail "image build"
expect_exit 0 "$C" roster import "$SOURCE_ROOT/manifests/rosters/demo-roster.csv"
T=(--trust dep.pub)
OWNER="CETTE CLE APPARTIENT A.txt"

# A stock key: flashed for nobody, recorded stock; it has no owner file yet.
expect_exit 0 "$C" flash rel.cart stock.img --size 64M "${T[@]}" --journal "${CARTABLE_TEST_PG_URL:-$SCRATCH/j.db}"
[ "$(q "SELECT status FROM keys WHERE uid LIKE 'file:%/stock.img'")" = stock ] || fail "stock key not recorded stock"
! M mtype -i stock.img@@1M "::$OWNER" > /dev/null 2>&1 || fail "a stock key with an owner file"
for f in manifest.json manifest.json.minisig; do M mtype -i stock.img@@1M "::.cartable/$f" > "before-$f"; done

# ---- refusals: nothing written, nothing recorded ----
refused 66 stock.img --pupil D0000 "${T[@]}"
expect_in err 'D0000'
refused 3 stock.img --pupil D1001 --trust other.pub
refused 64 stock.img "${T[@]}"
# A pupil who left, a pupil who holds a key.
grep -v '^D1002;' "$SOURCE_ROOT/manifests/rosters/demo-roster.csv" > left.csv
expect_exit 0 "$C" roster import left.csv
refused 65 stock.img --pupil D1002 "${T[@]}"
expect_in err 'D1002 .* has left'
expect_exit 0 "$C" flash rel.cart held.img --size 64M "${T[@]}" --pupil D1003
refused 65 stock.img --pupil D1003 "${T[@]}"
expect_in err 'D1003 \(Sacha Henry, 4A\) already holds key file:.*/held.img: mark it lost, stolen or returned first; nothing written'
# A key already issued; a key the journal does not know.
refused 65 held.img --pupil D1001 "${T[@]}"
expect_in err 'key file:.*/held.img is issued already, to 0750001A/D1003'
expect_exit 0 "$C" flash rel.cart unknown.img --size 64M "${T[@]}"
refused 66 unknown.img --pupil D1001 "${T[@]}"
expect_in err 'is not in the journal'
# Not a cartable key: zeros, a FAT32 volume without /.cartable.
truncate -s 100M zero.img
refused 2 zero.img --pupil D1001 "${T[@]}"
truncate -s 100M plain.img
mkfs.fat -F 32 plain.img > /dev/null
refused 2 plain.img --pupil D1001 "${T[@]}"
# Not intact: a release file changed (a copy of the stock key, under another name).
cp --sparse=always stock.img changed.img
echo tampered > t.txt
M mcopy -o -i changed.img@@1M t.txt ::LISEZ-MOI.txt
refused 1 changed.img --pupil D1001 "${T[@]}"
expect_in err 'not intact: 0 missing, 1 modified'

# ---- the issue ----
expect_exit 0 "$C" issue stock.img --pupil D1001 "${T[@]}" --operator cpe
expect_in out '^issued key file:.*/stock.img \(volume [0-9A-F]{4}-[0-9A-F]{4}\) to 0750001A/D1001 \(Mercier Adam, class 6A\)$'
expect_in out "^written in place: \"/$OWNER\" and the key record; read back intact$"
fsck_clean stock.img
M mtype -i stock.img@@1M "::$OWNER" > owner.txt
expect_in owner.txt '^    Adam$'
expect_in owner.txt '^    classe de 6A$'
M mtype -i stock.img@@1M ::.cartable/key.json > key.json
# The key record holds only what the owner file prints (first name, class, school), never
# the family name the journal knows: a lost key tells a finder no more than its owner file.
[ "$(jq -r '.owner | keys | join(" ")' key.json)" = "class first_name school" ] || { cat key.json; fail "key.json owner fields"; }
[ "$(jq -r '[.owner.first_name, .owner.class, .owner.school] | join(" ")' key.json)" = "Adam 6A 0750001A" ] || fail "key.json owner"
expect_not_in key.json 'Mercier'

for f in manifest.json manifest.json.minisig; do
        M mtype -i stock.img@@1M "::.cartable/$f" | cmp -s - "before-$f" || fail "$f changed"
done
expect_exit 0 "$C" verify stock.img "${T[@]}"
expect_in out 'stock.img: intact: ent-college'
expect_in out 'owner Adam, 6A, 0750001A'
[ "$(q "SELECT status || ' ' || pupil_id FROM keys WHERE uid LIKE 'file:%/stock.img'")" = "issued D1001" ] || fail "key status"
[ "$(q "SELECT kind || ' ' || operator || ' ' || station || ' ' || pupil_id || ' ' || release_name || ' ' || volume_id FROM events ORDER BY seq DESC LIMIT 1")" = \
  "issued cpe atelier-1 D1001 ent-college $(q "SELECT volume_id FROM keys WHERE uid LIKE 'file:%/stock.img'")" ] || fail "issued event"
expect_exit 0 "$C" journal verify
expect_exit 0 "$C" identify stock.img
expect_in out '^pupil: 0750001A/D1001 Mercier Adam, class 6A$'
expect_in out '^status: issued$'
# verify --journal: the key record's owner is the journal's holder, nothing swapped.
expect_exit 0 "$C" verify stock.img "${T[@]}" --journal "${CARTABLE_TEST_PG_URL:-$SCRATCH/j.db}"
expect_in err 'journal: intact recorded for key file:.*/stock.img of 0750001A/D1001'
expect_not_in err 'SWAPPED'
# Twice is refused.
refused 65 stock.img --pupil D1001 "${T[@]}"
refused 65 stock.img --pupil D1004 "${T[@]}"
expect_in err 'is issued already, to 0750001A/D1001'

# A key returned is no stock key either.
expect_exit 0 "$C" return held.img "${T[@]}" --reason broken
refused 65 held.img --pupil D1001 "${T[@]}"
expect_in err 'key file:.*/held.img is returned, not a stock key: only a key flashed for nobody can be issued'

# identify: the key record deleted and the volume renamed, the volume ID still tells.
cp --sparse=always stock.img found.img
M mdel -i found.img@@1M ::.cartable/key.json
M mlabel -i found.img@@1M ::PIRATE
expect_exit 0 "$C" identify found.img
expect_in out '^volume: [0-9A-F]{4}-[0-9A-F]{4} "PIRATE"$'
expect_in out '^pupil: 0750001A/D1001 Mercier Adam, class 6A$'
expect_in out '^key record: missing or unreadable \(identified by its volume ID\)$'
# The same key without a key record cannot be issued: refused before anything is written.
refused 1 found.img --pupil D1001 "${T[@]}"

# ---- the journal fails after the key was written: said, and a second issue completes it ----
expect_exit 0 "$C" flash rel.cart stock2.img --size 64M "${T[@]}" --journal "${CARTABLE_TEST_PG_URL:-$SCRATCH/j.db}"
if [ -n "${CARTABLE_TEST_PG_URL:-}" ]; then
        q "CREATE FUNCTION no_issue() RETURNS trigger AS \$\$ BEGIN IF NEW.kind = 'issued' THEN RAISE EXCEPTION 'no issue today'; END IF; RETURN NEW; END \$\$ LANGUAGE plpgsql"
        q "CREATE TRIGGER no_issue BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION no_issue()"
        undo="DROP TRIGGER no_issue ON events"
else
        q "CREATE TRIGGER no_issue BEFORE INSERT ON events WHEN NEW.kind = 'issued' BEGIN SELECT RAISE(ABORT, 'no issue today'); END"
        undo="DROP TRIGGER no_issue"
fi
n=$(n_events)
expect_exit 70 "$C" issue stock2.img --pupil D1004 "${T[@]}"
expect_in err 'stock2.img: the key now names 0750001A/D1004, but the journal did not record the issue: .*no issue today.*Run the same cartable issue again'
[ "$(n_events)" = "$n" ] || fail "a failed issue left events"
[ "$(q "SELECT status FROM keys WHERE uid LIKE 'file:%/stock2.img'")" = stock ] || fail "a failed issue changed the key's row"
M mtype -i stock2.img@@1M ::.cartable/key.json | jq -e '.owner.first_name == "Manon"' > /dev/null || fail "the key was not written"
q "$undo"
sum=$(sha256sum < stock2.img)
expect_exit 0 "$C" issue stock2.img --pupil D1004 "${T[@]}" --json
[ "$(jq -r '[.outcome, .pupil.id, .written] | join(" ")' out)" = "issued D1004 false" ] || { cat out; fail "--json"; }
[ "$(sha256sum < stock2.img)" = "$sum" ] || fail "the second issue wrote the key again"
[ "$(q "SELECT status || ' ' || pupil_id FROM keys WHERE uid LIKE 'file:%/stock2.img'")" = "issued D1004" ] || fail "not completed"
fsck_clean stock2.img

# ---- a block device goes through the target policy: a loop device is not USB ----
if [ "$(id -u)" = 0 ] && command -v losetup > /dev/null; then
        cp --sparse=always stock2.img loop.img
        LOOP=$(losetup -f --show loop.img)
        trap 'losetup -d "$LOOP" 2>/dev/null || true; rm -rf "$SCRATCH"' EXIT
        sum=$(sha256sum < loop.img)
        expect_exit 64 "$C" issue "$LOOP" --pupil D1005 "${T[@]}"
        expect_in err 'add --yes'
        expect_exit 4 "$C" issue "$LOOP" --pupil D1005 "${T[@]}" --yes
        expect_in err 'not USB'
        # identify reads a block device's USB serial through lib/device: a loop device has
        # none, and the key is still found by its volume ID.
        expect_exit 0 "$C" identify "$LOOP"
        expect_in out '^pupil: 0750001A/D1004 Denis Manon, class 6A$'
        expect_not_in out '^USB serial:'
        losetup -d "$LOOP"
        trap 'rm -rf "$SCRATCH"' EXIT
        [ "$(sha256sum < loop.img)" = "$sum" ] || fail "a refused loop device was written"
else
        skip_part "the loop-device refusal needs root and losetup"
fi

# ---- a USB key: a loop device that a umockdev bed describes as a USB stick (serial $1),
# so that the target policy, the device's own serial and the write path all run ----
usb_bed() { # SERIAL LOOP SIZE
        local u=/devices/pci0000:00/0000:00:14.0/usb2/2-7 n=${2#/dev/loop}
        printf 'P: %s\nE: DEVTYPE=usb_device\nE: DRIVER=usb\nE: SUBSYSTEM=usb\nA: idVendor=1234\nA: idProduct=5678\nA: serial=%s\nA: manufacturer=Feas\nA: product=Stick\nA: busnum=2\nA: devnum=9\nA: speed=480\nA: removable=removable\n\n' "$u" "$1"
        printf 'P: %s/2-7:1.0\nE: DEVTYPE=usb_interface\nE: DRIVER=usb-storage\nE: SUBSYSTEM=usb\n\n' "$u"
        printf 'P: %s/2-7:1.0/host20\nE: DEVTYPE=scsi_host\nE: SUBSYSTEM=scsi\n\n' "$u"
        printf 'P: %s/2-7:1.0/host20/target20:0:0\nE: DEVTYPE=scsi_target\nE: SUBSYSTEM=scsi\n\n' "$u"
        printf 'P: %s/2-7:1.0/host20/target20:0:0/20:0:0:0\nE: DEVTYPE=scsi_device\nE: DRIVER=sd\nE: SUBSYSTEM=scsi\n\n' "$u"
        printf 'P: %s/2-7:1.0/host20/target20:0:0/20:0:0:0/block/loop%s\nE: DEVNAME=%s\nE: DEVTYPE=disk\nE: SUBSYSTEM=block\nE: MAJOR=7\nE: MINOR=%s\nA: removable=1\nA: size=%s\nA: ro=0\nA: dev=7:%s\nA: queue/logical_block_size=512\nA: queue/physical_block_size=512\n' \
                "$u" "$n" "$2" "$n" $(($3 / 512)) "$n"
}
if [ "$(id -u)" = 0 ] && command -v losetup > /dev/null && command -v umockdev-run > /dev/null; then
        : "${TOOL_JOURNAL_RECORD:?}"
        # umockdev's preload library comes before ASan's runtime (ASan builds).
        export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
        J=(--journal "${CARTABLE_TEST_PG_URL:-$SCRATCH/j.db}")
        # A key the journal knows by its USB serial only (usb:0781:5581:atelier-9-000000).
        "$TOOL_JOURNAL_RECORD" "${CARTABLE_TEST_PG_URL:-$SCRATCH/j.db}" 1 atelier-9 > /dev/null || fail "journal-record"
        expect_exit 0 "$C" flash rel.cart usb.img --size 64M "${T[@]}" "${J[@]}"
        expect_exit 0 "$C" flash rel.cart usb2.img --size 64M "${T[@]}" "${J[@]}"
        LOOP=$(losetup -f --show usb.img)
        LOOP2=$(losetup -f --show usb2.img)
        trap 'losetup -d "$LOOP" "$LOOP2" 2>/dev/null || true; rm -rf "$SCRATCH"' EXIT
        usb_bed ISSUE001 "$LOOP" $((64 << 20)) > ok.umockdev
        usb_bed atelier-9-000000 "$LOOP2" $((64 << 20)) > swapped.umockdev
        U=(umockdev-run -d ok.umockdev --)
        expect_exit 0 "${U[@]}" "$C" identify "$LOOP"
        expect_in out '^USB serial: ISSUE001$'
        expect_in out '^status: stock$'
        expect_exit 0 "${U[@]}" "$C" issue "$LOOP" --pupil D1005 "${T[@]}" --yes
        expect_in out '^issued key file:.*/usb.img \(volume .*\) to 0750001A/D1005 '
        [ "$(q "SELECT status || ' ' || pupil_id FROM keys WHERE uid LIKE 'file:%/usb.img'")" = "issued D1005" ] || fail "USB key not issued"
        # The key's volume is one key's in the journal, its USB serial another's: swapped.
        US=(umockdev-run -d swapped.umockdev --)
        expect_exit 0 "${US[@]}" "$C" identify "$LOOP2"
        expect_in out "^warning: its volume [0-9A-F]{8} is key file:.*/usb2.img's in the journal but its USB serial is key usb:0781:5581:atelier-9-000000's$"
        before=$(state usb2.img)
        expect_exit 1 "${US[@]}" "$C" issue "$LOOP2" --pupil D1006 "${T[@]}" --yes
        expect_in err '^cartable: SWAPPED: /dev/loop[0-9]+: its volume .* but its USB serial is key usb:0781:5581:atelier-9-000000.s; nothing written$'
        after=$(state usb2.img)
        # verify --journal and return read the device's serial too: never intact, recorded swapped.
        expect_exit 1 "${US[@]}" "$C" verify "$LOOP2" "${T[@]}" "${J[@]}"
        expect_in err "^cartable: warning: SWAPPED: its volume [0-9A-F]{8} is key file:.*/usb2.img's in the journal but its USB serial is key usb:0781:5581:atelier-9-000000's$"
        [ "$(q "SELECT outcome FROM events WHERE kind = 'verified' AND key_uid LIKE 'file:%/usb2.img' ORDER BY seq DESC LIMIT 1")" = swapped ] \
                || fail "verify --journal did not record the swapped USB key"
        # The same key seen as an image file (no USB serial): intact.
        expect_exit 0 "$C" verify usb2.img "${T[@]}" "${J[@]}"
        # A key flashed as a USB stick (the journal knows its serial), then cloned: its
        # volume ID and key record copied byte for byte onto another stick. identify,
        # verify --journal and return read the clone's own serial: swapped, wherever the
        # stick reports one; the same image file alone cannot tell (no serial).
        truncate -s 64M genuine.img
        LOOP3=$(losetup -f --show genuine.img)
        trap 'losetup -d "$LOOP" "$LOOP2" "$LOOP3" 2>/dev/null || true; rm -rf "$SCRATCH"' EXIT
        usb_bed GENUINE01 "$LOOP3" $((64 << 20)) > genuine.umockdev
        expect_exit 0 umockdev-run -d genuine.umockdev -- "$C" flash rel.cart "$LOOP3" --yes "${T[@]}" "${J[@]}" --pupil D1006
        losetup -d "$LOOP3"
        cp --sparse=always genuine.img clone.img
        LOOP3=$(losetup -f --show clone.img)
        usb_bed CLONE0001 "$LOOP3" $((64 << 20)) > clone.umockdev
        UC=(umockdev-run -d clone.umockdev --)
        expect_exit 0 umockdev-run -d genuine.umockdev -- "$C" identify "$LOOP3"
        expect_not_in out '^warning:'
        expect_exit 0 "${UC[@]}" "$C" identify "$LOOP3"
        expect_in out '^pupil: 0750001A/D1006 '
        expect_in out "^warning: its volume [0-9A-F]{8} is key usb:1234:5678:GENUINE01's in the journal, whose USB serial is GENUINE01, not CLONE0001$"
        expect_exit 1 "${UC[@]}" "$C" verify "$LOOP3" "${T[@]}" "${J[@]}"
        expect_in err "^cartable: warning: SWAPPED: its volume [0-9A-F]{8} is key usb:1234:5678:GENUINE01's in the journal, whose USB serial is GENUINE01, not CLONE0001$"
        [ "$(q "SELECT outcome FROM events WHERE kind = 'verified' AND key_uid = 'usb:1234:5678:GENUINE01' ORDER BY seq DESC LIMIT 1")" = swapped ] \
                || fail "verify --journal did not record the clone swapped"
        expect_exit 1 "${UC[@]}" "$C" return "$LOOP3" "${T[@]}" "${J[@]}" --reason left
        expect_in out '^returned GENUINE01 \(left\): key usb:1234:5678:GENUINE01 of 0750001A/D1006, swapped: '
        expect_in err 'SWAPPED: its volume .* whose USB serial is GENUINE01, not CLONE0001$'
        expect_exit 0 "$C" verify clone.img "${T[@]}"
        losetup -d "$LOOP" "$LOOP2" "$LOOP3"
        trap 'rm -rf "$SCRATCH"' EXIT
        [ "$after" = "$before" ] || fail "a swapped key was written"
        fsck_clean usb.img
        M mtype -i usb.img@@1M "::$OWNER" | grep '^    Yanis$' >/dev/null || fail "owner file of the USB key"
else
        skip_part "the USB key (umockdev bed over a loop device) needs root, losetup and umockdev-run"
fi
echo "ok"
