#!/usr/bin/env bash
# Login rate through pgstash: a user of the auth file, a user found by auth_query with its
# answer cached, and one looked up at every login (auth_cache_ttl = 0). pgbench -C opens a
# new connection (a whole SCRAM login to pgstash) for every `SELECT 1`.
#
#   bench/auth-query.sh [SECONDS]      each run lasts SECONDS (default 5), 4 clients
#
# Runs under scripts/with-servers.sh (a throwaway PostgreSQL 15); PGSTASH_BIN defaults to
# .build/release/pgstash, else .build/debug/pgstash. Every process it starts is stopped on exit.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
if [ -z "${PGSTASH_TEST_PG_PORT:-}" ]; then exec "$ROOT/scripts/with-servers.sh" "$0" "$@"; fi
T=${1:-5}
BIN=${PGSTASH_BIN:-$ROOT/.build/release/pgstash}
[ -x "$BIN" ] || BIN=$ROOT/.build/debug/pgstash
DIR=$PGSTASH_TEST_TMP/auth-bench
mkdir -p "$DIR"
PG="host=127.0.0.1 port=$PGSTASH_TEST_PG_PORT user=postgres password=$PGSTASH_TEST_PG_PASSWORD dbname=postgres"
psql -X -q -d "$PG" -c "DROP ROLE IF EXISTS bench_file; DROP ROLE IF EXISTS bench_looked;" \
     -c "CREATE ROLE bench_file LOGIN PASSWORD 'pw'; CREATE ROLE bench_looked LOGIN PASSWORD 'pw';"
printf '"postgres" "%s"\n"bench_file" "pw"\n' "$PGSTASH_TEST_PG_PASSWORD" > "$DIR/users.txt"
echo 'SELECT 1;' > "$DIR/select.sql"
PID=""
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; wait 2>/dev/null || true' EXIT

run() {   # label user ttl
    local port
    port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    cat > "$DIR/proxy.conf" <<CONF
[listen]
port = $port
[metrics]
enabled = false
[databases.app]
host = "127.0.0.1"
port = $PGSTASH_TEST_PG_PORT
dbname = "postgres"
[auth]
type = "scram-sha-256"
auth_file = "users.txt"
auth_user = "postgres"
auth_cache_ttl = $3
CONF
    "$BIN" --config "$DIR/proxy.conf" 2>"$DIR/pgstash.log" &
    PID=$!
    for _ in $(seq 100); do psql -X -q -d "host=127.0.0.1 port=$port user=postgres password=$PGSTASH_TEST_PG_PASSWORD dbname=app" -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done
    local tps
    tps=$(PGPASSWORD=pw pgbench -n -C -c 4 -j 2 -T "$T" -f "$DIR/select.sql" -h 127.0.0.1 -p "$port" -U "$2" app 2>&1 \
          | awk '/^tps/ {print $3; exit}')
    printf '%-44s %8s logins/s\n' "$1" "$tps"
    kill $PID; wait $PID 2>/dev/null || true; PID=""
}

run "auth file" bench_file 30
run "auth_query, answer cached (ttl 30 s)" bench_looked 30
run "auth_query, lookup at every login (ttl 0)" bench_looked 0
tps=$(PGPASSWORD=pw pgbench -n -C -c 4 -j 2 -T "$T" -f "$DIR/select.sql" -h 127.0.0.1 -p "$PGSTASH_TEST_PG_PORT" -U bench_file postgres 2>&1 \
      | awk '/^tps/ {print $3; exit}')
printf '%-44s %8s logins/s\n' "PostgreSQL directly (no pgstash)" "$tps"
