#!/bin/bash
# The journal at a département's scale: SIECLE exports of 100,000 pupils over 150 schools
# (bench/gen-siecle.py) imported in one `roster import`, re-imported with 5 % of the pupils
# changed, then 300,000 key events recorded and `journal verify` over them. Side by side:
# SQLite's own shell loading the same number of rows from a CSV (.import), the floor of
# any SQLite-backed import. Run once; prints wall and CPU seconds and peak memory of each
# step, and the peak memory of one school alone (memory flat in the roster's size).
# Usage: bench/roster-bench.sh [BUILD_DIR]
set -euo pipefail
BUILD=$(realpath "${1:-build}")
SRC=$(dirname "$(realpath "$0")")/..
CARTABLE=$BUILD/cmd/cartable
RECORD=$BUILD/tests/tools/journal-record
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (package time)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "needs sqlite3" >&2; exit 1; }
W=$(mktemp -d "${BENCH_DIR:-$PWD}/cartable-roster-bench.XXXXXX")   # on disk, not tmpfs
trap 'rm -rf "$W"' EXIT
cd "$W"
printf '[station]\nstate-dir = %s/state\nname = bench\n' "$W" > cartable.conf
export CARTABLE_CONFIG=$W/cartable.conf

python3 "$SRC/bench/gen-siecle.py" base --pupils 100000 --schools 150 2>/dev/null
python3 "$SRC/bench/gen-siecle.py" changed --pupils 100000 --schools 150 --change-percent 5 2>gen.log
sync

# run NAME CMD...: wall and CPU seconds, peak resident KiB.
declare -A wall cpu mem
run() {
        local name=$1; shift
        /usr/bin/time -f '%e %U %S %M' -o "time.$name" "$@" >"out.$name" 2>"err.$name" || { cat "err.$name" >&2; exit 1; }
        read -r w u s m < "time.$name"
        wall[$name]=$w; cpu[$name]=$(echo "$u + $s" | bc); mem[$name]=$m
}

run import "$CARTABLE" roster import base/*.xml --journal j.db
run reimport "$CARTABLE" roster import changed/*.xml --journal j.db
run one-school "$CARTABLE" roster import "$(ls changed/*.xml | head -1)" --journal one.db
run events "$RECORD" j.db +300000 bench
run verify "$CARTABLE" journal verify --journal j.db
run export "$CARTABLE" journal export --format csv --output events.csv --journal j.db

# The floor: SQLite's shell loading 100,000 rows of the same shape into an indexed table.
sqlite3 -batch j.db -csv "SELECT school, id, family_name, first_name, class_name FROM pupils" > pupils.csv
cat > floor.sql <<'SQL'
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE p (school TEXT, id TEXT, family_name TEXT, first_name TEXT, class_name TEXT, PRIMARY KEY (school, id));
.import --csv pupils.csv p
SQL
run sqlite3-import sqlite3 -batch floor.db ".read floor.sql"

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (wall times under load; CPU = user + sys)"
tail -1 out.import
tail -1 out.reimport
grep -h . gen.log || true
printf '%-16s %8s %8s %10s\n' step wall-s cpu-s peak-KiB
for s in import reimport one-school events verify export sqlite3-import; do
        printf '%-16s %8s %8s %10s\n' "$s" "${wall[$s]}" "${cpu[$s]}" "${mem[$s]}"
done
printf 'journal: %s bytes for %s pupils and %s events\n' "$(stat -c %s j.db)" \
        "$(sqlite3 j.db 'SELECT count(*) FROM pupils')" "$(sqlite3 j.db 'SELECT count(*) FROM events')"
