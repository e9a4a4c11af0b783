#!/usr/bin/env bash
# 10,000 concurrent clients held by pgstash with max_upstream = 20 (issue 12, part 5).
#
#   bench/many-clients.sh [N]        N idle clients (default 10000)
#
# Starts a throwaway PostgreSQL 15 (scripts/pg.sh) under $BENCH_DIR (default
# /tmp/pgstash-many), and pgstash in transaction mode in front of it with
# pool.max_upstream = 20 and listen.max_clients = N + 100, both with the descriptor limit
# raised to the hard limit. lib/idle_clients.py then opens N logged-in clients (SCRAM-SHA-256
# through pgstash), holds them idle, reads pgstash's VmRSS before and after, runs SELECT 1 on
# a sample of 100 of them, then a query on all N at once (they queue for the 20 servers), and
# prints the figures; the upstream backends are counted every second too.
# Every process it starts is stopped on exit.
#
# Environment: BENCH_DIR, PGSTASH_BIN (default .build/release/pgstash, else .build/debug),
# SAMPLE (100), SETTLE (3).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
N=${1:-10000}
BENCH_DIR=${BENCH_DIR:-/tmp/pgstash-many}
PGSTASH_BIN=${PGSTASH_BIN:-$ROOT/.build/release/pgstash}
[ -x "$PGSTASH_BIN" ] || PGSTASH_BIN=$ROOT/.build/debug/pgstash
SAMPLE=${SAMPLE:-100}
SETTLE=${SETTLE:-3}
export PGPASS=${PGPASS:-secret}
PY=/usr/bin/python3
free_port() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# pgstash and the client script each need N descriptors and some.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 200)) ]; then
    echo "many-clients: the descriptor limit is $(ulimit -n) (hard $(ulimit -Hn)); $N clients need $((N + 200))" >&2
    exit 1
fi

mkdir -p "$BENCH_DIR"
PGSTASH_PID=""
cleanup() {
    [ -n "$PGSTASH_PID" ] && kill "$PGSTASH_PID" 2>/dev/null && wait "$PGSTASH_PID" 2>/dev/null
    "$ROOT/scripts/pg.sh" down "$BENCH_DIR/pg" || true
}
trap cleanup EXIT
"$ROOT/scripts/pg.sh" up "$BENCH_DIR/pg" >/dev/null
PGPORT=$(cat "$BENCH_DIR/pg/port")
PORT=$(free_port)
"$PGSTASH_BIN" --listen "127.0.0.1:$PORT" --upstream "postgresql://postgres:$PGPASS@127.0.0.1:$PGPORT/postgres" \
    -c pool.max_upstream=20 -c pool.mode=transaction -c "listen.max_clients=$((N + 100))" \
    -c "metrics.port=$(free_port)" -c log.level=warning \
    >"$BENCH_DIR/pgstash.log" 2>&1 </dev/null &
PGSTASH_PID=$!
for _ in $(seq 200); do
    "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
    sleep 0.05
done
echo "many-clients: pgstash $("$PGSTASH_BIN" --version 2>&1 | head -1) ($PGSTASH_BIN), pid $PGSTASH_PID," \
     "fd limit $(awk '/Max open files/ {print $4}' "/proc/$PGSTASH_PID/limits"), pool.max_upstream = 20"
"$PY" "$HERE/lib/idle_clients.py" --port "$PORT" --pid "$PGSTASH_PID" --user postgres --password "$PGPASS" \
    --db postgres --n "$N" --settle "$SETTLE" --sample "$SAMPLE" --burst --label pgstash --json "$BENCH_DIR/many-clients.json" &
CLIENTS_PID=$!
# While the clients are held: how many backends pgstash has open upstream (at most 20).
max_backends=0
while kill -0 "$CLIENTS_PID" 2>/dev/null; do
    b=$(PGPASSWORD=$PGPASS psql -X -A -t -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres \
        -c "SELECT count(*) FROM pg_stat_activity WHERE application_name <> 'psql' AND backend_type = 'client backend'" 2>/dev/null || echo 0)
    [ "$b" -gt "$max_backends" ] && max_backends=$b
    sleep 0.5
done
wait "$CLIENTS_PID" || echo "many-clients: idle_clients.py exited with status $?"
kill -0 "$PGSTASH_PID" 2>/dev/null || { echo "many-clients: pgstash exited:"; tail -5 "$BENCH_DIR/pgstash.log"; }
echo "many-clients: at most $max_backends PostgreSQL backends were open for pgstash's pool"
"$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print("many-clients: " + ", ".join("%s=%s" % kv for kv in r.items()))' "$BENCH_DIR/many-clients.json"
