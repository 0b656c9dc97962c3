#!/bin/bash
# cartable flash, verify, ls, cat and image export on image files, each result checked by
# independent tools: sfdisk, blkid, fsck.fat, mtools.
. "$(dirname "$0")/lib.sh"
need_tool sfdisk
need_tool blkid
need_tool fsck.fat
need_tool mcopy
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
mkdir state
printf '[station]\nstate-dir = %s/state\n' "$SCRATCH" > cartable.conf

# Content, a signing key and releases built from it.
mkdir -p content/Cours/Maths content/Outils
echo "Théorème de Pythagore" > content/Cours/Maths/pythagore.txt
head -c 3000000 /dev/urandom > content/Outils/outil.bin
head -c 70000 /dev/urandom > content/Cours/fiche.pdf
echo "Lisez-moi" > content/LISEZMOI.txt
"$CARTABLE" key generate --secret dep.key --public dep.pub --unencrypted >/dev/null
"$CARTABLE" key generate --secret other.key --public other.pub --unencrypted >/dev/null
make_release() {   # make_release OUT SERIAL [extra options]
        local out=$1 serial=$2; shift 2
        "$CARTABLE" image build --name college --version "2026.$serial" --serial "$serial" \
                --min-size 64M --sealed Cours --label COLLEGE --key dep.key --output "$out" \
                -q "$@" content >/dev/null
}
make_release rel.cart 3
make_release gpt.cart 3 --scheme gpt

# --- flash an image file
expect_exit 0 "$CARTABLE" flash rel.cart key.img --size 128M --trust dep.pub
expect_in out '^key.img: ok: college 2026.3 \(serial 3\), volume [0-9A-F]{4}-[0-9A-F]{4}'
sfdisk -d key.img > table
expect_in table '^label: dos$'
expect_in table 'key.img1 : start= *2048, size= *260096, type=c$'
blkid -p -O 1048576 key.img > blk
expect_in blk 'TYPE="vfat"'
expect_in blk 'VERSION="FAT32"'
expect_in blk 'LABEL="COLLEGE"'
dd if=key.img of=part.img bs=1M skip=1 status=none
fsck.fat -n part.img > fsck.log 2>&1 || { cat fsck.log; fail "fsck.fat found errors"; }
for f in Cours/Maths/pythagore.txt Outils/outil.bin Cours/fiche.pdf LISEZMOI.txt; do
        mcopy -n -i key.img@@1M "::/$f" got 2>mtools.err || fail "mcopy $f"
        [ ! -s mtools.err ] || { cat mtools.err; fail "mtools warned about the volume"; }
        cmp got "content/$f" || fail "$f differs"
        rm got
done
mattrib -i key.img@@1M ::/.cartable > attrs
expect_in attrs '^ +SH +::/.cartable$'
mtype -i key.img@@1M ::/.cartable/key.json > keyjson
expect_in keyjson '"serial":3'
expect_in keyjson '"volume_id":"[0-9A-F]{4}-[0-9A-F]{4}"'
mtype -i key.img@@1M ::/.cartable/manifest.json.minisig > sig
expect_in sig '^untrusted comment'
# Free space is a hole: only the layout and the content were written.
[ "$(du -k key.img | cut -f1)" -lt 8000 ] || fail "free space was written: $(du -k key.img)"

# --- verify, ls, cat
expect_exit 0 "$CARTABLE" verify key.img --trust dep.pub
expect_in out '^key.img: intact: college 2026.3 \(serial 3, .*4 files'
expect_exit 3 "$CARTABLE" verify key.img --trust other.pub
expect_exit 3 "$CARTABLE" verify key.img --trust other.pub --json
jq -e '.intact == false and .reason == "untrusted-signer" and (.error | test("not trusted"))' out >/dev/null ||
        fail "verify --json: no reason for an untrusted key: $(cat out)"
expect_exit 0 "$CARTABLE" ls key.img
expect_in out '^dhs- +0 .* \.cartable/$'
expect_in out '^---- +10 .* LISEZMOI\.txt$'
expect_exit 0 "$CARTABLE" ls key.img cours/maths
expect_in out ' pythagore\.txt$'
expect_exit 0 "$CARTABLE" cat key.img Outils/outil.bin
cmp out content/Outils/outil.bin || fail "cat gave other bytes"
expect_exit 66 "$CARTABLE" cat key.img nothing/here
expect_exit 2 "$CARTABLE" verify rel.cart --trust dep.pub
expect_exit 2 "$CARTABLE" verify rel.cart --trust dep.pub --json
jq -e '.reason == "not-a-key"' out >/dev/null || fail "verify --json: no not-a-key reason: $(cat out)"
expect_exit 2 "$CARTABLE" ls rel.cart

# A pupil's key: a deleted, a modified, an added file, and one added in a sealed directory.
cp key.img pupil.img
echo "mes notes" > notes.txt
mcopy -i pupil.img@@1M notes.txt ::/Outils/notes.txt
expect_exit 0 "$CARTABLE" verify pupil.img --trust dep.pub
expect_in out '^extra +Outils/notes\.txt$'
mdel -i pupil.img@@1M ::/LISEZMOI.txt
mcopy -o -i pupil.img@@1M notes.txt ::/Cours/fiche.pdf
mcopy -i pupil.img@@1M notes.txt ::/Cours/triche.txt
expect_exit 1 "$CARTABLE" verify pupil.img --trust dep.pub
expect_in out '^missing +LISEZMOI\.txt$'
expect_in out '^modified +Cours/fiche\.pdf \(10 bytes, expected 70000\)$'
expect_in out '^sealed +Cours/triche\.txt$'
expect_in out '^extra +Outils/notes\.txt$'
expect_in out 'MODIFIED: .* 1 missing, 1 modified, 1 extra \(allowed\), 1 in sealed'
expect_exit 1 "$CARTABLE" verify pupil.img --trust dep.pub --json
expect_in out '"intact":false'
expect_in out '\{"path":"LISEZMOI.txt","status":"missing","directory":false\}'
# Same size, other bytes: only the SHA-256 tells.
cp key.img same.img
head -c 70000 /dev/urandom > fake.pdf
mcopy -o -i same.img@@1M fake.pdf ::/Cours/fiche.pdf
expect_exit 1 "$CARTABLE" verify same.img --trust dep.pub
expect_in out '^modified +Cours/fiche\.pdf$'

# Hostile keys: a manifest that is a directory, or too large to be one, names the file.
cp key.img dir.img
mdel -i dir.img@@1M ::/.cartable/manifest.json
mmd -i dir.img@@1M ::/.cartable/manifest.json
expect_exit 2 "$CARTABLE" verify dir.img --trust dep.pub
expect_in err '\.cartable/manifest\.json": is a directory'
cp key.img huge.img
mdel -i huge.img@@1M ::/.cartable/manifest.json
truncate -s 17M huge.json
mcopy -i huge.img@@1M huge.json ::/.cartable/manifest.json
expect_exit 2 "$CARTABLE" verify huge.img --trust dep.pub
expect_in err '"/\.cartable/manifest\.json": larger than 16 MiB'
rm -f dir.img huge.img huge.json

# --- refusals leave the target untouched
head -c 96M /dev/urandom > old.img
cp old.img old.orig
cp rel.cart bad.cart
printf 'X' | dd of=bad.cart bs=1 seek=700 conv=notrunc status=none   # inside manifest.json
expect_exit 3 "$CARTABLE" flash bad.cart old.img --trust dep.pub
cmp old.img old.orig || fail "a tampered release touched the target"
expect_exit 3 "$CARTABLE" flash rel.cart old.img --trust other.pub
cmp old.img old.orig || fail "an untrusted release touched the target"
expect_exit 4 "$CARTABLE" flash rel.cart small.img --size 32M --trust dep.pub
expect_in err 'check: the key holds 32.0 MiB, the release needs at least 64.0 MiB'
[ ! -e small.img ] || fail "a refused flash left small.img behind"

# --- --json carries the reason code of a refusal or failure, in the report and in events
expect_exit 4 "$CARTABLE" flash rel.cart small.img --size 32M --trust dep.pub --json
expect_in out '"event":"result".*"outcome":"refused".*"step":"check".*"reason":"too-small"'
expect_in out '"reason":"too-small","error":"check: the key holds 32.0 MiB, the release needs at least 64.0 MiB"'
expect_exit 3 "$CARTABLE" flash rel.cart old.img --trust other.pub --json
expect_in out '^\{"event":"error","target":"old.img","reason":"untrusted-signer","error":"rel.cart: manifest.json: signed by key [0-9A-F]+, which is not trusted'
expect_exit 3 "$CARTABLE" flash bad.cart old.img --trust dep.pub --json
expect_in out '"event":"error".*"reason":"bad-signature"'
cmp old.img old.orig || fail "a refused --json flash touched the target"

# --- a key that held a GPT gets an MBR and no GPT is left, backup header included
truncate -s 128M was-gpt.img
printf 'label: gpt\n,,L\n' | sfdisk -q was-gpt.img
# (a Linux partition is no key image: it takes --force)
expect_exit 0 "$CARTABLE" flash rel.cart was-gpt.img --trust dep.pub --force
blkid -p was-gpt.img > blk || true
expect_in blk 'PTTYPE="dos"'
[ "$(tail -c 512 was-gpt.img | tr -d '\0' | wc -c)" = 0 ] || fail "the GPT backup header survived"
sfdisk -d was-gpt.img > table
expect_in table '^label: dos$'

# --- GPT when the release says so
expect_exit 0 "$CARTABLE" flash gpt.cart gpt.img --size 128M --trust dep.pub --json
expect_in out '"event":"result".*"outcome":"ok"'
expect_in out '"bytes_written":[1-9]'
sfdisk -d gpt.img > table
expect_in table '^label: gpt$'
expect_in table 'start= *2048, .*type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7'
expect_exit 0 "$CARTABLE" verify gpt.img --trust dep.pub

# --- rollback: an older release is refused once a newer one was flashed here
make_release old.cart 2
expect_exit 3 "$CARTABLE" flash old.cart r.img --size 96M --trust dep.pub
expect_in err 'has serial 2, older than serial [3-9]'
expect_exit 3 "$CARTABLE" flash old.cart r.img --size 96M --trust dep.pub --json
expect_in out '"event":"error".*"reason":"rollback"'
expect_exit 0 "$CARTABLE" flash old.cart r.img --size 96M --trust dep.pub --allow-downgrade

# --- image export: sparse, reproducible, verifiable, never overwrites
expect_exit 0 "$CARTABLE" image export rel.cart --trust dep.pub --size 1G --output a.img \
        --volume-id 2026-0001 --time 2026-09-01T08:00:00Z
expect_exit 0 "$CARTABLE" image export rel.cart --trust dep.pub --size 1G --output b.img \
        --volume-id 2026-0001 --time 2026-09-01T08:00:00Z
cmp a.img b.img || fail "image export is not reproducible"
[ "$(stat -c %s a.img)" = 1073741824 ] || fail "wrong image size"
[ "$(du -k a.img | cut -f1)" -lt 20000 ] || fail "the exported image is not sparse: $(du -k a.img)"
blkid -p -O 1048576 a.img > blk
expect_in blk 'UUID="2026-0001"'
expect_exit 0 "$CARTABLE" verify a.img --trust dep.pub
expect_exit 73 "$CARTABLE" image export rel.cart --trust dep.pub --size 1G --output a.img
expect_in err 'a.img: already exists, not overwritten'
expect_exit 73 "$CARTABLE" image export rel.cart --trust dep.pub --size 1G --output a.img --json
expect_in out '"reason":"output-exists","error":"a.img: already exists, not overwritten"'
expect_exit 4 "$CARTABLE" image export rel.cart --trust dep.pub --size 32M --output c.img
[ -z "$(ls c.img* 2>/dev/null)" ] || fail "a failed export left a file"
# --- personalisation: the owner file carries only the fields given, verify accepts it
printf 'Cette clé appartient à @FIRST_NAME@, classe @CLASS@, @SCHOOL@.\n' > owner.tpl
make_release own.cart 4 --owner-template owner.tpl --owner-path "CETTE CLE APPARTIENT A.txt"
expect_exit 0 "$CARTABLE" flash own.cart own.img --size 96M --trust dep.pub \
        --owner first-name=Léa --owner class="5e B" --owner school="Collège Jean Moulin"
mtype -i own.img@@1M "::/CETTE CLE APPARTIENT A.txt" > owner.txt
expect_in owner.txt '^Cette clé appartient à Léa, classe 5e B, Collège Jean Moulin\.'
mtype -i own.img@@1M ::/.cartable/key.json > keyjson
expect_in keyjson '"first_name":"Léa"'
expect_exit 0 "$CARTABLE" verify own.img --trust dep.pub
# Without --owner the key is flashed without the file, and the technician is told.
expect_exit 0 "$CARTABLE" flash own.cart spare.img --size 96M --trust dep.pub
expect_in err 'personalised; without --owner this key gets no "CETTE CLE APPARTIENT A.txt"'
# A field the template needs and was not given, an unknown field, a plain release.
expect_exit 65 "$CARTABLE" flash own.cart o2.img --size 96M --trust dep.pub --owner first-name=Léa
expect_in err 'CLASS|class'
[ ! -e o2.img ] || fail "a failed flash left a new image behind"
expect_exit 64 "$CARTABLE" flash own.cart o3.img --size 96M --trust dep.pub --owner ine=123
expect_in err "unknown field"
expect_exit 64 "$CARTABLE" flash rel.cart o4.img --size 96M --trust dep.pub --allow-downgrade --owner first-name=Léa
expect_in err "not personalised"
# --- cat: a directory is no file to print (66), a full stdout is reported (73), never "not a key"
expect_exit 66 "$CARTABLE" cat key.img Cours
expect_in err 'is a directory'
expect_exit 73 bash -c '"$0" cat key.img LISEZMOI.txt > /dev/full' "$CARTABLE"
expect_in err 'cannot write to standard output'

# --- the proof on the key: a malformed signature is a trust failure (3), not "not a key";
# a file slipped into /.cartable/ is reported like one in a sealed directory (1)
cp key.img proof.img
printf 'untrusted comment: x\nnot base64 at all\n' > bad.sig
mcopy -o -i proof.img@@1M bad.sig ::/.cartable/manifest.json.minisig
expect_exit 3 "$CARTABLE" verify proof.img --trust dep.pub
expect_in err 'malformed signature'
cp key.img slip.img
printf 'x\n' > slipped.txt
mcopy -i slip.img@@1M slipped.txt ::/.cartable/slipped.txt
expect_exit 1 "$CARTABLE" verify slip.img --trust dep.pub
expect_in out 'sealed +\.cartable/slipped\.txt'
rm -f proof.img slip.img

# --- no locale at all, as on a minimal live system (issue 16 item 7): names fold through
# cartable's own table. The locale files are hidden in a private mount namespace.
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
        nolocale() {
                unshare -m sh -c 'mount -t tmpfs none /usr/lib/locale &&
                        exec env -i LC_ALL=C.UTF-8 CARTABLE_CONFIG="$CARTABLE_CONFIG" "$@"' sh "$@"
        }
        mkdir -p loc/x && echo a > loc/x/a.txt && echo b > loc/x/A.TXT
        expect_exit 65 nolocale "$CARTABLE" image build --name college --version 2026.9 --serial 9 \
                --min-size 64M --key dep.key --output noloc.cart loc
        expect_in err 'x/(a\.txt|A\.TXT): same name on FAT as'
        expect_exit 0 nolocale "$CARTABLE" image build --name college --version 2026.9 --serial 9 \
                --min-size 64M --sealed Cours --key dep.key --output noloc.cart -q content
        expect_exit 0 nolocale "$CARTABLE" flash noloc.cart noloc.img --size 128M --trust dep.pub
        expect_exit 0 nolocale "$CARTABLE" verify noloc.img --trust dep.pub
        expect_in out 'noloc.img: intact: college 2026.9'
        expect_exit 0 nolocale "$CARTABLE" cat noloc.img COURS/MATHS/PYTHAGORE.TXT
        expect_in out 'Théorème de Pythagore'
        expect_exit 0 env -i LC_ALL=POSIX CARTABLE_CONFIG="$CARTABLE_CONFIG" "$CARTABLE" verify noloc.img --trust dep.pub
        expect_in out 'noloc.img: intact: college 2026.9'
        rm -rf loc noloc.cart noloc.img
fi

# --- a device path with no device behind it is never created as an image file
nodev=/dev/cartable-test-no-such-key-$$
trap 'rm -f "$nodev"; rm -rf "$SCRATCH"' EXIT
expect_exit 4 "$CARTABLE" flash rel.cart "$nodev" --size 1G --trust dep.pub --allow-downgrade
expect_in err "no such device \(is the key plugged in\?\)"
[ ! -e "$nodev" ] || fail "flash created $nodev"
expect_exit 4 "$CARTABLE" image export rel.cart --trust dep.pub --size 1G --output "$nodev"
[ ! -e "$nodev" ] || fail "image export created $nodev"
echo "flash: ok"
