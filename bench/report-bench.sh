#!/bin/bash
# Reports at a département's scale: 100,000 pupils over 150 schools (bench/gen-siecle.py,
# imported by `roster import`) and 300,000 key events (flashed, issued, verified, lost,
# stolen, replaced, returned; written by SQLite's shell straight into the journal, since
# only the reports are measured here). Then `cartable report` in CSV, JSON and HTML over
# everything, and for one collège of about 600 pupils (the HTML size to e-mail). Then the
# same journal, row for row, in a PostgreSQL server (started by tests/pg-server.sh on a Unix
# socket; the tables copied with psql's \copy), and the same reports from it. Run once;
# prints wall and CPU seconds and peak memory of each (cartable's own: the server's work
# shows in the wall time), and peak memory for one school (memory flat: the key list is
# streamed, only per-class tables are held).
# Usage: bench/report-bench.sh [BUILD_DIR]   (NO_PG=1: SQLite only)
set -euo pipefail
BUILD=$(realpath "${1:-build}")
SRC=$(dirname "$(realpath "$0")")/..
CARTABLE=$BUILD/cmd/cartable
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (package time)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "needs sqlite3" >&2; exit 1; }
W=$(mktemp -d "${BENCH_DIR:-$PWD}/cartable-report-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
printf '[station]\nstate-dir = %s/state\nname = bench\n' "$W" > cartable.conf
export CARTABLE_CONFIG=$W/cartable.conf

python3 "$SRC/bench/gen-siecle.py" base --pupils 100000 --schools 150 2>/dev/null
"$CARTABLE" roster import base/*.xml --journal j.db > /dev/null

# Keys and events: 95 % of pupils hold a key (flashed, issued); one in three verified;
# 3 % lost and replaced by a new key, 1 % stolen, 1 % returned; months spread over a year.
sqlite3 -batch j.db <<'SQL'
BEGIN;
CREATE TEMP TABLE p AS SELECT row_number() OVER (ORDER BY school, id) AS n, school, id FROM pupils WHERE is_active = 1;
INSERT INTO keys (uid, serial, vid_pid, capacity, volume_id, status, pupil_school, pupil_id, created_usec, updated_usec)
  SELECT 'usb:0781:5581:S' || n, 'S' || n, '0781:5581', 8589934592, printf('%08X', n), 'issued', school, id,
         1756684800000000, 1756684800000000 FROM p WHERE n % 20 != 0;
CREATE TEMP TABLE ev (kind TEXT, n INTEGER, t INTEGER, outcome TEXT, rel INTEGER);
INSERT INTO ev SELECT 'flashed', n, 1756684800000000 + n * 1000000, 'ok', 3 + (n % 7 = 0) FROM p WHERE n % 20 != 0;
INSERT INTO ev SELECT 'issued', n, 1756684800000000 + n * 1000000 + 1, NULL, NULL FROM p WHERE n % 20 != 0;
INSERT INTO ev SELECT 'verified', n, 1767225600000000 + n * 1000000, CASE WHEN n % 97 = 0 THEN 'modified' ELSE 'intact' END, 3
  FROM p WHERE n % 20 != 0 AND n % 3 = 0;
INSERT INTO ev SELECT 'lost', n, 1756684800000000 + (n % 365) * 86400000000, NULL, NULL FROM p WHERE n % 20 != 0 AND n % 33 = 1;
INSERT INTO ev SELECT 'replaced', n, 1756684800000000 + (n % 365) * 86400000000 + 1, NULL, NULL FROM p WHERE n % 20 != 0 AND n % 33 = 1;
INSERT INTO ev SELECT 'stolen', n, 1756684800000000 + (n % 300) * 86400000000, NULL, NULL FROM p WHERE n % 20 != 0 AND n % 100 = 2;
INSERT INTO ev SELECT 'returned', n, 1756684800000000 + (n % 200) * 86400000000, NULL, NULL FROM p WHERE n % 20 != 0 AND n % 100 = 3;
-- Fill up to 300,000 with more verifications of the same keys.
INSERT INTO ev SELECT 'verified', n, 1769904000000000 + n * 1000000, 'intact', 3 FROM p WHERE n % 20 != 0
  LIMIT 300000 - (SELECT count(*) FROM ev);
INSERT INTO events (uuid, station, station_seq, kind, time_usec, operator, pupil_school, pupil_id, key_uid, key_serial,
                    release_name, release_version, release_serial, outcome, volume_id, prev_hash, hash)
  SELECT 'u' || ev.rowid, 'bench', ev.rowid, ev.kind, ev.t, 'bench', p.school, p.id, 'usb:0781:5581:S' || p.n, 'S' || p.n,
         CASE WHEN ev.rel IS NOT NULL THEN 'ent-college' END, CASE WHEN ev.rel IS NOT NULL THEN '2026.' || ev.rel END,
         ev.rel, ev.outcome, printf('%08X', p.n), '', ''
  FROM ev JOIN p ON p.n = ev.n ORDER BY ev.t;
UPDATE keys SET status = 'lost' WHERE CAST(substr(serial, 2) AS INTEGER) % 33 = 1;
COMMIT;
SQL

declare -A wall cpu mem
run() {
        local name=$1; shift
        /usr/bin/time -f '%e %U %S %M' -o "time.$name" "$@" >"out.$name" 2>"err.$name" || { cat "err.$name" >&2; exit 1; }
        read -r w u s m < "time.$name"
        wall[$name]=$w; cpu[$name]=$(echo "$u + $s" | bc); mem[$name]=$m
}
for f in csv json html; do
        run "all-$f" "$CARTABLE" report --format "$f" --output "all.$f" --journal j.db
done
school=$(sqlite3 j.db "SELECT school FROM pupils GROUP BY school ORDER BY abs(count(*) - 600) LIMIT 1")
n_school=$(sqlite3 j.db "SELECT count(*) FROM pupils WHERE school = '$school' AND is_active = 1")
for f in csv json html; do
        run "one-$f" "$CARTABLE" report --school "$school" --format "$f" --output "one.$f" --journal j.db
done
run receipts "$CARTABLE" report receipts --school "$school" --class "$(sqlite3 j.db "SELECT class_name FROM pupils WHERE school = '$school' LIMIT 1")" --output receipts.html --journal j.db

# The same rows in PostgreSQL: the schema made by cartable, the tables copied as they are.
pg_done=false
if [ -z "${NO_PG:-}" ]; then
        for t in schools imports pupils keys events; do
                sqlite3 -batch -separator $'\t' -nullvalue '\N' j.db "SELECT * FROM $t" > "$t.tsv"
        done
        export CARTABLE W school
        "$SRC/tests/pg-server.sh" bash -c '
                set -euo pipefail
                cd "$W"
                "$CARTABLE" roster list --journal "$CARTABLE_TEST_PG_URL" > /dev/null
                for t in schools imports pupils keys events; do
                        "$CARTABLE_TEST_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$CARTABLE_TEST_PG_URL" -c "\\copy $t FROM $W/$t.tsv"
                done
                "$CARTABLE_TEST_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$CARTABLE_TEST_PG_URL" -c "VACUUM ANALYZE"
                pg() { local name=$1; shift
                        /usr/bin/time -f "%e %U %S %M" -o "time.$name" "$@" >"out.$name" 2>"err.$name" || { cat "err.$name" >&2; exit 1; }; }
                for f in csv json html; do
                        pg "pg-all-$f" "$CARTABLE" report --format "$f" --output "pg-all.$f" --journal "$CARTABLE_TEST_PG_URL"
                        pg "pg-one-$f" "$CARTABLE" report --school "$school" --format "$f" --output "pg-one.$f" --journal "$CARTABLE_TEST_PG_URL"
                done
                # The same report from both journals, byte for byte (JSON and HTML carry the time
                # they were made).
                nodate() { sed "s/\"generated\":\"[^\"]*\"//" "$1"; }
                cmp all.csv pg-all.csv && cmp one.csv pg-one.csv && cmp <(nodate all.json) <(nodate pg-all.json)' \
                || { echo "the PostgreSQL part failed" >&2; exit 1; }
        for s in pg-all-csv pg-all-json pg-all-html pg-one-csv pg-one-json pg-one-html; do
                read -r w u c m < "time.$s"
                wall[$s]=$w; cpu[$s]=$(echo "$u + $c" | bc); mem[$s]=$m
        done
        pg_done=true
fi

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (wall times under load; CPU = user + sys)"
printf 'journal: %s pupils, %s keys, %s events over %s schools\n' "$(sqlite3 j.db 'SELECT count(*) FROM pupils')" \
        "$(sqlite3 j.db 'SELECT count(*) FROM keys')" "$(sqlite3 j.db 'SELECT count(*) FROM events')" \
        "$(sqlite3 j.db 'SELECT count(*) FROM schools')"
printf '%-14s %8s %8s %10s %12s\n' report wall-s cpu-s peak-KiB bytes
for s in all-csv all-json all-html one-csv one-json one-html receipts; do
        case $s in all-*) out=all.${s#all-};; one-*) out=one.${s#one-};; *) out=receipts.html;; esac
        printf '%-14s %8s %8s %10s %12s\n' "$s" "${wall[$s]}" "${cpu[$s]}" "${mem[$s]}" "$(stat -c %s "$out")"
done
if $pg_done; then
        echo "the same reports from PostgreSQL (same rows; CSV and JSON identical to SQLite's):"
        for s in pg-all-csv pg-all-json pg-all-html pg-one-csv pg-one-json pg-one-html; do
                out=${s#pg-}; out=pg-${out%-*}.${s##*-}
                printf '%-14s %8s %8s %10s %12s\n' "$s" "${wall[$s]}" "${cpu[$s]}" "${mem[$s]}" "$(stat -c %s "$out")"
        done
fi
echo "one school: $school, $n_school active pupils"
gzip -9 < one.html | wc -c | xargs printf 'its HTML report gzipped: %s bytes\n'
