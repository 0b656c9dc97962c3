#!/bin/bash
# roster import|list and journal show|export|verify, checked with SQLite's own shell.
. "$(dirname "$0")/lib.sh"
need_tool sqlite3
need_tool jq
: "${TOOL_JOURNAL_RECORD:?}"
ROSTERS=$SOURCE_ROOT/manifests/rosters
printf '[station]\nstate-dir = %s/state\nname = atelier-1\n' "$SCRATCH" > cartable.conf
export CARTABLE_CONFIG=$SCRATCH/cartable.conf
C=$CARTABLE
J=(--journal "$SCRATCH/j.db")
q() { sqlite3 -batch j.db "$1"; }

# No journal yet: listing says so (66) and creates nothing.
expect_exit 66 "$C" roster list "${J[@]}"
expect_in err 'j.db: .*No such file'
[ ! -e j.db ] || fail "roster list created the journal"

# A dry run on a missing journal prints the changes and still creates nothing.
expect_exit 0 "$C" roster import "$ROSTERS/demo-roster.csv" "${J[@]}" --dry-run
expect_in out 'demo-roster.csv: 60 pupils \(csv, UTF-8\)$'
expect_in out '^60 pupils: 59 added, 0 moved, 0 renamed, 0 left, 0 rejoined, 0 unchanged, 1 already left \(dry run: nothing was written\)$'
[ ! -e j.db ] || fail "a dry run created the journal"

expect_exit 0 "$C" roster import "$ROSTERS/demo-roster.csv" "${J[@]}"
expect_in out '^added    0750001A 6A  Mercier Adam  \[D1001\]$'
[ "$(q 'SELECT count(*) FROM pupils WHERE is_active = 1')" = 59 ] || fail "59 active pupils expected"
[ "$(q 'SELECT count(*) FROM schools')" = 2 ] || fail "two schools expected"
[ "$(q 'PRAGMA journal_mode')" = wal ] || fail "journal not in WAL mode"
SCHEMA=$(sed -n 's/^#define JOURNAL_SCHEMA_VERSION //p' "$SOURCE_ROOT/lib/journal/journal.h")
[ "$(q 'SELECT max(version) FROM schema_version')" = "$SCHEMA" ] || fail "schema version"

# The configuration's [journal] path is the default journal.
printf '[journal]\npath = %s/j.db\n' "$SCRATCH" >> cartable.conf
expect_exit 0 "$C" roster list --school 0750001A --class 6A
[ "$(wc -l < out)" = "$(q "SELECT count(*) FROM pupils WHERE school = '0750001A' AND class_name = '6A' AND is_active = 1")" ] \
        || fail "roster list --class 6A: wrong count"
# Roster order: class, then file order within the class.
first_6a=$(awk -F';' '$2 == "0750001A" && $3 == "6A" && $6 == "" {print $1; exit}' "$ROSTERS/demo-roster.csv")
[ "$(head -1 out | cut -f3)" = "$first_6a" ] || { cat out; fail "roster order: $first_6a first expected"; }

# A changed export: one pupil moves, one disappears, one is new. The dry run writes nothing.
awk -F';' -v OFS=';' 'NR == 2 {$3 = "5B"} NR == 3 {next} {print} END {print "D9999;0750001A;6A;Nouveau;Élève;"}' \
        "$ROSTERS/demo-roster.csv" > changed.csv
before=$(q 'SELECT group_concat(id || class_name || is_active) FROM pupils')
expect_exit 0 "$C" roster import changed.csv --dry-run --json
expect_in out '"change":"moved".*"id":"D1001".*"class":"5B","old_class":"6A"'
expect_in out '"change":"left".*"id":"D1002"'
expect_in out '"change":"added".*"id":"D9999"'
expect_in out '"summary":.*"dry_run":true.*"added":1,"moved":1,"renamed":0,"left":0,"rejoined":0,"unchanged":57,"already_left":1,"no_longer_listed":1'
[ "$(q 'SELECT group_concat(id || class_name || is_active) FROM pupils')" = "$before" ] || fail "the dry run wrote"
expect_exit 0 "$C" roster import changed.csv
[ "$(q "SELECT class_name FROM pupils WHERE id = 'D1001'")" = 5B ] || fail "D1001 did not move"
[ "$(q "SELECT is_active FROM pupils WHERE id = 'D1002'")" = 0 ] || fail "D1002 not marked left"

# Duplicate ids: refused naming both lines, and nothing changes.
{ cat changed.csv; echo "D1003;0750001A;3C;Autre;Pupil;"; } > dup.csv
before=$(q 'SELECT count(*), group_concat(class_name) FROM pupils')
expect_exit 65 "$C" roster import dup.csv
expect_in err 'dup.csv:62: pupil id D1003 \(school 0750001A\) is also on line 3'
expect_in err 'nothing was imported'
[ "$(q 'SELECT count(*), group_concat(class_name) FROM pupils')" = "$before" ] || fail "a refused import wrote"
expect_exit 64 "$C" roster import changed.csv --school 75

# Several files in one import: all or nothing, and a school's pupils are judged on them all.
awk -F';' 'NR == 1 || $2 == "0750001A"' changed.csv > school1.csv
awk -F';' 'NR == 1 || $2 == "0750002B"' changed.csv > school2.csv
expect_exit 0 "$C" roster import school1.csv school2.csv --dry-run
expect_in out '^school1.csv: 30 pupils \(csv, UTF-8, school 0750001A\)$'
expect_in out '^60 pupils: 0 added, 0 moved, 0 renamed, 0 left, 0 rejoined, 59 unchanged'
expect_exit 65 "$C" roster import school1.csv dup.csv
expect_in err 'dup.csv:2: pupil id D1001 \(school 0750001A\) is also on line 2 of this file or of an earlier one of this import'
[ "$(q 'SELECT count(*), group_concat(class_name) FROM pupils')" = "$before" ] || fail "a refused import of two files wrote"
expect_exit 66 "$C" roster import nothing.csv

# A pupil whose name is a spreadsheet formula, then keys recorded through lib/journal.
{ cat changed.csv; echo "D7777;0750001A;6A;=HYPERLINK(\"http://x\");@SUM(A1);"; } > formula.csv
expect_exit 0 "$C" roster import formula.csv
"$TOOL_JOURNAL_RECORD" j.db 6 atelier-1 D1001 0750001A/D1004 D7777 > /dev/null || fail "journal-record"
expect_exit 0 "$C" journal show --pupil D1001
expect_in out '^pupil 0750001A/D1001: Mercier Adam, class 5B; key: usb:0781:5581:atelier-1-000000$'
expect_in out 'issued .*pupil 0750001A/D1001 \(Mercier Adam, 5B\)  key usb:0781:5581:atelier-1-000000  release ent-college 2026.1 \(serial 3\)  by technicien at atelier-1'
expect_exit 0 "$C" journal show --key atelier-1-000004
expect_in out 'flashed  failed .*reason readback-mismatch.*read-back: bytes differ at offset 16384'
expect_exit 66 "$C" journal show --key no-such-key
expect_exit 66 "$C" journal show --pupil D0000
expect_exit 0 "$C" roster list --without-key --class 6A --json
jq -e 'map(.id) | index("D7777") == null and index("D1004") == null and length > 0' out > /dev/null || fail "--without-key"

# Export: a fixed CSV header, formula cells neutralised; JSON that jq reads.
expect_exit 0 "$C" journal export --format csv --output events.csv
head -1 events.csv | grep -qx $'seq,uuid,station,station_seq,kind,time,operator,pupil_school,pupil_id,family_name,first_name,class,key,key_serial,release_name,release_version,release_serial,release_key_id,outcome,reason,step,message,volume_id,bytes_written,bytes_read,started_usec,write_usec,read_usec,prev_hash,hash\r' \
        || fail "CSV header changed"
[ "$(grep -c '' events.csv)" = "$(( $(q 'SELECT count(*) FROM events') + 1 ))" ] || fail "CSV rows"
expect_in events.csv ',D7777,"'"'"'=HYPERLINK\(""http://x""\)","'"'"'@SUM\(A1\)",6A,'
expect_exit 73 "$C" journal export --format csv --output events.csv
[ "$(stat -c %a events.csv)" = 600 ] || fail "the export's mode is $(stat -c %a events.csv), not 600"
expect_exit 64 "$C" journal export --format xml
expect_exit 0 "$C" journal export --format json
jq -e 'length == 9 and (map(select(.kind == "issued")) | length == 3) and .[0].station == "atelier-1"' out > /dev/null \
        || fail "JSON export"
# The hash as cartable-journal(1) documents it, recomputed independently, for every event.
python3 - out <<'PY' || fail "an event's hash differs from the documented canonical form"
import hashlib, json, sys
fields = ["uuid", "station", "station_seq", "kind", "time_usec", "operator", "pupil_school", "pupil_id",
          "key_uid", "key_serial", "release_name", "release_version", "release_serial", "release_key_id",
          "outcome", "reason", "step", "message", "volume_id", "bytes_written", "bytes_read", "started_usec",
          "write_usec", "read_usec", "run", "prev_hash"]
prev = {}
for e in json.load(open(sys.argv[1])):
    e["key_uid"] = e["key"]
    # Form 4 (schema v8): pupil_commit, the salted commitment, stands for pupil_id (form 2),
    # the batch run is hashed (form 3), and message_commit stands for the message.
    assert e["format"] == 4 and (e["pupil_id"] is None) == (e["pupil_commit"] is None), e["seq"]
    assert (e["message"] is None) == (e["message_commit"] is None), e["seq"]
    b = b"cartable-event-4\n"
    stand_for = {"pupil_id": "pupil_commit", "message": "message_commit"}
    for f in [stand_for.get(f, f) for f in fields]:
        v = e[f]
        if v is None:
            b += f.encode() + b"=-\n"
        else:
            v = str(v).encode()
            b += f.encode() + b"=" + str(len(v)).encode() + b":" + v + b"\n"
    assert hashlib.sha256(b).hexdigest() == e["hash"], e["seq"]
    assert e["prev_hash"] == prev.get(e["station"], "0" * 64), e["seq"]
    prev[e["station"]] = e["hash"]
PY
python3 -c 'import csv,sys; rows=list(csv.DictReader(open("events.csv"))); sys.exit(0 if len(rows) == 9 and rows[7]["outcome"] == "failed" else 1)' \
        || fail "CSV export not read back by Python's csv module"

# The chain: intact, then each kind of tampering named.
expect_exit 0 "$C" journal verify
expect_in out '^station atelier-1: 9 events, intact; head atelier-1:9:[0-9a-f]{64}$'
head=$(sed -n 's/^station atelier-1: .*; head //p' out)
cp j.db pristine.db
# A cut tail goes unseen by the chain alone, and is caught against the head recorded before.
q "DELETE FROM events WHERE station_seq = 9"
expect_exit 0 "$C" journal verify
expect_exit 1 "$C" journal verify --head "$head"
expect_in out '^BROKEN station atelier-1: the chain ends at event 8 but its head was recorded at event 9: its tail was cut$'
expect_exit 1 "$C" journal verify --head "atelier-1:8:$(printf '%064d' 0)"
expect_in out 'event 8 does not have the hash recorded for it .*: the chain was rewritten up to there'
expect_exit 1 "$C" journal verify --head "elsewhere:1:$(printf '%064d' 0)"
expect_in out 'station elsewhere: no events'
expect_exit 64 "$C" journal verify --head atelier-1:9
cp pristine.db j.db; rm -f j.db-wal j.db-shm
expect_exit 0 "$C" journal verify --head "$head"
"$TOOL_JOURNAL_RECORD" j.db 1 atelier-1 > /dev/null
expect_exit 0 "$C" journal verify --head "$head"
cp pristine.db j.db; rm -f j.db-wal j.db-shm
q "UPDATE events SET outcome = 'ok' WHERE station_seq = 6"
expect_exit 1 "$C" journal verify
expect_in out '^BROKEN station atelier-1: event 6 \(row 6, uuid [0-9a-f-]{36}\) was edited'
cp pristine.db j.db; rm -f j.db-wal j.db-shm
q "DELETE FROM events WHERE station_seq = 3"
expect_exit 1 "$C" journal verify
expect_in out 'event 3 deleted \(the chain resumes at event 4'
sqlite3 j.db 'PRAGMA integrity_check' | grep -qx ok || fail "integrity_check"

# A journal from a newer cartable is refused and left byte for byte as it was.
cp pristine.db j.db; rm -f j.db-wal j.db-shm
q "PRAGMA journal_mode = DELETE; INSERT INTO schema_version VALUES ($((SCHEMA + 1)), 0)" > /dev/null
sum=$(sha256sum j.db)
expect_exit 65 "$C" roster import changed.csv
expect_in err "schema version $((SCHEMA + 1)) is newer than this cartable"
expect_exit 65 "$C" journal verify
[ "$(sha256sum j.db)" = "$sum" ] || fail "a refused journal was modified"
echo "not a database, only text that goes on for a while......................................................" > j.db
expect_exit 65 "$C" journal show
expect_in err 'not an SQLite database'

# Journals of earlier versions, as cartable wrote them (tests/data/journal-vN.sql): opened,
# each is migrated to this version, its chain verifies with the head it had, and its live
# schema is the one a new journal gets.
schema() { sqlite3 "$1" "SELECT sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"; }
rm -f new.db new.db-wal new.db-shm
"$C" roster import changed.csv --journal "$SCRATCH/new.db" > /dev/null || fail "a new journal"
for v in 2 3 9; do
        rm -f v$v.db v$v.db-wal v$v.db-shm
        sqlite3 v$v.db < "$SOURCE_ROOT/tests/data/journal-v$v.sql"
        [ "$(sqlite3 v$v.db 'SELECT max(version) FROM schema_version')" = $v ] || fail "the fixture is not a v$v journal"
        head=$(sed -n 's/^-- Its head: //p' "$SOURCE_ROOT/tests/data/journal-v$v.sql")
        expect_exit 0 "$C" journal verify --journal "$SCRATCH/v$v.db" --head "$head"
        expect_in out "^station v$v-station: 5 events, intact; head $head$"
        [ "$(sqlite3 v$v.db 'SELECT max(version) FROM schema_version')" = "$SCHEMA" ] || fail "v$v journal not migrated"
        [ "$(schema v$v.db)" = "$(schema new.db)" ] || { diff <(schema v$v.db) <(schema new.db); fail "migrated v$v schema differs from a new journal's"; }
done
# Its pupils and their events read as before.
expect_exit 0 "$C" journal show --journal "$SCRATCH/v2.db" --pupil V1
expect_in out 'issued'
expect_exit 0 "$C" journal show --journal "$SCRATCH/v3.db" --pupil W2
expect_in out 'issued'

# A SIECLE zip, INEs kept only as keyed hashes: neither the INE nor the birth date is in the file.
rm -f j.db j.db-wal j.db-shm
expect_exit 0 "$C" roster import "$ROSTERS/ElevesSansAdresses.zip" --keep-ine
expect_in out '/ElevesSansAdresses.zip: 8 pupils \(siecle, ISO-8859-15, school 0750001A\)$'
[ "$(q "SELECT count(*) FROM pupils WHERE length(ine_hmac) = 64")" -ge 7 ] || fail "INE hashes not kept"
sqlite3 j.db 'PRAGMA wal_checkpoint(TRUNCATE)' > /dev/null
! grep -aq -e 070123456AB -e 14/02/2014 -e 2014-02-14 j.db || fail "an INE or a birth date reached the journal"
echo "journal: ok"
