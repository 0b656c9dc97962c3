#!/bin/bash
# cartable update and repair on image files: the example release flashed, the pupil's files
# written with mtools, then brought to serial 2 (a file changed, one added, one removed) in
# place. Checked with fsck.fat -n, mtools (the pupil's files byte for byte) and cartable
# verify. Refusals leave the image's bytes as they were.
. "$(dirname "$0")/lib.sh"
need_tool fsck.fat
need_tool mtype
need_tool mcopy
C=$CARTABLE
update_setup
# refused CODE ARGS...: cartable exits CODE and key.img keeps its bytes.
refused() {
        local code=$1 before; shift
        before=$(sha256sum < key.img)
        expect_exit "$code" "$C" "$@"
        [ "$(sha256sum < key.img)" = "$before" ] || fail "a refused $* changed key.img"
}

# a.cart (serial 1), b.cart (serial 2: one resource changed, one added, one removed).
update_releases

expect_exit 0 "$C" flash a.cart key.img --size 64M "${T[@]}"
printf 'Ma rédaction\n' > devoir.txt
head -c 300000 /dev/urandom > photo.jpg
printf 'mes fractions à moi\n' > mine.html
M mcopy -i key.img@@1M devoir.txt "::Mes documents/devoir.txt"
M mcopy -i key.img@@1M photo.jpg "::photo.jpg"
# The pupil's file where B puts one: moved, not lost.
M mcopy -i key.img@@1M mine.html "::Ressources/fractions.html"

# ---- refusals: nothing written ----
refused 3 update a.cart key.img "${T[@]}"
expect_in err 'not newer'
refused 3 repair b.cart key.img "${T[@]}"
refused 64 update b.cart "${T[@]}"
expect_exit 0 "$C" update b.cart key.img "${T[@]}" --dry-run
expect_in out 'nothing written'

# ---- the update ----
expect_exit 0 "$C" update b.cart key.img "${T[@]}"
expect_in out 'ent-college 2026.09 -> 2027.09'
expect_in out 'moved +/Ressources/fractions.html -> /Mes documents/Déplacés par cartable/fractions.html'
expect_in out 'verified intact'
fsck_clean key.img
expect_exit 0 "$C" verify key.img "${T[@]}"
expect_in out 'intact: ent-college 2027.09'
M mtype -i key.img@@1M "::Mes documents/devoir.txt" | cmp - devoir.txt || fail "the pupil's devoir.txt changed"
M mcopy -n -i key.img@@1M "::photo.jpg" photo.back && cmp photo.back photo.jpg || fail "the pupil's photo.jpg changed"
M mtype -i key.img@@1M "::Mes documents/Déplacés par cartable/fractions.html" | cmp - mine.html ||
        fail "the pupil's fractions.html was not moved whole"
! M mtype -i key.img@@1M "::Ressources/multiplications.html" > /dev/null 2>&1 || fail "a file B drops is still there"
# Done: the same update again is refused, nothing written.
refused 3 update b.cart key.img "${T[@]}"

# ---- repair: a course deleted, one changed ----
M mdel -i key.img@@1M "::Ressources/conjugaison.html"
M mattrib -i key.img@@1M -r "::Ressources/fractions.html"
printf 'changé\n' > x && M mcopy -o -i key.img@@1M x "::LISEZ-MOI.txt"
expect_exit 1 "$C" verify key.img "${T[@]}"
expect_exit 0 "$C" repair b.cart key.img "${T[@]}"
expect_in out 'written +/Ressources/conjugaison.html \(restored\)'
fsck_clean key.img
expect_exit 0 "$C" verify key.img "${T[@]}"
expect_in out 'intact: ent-college 2027.09'
M mtype -i key.img@@1M "::Mes documents/devoir.txt" | cmp - devoir.txt || fail "repair changed the pupil's devoir.txt"

# ---- --journal: an "updated" and a "repaired" event; the key holds B afterwards ----
need_tool sqlite3
J=(--journal "$SCRATCH/j.db")
qj() { sqlite3 -batch j.db "$1"; }
expect_exit 0 "$C" roster import "$SOURCE_ROOT/manifests/rosters/demo-roster.csv" "${J[@]}"
expect_exit 0 "$C" flash a.cart k2.img --size 64M "${T[@]}" "${J[@]}" --pupil D1001 --operator tech
expect_exit 0 "$C" flash a.cart k3.img --size 64M "${T[@]}"
n=$(qj "SELECT count(*) FROM events")
# Recorded only when written: a dry run, a refusal and a key the journal does not know record nothing.
expect_exit 0 "$C" update b.cart k2.img "${T[@]}" "${J[@]}" --dry-run
expect_in out 'nothing written'
cp k3.img key.img
refused 66 update b.cart key.img "${T[@]}" "${J[@]}"
expect_in err 'is not in the journal \(journal searched: .*j.db\): nothing written'
cp k2.img key.img
refused 3 repair b.cart key.img "${T[@]}" "${J[@]}"
[ "$(qj "SELECT count(*) FROM events")" = "$n" ] || fail "a dry run, a refusal or an unknown key recorded an event"
expect_exit 0 "$C" update b.cart k2.img "${T[@]}" "${J[@]}" --operator tech2
expect_in err 'journal: updated recorded for key .* of 0750001A/D1001'
[ "$(qj "SELECT count(*) FROM events WHERE kind = 'updated' AND outcome = 'ok' AND pupil_id = 'D1001' AND
        operator = 'tech2' AND release_version = '2027.09' AND release_serial = 2 AND bytes_written > 0 AND
        message LIKE 'from 2026.09 (serial 1): % put, 1 removed, 0 rescued'")" = 1 ] || fail "no updated event"
expect_exit 0 "$C" journal show "${J[@]}" --pupil D1001
expect_in out '^release held: ent-college 2027.09 \(serial 2\)$'
expect_in out ' updated  ok .*pupil 0750001A/D1001 .*release ent-college 2027.09 \(serial 2\)  by tech2 at .*: from 2026.09 \(serial 1\): '
expect_exit 0 "$C" report "${J[@]}" --format csv
expect_in out ';D1001;Mercier;Adam;.*;issued;ent-college;2027.09;2;'
expect_exit 0 "$C" report "${J[@]}" --format html
expect_in out '<th>Release held</th>'
expect_in out '<td>ent-college 2027.09 #2</td>'
expect_exit 0 "$C" roster list "${J[@]}" --class 6A
expect_in out $'^0750001A\t6A\tD1001\tMercier\tAdam\tfile:[^\t]*k2.img\tent-college 2027.09$'
expect_exit 0 "$C" roster list "${J[@]}" --class 6A --json
expect_in out '"id":"D1001".*"release":\{"name":"ent-college","version":"2027.09","serial":2\}'
expect_exit 0 "$C" identify k2.img "${J[@]}"
expect_in out '^release: ent-college 2027.09 \(serial 2\)$'
# A course deleted: repaired, the path named in the event.
M mdel -i k2.img@@1M "::Ressources/conjugaison.html"
expect_exit 0 "$C" repair b.cart k2.img "${T[@]}" "${J[@]}"
expect_in err 'journal: repaired recorded for key '
[ "$(qj "SELECT message FROM events WHERE kind = 'repaired'")" = "1 restored: Ressources/conjugaison.html" ] ||
        fail "the repaired event does not name what was restored"
expect_exit 0 "$C" journal verify "${J[@]}"
expect_in out 'intact'
echo "PASS"
