#!/bin/bash
# What a station's Ed25519 signature costs per event: EVENTS flashes recorded by
# tests/tools/journal-record in one transaction into an SQLite journal, without and with a
# station key (CARTABLE_TEST_SIGN_KEY), then `journal verify` of each journal, the signed one
# with the station registered (its signatures checked). CPU time (user + system) of the
# best of ROUNDS runs, so that a loaded machine's waiting is not counted.
# Usage: bench/journal-sign-bench.sh [BUILD_DIR]   (EVENTS=N, default 20000; ROUNDS=N, default 3)
set -euo pipefail
BUILD=$(realpath "${1:-build}")
RECORD=$BUILD/tests/tools/journal-record
CARTABLE=$BUILD/cmd/cartable
EVENTS=${EVENTS:-20000}
ROUNDS=${ROUNDS:-3}
W=$(mktemp -d "${BENCH_DIR:-$PWD}/cartable-sign-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
export CARTABLE_CONFIG=/dev/null

# cpu CMD...: the CPU seconds CMD took (user + system).
cpu() {
        /usr/bin/time -f '%U %S' -o "$W/time" "$@" >/dev/null
        awk '{ printf "%.3f", $1 + $2 }' "$W/time"
}
best() { sort -g | head -n 1; }

for kind in plain signed; do
        for r in $(seq "$ROUNDS"); do
                rm -f "$W/$kind.db"*
                "$RECORD" "$W/$kind.db" 0 st >/dev/null
                if [ "$kind" = signed ]; then
                        export CARTABLE_TEST_SIGN_KEY=$W/station.key
                        cpu "$RECORD" "$W/$kind.db" "+$EVENTS" st
                        unset CARTABLE_TEST_SIGN_KEY
                else
                        cpu "$RECORD" "$W/$kind.db" "+$EVENTS" st
                fi
                echo
        done | best > "$W/$kind.record"
done
printf '[station]\nstate-dir = %s\n' "$W" > "$W/conf"
CARTABLE_CONFIG=$W/conf "$CARTABLE" journal station key > "$W/st.pub"
"$CARTABLE" journal station add st --school 0750001A --public-key "$W/st.pub" --journal "$W/signed.db" >/dev/null
# Registered after its events: they are checked only from signed_from; from the first here.
sqlite3 "$W/signed.db" "UPDATE stations SET signed_from = 1"
for kind in plain signed; do
        for r in $(seq "$ROUNDS"); do
                cpu "$CARTABLE" journal verify --journal "$W/$kind.db"
                echo
        done | best > "$W/$kind.verify"
done
"$CARTABLE" journal verify --journal "$W/signed.db" | grep -q "journal intact: $EVENTS events" \
        || { echo "the signed journal does not verify" >&2; exit 1; }
awk -v n="$EVENTS" -v rp="$(cat "$W/plain.record")" -v rs="$(cat "$W/signed.record")" \
    -v vp="$(cat "$W/plain.verify")" -v vs="$(cat "$W/signed.verify")" 'BEGIN {
        printf "record %d events: %.3f s unsigned, %.3f s signed: %.1f us per event to sign\n", n, rp, rs, (rs - rp) * 1e6 / n
        printf "verify %d events: %.3f s unsigned, %.3f s signed: %.1f us per event to check\n", n, vp, vs, (vs - vp) * 1e6 / n
}'
