#!/bin/bash
# Reading SIECLE exports with lib/roster (tests/tools/roster-read, which calls roster_read()
# and prints nothing per pupil): 100,000 pupils over 150 schools (bench/gen-siecle.py), as
# XML and as zips, and one school of 1,000 then of 100,000 pupils to show that memory does
# not grow with the roster; then hostile files, one ELEVE with millions of children (issue
# 22: a 280 KB zip took 3 GB), which must read in the same few MB; then `cartable roster
# import` of the 100,000-pupil school into a new journal (the reader and the sync). The peer
# is xmllint --stream --noout, which only parses the same files once (cartable reads each
# twice: classes, then pupils). Run once; prints CPU seconds (user + sys, what the 2 shared
# cores cannot blur), wall seconds and peak memory.
# Usage: bench/roster-read.sh [BUILD_DIR]
set -euo pipefail
BUILD=$(realpath "${1:-build}")
READ=$BUILD/tests/tools/roster-read
CARTABLE=$BUILD/cmd/cartable
GEN=$(dirname "$(realpath "$0")")/gen-siecle.py
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (package time)" >&2; exit 1; }
command -v xmllint >/dev/null || { echo "needs xmllint (package libxml2-utils)" >&2; exit 1; }
W=$(mktemp -d "${BENCH_DIR:-$PWD}/cartable-roster-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT

python3 "$GEN" "$W/xml"
python3 "$GEN" "$W/zip" --zip
python3 "$GEN" "$W/one1k" --schools 1 --pupils 1000
python3 "$GEN" "$W/one100k" --schools 1 --pupils 100000
python3 "$GEN" "$W/hostile-zip" --hostile-children 14000000 --zip
python3 "$GEN" "$W/hostile-xml" --hostile-children 3600000
printf '[station]\nstate-dir = %s/state\nname = bench\n' "$W" > "$W/cartable.conf"

# run NAME CMD...: CPU seconds, wall seconds and peak resident KiB, from time -v.
declare -A cpu wall mem
run() {
        local name=$1; shift
        /usr/bin/time -v -o "$W/time.$name" "$@" >"$W/out.$name" 2>"$W/err.$name" ||
                { cat "$W/err.$name" >&2; exit 1; }
        cpu[$name]=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$W/time.$name")
        wall[$name]=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
                for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$W/time.$name")
        mem[$name]=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$W/time.$name")
}

run xml "$READ" --quiet "$W"/xml/*.xml
run zip "$READ" --quiet "$W"/zip/*.zip
run one1k "$READ" --quiet "$W"/one1k/*.xml
run one100k "$READ" --quiet "$W"/one100k/*.xml
run xmllint xmllint --stream --noout "$W"/xml/*.xml
run hostile-zip "$READ" --quiet "$W"/hostile-zip/*.zip
run hostile-xml "$READ" --quiet "$W"/hostile-xml/*.xml
run xmllint-hostile xmllint --stream --noout "$W"/hostile-xml/*.xml
run xmllint-one100k xmllint --stream --noout "$W"/one100k/*.xml
run import env CARTABLE_CONFIG="$W/cartable.conf" "$CARTABLE" roster import "$W"/one100k/*.xml --journal "$W/j.db"
grep -q "^1 pupils in 1 files" "$W/out.hostile-zip" || { echo "roster-read: $(cat "$W/out.hostile-zip")" >&2; exit 1; }
grep -q "^100000 pupils: 100000 added" "$W/out.import" || { echo "import: $(tail -1 "$W/out.import")" >&2; exit 1; }
grep -q "^100000 pupils in 150 files" "$W/out.xml" || { echo "roster-read: $(cat "$W/out.xml")" >&2; exit 1; }
grep -q "^100000 pupils in 150 files" "$W/out.zip" || { echo "roster-read: $(cat "$W/out.zip")" >&2; exit 1; }

printf '%-44s %8s %8s %10s\n' "read" "cpu s" "wall s" "peak KiB"
printf '%-44s %8s %8s %10s\n' "cartable: 150 schools, 100,000 pupils, XML" "${cpu[xml]}" "${wall[xml]}" "${mem[xml]}"
printf '%-44s %8s %8s %10s\n' "cartable: the same, zipped" "${cpu[zip]}" "${wall[zip]}" "${mem[zip]}"
printf '%-44s %8s %8s %10s\n' "cartable: one school, 1,000 pupils" "${cpu[one1k]}" "${wall[one1k]}" "${mem[one1k]}"
printf '%-44s %8s %8s %10s\n' "cartable: one school, 100,000 pupils" "${cpu[one100k]}" "${wall[one100k]}" "${mem[one100k]}"
printf '%-44s %8s %8s %10s\n' "xmllint --stream --noout (one pass, 150)" "${cpu[xmllint]}" "${wall[xmllint]}" "${mem[xmllint]}"
printf '%-44s %8s %8s %10s\n' "xmllint: one school, 100,000 pupils" "${cpu[xmllint-one100k]}" "${wall[xmllint-one100k]}" "${mem[xmllint-one100k]}"
printf '%-44s %8s %8s %10s\n' "cartable: 1 ELEVE, 14M children, $(stat -c %s "$W"/hostile-zip/*.zip) B zip" "${cpu[hostile-zip]}" "${wall[hostile-zip]}" "${mem[hostile-zip]}"
printf '%-44s %8s %8s %10s\n' "cartable: 1 ELEVE, 3.6M children, 36 MB XML" "${cpu[hostile-xml]}" "${wall[hostile-xml]}" "${mem[hostile-xml]}"
printf '%-44s %8s %8s %10s\n' "xmllint: the same 36 MB XML" "${cpu[xmllint-hostile]}" "${wall[xmllint-hostile]}" "${mem[xmllint-hostile]}"
printf '%-44s %8s %8s %10s\n' "cartable roster import, 100,000 pupils" "${cpu[import]}" "${wall[import]}" "${mem[import]}"
awk -v a="${cpu[xml]}" -v b="${cpu[xmllint]}" -v m1="${mem[one1k]}" -v m2="${mem[one100k]}" 'BEGIN {
        printf "cpu: %.2f x xmllint; memory for 100x the pupils: %.2f x\n", (b > 0 ? a / b : 0), m2 / m1 }'
