#!/bin/bash
# cartable batch --update, --repair and --flash-if-needed on image files: three keys flashed
# with release A (serial 1), a pupil's files written on each with mtools, one key damaged,
# then one batch --update to B (serial 2). Each key verified intact against B, the pupil's
# files byte for byte, fsck.fat -n clean; a FAT32 volume that is no cartable key and a key
# of another release are left byte-identical with their reason; --flash-if-needed flashes
# them; the journal and NDJSON say what happened to each.
. "$(dirname "$0")/lib.sh"
need_tool fsck.fat
need_tool mtype
need_tool mcopy
need_tool mkfs.fat
need_tool jq
C=$CARTABLE
update_setup
J=(--journal "$SCRATCH/j.db")
# has FILE FILTER: some NDJSON object of FILE passes the jq FILTER (extra jq arguments after).
has() { local f=$1 q=$2; shift 2; jq -s -e "$@" "any(.[]; $q)" "$f" > /dev/null; }
same_file() {   # IMAGE PATH LOCAL: the file on the key is LOCAL, byte for byte
        M mcopy -n -i "$1@@1M" "::$2" got.bin 2>/dev/null && cmp -s got.bin "$3" || fail "$1: /$2 is not the pupil's file"
        rm -f got.bin
}

# a.cart (serial 1), b.cart (serial 2: one resource changed, one added, one removed).
update_releases
# Another release (its name), for a key the update must not take.
cp -r a other
sed -i 's/^name = .*/name = autre-college/' other/recipe.ini
"$C" image build other --key dep.key --output other.cart > /dev/null 2>&1 || fail "image build other"

expect_exit 0 "$C" journal init "${J[@]}"
# k1 and k2 known to the journal (flashed with it), k3 by no journal: its update is still
# done, and the journal says it does not know the key.
for k in k1 k2; do
        expect_exit 0 "$C" flash a.cart $k.img --size 64M "${T[@]}" "${J[@]}"
done
expect_exit 0 "$C" flash a.cart k3.img --size 64M "${T[@]}"
expect_exit 0 "$C" flash other.cart o.img --size 64M "${T[@]}"
head -c 200000 /dev/urandom > photo.jpg
printf 'Ma rédaction\n' > devoir.txt
printf 'mes fractions à moi\n' > mine.html
for k in k1 k2 k3; do
        M mcopy -i $k.img@@1M devoir.txt "::Mes documents/devoir.txt"
        M mcopy -i $k.img@@1M photo.jpg "::photo.jpg"
done
M mcopy -i k2.img@@1M mine.html "::Ressources/fractions.html"      # in B's way: moved, kept
M mdel -i k3.img@@1M "::Ressources/conjugaison.html"                 # damaged: restored by the update
# A FAT32 volume that is no cartable key, holding someone's file.
truncate -s 64M plain.img
mkfs.fat -F 32 -n PLAIN plain.img > /dev/null
M mcopy -i plain.img devoir.txt ::devoir.txt
sha_plain=$(sha256sum < plain.img)
sha_o=$(sha256sum < o.img)

# ---- usage ----
expect_exit 64 "$C" batch b.cart "${T[@]}" "${J[@]}" --update --stock --target k1.img
expect_exit 64 "$C" batch b.cart "${T[@]}" "${J[@]}" --update --repair --target k1.img
expect_exit 64 "$C" batch b.cart "${T[@]}" "${J[@]}" --stock --flash-if-needed --target k1.img
expect_exit 64 "$C" batch b.cart "${T[@]}" "${J[@]}" --stock --quick --target k1.img
expect_exit 64 "$C" batch b.cart "${T[@]}" "${J[@]}" --stock --check-content --target k1.img

# ---- the update: every key by its own worker, the others left alone with their reason ----
expect_exit 2 "$C" batch b.cart "${T[@]}" "${J[@]}" --update --json \
        --target k1.img --target k2.img --target k3.img --target plain.img --target o.img
cp out update.json
for k in k1 k2 k3; do
        has update.json '.event == "done" and .target == $t and .update.kind == "update"
                and .update.from_version == "2026.09" and .update.to_version == "2027.09"' --arg t $k.img ||
                fail "$k.img: no done event of its update"
        has update.json '.event == "step" and .target == $t and .step == "read-back"' --arg t $k.img ||
                fail "$k.img: no read-back step"
        fsck_clean $k.img
        expect_exit 0 "$C" verify $k.img "${T[@]}"
        expect_in out 'intact: ent-college 2027.09'
        same_file $k.img "Mes documents/devoir.txt" devoir.txt
        same_file $k.img photo.jpg photo.jpg
        ! M mtype -i $k.img@@1M "::Ressources/multiplications.html" > /dev/null 2>&1 || fail "$k.img: a file B drops is there"
done
same_file k2.img "Mes documents/Déplacés par cartable/fractions.html" mine.html
has update.json '.target == "k2.img" and .event == "done"
        and .update.moved_files[0].path == "Ressources/fractions.html"' || fail "k2's moved file not listed"
has update.json '.event == "not-updatable" and .target == "plain.img" and .reason == "not-a-key"' ||
        fail "plain.img: not refused as not-a-key"
has update.json '.event == "not-updatable" and .target == "o.img" and .reason == "refused"' ||
        fail "o.img: not refused as another release"
has update.json '.event == "summary" and .done == 3 and .not_updatable == 2 and .failed == 0' ||
        fail "summary: 3 done, 2 not updatable"
has update.json '.event == "journal-error" and .target == "k3.img"' || fail "k3.img: no journal error (unknown key)"
! has update.json '.event == "journal-error" and .target != "k3.img"' || fail "a journal error for a known key"
# The journal: an "updated" event of each known key, from A to B; none for the keys left alone.
for k in k1 k2; do
        expect_exit 0 "$C" journal show --key "file:$SCRATCH/$k.img" "${J[@]}" --json
        jq -c '.[]' out > events.json
        has events.json '.kind == "updated" and .outcome == "ok" and .release_version == "2027.09"' ||
                { cat out; fail "$k.img: no updated event in the journal"; }
done
[ "$(sha256sum < plain.img)" = "$sha_plain" ] || fail "plain.img changed"
[ "$(sha256sum < o.img)" = "$sha_o" ] || fail "o.img changed"

# ---- again: the keys hold B intact and are left alone, not a byte written (quick, or
# every file read) ----
sha_k1=$(sha256sum < k1.img)
expect_exit 0 "$C" batch b.cart "${T[@]}" "${J[@]}" --update --target k1.img --target k2.img
expect_in out 'k1.img: skipped'
expect_exit 0 "$C" batch b.cart "${T[@]}" "${J[@]}" --update --check-content --target k1.img
expect_in out 'k1.img: skipped'
[ "$(sha256sum < k1.img)" = "$sha_k1" ] || fail "k1.img written by an update that found it intact"
# ---- repair: a course deleted on k1 ----
M mdel -i k1.img@@1M "::Ressources/conjugaison.html"
expect_exit 1 "$C" verify k1.img "${T[@]}"
expect_exit 0 "$C" batch b.cart "${T[@]}" "${J[@]}" --repair --target k1.img
expect_in out 'k1.img: repaired: 2027.09, 1 files restored'
expect_exit 0 "$C" journal show --key "file:$SCRATCH/k1.img" "${J[@]}" --json
jq -c '.[]' out > events.json
has events.json '.kind == "repaired" and .outcome == "ok"' || { cat out; fail "k1.img: no repaired event in the journal"; }
expect_exit 0 "$C" verify k1.img "${T[@]}"
same_file k1.img "Mes documents/devoir.txt" devoir.txt
# A repair takes only keys of this very release: a key of A is left alone.
expect_exit 0 "$C" flash a.cart k4.img --size 64M "${T[@]}"
sha_k4=$(sha256sum < k4.img)
expect_exit 2 "$C" batch b.cart "${T[@]}" "${J[@]}" --repair --target k4.img
expect_in out 'k4.img: not-updatable: .*serial 1, not serial 2'
[ "$(sha256sum < k4.img)" = "$sha_k4" ] || fail "k4.img changed by a refused repair"

# ---- a full key: the update does not fit, nothing written ----
expect_exit 0 "$C" flash a.cart full.img --size 64M "${T[@]}"
free=$(M mdir -i full.img@@1M :: | awk '/bytes free/ { gsub(/[^0-9]/, ""); print }')
[ -n "$free" ] && [ "$free" -gt 1048576 ] && [ "$free" -lt 67108864 ] || fail "mdir: free space '$free'"
head -c $((free - 4096)) /dev/zero > big.bin
M mcopy -i full.img@@1M big.bin "::Mes documents/big.bin"
sha_full=$(sha256sum < full.img)
expect_exit 2 "$C" batch b.cart "${T[@]}" "${J[@]}" --update --json --target full.img
has out '.event == "not-updatable" and .target == "full.img" and .reason == "too-small"
        and (.message | test("bytes free"))' || { cat out; fail "full.img: not refused as too-small"; }
[ "$(sha256sum < full.img)" = "$sha_full" ] || fail "full.img changed by a refused update"

# ---- --flash-if-needed: the two keys flashed as stock keys, with the consent warning ----
expect_exit 0 "$C" batch b.cart "${T[@]}" "${J[@]}" --update --flash-if-needed --json --target plain.img --target o.img
expect_in err "pupil's consent"
cp out flash.json
for k in plain o; do
        has flash.json '.event == "done" and .target == $t and .flashed_instead == true' --arg t $k.img ||
                fail "$k.img: not flashed instead"
        expect_exit 0 "$C" verify $k.img "${T[@]}"
        expect_in out 'intact: ent-college 2027.09'
done
! M mtype -i plain.img@@1M ::devoir.txt > /dev/null 2>&1 || fail "plain.img still holds its old file after a flash"
echo "ok"
