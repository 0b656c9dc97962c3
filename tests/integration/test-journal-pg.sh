#!/bin/bash
# The journal on PostgreSQL from the command line ([journal] url, --journal URL), and an
# offline station's SQLite journal pushed to it twice. Runs under tests/pg-server.sh, which
# starts the server; psql is the independent oracle.
. "$(dirname "$0")/lib.sh"
: "${CARTABLE_TEST_PG_URL:?run under tests/pg-server.sh}"
: "${TOOL_JOURNAL_RECORD:?}"
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

# The workshop issues D1001 a key; the collège, offline, issues D1001 a key too: each journal
# salted D1001's commitments its own way, so the push is refused, naming the pupil.
"$TOOL_JOURNAL_RECORD" "$URL" 1 atelier-1 D1001 >/dev/null || fail "journal-record on the server"
expect_exit 0 "$C" roster import "$ROSTERS/demo-roster.csv" --journal "$SCRATCH/clash.db"
"$TOOL_JOURNAL_RECORD" "$SCRATCH/clash.db" 1 college-1 D1001 >/dev/null || fail "journal-record offline"
expect_exit 65 "$C" journal push "$SCRATCH/clash.db" --to "$URL"
expect_in err 'pupil 0750001A/D1001 has events in both journals under different salts: .* nothing was merged'
[ "$(q 'SELECT count(*) FROM events')" = 2 ] || fail "a refused push added events"

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
[ "$(q 'SELECT count(*) FROM events')" = $((n_off + 2)) ] || fail "events on the server: $(q 'SELECT count(*) FROM events')"
# The collège's chain verifies on the server with the head it had at home.
expect_exit 0 "$C" journal verify --head "${head_off#head }"
expect_in out "^station college-1: $n_off events, intact; $head_off$"
expect_in out "^journal intact: $((n_off + 2)) events$"

# Any backend to any: the server's journal merged into a new SQLite file.
expect_exit 0 "$C" journal merge "$URL" --journal "$SCRATCH/copy.db"
expect_in out ": $((n_off + 2)) events added, 0 already there; 60 pupils added; 4 keys added, 0 updated; 0 conflicts$"
expect_exit 0 "$C" journal verify --journal "$SCRATCH/copy.db"
expect_in out "^station college-1: $n_off events, intact; $head_off$"

# Refusals: a password in the URL (never echoed), push to a file, a server that is not there.
expect_exit 65 "$C" journal show --journal "postgresql://cartable_admin:s3cret@/cartable?host=$CARTABLE_TEST_PG_DIR"
expect_in err 'the journal URL holds a password: remove it, and put it in the password file'
! grep -q s3cret err || fail "the password was echoed"
expect_exit 64 "$C" journal push "$SCRATCH/college.db" --to "$SCRATCH/other.db"
expect_in err 'journal push: --to postgresql://... names the central journal'
expect_exit 69 "$C" journal verify --journal "postgresql:///cartable?host=$SCRATCH&user=nobody"
expect_in err 'cannot connect to the journal server'
echo "journal-pg: ok"
