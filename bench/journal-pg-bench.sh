#!/bin/bash
# One journal for a département: 8 stations writing at once into one PostgreSQL server
# (started for the bench by tests/pg-server.sh, fsync on, on a Unix socket) against 8 into
# one SQLite file, and 1 writer of each. Each writer is tests/tools/journal-record: a flash
# recorded per transaction, committed (and synced) before the next, as flash and batch do.
# Prints events per second (all writers together, wall clock) and checks every chain.
# Usage: bench/journal-pg-bench.sh [BUILD_DIR]   (EVENTS=N per writer, default 400)
set -euo pipefail
BUILD=$(realpath "${1:-build}")
SRC=$(dirname "$(realpath "$0")")/..
RECORD=$BUILD/tests/tools/journal-record
CARTABLE=$BUILD/cmd/cartable
EVENTS=${EVENTS:-400}
W=$(mktemp -d "${BENCH_DIR:-$PWD}/cartable-journal-pg-bench.XXXXXX")   # on disk, not tmpfs
trap 'rm -rf "$W"' EXIT

# writers N JOURNAL: N stations at once, EVENTS flashes each; prints events/s.
writers() {
        local n=$1 journal=$2 start end pids=()
        "$RECORD" "$journal" 0 >/dev/null          # the schema, before the clock starts
        start=$(date +%s.%N)
        for i in $(seq 1 "$n"); do
                "$RECORD" "$journal" "$EVENTS" "station-$i" >/dev/null & pids+=($!)
        done
        for p in "${pids[@]}"; do wait "$p" || { echo "a writer failed" >&2; exit 1; }; done
        end=$(date +%s.%N)
        "$CARTABLE" journal verify --journal "$journal" >"$W/verify" || { cat "$W/verify" >&2; exit 1; }
        grep -q "journal intact: $((n * EVENTS)) events" "$W/verify" || { cat "$W/verify" >&2; exit 1; }
        echo "$n $EVENTS $start $end" | awk '{ printf "%.0f", $1 * $2 / ($4 - $3) }'
}

export CARTABLE_CONFIG=/dev/null RECORD CARTABLE EVENTS W
export -f writers
sq1=$(writers 1 "$W/one.db")
sq8=$(writers 8 "$W/eight.db")
export CARTABLE_PG_FSYNC=on
read -r pg1 pg8 < <("$SRC/tests/pg-server.sh" bash -c '
        admin() { "$CARTABLE_TEST_PG_BIN/psql" -X -q "$CARTABLE_TEST_PG_URL" -c "$1"; }
        one="${CARTABLE_TEST_PG_URL/\/cartable\?//one?}"; eight="${CARTABLE_TEST_PG_URL/\/cartable\?//eight?}"
        admin "CREATE DATABASE one" && admin "CREATE DATABASE eight"
        echo "$(writers 1 "$one") $(writers 8 "$eight")"')
printf '%-34s %10s %10s\n' "journal, $EVENTS flashes per writer" "1 writer" "8 writers"
printf '%-34s %10s %10s\n' "SQLite file (WAL, synchronous=FULL)" "$sq1" "$sq8"
printf '%-34s %10s %10s\n' "PostgreSQL 15 (fsync on, socket)" "$pg1" "$pg8"
echo "(events per second, all writers together; every chain verified after)"
