#!/bin/bash
# A département's journal with registered stations: STATIONS roles, each serving
# SCHOOLS/STATIONS schools of a roster of PUPILS pupils, all writing at once into one
# PostgreSQL server (tests/pg-server.sh, fsync on). Each writer is tests/tools/journal-record
# as its station's role: KEYS keys flashed and issued to pupils of its first school, one
# transaction per key (flash, issue: the key's row, the pupil's, two events). Run twice, on
# two databases of the same server: with row-level security, the events_station trigger and
# signatures, and without them (RLS disabled, the trigger dropped, no station key). Prints
# events per second (wall clock, all writers), and the time of a report for one school (as
# its station, and as the owner) and for the département (as the owner). Claims (cartable
# batch's roster mode) are not measured here.
# Usage: bench/stations-bench.sh [BUILD_DIR]
#   STATIONS=30 SCHOOLS=150 PUPILS=130000 KEYS=40
set -euo pipefail
BUILD=$(realpath "${1:-build}")
SRC=$(dirname "$(realpath "$0")")/..
export RECORD=$BUILD/tests/tools/journal-record CARTABLE=$BUILD/cmd/cartable
export STATIONS=${STATIONS:-30} SCHOOLS=${SCHOOLS:-150} PUPILS=${PUPILS:-130000} KEYS=${KEYS:-40}
W=$(mktemp -d "${BENCH_DIR:-$PWD}/cartable-stations-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
export W

# The roster: school s (UAI 07500sssX) has pupils S<s>-<i>, 30 to a class.
awk -v p="$PUPILS" -v s="$SCHOOLS" 'BEGIN {
        print "id;uai;classe;nom;prénom;date de sortie"
        for (i = 0; i < p; i++) { k = i % s; n = int(i / s)
                printf "S%d-%d;%07dX;C%d;Nom%d;Prenom%d;\n", k, n, 750000 + k, int(n / 30), i, i }
}' > "$W/roster.csv"

export CARTABLE_PG_FSYNC=on
"$SRC/tests/pg-server.sh" bash -c '
set -euo pipefail
psql() { "$CARTABLE_TEST_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
for i in $(seq "$STATIONS"); do
        psql "$CARTABLE_TEST_PG_URL" -c "CREATE ROLE st$i LOGIN PASSWORD '\''pw-st$i'\''" >/dev/null
        echo "*:*:*:st$i:pw-st$i" >> "$PGPASSFILE"
done
per=$((SCHOOLS / STATIONS))
run() {   # run DB MODE: import, register, write, report; prints "events/s report-school-station report-school-owner report-all"
        local db=$1 mode=$2 url owner
        owner=${CARTABLE_TEST_PG_URL/\/cartable\?//$db?}
        psql "$CARTABLE_TEST_PG_URL" -c "CREATE DATABASE $db" >/dev/null
        printf "[station]\nstate-dir = %s/owner\nname = owner\n" "$W" > "$W/owner.conf"
        CARTABLE_CONFIG=$W/owner.conf "$CARTABLE" roster import "$W/roster.csv" --journal "$owner" >/dev/null 2>&1
        for i in $(seq "$STATIONS"); do
                local args=()
                for s in $(seq $(((i - 1) * per)) $((i * per - 1))); do args+=(--school "$(printf %07dX $((750000 + s)))"); done
                printf "[station]\nstate-dir = %s/st%d\n" "$W" "$i" > "$W/st$i.conf"
                CARTABLE_CONFIG=$W/st$i.conf "$CARTABLE" journal station key > "$W/st$i.pub"
                CARTABLE_CONFIG=$W/owner.conf "$CARTABLE" journal station add "st$i" --role "st$i" "${args[@]}" \
                        --public-key "$W/st$i.pub" --journal "$owner" >/dev/null
        done
        if [ "$mode" = plain ]; then
                psql "$owner" -c "DROP TRIGGER events_station ON events" \
                        -c "ALTER TABLE pupils DISABLE ROW LEVEL SECURITY" -c "ALTER TABLE keys DISABLE ROW LEVEL SECURITY" \
                        -c "ALTER TABLE pupil_salts DISABLE ROW LEVEL SECURITY" -c "ALTER TABLE imports DISABLE ROW LEVEL SECURITY" \
                        -c "ALTER TABLE schools DISABLE ROW LEVEL SECURITY" -c "UPDATE stations SET public_key = NULL" >/dev/null
        fi
        local start end pids=()
        start=$(date +%s.%N)
        for i in $(seq "$STATIONS"); do
                local pupils=() k=$(((i - 1) * per))
                for n in $(seq 0 $((KEYS - 1))); do pupils+=("S$k-$n"); done
                if [ "$mode" = rls ]; then
                        CARTABLE_TEST_SIGN_KEY=$W/st$i/station.key "$RECORD" "${owner/user=cartable_admin/user=st$i}" "$KEYS" "st$i" "${pupils[@]}" >/dev/null & pids+=($!)
                else
                        "$RECORD" "${owner/user=cartable_admin/user=st$i}" "$KEYS" "st$i" "${pupils[@]}" >/dev/null & pids+=($!)
                fi
        done
        for p in "${pids[@]}"; do wait "$p" || { echo "a writer failed" >&2; exit 1; }; done
        end=$(date +%s.%N)
        CARTABLE_CONFIG=$W/owner.conf "$CARTABLE" journal verify --journal "$owner" > "$W/verify" || { tail "$W/verify" >&2; exit 1; }
        local n
        n=$(psql "$owner" -A -t -c "SELECT count(*) FROM events WHERE station LIKE '\''st%'\''")
        rep() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>"$W/rep.err" || { cat "$W/rep.err" >&2; exit 1; }; t1=$(date +%s.%N); echo "$t0 $t1" | awk "{ printf \"%.2f\", \$2 - \$1 }"; }
        printf "[station]\nstate-dir = %s/st1\n[journal]\nurl = %s\n" "$W" "${owner/user=cartable_admin/user=st1}" > "$W/st1r.conf"
        echo "$n $start $end" | awk "{ printf \"%.0f \", \$1 / (\$3 - \$2) }"
        echo "$(rep env CARTABLE_CONFIG=$W/st1r.conf "$CARTABLE" report --school 0750000X --format csv) " \
             "$(rep env CARTABLE_CONFIG=$W/owner.conf "$CARTABLE" report --journal "$owner" --school 0750000X --format csv) " \
             "$(rep env CARTABLE_CONFIG=$W/owner.conf "$CARTABLE" report --journal "$owner" --format csv)"
}
echo "with row-level security, trigger and signatures: $(run rls rls)"
echo "without: $(run plain plain)"
' | awk -v st="$STATIONS" -v sc="$SCHOOLS" -v p="$PUPILS" -v k="$KEYS" '
{ sub(/: /, ":\t"); split($0, a, "\t"); split(a[2], f, " ")
  printf "%s %s events/s (%d stations x %d keys, %d pupils, %d schools); report, one school: %s s as its station, %s s as the owner; the département: %s s\n", a[1], f[1], st, k, p, sc, f[2], f[3], f[4] }'
