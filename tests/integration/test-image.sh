#!/bin/bash
# cartable image build / verify / show on the example release and small bundles: exit
# codes, determinism, minisign's own check, and no output left behind by a failed build.
. "$(dirname "$0")/lib.sh"
need_tool bsdtar
need_tool minisign

export CARTABLE_CONFIG=/nonexistent-on-purpose   # no station keys: --trust only
unset SOURCE_DATE_EPOCH
expect_exit 66 "$CARTABLE" image show nothing.cart
export CARTABLE_CONFIG=

"$CARTABLE" key generate --secret k.key --public k.pub --unencrypted >/dev/null 2>&1
"$CARTABLE" key generate --secret other.key --public other.pub --unencrypted >/dev/null 2>&1
printf 'correct horse\n' > pass
printf 'wrong horse\n' > badpass
"$CARTABLE" key generate --secret enc.key --public enc.pub --passphrase-file pass >/dev/null 2>&1

# The example release, as tools/demo builds it.
expect_exit 0 "$CARTABLE" image build "$SOURCE_ROOT/images/ent-college" --key k.key --output ent.cart
expect_in err 'ent.cart: release ent-college 2026.09, serial 1'
[ "$(stat -c %s ent.cart)" -lt 204800 ] || fail "the example release is over 200 KiB"
bsdtar -tf ent.cart > list
[ "$(sed -n 1p list)" = manifest.json ] || fail "manifest.json is not first"
[ "$(sed -n 2p list)" = manifest.json.minisig ] || fail "the signature is not second"
expect_in list '^index.html$'
expect_in list '^Mes documents/$'
expect_not_in list 'proprietaire'

# Anyone can check it years later with minisign and sha256sum alone.
mkdir x && bsdtar -xf ent.cart -C x
minisign -Vm x/manifest.json -p k.pub > minisign.out || fail "minisign rejects the signature"
expect_in minisign.out 'Trusted comment: cartable release name:ent-college version:2026.09 serial:1'
want=$(grep -A4 '"path": "index.html"' x/manifest.json | sed -n 's/.*"sha256": "\(.*\)".*/\1/p')
[ "$(sha256sum < x/index.html | cut -d' ' -f1)" = "$want" ] || fail "index.html's sha256 differs from the manifest"
expect_in x/index.html 'href="https://ent.departement.example/"'
if command -v jq >/dev/null; then   # the man page's recipe, verbatim
        (cd x && jq -r '.files[] | select(.type == "file") | "\(.sha256)  \(.path)"' manifest.json | sha256sum -c --quiet) ||
                fail "sha256sum -c rejects the manifest's hashes"
fi
expect_not_in x/index.html '@ENT_URL@'

expect_in x/manifest.json '"fields": \['
expect_in x/manifest.json '"first_name",'
expect_not_in x/manifest.json 'last_name'

expect_exit 0 "$CARTABLE" image verify ent.cart --trust k.pub
expect_in out 'ent.cart: OK: release ent-college 2026.09, serial 1'
expect_exit 0 "$CARTABLE" image verify ent.cart --trust . --json
expect_in out '"valid": true'
expect_in out '"personalised": true'
expect_exit 3 "$CARTABLE" image verify ent.cart --trust other.pub
expect_in err 'not trusted|untrusted|trusted key'
expect_exit 3 "$CARTABLE" image verify ent.cart --trust other.pub --json
expect_in out '"valid": false'
expect_exit 66 "$CARTABLE" image verify ent.cart
expect_in err 'no trusted key'

# Trusted keys from the station's configuration.
printf '[trust]\nkey = %s/k.pub\n' "$PWD" > station.conf
expect_exit 0 "$CARTABLE" --config station.conf image verify ent.cart
expect_exit 0 "$CARTABLE" --config station.conf image show ent.cart
expect_in out 'signature verified'

# show: without keys it says the signature was not checked; with them it checks.
expect_exit 0 "$CARTABLE" image show ent.cart
expect_in out 'signature NOT checked'
expect_in out 'Owner file: +CETTE CLE APPARTIENT A.txt'
expect_in out '^-r-- +[0-9]+ 2026-09-01 00:00 Ressources/conjugaison.html$'
expect_in out '^--h- +[0-9]+ .* autorun.inf$'
expect_exit 0 "$CARTABLE" image show ent.cart --trust k.pub --json
expect_in out '"signature": "verified"'
expect_in out '"label": "ENT COLLEGE"'
expect_exit 3 "$CARTABLE" image show ent.cart --trust other.pub

# Deterministic: the same recipe, bundles and key give the same bytes.
expect_exit 0 "$CARTABLE" image build "$SOURCE_ROOT/images/ent-college/recipe.ini" --key k.key --output ent2.cart -q
cmp ent.cart ent2.cart || fail "two builds differ"
[ ! -s err ] || fail "--quiet still logs"

# Options override the recipe; a release without any recipe file.
mkdir -p one/Docs two
printf 'un' > one/Docs/a.txt; printf 'old' > one/index.html; printf 'new' > two/index.html
bsdtar -czf two.tar.gz -C two index.html
SOURCE_DATE_EPOCH=1788220800 expect_exit 0 "$CARTABLE" image build --key k.key --output norecipe.cart \
        --name demo --version 2 --serial 9 --label DEMO --scheme gpt --min-size 64M --sealed Docs one two.tar.gz
expect_in err 'two.tar.gz replaces index.html of one'
expect_exit 0 "$CARTABLE" image show norecipe.cart --json
expect_in out '"scheme": "gpt"'
expect_in out '"created": "2026-09-01T00:00:00Z"'
[ "$(bsdtar -xOf norecipe.cart index.html)" = new ] || fail "the later bundle did not win"
expect_exit 0 "$CARTABLE" image build "$SOURCE_ROOT/images/ent-college" --key k.key --output serial.cart --serial 2 -q
expect_exit 0 "$CARTABLE" image show serial.cart
expect_in out 'serial 2$'

# Passphrases: the right one signs, a wrong one is a trust failure.
expect_exit 0 "$CARTABLE" image build --key enc.key --passphrase-file pass --output enc.cart \
        --name demo --version 1 --serial 1 one
expect_exit 0 "$CARTABLE" image verify enc.cart --trust enc.pub
expect_exit 3 "$CARTABLE" image build --key enc.key --passphrase-file badpass --output bad.cart \
        --name demo --version 1 --serial 1 one
[ ! -e bad.cart ] || fail "a failed build left bad.cart"

# Usage and input errors.
expect_exit 64 "$CARTABLE" image
expect_exit 64 "$CARTABLE" image frobnicate
expect_exit 64 "$CARTABLE" image build --output x.cart one
expect_in err 'needs --key'
expect_exit 66 "$CARTABLE" image build --key missing.key --output x.cart --name a --version 1 --serial 1 one
expect_exit 65 "$CARTABLE" image build --key k.key --output x.cart --version 1 --serial 1 one
expect_in err 'name: missing'
expect_exit 66 "$CARTABLE" image build --key k.key --output x.cart --name a --version 1 --serial 1 nowhere.tar
expect_in err 'nowhere.tar'
expect_exit 73 "$CARTABLE" image build --key k.key --output ent.cart --name a --version 1 --serial 1 one
expect_in err 'ent.cart: already exists'
expect_exit 4 "$CARTABLE" image build --key k.key --output x.cart --name a --version 1 --serial 1 \
        --min-size 64M --max-total-size 70M "$(mkdir -p big && truncate -s 63M big/film.mp4 && echo big)"
expect_in err 'a 64.0 MiB key holds about'
[ -z "$(ls | grep -E '^x\.cart')" ] || fail "a failed build left output: $(ls)"

# Tampering: a payload byte, a manifest byte, an appended member.
cp ent.cart tampered.cart
off=$(grep -abo 'Tables de multiplication de 1' tampered.cart | head -1 | cut -d: -f1)
printf 'X' | dd of=tampered.cart bs=1 seek="$off" conv=notrunc status=none
expect_exit 3 "$CARTABLE" image verify tampered.cart --trust k.pub
expect_in err 'Ressources/multiplications.html: content differs from the signed manifest'
expect_exit 3 "$CARTABLE" image verify tampered.cart --trust k.pub --json
jq -e '.valid == false and .reason == "tampered"' out >/dev/null || fail "image verify --json: no tampered reason: $(cat out)"
expect_exit 0 "$CARTABLE" image show tampered.cart --trust k.pub
cp ent.cart tampered2.cart
off=$(grep -abo '"serial": 1' tampered2.cart | head -1 | cut -d: -f1)
printf '7' | dd of=tampered2.cart bs=1 seek=$((off + 10)) conv=notrunc status=none
expect_exit 3 "$CARTABLE" image verify tampered2.cart --trust k.pub
{ bsdtar -tf ent.cart; echo setup.exe; } > names
(cd x && printf 'MZ' > setup.exe && bsdtar --format ustar -n -cf ../extra.cart -T ../names)
expect_exit 65 "$CARTABLE" image verify extra.cart --trust k.pub
expect_in err 'setup.exe: not in the signed manifest'
printf 'not a tar' > junk.cart
expect_exit 65 "$CARTABLE" image verify junk.cart --trust k.pub

# Names from bundles never drive the terminal (issue 16 item 9): a control character is
# refused, and the message shows it escaped; DEL and C1 controls, which FAT can hold, are
# escaped by image show.
mkdir -p escb && printf x > "escb/$(printf 'a\033[2Jb').txt"
expect_exit 65 "$CARTABLE" image build --key k.key --output esc.cart --name e --version 1 --serial 1 escb
expect_in err 'a\\x1b\[2Jb\.txt'
! grep -q "$(printf '\033')" err || fail "image build echoed an escape character"
rm -rf escb && mkdir -p escb && printf x > "escb/$(printf 'del\177c1\302\2332J').txt"
expect_exit 0 "$CARTABLE" image build --key k.key --output esc.cart --name e --version 1 --serial 1 escb
expect_exit 0 "$CARTABLE" image show esc.cart --trust k.pub
expect_in out 'del\\x7fc1\\u009b2J\.txt$'
! grep -qP '\x7f|\xc2\x9b' out || fail "image show printed a control character"

# An interrupted build leaves nothing behind. The signal comes once the output is open (the
# unnamed file in this directory, seen in /proc), with hundreds of MiB still to write, and
# while the process is stopped: it lands mid-build whatever the host's speed.
# interrupt PID SIG: when PID has its output open here, stop it, send SIG, continue it.
interrupt() {
        local pid=$1 sig=$2 i
        for i in $(seq 1200); do
                ls -l /proc/$pid/fd 2>/dev/null | grep -E " -> $SCRATCH/(#[0-9]+ \(deleted\)|\..*\.cartable-.{6})\$" >/dev/null && break
                kill -0 $pid 2>/dev/null || fail "process $pid ended before its output was open"
                [ "$i" != 1200 ] || fail "process $pid did not open its output in 60 s"
                sleep 0.05
        done
        kill -STOP $pid && kill -$sig $pid && kill -CONT $pid
}
mkdir -p slow && truncate -s 1500M slow/big.bin
"$CARTABLE" image build --key k.key --output int.cart --name a --version 1 --serial 1 --min-size 2G slow 2>/dev/null &
pid=$!
interrupt $pid INT
wait $pid && fail "the interrupted build succeeded"
[ -z "$(ls | grep -E '^int\.cart')" ] || fail "an interrupted build left: $(ls | grep int.cart)"
# Nor does a hang-up, nor a kill that no handler sees (issue 16 item 10): the output is an
# unnamed file until it is complete. The same for image export.
for sig in HUP KILL; do
        "$CARTABLE" image build --key k.key --output int.cart --name a --version 1 --serial 1 --min-size 2G slow 2>/dev/null &
        pid=$!
        interrupt $pid $sig
        wait $pid && fail "the build killed by SIG$sig succeeded"
        [ -z "$(ls -A | grep -E 'int\.cart')" ] || fail "a build killed by SIG$sig left: $(ls -A | grep int.cart)"
done
mkdir -p slow2 && truncate -s 400M slow2/big.bin
"$CARTABLE" image build --key k.key --output slow.cart --name a --version 1 --serial 1 --min-size 1G -q slow2
"$CARTABLE" image export slow.cart --trust k.pub --size 1G --output int.img 2>/dev/null &
pid=$!
interrupt $pid KILL
wait $pid && fail "the export killed by SIGKILL succeeded"
[ -z "$(ls -A | grep -E 'int\.img')" ] || fail "a killed export left: $(ls -A | grep int.img)"
rm -rf slow.cart slow2

# No space left for the staged content, the release or an exported image is an I/O
# failure (5), not "target refused" (issue 16 item 11), and leaves nothing.
if [ "$(id -u)" = 0 ] && mkdir full && mount -t tmpfs -o size=2M tmpfs full 2>/dev/null; then
        trap 'umount "$SCRATCH/full" 2>/dev/null || true; rm -rf "$SCRATCH"' EXIT
        mkdir -p fill && head -c 3000000 /dev/urandom > fill/big.bin
        expect_exit 5 "$CARTABLE" image build --key k.key --output full/x.cart --name a --version 1 --serial 1 fill
        expect_in err 'cannot stage content: No space left on device'
        head -c 1500000 /dev/urandom > fill/big.bin
        expect_exit 5 "$CARTABLE" image build --key k.key --output full/x.cart --name a --version 1 --serial 1 fill
        expect_in err 'writing the release: .*No space left on device'
        [ -z "$(ls -A full)" ] || fail "a build out of space left: $(ls -A full)"
        head -c 3000000 /dev/urandom > fill/big.bin
        "$CARTABLE" image build --key k.key --output fill.cart --name a --version 1 --serial 1 -q --min-size 64M fill
        expect_exit 5 "$CARTABLE" image export fill.cart --trust k.pub --size 128M --output full/k.img
        expect_in err 'No space left on device'
        [ -z "$(ls -A full)" ] || fail "an export out of space left: $(ls -A full)"
        umount full
fi
echo "image: ok"
