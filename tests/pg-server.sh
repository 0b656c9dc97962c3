#!/bin/bash
# pg-server.sh COMMAND...: run COMMAND against a PostgreSQL server of its own. initdb into a
# temporary directory as the unprivileged user postgres, listening on a Unix socket in that
# directory only (no TCP), password authentication with the password in a PGPASSFILE (as
# a station's would be); torn down after. COMMAND gets:
#   CARTABLE_TEST_PG_URL   postgresql:///cartable?host=DIR&user=cartable_admin (no password)
#   CARTABLE_TEST_PG_CTL   "pg_ctl -D DATA" run as postgres, to stop or start the server
#   CARTABLE_TEST_PG_DIR   the socket directory
#   PGPASSFILE             the passwords of cartable_admin and of the station roles cartable_station
#                          and cartable_station2
# CARTABLE_PG_FSYNC=on: a server that syncs its commits (the bench); tests run with fsync off.
# Without PostgreSQL's binaries: skip (77), or fail when CI=true.
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
        if [ "${CI:-}" = true ]; then
                echo "pg-server: CI=true and no PostgreSQL server binaries (apt-get install postgresql)" >&2
                exit 1
        fi
        echo "SKIP: no PostgreSQL server binaries (apt-get install postgresql)" >&2
        exit 77
fi
# initdb refuses root; as another user, run as that user.
runas=()
if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || { echo "pg-server: running as root and no user postgres" >&2; exit 77; }
        runas=(runuser -u postgres --)
fi

dir=$(mktemp -d /tmp/cartable-pg-XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres: "$dir"
chmod 0711 "$dir"
cleanup() {
        "${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$dir"
}
trap cleanup EXIT

printf 'admin-%s\n' "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" >"$dir/pw"
[ "$(id -u)" = 0 ] && chown postgres: "$dir/pw"
"${runas[@]}" "$bindir/initdb" -D "$dir/data" -U cartable_admin --pwfile="$dir/pw" -A scram-sha-256 \
        --no-locale -E UTF8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
"${runas[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-c listen_addresses='' -k $dir -c fsync=${CARTABLE_PG_FSYNC:-off} -c max_connections=40" start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }

station_pw="station-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
{
        echo "*:*:*:cartable_admin:$(cat "$dir/pw")"
        echo "*:*:*:cartable_station:$station_pw"
        echo "*:*:*:cartable_station2:$station_pw-2"
} >"$dir/pgpass"
chmod 0600 "$dir/pgpass"
export PGPASSFILE="$dir/pgpass"
"$bindir/psql" -q -X -v ON_ERROR_STOP=1 -h "$dir" -U cartable_admin -d postgres \
        -c "CREATE DATABASE cartable" \
        -c "CREATE ROLE cartable_station LOGIN PASSWORD '$station_pw'" \
        -c "CREATE ROLE cartable_station2 LOGIN PASSWORD '$station_pw-2'" >/dev/null

export CARTABLE_TEST_PG_URL="postgresql:///cartable?host=$dir&user=cartable_admin"
export CARTABLE_TEST_PG_CTL="${runas[*]} $bindir/pg_ctl -D $dir/data -l $dir/server.log -w"
export CARTABLE_TEST_PG_OPTS="-c listen_addresses='' -k $dir -c fsync=${CARTABLE_PG_FSYNC:-off} -c max_connections=40"
export CARTABLE_TEST_PG_DIR="$dir"
export CARTABLE_TEST_PG_BIN="$bindir"
"$@"
