#!/bin/bash
# The journal on PostgreSQL from the command line ([journal] url, --journal URL), and an
# offline station's SQLite journal pushed to it twice. Runs under tests/pg-server.sh, which
# starts the server; psql is the independent oracle.
. "$(dirname "$0")/lib.sh"
: "${CARTABLE_TEST_PG_URL:?run under tests/pg-server.sh}"
: "${TOOL_JOURNAL_RECORD:?}"
need_tool jq
ROSTERS=$SOURCE_ROOT/manifests/rosters
URL=$CARTABLE_TEST_PG_URL
C=$CARTABLE
q() { "$CARTABLE_TEST_PG_BIN/psql" -X -A -t -q "$URL" -c "$1"; }
printf '[station]\nstate-dir = %s/state\nname = atelier-1\n[journal]\nurl = %s\n' "$SCRATCH" "$URL" > cartable.conf
export CARTABLE_CONFIG=$SCRATCH/cartable.conf

# [journal] url: the roster goes to the server; a dry run there writes nothing.
expect_exit 0 "$C" roster import "$ROSTERS/demo-roster.csv" --dry-run
[ "$(q 'SELECT count(*) FROM information_schema.tables WHERE table_name = $$pupils$$')" = 1 ] || fail "schema not created"
[ "$(q 'SELECT count(*) FROM pupils')" = 0 ] || fail "the dry run wrote to the server"
expect_exit 0 "$C" roster import "$ROSTERS/demo-roster.csv"
expect_in out '^60 pupils: 59 added, 0 moved'
[ "$(q 'SELECT count(*) FROM pupils WHERE is_active = 1')" = 59 ] || fail "59 active pupils expected on the server"
expect_exit 0 "$C" roster list --school 0750001A --class 6A
[ "$(wc -l < out)" = "$(q "SELECT count(*) FROM pupils WHERE school = '0750001A' AND class_name = '6A' AND is_active = 1")" ] \
        || fail "roster list from the server: wrong count"

# Two stations offline at once each issue D1001 a key: each journal salted D1001's
# commitments its own way. Both pushed: both issues kept, the conflict reported (CONFLICT,
# exit 1), the second station's salt kept beside the first's; pushed again, nothing added.
for st in ecole-a ecole-b; do
        expect_exit 0 "$C" roster import "$ROSTERS/demo-roster.csv" --journal "$SCRATCH/$st.db"
        "$TOOL_JOURNAL_RECORD" "$SCRATCH/$st.db" 1 "$st" D1001 >/dev/null || fail "journal-record offline ($st)"
done
expect_exit 0 "$C" journal push "$SCRATCH/ecole-a.db" --to "$URL"
expect_in out ': 2 events added, 0 already there; 0 pupils added; 1 keys added, 0 updated; 0 conflicts$'
expect_exit 1 "$C" journal push "$SCRATCH/ecole-b.db" --to "$URL"
expect_in out '^CONFLICT pupil 0750001A/D1001: key usb:0781:5581:ecole-b-000000 issued on station ecole-b while holding key usb:0781:5581:ecole-a-000000: both kept'
expect_in out ': 2 events added, 0 already there; 0 pupils added; 1 keys added, 0 updated; 1 conflicts$'
expect_in err '1 pupil holds keys issued on two stations: settle it'
[ "$(q "SELECT count(*) FROM keys WHERE pupil_id = 'D1001' AND status = 'issued'")" = 2 ] || fail "both issues kept"
[ "$(q "SELECT count(*) FROM pupil_salts WHERE id = 'D1001'")" = 1 ] || fail "ecole-b's salt for D1001 not kept"
expect_exit 0 "$C" journal push "$SCRATCH/ecole-b.db" --to "$URL"
expect_in out ': 0 events added, 2 already there; 0 pupils added; 0 keys added, 0 updated; 0 conflicts$'
expect_exit 0 "$C" journal verify
expect_in out '^station ecole-a: 2 events, intact'
expect_in out '^station ecole-b: 2 events, intact'
# The server merged into a new SQLite journal: the conflict it holds is reported once, and
# everything verifies there too.
expect_exit 1 "$C" journal merge "$URL" --journal "$SCRATCH/clash.db"
expect_in out ': 4 events added, 0 already there; 60 pupils added; 2 keys added, 0 updated; 1 conflicts$'
expect_exit 0 "$C" journal verify --journal "$SCRATCH/clash.db"
[ "$(sqlite3 clash.db "SELECT count(*) FROM keys WHERE pupil_id = 'D1001' AND status = 'issued'")" = 2 ] \
        || fail "both issues in the SQLite copy"
# The report lists D1001 with both keys, each flagged as a conflict (CSV, JSON, HTML); no
# other key is.
expect_exit 0 "$C" report --journal "$URL" --school 0750001A --format csv --output "$SCRATCH/clash.csv"
[ "$(grep -c $'^0750001A;6A;D1001;.*;1\r$' clash.csv)" = 2 ] || { cat clash.csv; fail "the CSV report does not flag D1001's two keys"; }
[ "$(grep -c $';1\r$' clash.csv)" = 2 ] || { cat clash.csv; fail "the CSV report flags another key"; }
expect_exit 0 "$C" report --journal "$URL" --school 0750001A --format json --output "$SCRATCH/clash.json"
[ "$(jq '[.keys[] | select(.conflict)] | map(.pupil_id) | unique' -c clash.json)" = '["D1001"]' ] \
        || fail "the JSON report does not flag exactly D1001"
[ "$(jq '[.keys[] | select(.conflict)] | length' clash.json)" = 2 ] || fail "the JSON report: two keys flagged expected"
expect_exit 0 "$C" report --journal "$URL" --school 0750001A --format html --output "$SCRATCH/clash.html"
[ "$(grep -o "the pupil holds another issued key" clash.html | wc -l)" = 2 ] || fail "the HTML report does not flag D1001's two keys"
n_base=$(q 'SELECT count(*) FROM events')

# The collège, offline, issues D1004 and D1005 keys, and a third key fails.
expect_exit 0 "$C" roster import "$ROSTERS/demo-roster.csv" --journal "$SCRATCH/college.db"
"$TOOL_JOURNAL_RECORD" "$SCRATCH/college.db" 3 college-1 D1004 D1005 >/dev/null || fail "journal-record offline"
n_off=$(sqlite3 college.db 'SELECT count(*) FROM events')
expect_exit 0 "$C" journal verify --journal "$SCRATCH/college.db"
head_off=$(grep -o 'head college-1:[0-9]*:[0-9a-f]*' out)

# Pushed: every event arrives.
expect_exit 0 "$C" journal push "$SCRATCH/college.db" --to "$URL"
expect_in out "^merged .*college.db into postgresql:///cartable\?.*: $n_off events added, 0 already there; 0 pupils added; 3 keys added, 0 updated; 0 conflicts$"
[ "$(q "SELECT count(*) FROM keys WHERE pupil_id IN ('D1004', 'D1005') AND status = 'issued'")" = 2 ] || fail "the issues did not arrive"
# Twice: nothing added.
expect_exit 0 "$C" journal push "$SCRATCH/college.db" --to "$URL"
expect_in out ": 0 events added, $n_off already there; 0 pupils added; 0 keys added, 0 updated; 0 conflicts$"
[ "$(q 'SELECT count(*) FROM events')" = $((n_off + n_base)) ] || fail "events on the server: $(q 'SELECT count(*) FROM events')"
# The collège's chain verifies on the server with the head it had at home.
expect_exit 0 "$C" journal verify --head "${head_off#head }"
expect_in out "^station college-1: $n_off events, intact; $head_off$"
expect_in out "^journal intact: $((n_off + n_base)) events$"

# Any backend to any: the server's journal merged into a new SQLite file.
expect_exit 1 "$C" journal merge "$URL" --journal "$SCRATCH/copy.db"
expect_in out ": $((n_off + n_base)) events added, 0 already there; 60 pupils added; 5 keys added, 0 updated; 1 conflicts$"
expect_exit 0 "$C" journal verify --journal "$SCRATCH/copy.db"
expect_in out "^station college-1: $n_off events, intact; $head_off$"

# A purge of D1001 (left) erases both its salts; the chains still verify.
q "UPDATE pupils SET is_active = 0, left_usec = 1 WHERE id = 'D1001'" >/dev/null
# A station's role cannot purge (events are append-only for it): refused, nothing changed.
"$CARTABLE_TEST_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$URL" -f "$SOURCE_ROOT/manifests/schemas/journal-pg-grants.sql" \
        >/dev/null || fail "the station's GRANTs"
SURL=${URL/user=cartable_admin/user=cartable_station}
expect_exit 73 "$C" journal purge --left-before 2000-01-01 --journal "$SURL"
expect_in err "journal purge runs as the journal's owner role .*permission denied"
[ "$(q "SELECT count(*) FROM pupils WHERE id = 'D1001'")" = 1 ] || fail "a refused purge changed the journal"
# As the owner: purged, and VACUUM FULL leaves no old version of D1001's row in the table's
# file (CHECKPOINT, as the test server's superuser, puts the pages on disk before and after).
q "CHECKPOINT" >/dev/null
pupils_file=$CARTABLE_TEST_PG_DIR/data/$(q "SELECT pg_relation_filepath('pupils')")
can_read=false
if [ -r "$pupils_file" ]; then
        can_read=true
        grep -aq Mercier "$pupils_file" || fail "D1001's name not in $pupils_file before the purge: the check below sees nothing"
fi
expect_exit 0 "$C" journal purge --left-before 2000-01-01
[ "$(q "SELECT count(*) FROM pupil_salts")" = 0 ] || fail "the purge left D1001's other salt"
q "CHECKPOINT" >/dev/null
if $can_read; then
        ! grep -aq Mercier "$CARTABLE_TEST_PG_DIR/data/$(q "SELECT pg_relation_filepath('pupils')")" "$pupils_file" \
                2>/dev/null || fail "D1001's name is still in the pupils table's files after the purge"
else
        skip_part "cannot read the server's files (not root)"
fi
[ "$(q "SELECT count(*) FROM pupils WHERE id = 'D1001'")" = 0 ] || fail "the purge left D1001"
expect_exit 0 "$C" journal verify
expect_in out '^station ecole-b: 2 events, intact'

# A version 2 journal on PostgreSQL (a v3 one taken back to v2 by hand: what v3 added,
# dropped) is migrated on opening, and its chain verifies with the head it had.
V2URL=${URL/\/cartable?//v2journal?}
q "CREATE DATABASE v2journal" >/dev/null
expect_exit 0 "$C" roster import "$ROSTERS/demo-roster.csv" --journal "$V2URL"
"$TOOL_JOURNAL_RECORD" "$V2URL" 3 atelier-1 D1001 D1004 >/dev/null || fail "journal-record (v2)"
expect_exit 0 "$C" journal verify --journal "$V2URL"
head2=$(grep -o 'head atelier-1:[0-9]*:[0-9a-f]*' out)
"$CARTABLE_TEST_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$V2URL" -c "ALTER TABLE pupils DROP COLUMN claim_station, \
        DROP COLUMN claim_key, DROP COLUMN claim_usec; DROP TABLE pupil_salts; DROP INDEX events_started; ALTER TABLE events DROP COLUMN run; ALTER TABLE schools DROP COLUMN exported; ALTER TABLE pupils DROP COLUMN leaves_usec; \
        DELETE FROM schema_version WHERE version >= 3" \
        || fail "taking the journal back to v2"
expect_exit 0 "$C" journal verify --journal "$V2URL" --head "${head2#head }"
SCHEMA=$(sed -n 's/^#define JOURNAL_SCHEMA_VERSION //p' "$SOURCE_ROOT/lib/journal/journal.h")
[ "$("$CARTABLE_TEST_PG_BIN/psql" -X -A -t -q "$V2URL" -c 'SELECT max(version) FROM schema_version')" = "$SCHEMA" ] \
        || fail "the v2 journal was not migrated"
expect_in out "^station atelier-1: 5 events, intact; $head2$"

# Refusals: a password in the URL (never echoed), push to a file, a server that is not there.
expect_exit 65 "$C" journal show --journal "postgresql://cartable_admin:s3cret@/cartable?host=$CARTABLE_TEST_PG_DIR"
expect_in err 'the journal URL holds a password: remove it, and put it in the password file'
! grep -q s3cret err || fail "the password was echoed"
expect_exit 64 "$C" journal push "$SCRATCH/college.db" --to "$SCRATCH/other.db"
expect_in err 'journal push: --to postgresql://... names the central journal'
expect_exit 69 "$C" journal verify --journal "postgresql:///cartable?host=$SCRATCH&user=nobody"
expect_in err 'cannot connect to the journal server'
echo "journal-pg: ok"
