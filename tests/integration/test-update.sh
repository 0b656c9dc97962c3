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
echo "PASS"
