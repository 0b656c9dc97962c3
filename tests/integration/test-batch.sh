#!/bin/bash
# cartable batch on image files: 8 keys at once, one failing (nbdkit's error filter under
# nbdfuse), pupils in roster order, the journal holding every outcome (checked with
# sqlite3), a second batch leaving intact keys alone, Ctrl-C once and twice on slow keys
# (nbdkit's delay filter), --count, --jobs, and a crashed batch's key reported interrupted.
. "$(dirname "$0")/lib.sh"
D=$(pwd -P)   # image files are known by their absolute path: file:$D/NAME
need_tool sqlite3
need_tool jq
need_tool mcopy
need_root
need_tool nbdkit
need_tool nbdfuse
[ -c /dev/fuse ] || skip "needs /dev/fuse"
printf '[station]\nstate-dir = %s/state\nname = atelier\n' "$SCRATCH" > cartable.conf
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
C=$CARTABLE
J=(--journal "$SCRATCH/j.db")
q() { sqlite3 -batch j.db "$1"; }
OWNER="CETTE CLE APPARTIENT A.txt"

cleanup() {
        nbd_cleanup
        rm -rf "$SCRATCH"
}
trap cleanup EXIT

"$C" key generate --secret dep.key --public dep.pub --unencrypted >/dev/null
"$C" image build "$SOURCE_ROOT/images/ent-college" --key dep.key --output rel.cart >/dev/null 2>&1
T=(--trust dep.pub)
expect_exit 0 "$C" roster import "$SOURCE_ROOT/manifests/rosters/demo-roster.csv" "${J[@]}"
CLASS=(--school 0750001A --class 6A)
# The class in roster order, as roster list gives it.
"$C" roster list "${J[@]}" "${CLASS[@]}" | cut -f3 > roster-order
[ "$(wc -l < roster-order)" = 10 ] || fail "class 6A: 10 pupils expected"

# Usage: a mode is required, --class needs its school, an unknown class is refused.
expect_exit 64 "$C" batch rel.cart "${T[@]}" "${J[@]}" --target x.img --size 1G
expect_exit 64 "$C" batch rel.cart "${T[@]}" "${J[@]}" --class 6A --target x.img --size 1G
expect_exit 65 "$C" batch rel.cart "${T[@]}" "${J[@]}" --school 0750001A --class 9Z --target x.img --size 1G
expect_in err 'class 9Z of school 0750001A: no pupil'
[ ! -e x.img ] || fail "a refused batch created a target"

# --- 8 keys at once, the fourth failing on every write.
nbd_key bad error error=EIO error-pwrite-rate=100%
targets=()
for i in 1 2 3; do targets+=(--target k$i.img); done
targets+=(--target bad/nbd)
for i in 5 6 7 8; do targets+=(--target k$i.img); done
expect_exit 5 "$C" batch rel.cart "${T[@]}" "${J[@]}" "${CLASS[@]}" "${targets[@]}" --size 1G \
        --operator tech1 --json
cp out batch1.json
[ "$(jq -s '[.[] | select(.event == "done")] | length' batch1.json)" = 7 ] || { cat batch1.json; fail "7 keys done expected"; }
[ "$(jq -s '[.[] | select(.event == "failed")] | length' batch1.json)" = 1 ] || fail "1 key failed expected"
jq -e -s '.[] | select(.event == "failed") | .target == "bad/nbd" and (.message | test("write"))' batch1.json \
        >/dev/null || fail "the failure names the key and the write step"
jq -e -s 'last | .event == "summary" and .done == 7 and .failed == 1 and .without_key == 3' batch1.json >/dev/null \
        || fail "summary: 7 done, 1 failed, 3 pupils without a key"
# Every key started is in the journal with its outcome and reason.
[ "$(q "SELECT count(*) FROM events WHERE kind = 'flashed' AND outcome = 'started'")" = 8 ] || fail "8 starts"
[ "$(q "SELECT count(*) FROM events WHERE kind = 'flashed' AND outcome = 'ok'")" = 7 ] || fail "7 flashed ok"
[ "$(q "SELECT outcome || ' ' || reason || ' ' || step FROM events WHERE kind = 'flashed' AND key_uid = 'file:$D/bad/nbd' AND outcome <> 'started'")" = "failed io-error write" ] \
        || fail "the failed key's outcome, reason and step"
[ "$(q "SELECT operator FROM events GROUP BY operator")" = tech1 ] || fail "operator"
# Pupils in roster order: target i went to the i-th pupil of the class, the failing key's
# pupil stays without a key, no pupil holds two keys.
for i in 1 2 3 5 6 7 8; do
        want=$(sed -n "${i}p" roster-order)
        got=$(q "SELECT pupil_id FROM keys WHERE uid = 'file:$D/k$i.img' AND status = 'issued'")
        [ "$got" = "$want" ] || fail "k$i.img issued to '$got', expected the class's pupil $i ($want)"
done
bad_pupil=$(sed -n 4p roster-order)
[ "$(q "SELECT count(*) FROM keys WHERE pupil_id = '$bad_pupil' AND status = 'issued'")" = 0 ] \
        || fail "the failed key's pupil got a key"
[ "$(q "SELECT pupil_id FROM events WHERE key_uid = 'file:$D/bad/nbd' AND outcome = 'failed'")" = "$bad_pupil" ] \
        || fail "the failed key is recorded against the pupil it was for"
[ -z "$(q "SELECT pupil_id FROM keys WHERE status = 'issued' GROUP BY pupil_school, pupil_id HAVING count(*) > 1")" ] \
        || fail "a pupil holds two keys"
"$C" journal show "${J[@]}" --json > show.json
[ "$(jq '[.[] | select(.kind == "issued")] | length' show.json)" = 7 ] || fail "journal show: 7 issued"
# The owner file carries the pupil's names from the roster.
first=$(q "SELECT first_name || ' ' || family_name FROM pupils WHERE id = '$(sed -n 1p roster-order)'")
expect_exit 0 "$C" cat k1.img "$OWNER"
expect_in out "$(sed -n 1p roster-order | xargs -I{} sqlite3 j.db "SELECT first_name FROM pupils WHERE id = '{}'")"
expect_exit 0 "$C" verify k5.img "${T[@]}"
expect_in out "$(q "SELECT family_name FROM pupils WHERE id = '$(sed -n 5p roster-order)'")"
echo "batch 8 keys: ok ($first first)"

# --- Again: the 7 good keys are left alone, the failing one is given the next pupil again
# (and fails again), so nobody is skipped in the roster.
expect_exit 5 "$C" batch rel.cart "${T[@]}" "${J[@]}" "${CLASS[@]}" "${targets[@]}"
expect_in out '^k1.img: skipped: already holds this release intact'
[ "$(grep -c ': skipped: ' out)" = 7 ] || { cat out; fail "7 keys left alone expected"; }
expect_in out "^bad/nbd: started: for .*0750001A/$bad_pupil$"
[ "$(q "SELECT count(*) FROM events WHERE kind = 'flashed' AND outcome = 'ok'")" = 7 ] || fail "skipped keys rewritten"
# A changed key is not intact: it is flashed again, for the next pupil.
printf 'modifié\n' > changed.html
mattrib -i k2.img@@1M -r ::/Ressources/conjugaison.html 2>/dev/null || true
mcopy -o -i k2.img@@1M changed.html ::/Ressources/conjugaison.html
expect_exit 1 "$C" verify k2.img "${T[@]}"
expect_exit 0 "$C" batch rel.cart "${T[@]}" "${J[@]}" "${CLASS[@]}" --target k2.img --target k3.img
expect_in out '^k3.img: skipped'
expect_in out "^k2.img: started: for .*0750001A/$bad_pupil$"
# --force flashes an intact key too (stock mode: the pupil it had gives it back).
expect_exit 0 "$C" batch rel.cart "${T[@]}" "${J[@]}" --stock --target k3.img --force
expect_in out '^k3.img: done'
[ "$(q "SELECT status FROM keys WHERE uid = 'file:$D/k3.img'")" = stock ] || fail "k3 is stock after --force --stock"
echo "batch again: ok"

# --- --count and --jobs: 2 keys done out of 4 targets, one at a time.
expect_exit 0 "$C" batch rel.cart "${T[@]}" "${J[@]}" --stock --target c1.img --target c2.img \
        --target c3.img --target c4.img --size 1G --count 2 --jobs 1 --json
[ "$(jq -s '[.[] | select(.event == "done")] | length' out)" = 2 ] || fail "--count 2: 2 keys done"
[ "$(jq -s '[.[] | select(.event == "started")] | length' out)" = 2 ] || fail "--count 2: only 2 started"
[ ! -e c3.img ] && [ ! -e c4.img ] || fail "--count 2 touched a third target"
echo "batch count: ok"

# --- On a terminal (script(1) gives a pty): the live table, redrawn in place (cursor up),
# a bell per finished key, "unplug" in green; NO_COLOR keeps it plain; TERM=dumb prints lines.
if command -v script >/dev/null; then
        tty_batch() { script -qec "stty cols 200 rows 50; $C batch rel.cart --trust dep.pub --journal $SCRATCH/j.db --stock --force --target tt1.img --target tt2.img --size 1G" /dev/null > tty.out; }
        TERM=xterm tty_batch
        expect_in tty.out 'PORT +SERIAL +SIZE +PUPIL +PHASE'
        expect_in tty.out $'tt1.img .*\e\[32mok, unplug\e\[0m'
        expect_in tty.out $'\e\[[0-9]+A'
        [ "$(tr -cd '\a' < tty.out | wc -c)" = 2 ] || fail "one bell per finished key"
        expect_in tty.out '2 done, 0 failed, 0 interrupted, 0 running'
        NO_COLOR=1 TERM=xterm tty_batch
        expect_in tty.out 'tt2.img .* ok, unplug'
        expect_not_in tty.out $'\e\[32m'
        TERM=dumb tty_batch
        expect_in tty.out 'tt1.img: done: .*; unplug'
        expect_not_in tty.out $'\e\['
        echo "batch terminal: ok"
fi

# --- Ctrl-C on slow keys (every NBD write delayed).
slow_batch() {   # slow_batch NAME... : starts a batch on slow keys, leaves its pid in $batch_pid
        local t=()
        for n in "$@"; do nbd_key "$n" delay wdelay=1; t+=(--target "$n/nbd"); done
        "$C" batch rel.cart "${T[@]}" "${J[@]}" --school 0750001A --class 5A "${t[@]}" --json >slow.json 2>slow.err &
        batch_pid=$!
        for _ in $(seq 100); do
                [ "$(grep -c '"step":"write"' slow.json 2>/dev/null || true)" -ge "$#" ] && break
                sleep 0.1
        done
}
# Once: the keys in progress finish and are issued.
slow_batch s1 s2
kill -INT "$batch_pid"
code=0; wait "$batch_pid" || code=$?
[ "$code" = 0 ] || { cat slow.json slow.err; fail "one Ctrl-C: exit $code, expected 0"; }
[ "$(jq -s '[.[] | select(.event == "done")] | length' slow.json)" = 2 ] || { cat slow.json; fail "one Ctrl-C: 2 keys done"; }
[ "$(q "SELECT count(*) FROM keys WHERE uid IN ('file:$D/s1/nbd', 'file:$D/s2/nbd') AND status = 'issued'")" = 2 ] \
        || fail "one Ctrl-C: both keys issued"
# Twice: the keys are cancelled, recorded interrupted, their pupils stay without a key.
without_before=$(q "SELECT count(*) FROM pupils p WHERE class_name = '5A' AND is_active = 1 AND NOT EXISTS (SELECT 1 FROM keys k WHERE k.pupil_id = p.id AND k.status = 'issued')")
slow_batch s3 s4
kill -INT "$batch_pid"; sleep 0.3; kill -INT "$batch_pid"
code=0; wait "$batch_pid" || code=$?
[ "$code" = 130 ] || { cat slow.json slow.err; fail "two Ctrl-C: exit $code, expected 130"; }
[ "$(q "SELECT group_concat(outcome || ':' || reason, ' ') FROM events WHERE key_uid IN ('file:$D/s3/nbd', 'file:$D/s4/nbd') AND outcome <> 'started'")" = "cancelled:interrupted cancelled:interrupted" ] \
        || fail "two Ctrl-C: both keys recorded interrupted"
[ "$(q "SELECT count(*) FROM pupils p WHERE class_name = '5A' AND is_active = 1 AND NOT EXISTS (SELECT 1 FROM keys k WHERE k.pupil_id = p.id AND k.status = 'issued')")" = "$without_before" ] \
        || fail "two Ctrl-C: a pupil got an interrupted key"
echo "batch Ctrl-C: ok"

# --- A crash (SIGKILL) mid-write: the next batch reports the key left interrupted, and
# nothing recorded as done is lost.
done_before=$(q "SELECT count(*) FROM events WHERE kind = 'flashed' AND outcome = 'ok'")
slow_batch s5
kill -KILL "$batch_pid"; wait "$batch_pid" 2>/dev/null || true
[ "$(q "SELECT outcome FROM events WHERE key_uid = 'file:$D/s5/nbd' ORDER BY seq DESC LIMIT 1")" = started ] \
        || fail "the killed batch recorded its key's start"
expect_exit 0 "$C" batch rel.cart "${T[@]}" "${J[@]}" --stock --target n1.img --size 1G
expect_in out "^file:$D/s5/nbd: left interrupted by an earlier batch"
[ "$(q "SELECT outcome || ':' || reason FROM events WHERE key_uid = 'file:$D/s5/nbd' ORDER BY seq DESC LIMIT 1")" = cancelled:interrupted ] \
        || fail "the interrupted key is closed in the journal"
[ "$(q "SELECT count(*) FROM events WHERE kind = 'flashed' AND outcome = 'ok'")" = $((done_before + 1)) ] \
        || fail "keys done before the crash are lost"
# Reported once only.
expect_exit 0 "$C" batch rel.cart "${T[@]}" "${J[@]}" --stock --target n1.img
expect_not_in out 'left interrupted'
expect_exit 0 "$C" journal verify "${J[@]}"
echo "batch crash: ok"
echo "batch: ok"
