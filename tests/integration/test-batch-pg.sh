#!/bin/bash
# Several stations on one class: two `cartable batch` processes at once, 6 image files each,
# for a class of 10 pupils, against one PostgreSQL server (the claim in the journal, FOR
# UPDATE SKIP LOCKED), then against one SQLite file: every pupil gets exactly one key, none
# is skipped, no key is flashed for nobody, each station's chain verifies. Then the server
# stopped mid-batch (slow keys: nbdkit's delay filter under nbdfuse): back within [journal]
# wait, the key that ended meanwhile is recorded and the batch goes on; not back, the batch
# exits 69 with the key's end kept in the station's journal spool, and the station's next
# batch records it from there (replayed once only; a corrupt spool file refused and kept). Runs under tests/pg-server.sh; psql and sqlite3 are the oracles.
. "$(dirname "$0")/lib.sh"
: "${CARTABLE_TEST_PG_URL:?run under tests/pg-server.sh}"
need_tool sqlite3
need_tool jq
URL=$CARTABLE_TEST_PG_URL
C=$CARTABLE
q() { "$CARTABLE_TEST_PG_BIN/psql" -X -A -t -q "$URL" -c "$1"; }
cleanup() {
        nbd_cleanup
        [ -n "${KEEP_SCRATCH:-}" ] || rm -rf "$SCRATCH"
}
trap cleanup EXIT
# station NAME [WAIT]: a configuration file for station NAME.
station() {
        printf '[station]\nstate-dir = %s/state-%s\nname = %s\n[journal]\nwait = %s\n' \
                "$SCRATCH" "$1" "$1" "${2:-60}" > "$1.conf"
}
station atelier-1
station atelier-2
"$C" key generate --secret dep.key --public dep.pub --unencrypted >/dev/null
"$C" image build "$SOURCE_ROOT/images/ent-college" --key dep.key --output rel.cart >/dev/null 2>&1
T=(--trust dep.pub)
CLASS=(--school 0750001A --class 6A)

# batches JOURNAL PREFIX CONF...: one batch per station configuration, all at once, 12 image
# files in all, 3 at a time each, on class 6A (10 pupils): 10 keys done, each for another
# pupil, and no batch closed another's key as interrupted (none of them stopped).
batches() {
        local journal=$1 p=$2 i=0 pids=() conf k
        shift 2
        for conf in "$@"; do
                i=$((i + 1))
                local targets=()
                for k in $(seq $((12 / $#))); do targets+=(--target "$p$i-$k.img"); done
                CARTABLE_CONFIG=$SCRATCH/$conf.conf "$C" batch rel.cart "${T[@]}" --journal "$journal" \
                        "${CLASS[@]}" "${targets[@]}" --size 1G --jobs 3 --json > "$p$i.json" 2> "$p$i.err" &
                pids+=($!)
        done
        i=0
        for k in "${pids[@]}"; do
                i=$((i + 1))
                wait "$k" || { cat "$p$i.err"; fail "$journal: batch $i of $# failed"; }
        done
        local done_keys
        done_keys=$(cat "$p"[0-9].json | jq -s '[.[] | select(.event == "done")] | length')
        [ "$done_keys" = 10 ] || fail "$journal: $done_keys keys done (10 expected)"
        # Each done key is for a different pupil, by the batches' own words.
        [ "$(cat "$p"[0-9].json | jq -r 'select(.event == "done") | .pupil' | sort -u | wc -l)" = 10 ] \
                || fail "$journal: two done keys for one pupil"
        [ "$(cat "$p"[0-9].json | jq -s '[.[] | select(.event == "interrupted-before" or .event == "interrupted")] | length')" = 0 ] \
                || fail "$journal: a batch closed or lost a key of another that was running"
}

# check_journal QUERY-FN JOURNAL: every pupil of 6A holds one issued key, no pupil two, every
# good flash issued, both chains intact.
check_journal() {
        local qf=$1 journal=$2
        [ "$($qf "SELECT count(*) FROM pupils p WHERE p.school = '0750001A' AND p.class_name = '6A' AND p.is_active = 1 AND (SELECT count(*) FROM keys k WHERE k.pupil_school = p.school AND k.pupil_id = p.id AND k.status = 'issued') = 1")" = 10 ] \
                || fail "$journal: not every pupil of 6A holds exactly one key"
        [ "$($qf "SELECT count(*) FROM events WHERE kind = 'issued'")" = 10 ] || fail "$journal: 10 issued events expected"
        [ "$($qf "SELECT count(*) FROM events WHERE kind = 'flashed' AND outcome = 'ok'")" = 10 ] \
                || fail "$journal: a key was flashed for nobody"
        # Not a share: each station has 6 targets for 10 pupils, so neither can do it all.
        [ "$($qf "SELECT count(DISTINCT station) FROM events WHERE kind = 'issued'")" = 2 ] \
                || fail "$journal: one station did all the work: no concurrency was tested"
        [ "$($qf "SELECT count(*) FROM pupils WHERE claim_station IS NOT NULL")" = 0 ] || fail "$journal: claims left"
        expect_exit 0 "$C" journal verify --journal "$journal"
        expect_in out '^station atelier-1: [0-9]+ events, intact'
        expect_in out '^station atelier-2: [0-9]+ events, intact'
}

# --- One PostgreSQL journal, two stations at once.
CARTABLE_CONFIG=$SCRATCH/atelier-1.conf expect_exit 0 "$C" roster import "$SOURCE_ROOT/manifests/rosters/demo-roster.csv" --journal "$URL"
[ "$(q "SELECT count(*) FROM pupils WHERE class_name = '6A' AND is_active = 1")" = 10 ] || fail "class 6A: 10 pupils"
batches "$URL" pg atelier-1 atelier-2
check_journal q "$URL"
echo "batch-pg: two stations on one class (PostgreSQL): ok"

# --- The same on one SQLite file (two processes: the write transaction is the lock).
sq() { sqlite3 -batch "$SCRATCH/j.db" "$1"; }
CARTABLE_CONFIG=$SCRATCH/atelier-1.conf expect_exit 0 "$C" roster import "$SOURCE_ROOT/manifests/rosters/demo-roster.csv" --journal "$SCRATCH/j.db"
batches "$SCRATCH/j.db" sq atelier-1 atelier-2
check_journal sq "$SCRATCH/j.db"
echo "batch-pg: two stations on one class (SQLite): ok"

# --- Two and three batches of one station (two hubs, one name) on one class, at once: each
# run has its own identity and lock, so none takes another's keys for a crash's leftovers
# and releases their pupils (which gave those pupils two keys). On a new journal each time.
# check_one_station QUERY-FN JOURNAL: every pupil of 6A holds exactly one key, none
# cancelled, no claim left, the station's chain intact.
check_one_station() {
        local qf=$1 journal=$2
        [ "$($qf "SELECT count(*) FROM pupils p WHERE p.class_name = '6A' AND p.is_active = 1 AND (SELECT count(*) FROM keys k WHERE k.pupil_school = p.school AND k.pupil_id = p.id AND k.status = 'issued') = 1")" = 10 ] \
                || fail "$journal: not every pupil of 6A holds exactly one key"
        [ "$($qf "SELECT count(*) FROM events WHERE kind = 'issued'")" = 10 ] || fail "$journal: 10 issued events expected"
        [ "$($qf "SELECT count(*) FROM events WHERE kind = 'flashed' AND outcome = 'ok'")" = 10 ] \
                || fail "$journal: a key was flashed for nobody"
        [ "$($qf "SELECT count(*) FROM events WHERE outcome = 'cancelled'")" = 0 ] || fail "$journal: a key closed interrupted"
        [ "$($qf "SELECT count(*) FROM pupils WHERE claim_station IS NOT NULL")" = 0 ] || fail "$journal: claims left"
        expect_exit 0 "$C" journal verify --journal "$journal"
        expect_in out '^station atelier-1: [0-9]+ events, intact'
}
# new_journal NAME BACKEND: a new journal of class 6A (a database on the server, or an
# SQLite file) in $journal; qj SQL queries it.
new_journal() {
        if [ "$2" = pg ]; then
                q "CREATE DATABASE $1" >/dev/null
                journal=${URL/\/cartable?//$1?}
        else
                journal=$SCRATCH/$1.db
        fi
        CARTABLE_CONFIG=$SCRATCH/atelier-1.conf expect_exit 0 "$C" roster import \
                "$SOURCE_ROOT/manifests/rosters/demo-roster.csv" --journal "$journal"
}
qj() {
        if journal_is_url "$journal"; then "$CARTABLE_TEST_PG_BIN/psql" -X -A -t -q "$journal" -c "$1"
        else sqlite3 -batch "$journal" "$1"; fi
}
journal_is_url() { [[ $1 == postgresql://* ]]; }
for backend in pg sq; do
        for n in 2 3; do
                new_journal one${n}$backend $backend
                confs=()
                for _ in $(seq $n); do confs+=(atelier-1); done
                batches "$journal" "one$n$backend-" "${confs[@]}"
                check_one_station qj "$journal"
                echo "batch-pg: $n batches of one station on one class ($backend): ok"
        done
done

# --- Keys on nbdkit under nbdfuse, for what follows.
need_root
need_tool nbdkit
need_tool nbdfuse
[ -c /dev/fuse ] || skip "needs /dev/fuse"

# --- A batch killed (-9) while another batch of the same station runs: its keys stay
# started, and the next batch of the station closes them (interrupted), never those of the
# batch still running. Keys whose writes wait at a shut gate (nbd_gated_key) keep A's and
# B's keys in flight for as long as the test needs.
# wait_started FILE N: until FILE holds N "started" events.
wait_started() {
        for _ in $(seq 600); do
                [ "$(jq -s '[.[] | select(.event == "started")] | length' "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
                sleep 0.1
        done
        cat "$1"
        fail "no $2 started events in $1"
}
for backend in pg sq; do
        new_journal killed$backend $backend
        qk=qj
        for k in ${backend}b ${backend}a1 ${backend}a2; do nbd_gated_key "$k"; done
        CARTABLE_CONFIG=$SCRATCH/atelier-1.conf "$C" batch rel.cart "${T[@]}" --journal "$journal" "${CLASS[@]}" \
                --target ${backend}b/nbd --json > ${backend}B.json 2> ${backend}B.err &
        pid_b=$!
        wait_started ${backend}B.json 1
        CARTABLE_CONFIG=$SCRATCH/atelier-1.conf "$C" batch rel.cart "${T[@]}" --journal "$journal" "${CLASS[@]}" \
                --target ${backend}a1/nbd --target ${backend}a2/nbd --json > ${backend}A.json 2> ${backend}A.err &
        pid_a=$!
        wait_started ${backend}A.json 2
        kill -9 $pid_a
        nbd_open_gate ${backend}a1; nbd_open_gate ${backend}a2   # a FUSE request in flight is waited for
        wait $pid_a 2>/dev/null || true
        open_starts="SELECT count(*) FROM events e WHERE e.outcome = 'started' AND e.key_uid LIKE 'file:%/${backend}a_/nbd' AND NOT EXISTS (SELECT 1 FROM events f WHERE f.key_uid = e.key_uid AND f.kind = 'flashed' AND f.seq > e.seq)"
        [ "$($qk "$open_starts")" = 2 ] || fail "$backend: the killed batch's two keys are not left started"
        # C, while B writes its key: closes A's two keys, not B's.
        targets=()
        for k in $(seq 9); do targets+=(--target "${backend}c$k.img"); done
        CARTABLE_CONFIG=$SCRATCH/atelier-1.conf expect_exit 0 "$C" batch rel.cart "${T[@]}" --journal "$journal" \
                "${CLASS[@]}" "${targets[@]}" --size 1G --jobs 3 --json
        cp out ${backend}C.json
        [ "$(jq -r 'select(.event == "interrupted-before") | .key' ${backend}C.json | sort | tr '\n' ' ')" = \
          "file:$(realpath ${backend}a1)/nbd file:$(realpath ${backend}a2)/nbd " ] \
                || { cat ${backend}C.json; fail "$backend: C did not close exactly the killed batch's keys"; }
        [ "$($qk "$open_starts")" = 0 ] || fail "$backend: the killed batch's keys are still open"
        nbd_open_gate ${backend}b
        wait $pid_b || { cat ${backend}B.err; fail "$backend: batch B failed"; }
        [ "$(jq -s '[.[] | select(.event == "done")] | length' ${backend}B.json)" = 1 ] || fail "$backend: B's key not done"
        check_journal_killed() {
                [ "$($qk "SELECT count(*) FROM pupils p WHERE p.class_name = '6A' AND p.is_active = 1 AND (SELECT count(*) FROM keys k WHERE k.pupil_school = p.school AND k.pupil_id = p.id AND k.status = 'issued') = 1")" = 10 ] \
                        || fail "$backend: not every pupil of 6A holds exactly one key"
                [ "$($qk "SELECT count(*) FROM events WHERE kind = 'issued'")" = 10 ] || fail "$backend: 10 issued events expected"
                [ "$($qk "SELECT count(*) FROM events WHERE outcome = 'cancelled'")" = 2 ] \
                        || fail "$backend: only the killed batch's two keys are closed"
                [ "$($qk "SELECT count(*) FROM pupils WHERE claim_station IS NOT NULL")" = 0 ] || fail "$backend: claims left"
                expect_exit 0 "$C" journal verify --journal "$journal"
        }
        check_journal_killed
        echo "batch-pg: a batch killed while another of its station runs ($backend): ok"
done
pg_stop() { $CARTABLE_TEST_PG_CTL -m fast stop >/dev/null; }
pg_start() { $CARTABLE_TEST_PG_CTL -o "$CARTABLE_TEST_PG_OPTS" start >/dev/null; }
# wait_for FILE JQ-FILTER: until FILE holds an event that matches.
wait_for() {
        for _ in $(seq 600); do
                jq -e -s "[.[] | select($2)] | length > 0" "$1" >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        cat "$1"
        fail "no event $2 in $1"
}
# A key's writes wait at its gate (nbd_gated_key) until the server is stopped: it ends
# while the server is away, whatever the host's speed.
for k in s1 s2 s3 s4 s5; do nbd_gated_key "$k"; done
q "UPDATE keys SET status = 'returned' WHERE pupil_school = '0750001A' AND pupil_id IN (SELECT id FROM pupils WHERE class_name = '6A')" >/dev/null
n_ok_before=$(q "SELECT count(*) FROM events WHERE kind = 'flashed' AND outcome = 'ok'")

# Back within [journal] wait: the key in progress is recorded when the server returns, the
# batch then starts the next keys, and exits 69 saying what happened.
CARTABLE_CONFIG=$SCRATCH/atelier-1.conf "$C" batch rel.cart "${T[@]}" --journal "$URL" "${CLASS[@]}" \
        --target s1/nbd --target s2/nbd --target s3/nbd --jobs 1 --json > stop1.json 2> stop1.err &
pid=$!
nbd_open_gate s1
wait_for stop1.json '.event == "done"'
wait_for stop1.json '.event == "started" and .target == "s2/nbd"'
pg_stop
nbd_open_gate s2; nbd_open_gate s3
wait_for stop1.json '.event == "journal-error" and .target == "s2/nbd"'   # s2 ended meanwhile
pg_start
rc=0; wait "$pid" || rc=$?
[ "$rc" = 69 ] || { cat stop1.err; fail "server back: exit $rc, 69 expected"; }
expect_in stop1.err 'the journal server .* went away during the batch and came back: every key that ended was recorded once it was back'
jq -e -s '[.[] | select(.event == "journal-error" and .target == "s2/nbd")] | length == 1' stop1.json >/dev/null \
        || fail "s2 did not end while the server was away (or its lost record was not reported)"
[ "$(jq -s '[.[] | select(.event == "done")] | length' stop1.json)" = 3 ] || fail "3 keys done expected (s3 after the server came back)"
[ "$(q "SELECT count(*) FROM events WHERE kind = 'flashed' AND outcome = 'ok'")" = $((n_ok_before + 3)) ] \
        || fail "the keys done are not all in the journal"
[ "$(q "SELECT count(*) FROM keys WHERE uid LIKE 'file:%s2/nbd' AND status = 'issued'")" = 1 ] \
        || fail "s2, in progress when the server stopped, is not recorded issued"
expect_exit 0 "$C" journal verify --journal "$URL"
echo "batch-pg: server stopped and back mid-batch: ok"

# Not back within [journal] wait (2 s): exit 69, the key's end kept locally in the station's
# journal spool (its start and its pupil's claim stay in the journal); the station's next
# batch records it from the spool, with its real outcome: the pupil keeps that key.
station atelier-1 2
SPOOL=$SCRATCH/state-atelier-1/journal-spool
CARTABLE_CONFIG=$SCRATCH/atelier-1.conf "$C" batch rel.cart "${T[@]}" --journal "$URL" "${CLASS[@]}" \
        --target s4/nbd --json > stop2.json 2> stop2.err &
pid=$!
wait_for stop2.json '.event == "started"'
pupil=$(jq -r -s '[.[] | select(.event == "started")][0].pupil' stop2.json)
pg_stop
nbd_open_gate s4
rc=0; wait "$pid" || rc=$?
[ "$rc" = 69 ] || { cat stop2.err; fail "server away: exit $rc, 69 expected"; }
expect_in stop2.err "went away and did not come back: 1 key's end is kept locally in $SPOOL"
spooled=("$SPOOL"/*.json)
[ "${#spooled[@]}" = 1 ] && [ -f "${spooled[0]}" ] || fail "one spool file expected in $SPOOL"
[ "$(stat -c %a "${spooled[0]}")" = 600 ] || fail "the spool file is not 0600"
[ "$(jq -r .key_uid "${spooled[0]}")" = "file:$(realpath s4)/nbd" ] || fail "the spool file does not name s4"
[ "$(jq -r .pupil "${spooled[0]}")" = "$pupil" ] || fail "the spool file does not name $pupil"
cp "${spooled[0]}" spooled-s4.json
pg_start
[ "$(q "SELECT outcome FROM events WHERE key_uid LIKE 'file:%s4/nbd' ORDER BY seq DESC LIMIT 1")" = started ] \
        || fail "s4's start is not in the journal"
[ "$(q "SELECT claim_station FROM pupils WHERE school || '/' || id = '$pupil'")" = atelier-1 ] \
        || fail "$pupil is not claimed while its key is unrecorded"
# Another station does not take that pupil while the claim holds (nor touches the spool).
CARTABLE_CONFIG=$SCRATCH/atelier-2.conf expect_exit 0 "$C" batch rel.cart "${T[@]}" --journal "$URL" "${CLASS[@]}" \
        --target other.img --size 1G --json
[ "$(jq -r 'select(.event == "started") | .pupil' out)" != "$pupil" ] || fail "a claimed pupil was taken by another station"
[ -f "${spooled[0]}" ] || fail "another station's batch took this station's spool"
# The station's next batch: s4 recorded from the spool (ok, issued to its pupil, at the
# time it ended), not closed interrupted; the claim released; the next key to another pupil.
CARTABLE_CONFIG=$SCRATCH/atelier-1.conf expect_exit 0 "$C" batch rel.cart "${T[@]}" --journal "$URL" "${CLASS[@]}" \
        --target next.img --size 1G --json
jq -e -s '[.[] | select(.event == "recorded-from-spool" and .pupil == "'"$pupil"'")] | length == 1' out >/dev/null \
        || fail "s4 not recorded from the spool"
jq -e -s '[.[] | select(.event == "interrupted-before")] | length == 0' out >/dev/null || fail "s4 closed interrupted"
[ "$(jq -r 'select(.event == "done") | .pupil' out)" != "$pupil" ] || fail "$pupil got a second key"
[ "$(q "SELECT outcome FROM events WHERE kind = 'flashed' AND key_uid LIKE 'file:%s4/nbd' ORDER BY seq DESC LIMIT 1")" = ok ] \
        || fail "s4 not recorded ok"
[ "$(q "SELECT time_usec FROM events WHERE kind = 'flashed' AND key_uid LIKE 'file:%s4/nbd' ORDER BY seq DESC LIMIT 1")" \
  = "$(jq -r .finished_usec spooled-s4.json)" ] || fail "s4's end not recorded at the time it ended"
[ "$(q "SELECT count(*) FROM keys WHERE status = 'issued' AND pupil_school || '/' || pupil_id = '$pupil'")" = 1 ] \
        || fail "$pupil does not hold exactly one key"
[ "$(q "SELECT count(*) FROM keys WHERE uid LIKE 'file:%s4/nbd' AND status = 'issued' AND pupil_school || '/' || pupil_id = '$pupil'")" = 1 ] \
        || fail "s4 is not issued to $pupil"
[ "$(q "SELECT count(*) FROM pupils WHERE claim_station IS NOT NULL")" = 0 ] || fail "claims left"
[ -z "$(ls -A "$SPOOL")" ] || fail "the spool is not empty after the replay"
expect_exit 0 "$C" journal verify --journal "$URL"
# Replayed twice (the file back, as if its removal had been lost): nothing recorded twice.
n_events=$(q "SELECT count(*) FROM events")
cp spooled-s4.json "$SPOOL/"
CARTABLE_CONFIG=$SCRATCH/atelier-1.conf expect_exit 0 "$C" batch rel.cart "${T[@]}" --journal "$URL" --stock \
        --target again.img --size 1G --json
[ "$(q "SELECT count(*) FROM events WHERE key_uid NOT LIKE 'file:%again.img'")" = "$n_events" ] \
        || fail "a spooled end replayed twice was recorded twice"
[ -z "$(ls -A "$SPOOL")" ] || fail "the spool is not empty after the second replay"
# The same by hand (cartable journal push-spool): nothing recorded twice either.
cp spooled-s4.json "$SPOOL/"
n_events=$(q "SELECT count(*) FROM events")
CARTABLE_CONFIG=$SCRATCH/atelier-1.conf expect_exit 0 "$C" journal push-spool --journal "$URL"
expect_in out "s4/nbd: its end, kept locally in .* was in the journal already: nothing recorded"
expect_in out "^0 key ends recorded from $SPOOL"
[ "$(q "SELECT count(*) FROM events")" = "$n_events" ] || fail "journal push-spool recorded an end twice"
[ -z "$(ls -A "$SPOOL")" ] || fail "the spool is not empty after journal push-spool"
# A corrupt spool file: refused, named, left in place; nothing recorded from it.
echo '{"format": "cartable-journal-spool/1", "journal": ' > "$SPOOL/end-1-00000000.json"
CARTABLE_CONFIG=$SCRATCH/atelier-1.conf expect_exit 65 "$C" journal push-spool --journal "$URL"
expect_in err "$SPOOL/end-1-00000000.json: refused, left in place"
[ -f "$SPOOL/end-1-00000000.json" ] || fail "the corrupt spool file was not left in place"
CARTABLE_CONFIG=$SCRATCH/atelier-1.conf expect_exit 65 "$C" batch rel.cart "${T[@]}" --journal "$URL" --stock \
        --target corrupt.img --size 1G
expect_in out "$SPOOL/end-1-00000000.json: refused, left in place"
expect_in err "1 file of the journal spool $SPOOL was refused"
[ -f "$SPOOL/end-1-00000000.json" ] || fail "the corrupt spool file was not left in place"
rm "$SPOOL/end-1-00000000.json"
# A foreign one (another station's): refused with its name, kept, nothing recorded.
n_events=$(q "SELECT count(*) FROM events")
jq '.station = "atelier-9"' spooled-s4.json > "$SPOOL/end-2-00000000.json"
chmod 600 "$SPOOL/end-2-00000000.json"
CARTABLE_CONFIG=$SCRATCH/atelier-1.conf expect_exit 65 "$C" journal push-spool --journal "$URL"
expect_in err "$SPOOL/end-2-00000000.json: refused, left in place: journal spool: written by station atelier-9, not atelier-1"
[ -f "$SPOOL/end-2-00000000.json" ] || fail "the foreign spool file was not left in place"
[ "$(q "SELECT count(*) FROM events")" = "$n_events" ] || fail "a foreign spool file was recorded"
rm "$SPOOL/end-2-00000000.json"
expect_exit 0 "$C" journal verify --journal "$URL"
echo "batch-pg: server stopped and not back: the key's end spooled, then recorded: ok"

# While the batch waits for the server, a second Ctrl-C stops the wait at once: exit 69,
# the key's end kept in the spool, recorded by the next batch as above. The wait is an hour:
# the batch can only end in time through the Ctrl-C.
station atelier-1 3600
CARTABLE_CONFIG=$SCRATCH/atelier-1.conf "$C" batch rel.cart "${T[@]}" --journal "$URL" "${CLASS[@]}" \
        --target s5/nbd --json > stop3.json 2> stop3.err &
pid=$!
wait_for stop3.json '.event == "started"'
pg_stop
nbd_open_gate s5
wait_for stop3.json '.event == "journal-error"'
kill -INT "$pid"; wait_delivered "$pid" 2
kill -INT "$pid"; wait_delivered "$pid" 2
for _ in $(seq 1200); do [ -e "/proc/$pid" ] || break; sleep 0.5; done   # the shell reaps it at once
[ ! -e "/proc/$pid" ] || fail "the second Ctrl-C did not end the wait (10 minutes later, of an hour's)"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 69 ] || { cat stop3.err; fail "second Ctrl-C while waiting: exit $rc, 69 expected"; }
expect_in stop3.err "1 key's end is kept locally in $SPOOL"
pg_start
CARTABLE_CONFIG=$SCRATCH/atelier-1.conf expect_exit 0 "$C" batch rel.cart "${T[@]}" --journal "$URL" --stock \
        --target stock.img --size 1G --json
jq -e -s '[.[] | select(.event == "recorded-from-spool")] | length == 1' out >/dev/null || fail "s5 not recorded from the spool"
jq -e -s '[.[] | select(.event == "interrupted-before")] | length == 0' out >/dev/null || fail "s5 closed interrupted"
[ -z "$(ls -A "$SPOOL")" ] || fail "the spool is not empty after the replay"
expect_exit 0 "$C" journal verify --journal "$URL"
echo "batch-pg: a second Ctrl-C ends the wait for the server: ok"
