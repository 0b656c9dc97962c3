#!/bin/bash
# Erase on re-issue: a key image that held a previous pupil's files (some deleted with mtools)
# carries none of their bytes once re-issued through each path (flash, batch, replace, the
# issue of a re-flashed stock key): the raw image is searched for unique markers, and
# photorec (testdisk) recovers none of them where it is installed. A new key's flash does not
# erase; --erase never leaves the markers (so the search can fail) and is said.
. "$(dirname "$0")/lib.sh"
need_tool jq
need_tool mcopy
need_tool sqlite3
C=$CARTABLE
M() { MTOOLS_SKIP_CHECK=1 "$@"; }
q() { sqlite3 -batch j.db "$1"; }
printf '[station]\nstate-dir = %s/state\nname = atelier-1\n[journal]\npath = %s/j.db\n' "$SCRATCH" "$SCRATCH" > cartable.conf
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
"$C" key generate --secret dep.key --public dep.pub --unencrypted > /dev/null
cp -r "$SOURCE_ROOT/images/ent-college" recipe
sed -i 's/^min-size = .*/min-size = 64M/' recipe/recipe.ini
"$C" image build recipe --key dep.key --output rel.cart > /dev/null 2>&1 || fail "image build"
expect_exit 0 "$C" roster import "$SOURCE_ROOT/manifests/rosters/demo-roster.csv"
T=(--trust dep.pub)

# A pupil's files with markers no release holds: MARK-<tag>-<n>, repeated through files of
# several clusters, so that kept, deleted and partly overwritten clusters all carry one.
RUN=$RANDOM$RANDOM
pupil_files() {
        local img=$1 tag=$2 i
        for i in 1 2 3 4; do
                { for _ in $(seq 3000); do echo "MARK-$RUN-$tag-$i devoir de francais de l'eleve"; done; } > "f$i.txt"
        done
        M mcopy -i "$img@@1M" f1.txt f2.txt f3.txt f4.txt ::/ || fail "mcopy onto $img"
        M mdel -i "$img@@1M" ::/f2.txt ::/f4.txt || fail "mdel on $img"
        [ "$(grep -c -a "MARK-$RUN-$tag-" "$img")" -gt 0 ] || fail "$img: markers not written"
}
# no_markers IMG TAG: the raw image holds none of the previous pupil's bytes.
no_markers() {
        ! grep -q -a "MARK-$RUN-$2-" "$1" || fail "$1: a previous pupil's marker survived the re-issue"
        photorec_none "$1" "$2"
}
HAS_PHOTOREC=false
command -v photorec > /dev/null && HAS_PHOTOREC=true || skip_part "photorec (testdisk) not installed: raw search only"
# photorec IMG DIR: carve every file photorec finds in the whole image (no partition).
photorec_carve() {
        rm -rf "$2"
        mkdir "$2"
        photorec /log /d "$2/r" /cmd "$1" partition_none,options,keep_corrupted_file,fileopt,everything,enable,search \
                > /dev/null 2>&1 || true
        # It ran: the release's own files are carved (so an empty result proves nothing).
        [ -n "$(find "$2" -type f -name '*.html' | head -1)" ] || fail "photorec carved nothing from $1"
}
photorec_none() {
        $HAS_PHOTOREC || return 0
        photorec_carve "$1" "rec-$2"
        ! grep -r -q -a "MARK-$RUN-$2-" "rec-$2" || fail "$1: photorec recovered a previous pupil's file"
}
# A key of pupil D1001, with files, then returned.
returned_key() {
        expect_exit 0 "$C" flash rel.cart "$1" --size 64M "${T[@]}" --pupil D1001 --replace
        pupil_files "$1" "$2"
        expect_exit 0 "$C" return "$1" "${T[@]}" --reason left
}

# ---- a new key: no erase ----
expect_exit 0 "$C" flash rel.cart new.img --size 64M "${T[@]}" --json
[ "$(jq -s -c '.[-1].erase | [.erased, .held]' out)" = '[false,"blank"]' ] || { cat out; fail "a new key was erased"; }
expect_not_in out '"step":"erase"'
# An existing image of zeros (a key never written) is blank too.
truncate -s 64M zeros.img
expect_exit 0 "$C" flash rel.cart zeros.img "${T[@]}" --json
[ "$(jq -s -c '.[-1].erase.erased' out)" = false ] || fail "a blank image was erased"

# ---- flash: a key of another pupil, re-flashed for D1002 ----
expect_exit 0 "$C" flash rel.cart a.img --size 64M "${T[@]}" --pupil D1001
pupil_files a.img A
expect_exit 0 "$C" flash rel.cart a.img "${T[@]}" --pupil D1002 --json
[ "$(jq -s -c '.[-1].erase | [.erased, .held, .method]' out)" = '[true,"other-pupil","zeros"]' ] || { cat out; fail "flash: no erase"; }
expect_in out '"step":"erase"'
[ "$(jq -s '.[-1].erase.bytes' out)" -gt $((60 * 1024 * 1024)) ] || fail "flash: the erase wrote less than the free space"
no_markers a.img A
expect_exit 0 "$C" verify a.img "${T[@]}"
# The journal's "erased" event: after the key's flash, with what it wrote, how, and what the key held.
[ "$(q "SELECT outcome || ' ' || step || ' ' || message || ' ' || (bytes_written > 60 * 1048576) || ' ' || (bytes_read > 0) || ' ' || (write_usec > 0) FROM events WHERE kind = 'erased' AND key_uid LIKE 'file:%/a.img'")" = \
  "ok zeros other-pupil 1 1 1" ] || fail "flash: no erased event"
[ "$(q "SELECT group_concat(kind, ' ') FROM (SELECT kind FROM events WHERE key_uid LIKE 'file:%/a.img' ORDER BY seq)")" = \
  "flashed issued flashed erased returned issued" ] || fail "flash: the events of a re-issued key"
# The same pupil's key again: not erased (its record and the journal both say D1002).
expect_exit 0 "$C" flash rel.cart a.img "${T[@]}" --pupil D1002 --replace --json
[ "$(jq -s -c '.[-1].erase | [.erased, .held]' out)" = '[false,"same-pupil"]' ] || { cat out; fail "same pupil erased"; }

# ---- flash without a journal: the files outside the release are enough ----
expect_exit 0 "$C" flash rel.cart b.img --size 64M "${T[@]}"
pupil_files b.img B
expect_exit 0 "$C" flash rel.cart b.img "${T[@]}"
expect_in out '^b.img: erased: .* of zeros .* \(it held files outside a signed release\)$'
no_markers b.img B

# ---- --erase never: asked, said, and the markers stay (the search can fail) ----
expect_exit 0 "$C" flash rel.cart n.img --size 64M "${T[@]}"
pupil_files n.img N
expect_exit 0 "$C" flash rel.cart n.img "${T[@]}" --erase never --journal "$SCRATCH/j.db"
expect_in out 'not erased \(--erase never\)'
[ "$(q "SELECT outcome || ' ' || coalesce(step, '-') FROM events WHERE kind = 'erased' AND key_uid LIKE 'file:%/n.img'")" = "skipped -" ] \
        || fail "--erase never not recorded"
grep -q -a "MARK-$RUN-N-" n.img || fail "--erase never erased anyway"
if $HAS_PHOTOREC; then
        photorec_carve n.img rec-never
        grep -r -q -a "MARK-$RUN-N-" rec-never || fail "photorec recovers nothing of a key left unerased: the oracle is blind"
fi
expect_exit 64 "$C" flash rel.cart n.img "${T[@]}" --erase sometimes
# The key now holds only the release, but the journal knows it was written over unerased:
# auto erases it.
expect_exit 0 "$C" flash rel.cart n.img "${T[@]}" --journal "$SCRATCH/j.db" --json
[ "$(jq -s -c '.[-1].erase | [.mode, .held, .erased]' out)" = '["auto","foreign",true]' ] || { cat out; fail "auto after never"; }
no_markers n.img N
# --erase always erases a stock key holding only its release.
expect_exit 0 "$C" flash rel.cart n.img "${T[@]}" --erase always --json
[ "$(jq -s -c '.[-1].erase | [.mode, .erased]' out)" = '["always",true]' ] || fail "--erase always"
# [flash] erase = never in the configuration, --erase auto on the command line wins.
cp cartable.conf never.conf
printf '[flash]\nerase = never\n' >> never.conf
pupil_files n.img N2
CARTABLE_CONFIG=$SCRATCH/never.conf expect_exit 0 "$C" flash rel.cart n.img "${T[@]}" --json
[ "$(jq -s -c '.[-1].erase | [.mode, .erased]' out)" = '["never",false]' ] || fail "[flash] erase = never"
pupil_files n.img N3
CARTABLE_CONFIG=$SCRATCH/never.conf expect_exit 0 "$C" flash rel.cart n.img "${T[@]}" --erase auto --json
[ "$(jq -s -c '.[-1].erase | [.mode, .erased]' out)" = '["auto",true]' ] || fail "--erase auto over [flash] erase"
no_markers n.img N2
no_markers n.img N3

# ---- batch: a returned key, made a stock key again ----
returned_key c.img C
expect_exit 0 "$C" batch rel.cart "${T[@]}" --stock --target c.img --json
jq -e -s '[.[] | select(.event == "done")] | length == 1' out > /dev/null || { cat out; fail "batch: key not done"; }
[ "$(jq -s -c '.[] | select(.event == "done") | .erase | [.erased, .held]' out)" = '[true,"returned"]' ] || { cat out; fail "batch: no erase"; }
no_markers c.img C

# ---- replace: D1003 gets a key that was D1001's ----
returned_key d.img D
expect_exit 0 "$C" replace --pupil D1003 rel.cart d.img "${T[@]}"
expect_in out '^d.img: erased: '
no_markers d.img D
[ "$(q "SELECT status || ' ' || pupil_id FROM keys WHERE uid LIKE 'file:%/d.img'")" = "issued D1003" ] || fail "replace: not issued"

# ---- issue of a re-flashed stock key: a returned key flashed for nobody, then issued ----
returned_key e.img E
expect_exit 0 "$C" flash rel.cart e.img "${T[@]}" --journal "$SCRATCH/j.db"
expect_in out '^e.img: erased: .*\(it held a key that came back'
expect_exit 0 "$C" issue e.img --pupil D1004 "${T[@]}"
no_markers e.img E

# ---- an erase that fails: the key is failed, with its reason, and not issued ----
if command -v nbdkit > /dev/null && command -v nbdfuse > /dev/null && [ -e /dev/fuse ]; then
        trap 'nbd_cleanup; rm -rf "$SCRATCH"' EXIT
        # Content no release holds at its start (nbd_key keeps it: it only grows the file).
        head -c 4M /dev/urandom > bad.img
        nbd_key bad error error=EIO error-pwrite-rate=100%
        expect_exit 5 "$C" flash rel.cart bad/nbd "${T[@]}" --pupil D1005 --force --json
        [ "$(jq -s -c '.[-1] | [.outcome, .step, .reason]' out)" = '["failed","erase","erase-failed"]' ] || { cat out; fail "failed erase"; }
        [ "$(q "SELECT outcome || ' ' || reason || ' ' || step FROM events WHERE kind = 'flashed' AND key_uid LIKE 'file:%/bad/nbd'")" = "failed erase-failed erase" ] \
                || fail "failed erase not recorded"
        [ "$(q "SELECT count(*) FROM keys WHERE pupil_id = 'D1005' AND status = 'issued'")" = 0 ] || fail "a key whose erase failed was issued"
        [ "$(q "SELECT outcome || ' ' || reason FROM events WHERE kind = 'erased' AND key_uid LIKE 'file:%/bad/nbd'")" = "failed erase-failed" ] \
                || fail "failed erase: no erased event"
else
        skip_part "nbdkit, nbdfuse or /dev/fuse missing: the failed erase is not tested"
fi
expect_exit 0 "$C" journal verify
