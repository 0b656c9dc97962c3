#!/bin/bash
# cartable flash --journal/--pupil: issue 9's single-key path. The roster is imported, a key
# is flashed for a pupil whose names fill the owner file, journal show --pupil has it; a
# pupil who holds a key, has left or is unknown is refused before anything is written; a
# failed key is recorded with its reason and issues nothing.
. "$(dirname "$0")/lib.sh"
D=$(pwd -P)   # image files are known by their absolute path: file:$D/NAME
need_tool sqlite3
need_tool jq
printf '[station]\nstate-dir = %s/state\nname = atelier\n' "$SCRATCH" > cartable.conf
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
C=$CARTABLE
J=(--journal "$SCRATCH/j.db")
T=(--trust dep.pub)
q() { sqlite3 -batch j.db "$1"; }
OWNER="CETTE CLE APPARTIENT A.txt"

"$C" key generate --secret dep.key --public dep.pub --unencrypted >/dev/null
"$C" image build "$SOURCE_ROOT/images/ent-college" --key dep.key --output rel.cart >/dev/null 2>&1
expect_exit 0 "$C" roster import "$SOURCE_ROOT/manifests/rosters/demo-roster.csv" "${J[@]}"

# The pupil's names from the roster fill the owner file.
expect_exit 0 "$C" flash rel.cart a.img --size 1G "${T[@]}" "${J[@]}" --pupil D1002 --operator tech
expect_exit 0 "$C" cat a.img "$OWNER"
expect_in out 'Maëlle'
expect_in out '0750001A'
expect_in out '5A'
expect_exit 0 "$C" journal show "${J[@]}" --pupil D1002
expect_in out "flashed +ok +pupil 0750001A/D1002 \\(Legrand Maëlle, 5A\\) +key file:$D/a.img"
expect_in out 'issued +pupil 0750001A/D1002'
[ "$(q "SELECT status || ' ' || pupil_id FROM keys WHERE uid = 'file:$D/a.img'")" = "issued D1002" ] || fail "key not issued"
[ "$(q "SELECT operator FROM events WHERE kind = 'flashed'")" = tech ] || fail "operator not recorded"

# Refused before writing: a pupil who holds a key (unless --replace), --owner with --pupil,
# an unknown pupil; b.img is never created.
expect_exit 73 "$C" flash rel.cart b.img --size 1G "${T[@]}" "${J[@]}" --pupil D1002
expect_in err "D1002.*file:$D/a.img"
expect_exit 64 "$C" flash rel.cart b.img --size 1G "${T[@]}" "${J[@]}" --pupil D1003 --owner class=6A
expect_exit 66 "$C" flash rel.cart b.img --size 1G "${T[@]}" "${J[@]}" --pupil D0000
[ ! -e b.img ] || fail "a refused pupil's key was written"
expect_exit 0 "$C" flash rel.cart b.img --size 1G "${T[@]}" "${J[@]}" --pupil D1002 --replace
[ "$(q "SELECT status FROM keys WHERE uid = 'file:$D/a.img'")" = replaced ] || fail "--replace: old key not replaced"
[ "$(q "SELECT pupil_id FROM keys WHERE uid = 'file:$D/b.img' AND status = 'issued'")" = D1002 ] || fail "--replace: new key not issued"

# A key too small for the release fails; the journal has it with its reason, the pupil
# stays without a key.
expect_exit 4 "$C" flash rel.cart small.img --size 64M "${T[@]}" "${J[@]}" --pupil D1003
[ "$(q "SELECT outcome || ' ' || reason FROM events WHERE key_uid = 'file:$D/small.img'")" = "refused too-small" ] \
        || fail "the too-small key's outcome and reason"
[ "$(q "SELECT count(*) FROM keys WHERE pupil_id = 'D1003' AND status = 'issued'")" = 0 ] || fail "D1003 got a failed key"

# --journal alone records a stock key.
expect_exit 0 "$C" flash rel.cart c.img --size 1G "${T[@]}" "${J[@]}"
[ "$(q "SELECT status FROM keys WHERE uid = 'file:$D/c.img'")" = stock ] || fail "--journal alone: stock key"
expect_exit 0 "$C" journal verify "${J[@]}"
echo "flash-journal: ok"
