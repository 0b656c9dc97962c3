#!/bin/bash
# Hostile keys a pupil can craft around a genuinely flashed key, built here from small
# image files (nothing large is committed). verify must never call them intact, and must
# say why: the partition table (issue 16 item 2: a second partition; item 3: a GPT whose
# backup points elsewhere), the unsigned key record (item 5), attributes, outdated
# releases and legacy signatures (item 6), and the bound on what verify lists (item 4).
. "$SOURCE_ROOT/tests/integration/lib.sh"
for t in sfdisk mkfs.fat mcopy mtype mattrib mdir minisign; do need_tool "$t"; done
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
mkdir state
printf '[station]\nstate-dir = %s/state\n' "$SCRATCH" > cartable.conf
MIB=1048576

mkdir -p content/Cours content/Outils
echo "Théorème de Pythagore" > content/Cours/pythagore.txt
echo "Fiche de révision" > content/Cours/fiche.txt
echo "outil" > content/Outils/outil.sh
"$CARTABLE" key generate --secret dep.key --public dep.pub --unencrypted >/dev/null
build() {   # build OUT SERIAL [options]
        local out=$1 serial=$2; shift 2
        "$CARTABLE" image build --name college --version "2026.$serial" --serial "$serial" --min-size 64M \
                --sealed Cours --label COLLEGE --key dep.key --output "$out" -q "$@" content >/dev/null
}
build rel.cart 3
build gpt.cart 3 --scheme gpt
expect_exit 0 "$CARTABLE" flash rel.cart key.img --size 96M --trust dep.pub --volume-id 2026-0003
expect_exit 0 "$CARTABLE" flash gpt.cart gpt.img --size 96M --trust dep.pub --volume-id 2026-0004
expect_exit 0 "$CARTABLE" verify key.img --trust dep.pub
expect_in out 'key.img: intact'
expect_exit 0 "$CARTABLE" verify gpt.img --trust dep.pub
expect_in out 'gpt.img: intact'
VOL=$(( $(stat -c %s key.img) - MIB ))       # the genuine volume's bytes

# never_intact IMG REASON: exit 1 (modified), the reason in the listing and in --json.
never_intact() {
        expect_exit 1 "$CARTABLE" verify "$1" --trust dep.pub
        expect_in out "$2"
        expect_in out "^$1: MODIFIED"
        expect_exit 1 "$CARTABLE" verify "$1" --trust dep.pub --json
        expect_in out '"intact":false'
}

# --- item 2: partition 1 a forged FAT32 (made by mkfs.fat, same label, "FAT32   " blanked),
# partition 2 a byte copy of the genuine volume. OSes and mtools use partition 1.
P1=$(( 40 * 2048 ))                           # 40 MiB, in sectors
P2=$(( 2048 + P1 ))
truncate -s $(( MIB + P1 * 512 + VOL + MIB )) two.img
printf 'label: dos\nstart=2048, size=%d, type=c\nstart=%d, size=%d, type=c\n' $P1 $P2 $(( VOL / 512 )) |
        sfdisk -q two.img
mkfs.fat -F 32 -s 1 -n COLLEGE --offset 2048 two.img $(( P1 / 2 )) >/dev/null
mmd -i two.img@@1M ::/Cours
echo "Pythagore avait tort" > forged.txt
mcopy -i two.img@@1M forged.txt ::/Cours/pythagore.txt
printf '        ' | dd of=two.img bs=1 seek=$(( MIB + 82 )) conv=notrunc status=none
dd if=key.img of=two.img bs=1M skip=1 seek=$(( P2 / 2048 )) count=$(( VOL / MIB )) conv=notrunc status=none
mtype -i two.img@@1M ::/Cours/pythagore.txt > shown 2>/dev/null
expect_in shown 'avait tort'                  # what a pupil's computer shows
never_intact two.img '^not as flashed: the MBR holds 2 partitions; flash writes one'
# The FAT32 string alone never makes a volume: a blank one still is FAT (BPB), and ls/cat
# show what an OS mounts, partition 1.
expect_exit 0 "$CARTABLE" cat two.img Cours/pythagore.txt
expect_in out 'avait tort'
# One partition, but not where the layout puts it, or of another type.
cp key.img moved.img
sfdisk -q --part-type moved.img 1 83
never_intact moved.img '^not as flashed: the partition has type 0x83; flash writes 0x0c'

# --- item 3: the GPT's primary header broken, the backup re-pointed (valid CRCs) at a
# forged FAT32 laid in the volume's free space; sfdisk then reads the backup.
SECTORS=$(( $(stat -c %s gpt.img) / 512 ))
FORGED=$(( 50 * 2048 ))
cp gpt.img backup.img
mkfs.fat -F 32 -s 1 -n COLLEGE --offset $FORGED backup.img $(( 40 * 1024 )) >/dev/null
cp gpt.img scratch.img
printf 'label: gpt\nstart=%d, size=%d, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n' $FORGED $(( 40 * 2048 )) |
        sfdisk -q --no-reread --wipe never scratch.img
dd if=scratch.img of=backup.img bs=512 skip=$(( SECTORS - 33 )) seek=$(( SECTORS - 33 )) count=33 \
        conv=notrunc status=none
cp backup.img backup-only.img                  # primary intact: the two disagree
printf '\377' | dd of=backup.img bs=1 seek=$(( 512 + 16 )) conv=notrunc status=none   # primary CRC
sfdisk -d backup.img > table 2>/dev/null || true
expect_in table "start= *$FORGED,"             # what sfdisk (and OSes) use
never_intact backup.img "^not as flashed: the primary GPT header's CRC is wrong"
never_intact backup-only.img '^not as flashed: the backup GPT differs from the primary'
# The entry array's CRC, primary side.
cp gpt.img array.img
printf '\377' | dd of=array.img bs=1 seek=$(( 1024 + 60 )) conv=notrunc status=none  # inside entry 1's GUID
never_intact array.img "^not as flashed: the primary GPT partition array's CRC is wrong"

# --- item 5: the key record is unsigned. Shown as such; a volume ID that is not the
# volume's makes the key modified.
expect_exit 0 "$CARTABLE" verify key.img --trust dep.pub
expect_in out '^key record \(unsigned, not proof\): college 2026.3 serial 3, volume 2026-0003'
expect_exit 0 "$CARTABLE" verify key.img --trust dep.pub --json
expect_in out '"key_record":\{"found":true,"signed":false,"valid":true,"matches_volume":true'
# Whatever an operator types, the record flash writes reads back: a genuine key stays
# intact. A field the template does not print (here the family name, with a tab and a C1
# control) is not written on the key at all.
printf 'A @FIRST_NAME@\n' > owner.tpl
build own.cart 3 --owner-template owner.tpl --owner-path "A MOI.txt"
expect_exit 0 "$CARTABLE" flash own.cart own.img --size 96M --trust dep.pub --owner first-name=Léa \
        --owner last-name=$'Mar\ttin\xc2\x9b'
expect_exit 0 "$CARTABLE" verify own.img --trust dep.pub
expect_in out '^key record \(unsigned, not proof\): .*, owner Léa$'
mtype -i own.img@@1M ::/.cartable/key.json > own.json
grep -q 'last_name\|Mar' own.json && fail "the key record holds a field the template does not print"
cp key.img record.img
mtype -i record.img@@1M ::/.cartable/key.json | sed 's/"volume_id":"2026-0003"/"volume_id":"2026-0099"/' > forged.json
grep -q 2026-0099 forged.json || fail "the record was not forged"
mcopy -o -i record.img@@1M forged.json ::/.cartable/key.json
never_intact record.img '^key-record the record names volume 2026-0099, the volume is 2026-0003'
expect_in out '"matches_volume":false'
expect_in out '"volume_id":"2026-0099"'       # the forged record is shown, flagged
# A record that is not one (unknown field, bad type) is reported, not printed as one.
cp key.img junk.img
printf '{"volume_id":"2026-0003","ine":"1234"}\n' > junk.json
mcopy -o -i junk.img@@1M junk.json ::/.cartable/key.json
never_intact junk.img '^key-record key record: unknown key "ine"'
# Its words never carry the key's control characters to the terminal.
printf '{"\033]2;pwned\007\302\233":1}' > esc.json
mcopy -o -i junk.img@@1M esc.json ::/.cartable/key.json
never_intact junk.img '^key-record key record: unknown key'
expect_exit 1 "$CARTABLE" verify junk.img --trust dep.pub
! LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]\|\xc2[\x80-\x9f]' out || fail "a control character from key.json reached the output"
expect_in out 'unknown key "\?\]2;pwned\?\?\?"'

# --- item 6: attributes in a sealed directory; outdated keys; legacy signatures.
cp key.img attr.img
mattrib -i attr.img@@1M +h +r ::/Cours/fiche.txt
never_intact attr.img '^attributes +Cours/fiche\.txt \(rh-, expected ---\)$'
mattrib -i attr.img@@1M -h -r ::/Cours/fiche.txt
mattrib -i attr.img@@1M +h ::/Outils/outil.sh   # outside sealed directories: the pupil's choice
expect_exit 0 "$CARTABLE" verify attr.img --trust dep.pub
printf 'college 5\n' > state/release-serials
expect_exit 0 "$CARTABLE" verify key.img --trust dep.pub
expect_in out '^outdated: this station has flashed serial 5 of college$'
expect_in out 'intact: .*; outdated$'
expect_exit 0 "$CARTABLE" verify key.img --trust dep.pub --json
expect_in out '"outdated":true,"station_serial":5'
rm state/release-serials
cp key.img legacy.img
mtype -i legacy.img@@1M ::/.cartable/manifest.json > manifest.json
minisign -S -l -s dep.key -m manifest.json -x legacy.sig -t "cartable release name:college version:2026.3 serial:3" \
        </dev/null >/dev/null 2>&1 || fail "minisign -S -l"
minisign -Vm manifest.json -x legacy.sig -p dep.pub >/dev/null || fail "minisign rejects its own legacy signature"
mcopy -o -i legacy.img@@1M legacy.sig ::/.cartable/manifest.json.minisig
expect_exit 3 "$CARTABLE" verify legacy.img --trust dep.pub
expect_in err 'legacy signature \(minisign -l, not prehashed\)'

# --- item 4: extra entries are counted, and listed up to 1000.
cp key.img many.img
mkdir many
(cd many && for i in $(seq 1 1200); do : > "n$i.txt"; done)
mcopy -i many.img@@1M many/* ::/Outils/
expect_exit 0 "$CARTABLE" verify many.img --trust dep.pub
[ "$(grep -c '^extra ' out)" = 1000 ] || fail "$(grep -c '^extra ' out) extra entries listed, expected 1000"
expect_in out '^\.\.\. +200 more extra, sealed or colliding entries, not listed$'
expect_in out '1200 extra \(allowed\)'
expect_exit 0 "$CARTABLE" verify many.img --trust dep.pub --json
expect_in out '"extra":1200,"sealed":0,"attributes":0,"unlisted":200'
[ "$(grep -o '"status":"extra"' out | wc -l)" = 1000 ] || fail "--json lists more than 1000 entries"
# The FAT walk verify runs holds the directories on its path: bounded at 1,048,576
# entries together, whatever the nesting (18 levels of 65,000 files: refused, in bounded
# memory; 15 levels: walked).
need_tool /usr/bin/time
python3 "$SOURCE_ROOT/tests/hostile/wide-deep.py" 18 65000 wide.img
expect_exit 1 /usr/bin/time -f 'maxrss %M' "$TOOL_FATIMG" check wide.img
expect_in err 'D0000017": the directories on this path hold more than 1048576 entries together'
# (ASan's redzones and quarantine multiply memory: the figure holds for real builds.)
if ! ldd "$TOOL_FATIMG" 2>/dev/null | grep -q libasan; then
        [ "$(sed -n 's/^maxrss //p' err)" -lt 200000 ] || fail "the walk took $(sed -n 's/^maxrss //p' err) KB"
fi
python3 "$SOURCE_ROOT/tests/hostile/wide-deep.py" 15 65000 wide.img
expect_exit 0 "$TOOL_FATIMG" check wide.img
expect_in out '^ok: 15 directories, 975000 files'
rm -f wide.img
echo "partitions: ok"
