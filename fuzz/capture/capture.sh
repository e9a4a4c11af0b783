#!/usr/bin/env bash
# Records real client traffic for the fuzzers' seed corpus. Run it under the test servers:
#   scripts/with-servers.sh fuzz/capture/capture.sh OUTDIR
# psql, pgbench (simple, extended, prepared), psycopg 3, asyncpg and pgjdbc talk to the
# throwaway PostgreSQL through relay.py, which writes each connection's bytes to OUTDIR.
# fuzz/capture/make_seeds.py then turns them into inputs for each harness.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:?usage: capture.sh OUTDIR}
: "${PGSTASH_TEST_PG_PORT:?run under scripts/with-servers.sh}"
mkdir -p "$out"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
/usr/bin/python3 "$here/relay.py" "$port" "$PGSTASH_TEST_PG_PORT" "$out" &
relay=$!
trap 'kill $relay 2>/dev/null || true' EXIT
sleep 0.5
export PGPASSWORD=$PGSTASH_TEST_PG_PASSWORD
conn="host=127.0.0.1 port=$port user=postgres dbname=postgres"

echo "capture: psql" >&2
psql "$conn sslmode=prefer application_name=fuzz-psql" -f "$here/psql-session.sql" >/dev/null 2>&1 || true
psql "$conn sslmode=disable" -Atc "SELECT 1" >/dev/null
PGPASSWORD=wrong psql "$conn sslmode=disable" -Atc "SELECT 1" >/dev/null 2>&1 || true
PGOPTIONS="-c search_path=public -c statement_timeout=5s" psql "$conn sslmode=disable" -Atc "SHOW search_path" >/dev/null

echo "capture: pgbench" >&2
pgbench -i -s 1 -q "$conn" >/dev/null 2>&1
for mode in simple extended prepared; do
    pgbench -M "$mode" -c 2 -t 20 "$conn" >/dev/null 2>&1
    pgbench -M "$mode" -S -c 1 -t 20 "$conn" >/dev/null 2>&1
done

echo "capture: psycopg, asyncpg" >&2
/usr/bin/python3 "$here/clients.py" 127.0.0.1 "$port" "$PGPASSWORD"
clients=$root/Tests/IntegrationTests/clients
/usr/bin/python3 "$clients/driver_psycopg.py" "$conn password=$PGPASSWORD" fuzzseed >/dev/null 2>&1 || true
/usr/bin/python3 "$clients/driver_asyncpg.py" 127.0.0.1 "$port" "$PGPASSWORD" postgres fuzzseed >/dev/null 2>&1 || true

if command -v javac >/dev/null && [[ -f /usr/share/java/postgresql.jar ]]; then
    echo "capture: pgjdbc" >&2
    jdir=$(mktemp -d)
    javac -d "$jdir" -cp /usr/share/java/postgresql.jar "$clients/DriverJdbc.java"
    java -cp "$jdir:/usr/share/java/postgresql.jar" DriverJdbc 127.0.0.1 "$port" postgres "$PGPASSWORD" fuzzseed \
        >/dev/null 2>&1 || true
    rm -rf "$jdir"
fi
sleep 0.5
echo "capture: $(ls "$out" | wc -l) files, $(du -sh "$out" | cut -f1) in $out" >&2
