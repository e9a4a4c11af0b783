#!/usr/bin/env bash
# The result cache's stale-read and lost-write checker at scale (docs/benchmarks.md):
# CLIENTS clients (default 64) over two pgstash instances sharing one Redis, OPS operations
# (default 100000) on hot rows — reads, autocommit and explicit-transaction writes — every
# read compared with the last value acknowledged before it started. Prints the checker's
# figures and each instance's cache counters. Needs a release build (`swift build -c release`).
#
#   bench/stale-check.sh [CLIENTS] [OPS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/.." && pwd)
CLIENTS=${1:-64}; OPS=${2:-100000}
BIN=${PGSTASH_BIN:-$root/.build/release/pgstash}
[ -x "$BIN" ] || { echo "stale-check: build first: swift build -c release" >&2; exit 2; }
exec "$root/scripts/with-servers.sh" bash -c '
set -euo pipefail
BIN=$1; CLIENTS=$2; OPS=$3; root=$4
free() { python3 -c "import socket;s=socket.socket();s.bind((\"127.0.0.1\",0));print(s.getsockname()[1])"; }
direct="host=127.0.0.1 port=$PGSTASH_TEST_PG_PORT user=postgres password=$PGSTASH_TEST_PG_PASSWORD dbname=postgres"
/usr/bin/python3 -c "import psycopg; c=psycopg.connect(\"$direct\", autocommit=True); c.execute(\"CREATE TABLE IF NOT EXISTS stale_hot (id int PRIMARY KEY, v bigint NOT NULL)\")"
pids=(); dsns=(); mports=()
for i in 1 2; do
    p=$(free); m=$(free)
    "$BIN" --listen 127.0.0.1:$p --upstream "postgresql://postgres:$PGSTASH_TEST_PG_PASSWORD@127.0.0.1:$PGSTASH_TEST_PG_PORT/postgres" \
        -c cache.enabled=true -c redis.port=$PGSTASH_TEST_REDIS_PORT -c metrics.port=$m -c pool.max_upstream=20 \
        -c "cache.rules=[{ name = \"all\", tier = \"L1\", tables = [\"*\"] }]" > "$PGSTASH_TEST_TMP/pgstash-$i.log" 2>&1 &
    pids+=($!); dsns+=("host=127.0.0.1 port=$p user=postgres password=$PGSTASH_TEST_PG_PASSWORD dbname=postgres"); mports+=($m)
done
trap "kill ${pids[*]} 2>/dev/null || true" EXIT
sleep 2
/usr/bin/python3 "$root/Tests/IntegrationTests/clients/stale_check.py" "$direct" "$CLIENTS" "$OPS" "${dsns[@]}"
for m in "${mports[@]}"; do
    echo "instance metrics :$m"; curl -s "http://127.0.0.1:$m/metrics" | grep -E "^pgstash_cache_(lookups|fills|publications)_total" || true
done
' _ "$BIN" "$CLIENTS" "$OPS" "$root"
