#!/usr/bin/env bash
# Query digests on vs off, end to end: pgbench -S at 64 clients through pgstash with
# [admin] query_digests = 1000 and = 0, interleaved (the first one alternates each round), on a
# throwaway PostgreSQL from scripts/with-servers.sh. Prints each run's TPS, the means and the
# cost of digests in percent; asserts nothing.
#
#   bench/digests-overhead.sh                 # 4 rounds × 10 s, -M simple
#   ROUNDS=6 DURATION=20 MODE=prepared bench/digests-overhead.sh
#
# Needs .build/release/pgstash (swift build -c release) or PGSTASH_BIN.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
if [ -z "${PGSTASH_TEST_PG_PORT:-}" ]; then exec "$ROOT/scripts/with-servers.sh" "$0" "$@"; fi
BIN=${PGSTASH_BIN:-$ROOT/.build/release/pgstash}
ROUNDS=${ROUNDS:-4}; DURATION=${DURATION:-10}; MODE=${MODE:-simple}; CLIENTS=${CLIENTS:-64}
export PGPASSWORD=$PGSTASH_TEST_PG_PASSWORD
UP="postgresql://postgres:$PGPASSWORD@127.0.0.1:$PGSTASH_TEST_PG_PORT/postgres"
pgbench -i -q -s 10 -h 127.0.0.1 -p "$PGSTASH_TEST_PG_PORT" -U postgres postgres >/dev/null 2>&1
PORT=$(( 20000 + RANDOM % 20000 ))

run() {   # run DIGESTS → prints TPS
    "$BIN" --listen "127.0.0.1:$PORT" --upstream "$UP" -c metrics.enabled=false -c pool.max_upstream=20 \
        -c "admin.query_digests=$1" -c log.level=warning 2>/dev/null &
    local pid=$!
    for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p "$PORT" && break; sleep 0.05; done
    pgbench -n -S -M "$MODE" -c "$CLIENTS" -j 2 -T "$DURATION" -h 127.0.0.1 -p "$PORT" -U postgres postgres 2>/dev/null \
        | awk '/^tps/ { print int($3) }'
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true
}

on=(); off=()
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then a=$(run 1000); b=$(run 0); else b=$(run 0); a=$(run 1000); fi
    on+=("$a"); off+=("$b")
    echo "round $r: digests on $a tps, off $b tps"
done
python3 - "${on[*]}" "${off[*]}" "$MODE" "$CLIENTS" <<'PY'
import sys
on = [int(x) for x in sys.argv[1].split()]; off = [int(x) for x in sys.argv[2].split()]
mon, moff = sum(on) / len(on), sum(off) / len(off)
print(f"pgbench -S -M {sys.argv[3]}, {sys.argv[4]} clients: digests on {mon:.0f} tps (min {min(on)}, max {max(on)}), "
      f"off {moff:.0f} tps (min {min(off)}, max {max(off)}); cost {100 * (moff - mon) / moff:.1f} %")
PY
