#!/bin/bash
# One département journal that no station can abuse (issue 21, cases 1 and 2), on a real
# PostgreSQL server (tests/pg-server.sh): two stations registered by the owner with
# `journal station add`, each with its role, its school and its public key. psql, as a
# station's role, tries every cross-station and cross-school write and read: the server
# refuses each (a trigger, row-level security, grants), whatever cartable does. A forged or
# missing signature is caught by journal verify, naming the station and the event.
. "$(dirname "$0")/lib.sh"
: "${CARTABLE_TEST_PG_URL:?run under tests/pg-server.sh}"
: "${TOOL_JOURNAL_RECORD:?}"
ROSTERS=$SOURCE_ROOT/manifests/rosters
URL=$CARTABLE_TEST_PG_URL
URL_A=${URL/user=cartable_admin/user=cartable_station}
URL_B=${URL/user=cartable_admin/user=cartable_station2}
C=$CARTABLE
PSQL="$CARTABLE_TEST_PG_BIN/psql"
q() { "$PSQL" -X -A -t -q "$URL" -c "$1"; }
# as URL SQL: run SQL as that role; its output (and error) in out/err, its exit code returned.
as() { "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 "$1" -c "$2" >"$SCRATCH/out" 2>"$SCRATCH/err"; }
# refused URL SQL PATTERN: the server refuses SQL with an error matching PATTERN.
refused() {
        if as "$1" "$2"; then cat out; fail "the server let a station run: $2"; fi
        expect_in err "$3"
}
# no_rows URL SQL: an UPDATE or DELETE that the server lets touch nothing.
no_rows() {
        "$PSQL" -X -v ON_ERROR_STOP=1 "$1" -c "$2" >"$SCRATCH/out" 2>"$SCRATCH/err" \
                || { cat "$SCRATCH/err"; fail "$2: refused instead of touching no row"; }
        grep -qE '^(UPDATE|DELETE) 0$' "$SCRATCH/out" || { cat "$SCRATCH/out"; fail "the server let a station change another's rows: $2"; }
}
conf() {
        printf '[station]\nstate-dir = %s/state-%s\nname = %s\n[journal]\nurl = %s\n' "$SCRATCH" "$1" "$2" "$3" \
                > "$SCRATCH/$1.conf"
}
conf owner central "$URL"
conf a college-a "$URL_A"
conf b college-b "$URL_B"
# pretend CONF: the station of CONF's state directory with [station] name NAME.
export CARTABLE_CONFIG=$SCRATCH/owner.conf

expect_exit 0 "$C" roster import "$ROSTERS/demo-roster.csv"
# Each station's key pair, made on first use in its state directory, 0600.
CARTABLE_CONFIG=$SCRATCH/a.conf expect_exit 0 "$C" journal station key
cp out a.pub
expect_in a.pub '^-----BEGIN PUBLIC KEY-----$'
[ "$(stat -c %a state-a/station.key)" = 600 ] || fail "the station's secret key is not 0600"
CARTABLE_CONFIG=$SCRATCH/a.conf expect_exit 0 "$C" journal station key
cmp -s out a.pub || fail "the station's key changed on second use"
CARTABLE_CONFIG=$SCRATCH/b.conf expect_exit 0 "$C" journal station key
cp out b.pub

# A station's role, before it is registered, cannot write events at all.
refused "$URL_A" "INSERT INTO events (uuid, station, station_seq, kind, time_usec, prev_hash, hash) VALUES \
        ('u0', 'college-a', 1, 'verified', 1, 'x', 'y')" 'permission denied|not a registered station'

# The owner registers both; a station's role cannot register itself or another.
expect_exit 0 "$C" journal station add college-a --role cartable_station --school 0750001A --public-key a.pub
expect_in out '^station college-a registered \(role cartable_station\)$'
expect_exit 0 "$C" journal station add college-b --role cartable_station2 --school 0750002B --public-key b.pub
expect_exit 73 "$C" journal station add college-b --role cartable_station2 --school 0750002B
expect_in err 'a station named college-b, or a registered station with role cartable_station2, is already there'
expect_exit 64 "$C" journal station add college-c --school 0750002B
expect_in err '\-\-role ROLE'
CARTABLE_CONFIG=$SCRATCH/a.conf expect_exit 73 "$C" journal station add college-z --role college_z \
        --school 0750002B
expect_in err 'permission denied'
refused "$URL_A" "UPDATE stations SET role = 'cartable_station' WHERE name = 'college-b'" 'permission denied'
refused "$URL_A" "INSERT INTO station_schools VALUES ('college-a', '0750002B')" 'permission denied'
expect_exit 0 "$C" journal station list
expect_in out "^college-a	cartable_station	0750001A	[0-9a-f]{16}	1	registered$"
expect_in out "^college-b	cartable_station2	0750002B	[0-9a-f]{16}	1	registered$"

# Each station records its own pupils' keys, signed.
CARTABLE_TEST_SIGN_KEY=$SCRATCH/state-a/station.key "$TOOL_JOURNAL_RECORD" "$URL_A" 2 college-a D1001 D1004 \
        >/dev/null || fail "station a's records"
CARTABLE_TEST_SIGN_KEY=$SCRATCH/state-b/station.key "$TOOL_JOURNAL_RECORD" "$URL_B" 2 college-b D2001 D2002 \
        >/dev/null || fail "station b's records"
[ "$(q "SELECT count(*) FROM events WHERE signature IS NULL")" = 0 ] || fail "unsigned events"
expect_exit 0 "$C" journal verify
expect_in out '^station college-a: 4 events, intact'
expect_in out '^station college-b: 4 events, intact'
# Both stations' batches at once, each on a class of its own school, as registered roles:
# claims, starts, ends and issues go through the server's checks; every event is signed.
"$C" key generate --secret dep.key --public dep.pub --unencrypted >/dev/null
"$C" image build "$SOURCE_ROOT/images/ent-college" --key dep.key --output rel.cart >/dev/null 2>&1
CARTABLE_CONFIG=$SCRATCH/a.conf "$C" batch rel.cart --trust dep.pub --school 0750001A --class 6A \
        --target a1.img --target a2.img --size 1G --jobs 2 --json > batch-a.json 2> batch-a.err & pa=$!
CARTABLE_CONFIG=$SCRATCH/b.conf "$C" batch rel.cart --trust dep.pub --school 0750002B --class 6B \
        --target b1.img --target b2.img --size 1G --jobs 2 --json > batch-b.json 2> batch-b.err & pb=$!
wait $pa || { cat batch-a.err; fail "station a's batch"; }
wait $pb || { cat batch-b.err; fail "station b's batch"; }
[ "$(q "SELECT count(*) FROM keys WHERE uid LIKE 'file:%' AND status = 'issued' AND pupil_school = '0750001A'")" = 2 ] \
        || fail "station a's batch did not issue its 2 keys in its school"
[ "$(q "SELECT count(*) FROM keys WHERE uid LIKE 'file:%' AND status = 'issued' AND pupil_school = '0750002B'")" = 2 ] \
        || fail "station b's batch did not issue its 2 keys in its school"
[ "$(q "SELECT count(*) FROM pupils WHERE claim_station IS NOT NULL")" = 0 ] || fail "claims left"
[ "$(q "SELECT count(*) FROM events WHERE signature IS NULL")" = 0 ] || fail "a batch's events are unsigned"
expect_exit 0 "$C" journal verify
n_b=$(q "SELECT count(*) FROM events WHERE station = 'college-b'")

# --- Case 1: a station's role writes under its registered name only.
# cartable, told it is college-b while logged in as college-a's role, refuses to open.
conf a-as-b college-b "$URL_A"
CARTABLE_CONFIG=$SCRATCH/a-as-b.conf expect_exit 4 "$C" stolen --key college-a-000000
expect_in err 'role cartable_station is registered as station college-a, not college-b'
# Left out, the name is the registered one: the event is college-a's.
printf '[station]\nstate-dir = %s/state-a\n[journal]\nurl = %s\n' "$SCRATCH" "$URL_A" > a-noname.conf
CARTABLE_CONFIG=$SCRATCH/a-noname.conf expect_exit 0 "$C" stolen --key college-a-000000
[ "$(q "SELECT station FROM events WHERE kind = 'stolen'")" = college-a ] || fail "the stolen event is not college-a's"
# psql as college-a's role, writing college-b's chain: the server refuses it.
refused "$URL_A" "INSERT INTO events (uuid, station, station_seq, kind, time_usec, prev_hash, hash) \
        SELECT 'forged-1', 'college-b', max(station_seq) + 1, 'stolen', 1, max(hash), 'h' FROM events \
        WHERE station = 'college-b'" 'role cartable_station is station college-a: it cannot write events of station college-b'
# ... nor its own chain about another school's pupil.
refused "$URL_A" "INSERT INTO events (uuid, station, station_seq, kind, time_usec, pupil_school, prev_hash, hash) \
        VALUES ('forged-2', 'college-a', 99, 'stolen', 1, '0750002B', 'p', 'h')" 'station college-a does not serve school 0750002B'
# ... nor through a push of a journal that holds college-b's events.
grep -v ';0750002B;' "$ROSTERS/demo-roster.csv" > school-a.csv
expect_exit 0 "$C" roster import "$SCRATCH/school-a.csv" --journal "$SCRATCH/offline.db"
"$TOOL_JOURNAL_RECORD" "$SCRATCH/offline.db" 1 college-b D1010 >/dev/null || fail "offline records"
CARTABLE_CONFIG=$SCRATCH/a.conf expect_exit 73 "$C" journal push "$SCRATCH/offline.db" --to "$URL_A"
expect_in err 'it cannot write events of station college-b|row-level security'
[ "$(q "SELECT count(*) FROM events WHERE station = 'college-b'")" = "$n_b" ] || fail "college-b's chain changed"
refused "$URL_A" "UPDATE events SET station = 'college-b' WHERE station = 'college-a'" 'permission denied'
refused "$URL_A" "DELETE FROM events WHERE station = 'college-b'" 'permission denied'

# --- Case 2: a station's role sees and changes its schools only.
SNAP_B="SELECT md5(string_agg(p::text, ',' ORDER BY id)) || md5(string_agg(k::text, ',' ORDER BY uid)) FROM pupils p \
        FULL JOIN keys k ON k.pupil_school = p.school AND k.pupil_id = p.id WHERE p.school = '0750002B'"
snap_b=$(q "$SNAP_B")
[ "$("$PSQL" -X -A -t -q "$URL_A" -c "SELECT count(*) FROM pupils")" = 30 ] || fail "station a sees other schools' pupils"
[ "$("$PSQL" -X -A -t -q "$URL_A" -c "SELECT count(*) FROM pupils WHERE school = '0750002B'")" = 0 ] \
        || fail "station a reads school 0750002B's pupils"
[ "$("$PSQL" -X -A -t -q "$URL_A" -c "SELECT count(*) FROM keys WHERE pupil_school = '0750002B'")" = 0 ] \
        || fail "station a reads school 0750002B's keys"
[ "$("$PSQL" -X -A -t -q "$URL_A" -c "SELECT count(*) FROM pupil_salts WHERE school = '0750002B'")" = 0 ] \
        || fail "station a reads school 0750002B's salts"
[ "$("$PSQL" -X -A -t -q "$URL_A" -c "SELECT count(*) FROM imports")" = 0 ] || fail "station a reads another's imports"
no_rows "$URL_A" "UPDATE pupils SET is_active = 0, left_usec = 1 WHERE school = '0750002B'"
no_rows "$URL_A" "UPDATE pupils SET family_name = 'X' WHERE school = '0750002B'"
no_rows "$URL_A" "UPDATE keys SET status = 'returned' WHERE pupil_school = '0750002B'"
no_rows "$URL_A" "UPDATE pupils SET claim_station = NULL, claim_key = NULL WHERE school = '0750002B'"
refused "$URL_A" "UPDATE pupils SET school = '0750002B' WHERE id = 'D1007'" 'row-level security|violates'
refused "$URL_A" "INSERT INTO pupils (school, id, family_name, first_name, class_name, is_active, has_derived_id, \
        roster_rank, roster_line, import_id, created_usec, updated_usec) SELECT '0750002B', 'X1', 'A', 'B', '6B', 1, 0, \
        1, 1, 1, 1, 1" 'row-level security'
refused "$URL_A" "UPDATE pupils SET claim_station = 'college-b', claim_key = 'k' WHERE id = 'D1007'" 'row-level security'
refused "$URL_A" "INSERT INTO schools VALUES ('0750003C', NULL, 1, 1)" 'row-level security'
refused "$URL_A" "DELETE FROM pupils WHERE school = '0750002B'" 'permission denied'
refused "$URL_A" "TRUNCATE pupils" 'permission denied'
[ "$(q "$SNAP_B")" = "$snap_b" ] || fail "school 0750002B's pupils or keys were changed by station a"
# Its own school: it may.
as "$URL_A" "UPDATE pupils SET family_name = family_name WHERE id = 'D1007'" || { cat err; fail "own pupil refused"; }
# A report from a station covers its schools; the owner's the département.
CARTABLE_CONFIG=$SCRATCH/a.conf expect_exit 0 "$C" report --format csv --output "$SCRATCH/a.csv"
grep -q '^0750001A;' a.csv || fail "station a's report lacks its school"
! grep -q '^0750002B;' a.csv || fail "station a's report shows another school"
expect_exit 0 "$C" report --format csv --output "$SCRATCH/all.csv"
grep -q '^0750002B;' all.csv || fail "the owner's report lacks a school"

# A key moving with its pupil: school a records it returned, school b can then issue it.
[ "$("$PSQL" -X -A -t -q "$URL_B" -c "SELECT count(*) FROM keys WHERE uid LIKE '%college-a-000001'")" = 0 ] \
        || fail "station b sees school a's issued key"
# (cartable return needs the key in hand: its row change, as school a's role makes it.)
as "$URL_A" "UPDATE keys SET status = 'returned' WHERE uid LIKE '%college-a-000001'" || { cat err; fail "return"; }
as "$URL_B" "UPDATE keys SET status = 'issued', pupil_school = '0750002B', pupil_id = 'D2003' \
        WHERE uid LIKE '%college-a-000001'" || { cat err; fail "station b cannot take a returned key"; }
[ "$(q "SELECT pupil_school FROM keys WHERE uid LIKE '%college-a-000001'")" = 0750002B ] || fail "the key did not move"
[ "$("$PSQL" -X -A -t -q "$URL_A" -c "SELECT count(*) FROM keys WHERE uid LIKE '%college-a-000001'")" = 0 ] \
        || fail "school a still sees the key issued in school b"

# --- Signatures: forged, missing, and an event of a station whose key signed nothing.
expect_exit 0 "$C" journal verify
sig=$(q "SELECT signature FROM events WHERE station = 'college-a' AND station_seq = 1")
q "UPDATE events SET signature = '$sig' WHERE station = 'college-b' AND station_seq = 2" >/dev/null
expect_exit 1 "$C" journal verify
expect_in out "^BROKEN station college-b: event 2 \(row [0-9]+, uuid [0-9a-f-]+\): its signature is not the station's registered key's"
expect_in out '^station college-a: [0-9]+ events, intact'
q "UPDATE events SET signature = NULL WHERE station = 'college-b' AND station_seq = 2" >/dev/null
expect_exit 1 "$C" journal verify
expect_in out "^BROKEN station college-b: event 2 .* is not signed, though the station signs its events from event 1"

# Removed: the role loses its rights; the station's events stay.
expect_exit 0 "$C" journal station remove college-a
refused "$URL_A" "SELECT count(*) FROM pupils" 'permission denied'
expect_exit 0 "$C" journal station list
expect_in out "^college-a	cartable_station	0750001A	[0-9a-f]{16}	1	removed$"
echo "stations-pg: ok"
