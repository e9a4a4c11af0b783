#!/usr/bin/env bash
# `make demo`: a throwaway PostgreSQL 15 (with the seed plan's schema and data) and Redis,
# and pgstash in front of them, left running. Idempotent: servers that are up are reused,
# pgstash is restarted. `scripts/demo.sh --stop DIR` stops everything.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
if [ "${1:-}" = "--stop" ]; then
    DIR=${2:?demo dir}
    [ -f "$DIR/pgstash.pid" ] && kill "$(cat "$DIR/pgstash.pid")" 2>/dev/null || true
    "$here/redis.sh" down "$DIR/redis"
    "$here/pg.sh" down "$DIR/pg"
    echo "demo stopped"
    exit 0
fi
DIR=${1:?demo dir}
mkdir -p "$DIR"; chmod 755 "$DIR"
free_or() {  # the preferred port when free, else any free one
    python3 - "$1" <<'PY'
import socket, sys
p = int(sys.argv[1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", p))
except OSError:
    s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
}
pg_port=$(cat "$DIR/pg/port" 2>/dev/null || true)
if ! { [ -n "$pg_port" ] && PGPASSWORD=secret psql "host=127.0.0.1 port=$pg_port user=postgres dbname=postgres" -Atc 'select 1' >/dev/null 2>&1; }; then
    PGPASS=secret "$here/pg.sh" up "$DIR/pg" "$(free_or 5432)" >/dev/null
    pg_port=$(cat "$DIR/pg/port")
fi
redis_port=$(cat "$DIR/redis/redis.port" 2>/dev/null || true)
if ! { [ -n "$redis_port" ] && redis-cli -p "$redis_port" ping >/dev/null 2>&1; }; then
    "$here/redis.sh" up "$DIR/redis" "$(free_or 6379)" >/dev/null
    redis_port=$(cat "$DIR/redis/redis.port")
fi
export PGPASSWORD=secret PGOPTIONS="-c client_min_messages=warning"
direct="host=127.0.0.1 port=$pg_port user=postgres dbname"
if [ "$(psql "$direct=postgres" -Atc "select count(*) from pg_database where datname='app'")" = "0" ]; then
    echo "demo: loading the seed plan's schema and 200,000 orders into database app (one time, ~1 min)..."
    psql "$direct=postgres" -qc "CREATE DATABASE app"
    psql "$direct=app" -q -f "$root/bench/sql/schema.sql" >/dev/null
    psql "$direct=app" -q -f "$root/bench/sql/generate.sql" >/dev/null
    psql "$direct=app" -q -f "$root/bench/sql/indexes.sql" >/dev/null
fi
if [ -f "$DIR/pgstash.pid" ] && kill "$(cat "$DIR/pgstash.pid")" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$(cat "$DIR/pgstash.pid")" 2>/dev/null || break; sleep 0.1; done
fi
port=$(free_or "$(cat "$DIR/pgstash.port" 2>/dev/null || echo 6432)")
echo "$port" > "$DIR/pgstash.port"
nohup "$root/.build/release/pgstash" --config "$root/proxy.conf" \
    -c listen.port="$port" -c databases.app.port="$pg_port" -c redis.port="$redis_port" \
    >"$DIR/pgstash.log" 2>&1 &
echo $! > "$DIR/pgstash.pid"
for _ in $(seq 100); do
    psql "host=127.0.0.1 port=$port user=app password=app dbname=app" -Atc 'select 1' >/dev/null 2>&1 && break
    sleep 0.1
done
if ! kill -0 "$(cat "$DIR/pgstash.pid")" 2>/dev/null; then
    echo "demo: pgstash did not start; its log:"; cat "$DIR/pgstash.log"; exit 1
fi
cat <<MSG

pgstash is running (pid $(cat "$DIR/pgstash.pid"), log $DIR/pgstash.log) in front of
PostgreSQL 15 on 127.0.0.1:$pg_port and Redis on 127.0.0.1:$redis_port.

Connect through pgstash (user app, password app, as in userlist.txt):

    psql "postgresql://app:app@127.0.0.1:$port/app"

Try:  SELECT status, count(*) FROM orders GROUP BY status;
      (the second run is answered from the Redis cache: rule "dashboard-stats", tier L3;
       \watch it while an UPDATE of an order's status through pgstash invalidates it)
Why a query is or is not cached:
      $root/.build/release/pgstash analyze --config $root/proxy.conf -c databases.app.port=$pg_port "SELECT ..."
Cache figures: curl -s http://127.0.0.1:9187/metrics | grep pgstash_cache_
Config: proxy.conf (overridden on the command line: listen.port, databases.app.port, redis.port).
Stop everything with:  make demo-stop
MSG
