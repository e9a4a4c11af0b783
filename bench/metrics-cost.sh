#!/usr/bin/env bash
# Metrics on vs off, end to end: pgbench -S at 64 clients through pgstash with
# [metrics] enabled = true (the endpoint served and every hot-path instrument updated) and
# enabled = false (no endpoint, no instrument updates: ProxyMetrics.recording), interleaved in
# ROUNDS rounds (the setting that runs first alternates each round), on a throwaway PostgreSQL
# from scripts/with-servers.sh. Query digests are off in both (their own cost:
# bench/digests-overhead.sh). A scrape of /metrics is made after each enabled run, so the
# figures come from an endpoint that was really serving. Prints each run's TPS, the means and
# the cost of metrics in percent (target: under 3 %); asserts nothing. `make bench-metrics`.
#
#   bench/metrics-cost.sh                     # 6 rounds × 10 s, -M simple, 64 clients
#   ROUNDS=8 DURATION=15 MODE=prepared bench/metrics-cost.sh
#
# Needs .build/release/pgstash (swift build -c release) or PGSTASH_BIN.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
if [ -z "${PGSTASH_TEST_PG_PORT:-}" ]; then exec "$ROOT/scripts/with-servers.sh" "$0" "$@"; fi
BIN=${PGSTASH_BIN:-$ROOT/.build/release/pgstash}
ROUNDS=${ROUNDS:-6}; DURATION=${DURATION:-10}; MODE=${MODE:-simple}; CLIENTS=${CLIENTS:-64}
export PGPASSWORD=$PGSTASH_TEST_PG_PASSWORD
UP="postgresql://postgres:$PGPASSWORD@127.0.0.1:$PGSTASH_TEST_PG_PORT/postgres"
pgbench -i -q -s 10 -h 127.0.0.1 -p "$PGSTASH_TEST_PG_PORT" -U postgres postgres >/dev/null 2>&1
PORT=$(( 20000 + RANDOM % 20000 ))
MPORT=$(( PORT + 1 ))

run() {   # run true|false → prints TPS
    "$BIN" --listen "127.0.0.1:$PORT" --upstream "$UP" -c "metrics.enabled=$1" -c "metrics.port=$MPORT" \
        -c pool.max_upstream=20 -c admin.query_digests=0 -c log.level=warning 2>/dev/null &
    local pid=$! tps
    for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p "$PORT" && break; sleep 0.05; done
    tps=$(pgbench -n -S -M "$MODE" -c "$CLIENTS" -j 2 -T "$DURATION" -h 127.0.0.1 -p "$PORT" -U postgres postgres 2>/dev/null \
        | awk '/^tps/ { print int($3) }')
    if [ "$1" = true ]; then
        # The instruments moved: pgstash_queries_total is the sum over pools of this run.
        curl -sf "http://127.0.0.1:$MPORT/metrics" | awk '/^pgstash_queries_total/ { n += $2 } END { if (n == 0) exit 1 }' \
            || echo "metrics-cost.sh: /metrics showed no queries after an enabled run" >&2
    fi
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true
    echo "$tps"
}

on=(); off=()
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then a=$(run true); b=$(run false); else b=$(run false); a=$(run true); fi
    on+=("$a"); off+=("$b")
    echo "round $r: metrics on $a tps, off $b tps"
done
python3 - "${on[*]}" "${off[*]}" "$MODE" "$CLIENTS" <<'PY'
import statistics, sys
on = [int(x) for x in sys.argv[1].split()]; off = [int(x) for x in sys.argv[2].split()]
mon, moff = sum(on) / len(on), sum(off) / len(off)
# Per round (the two runs of a round are back to back, so they share the machine's load).
per = sorted(100 * (b - a) / b for a, b in zip(on, off))
print(f"pgbench -S -M {sys.argv[3]}, {sys.argv[4]} clients: metrics on {mon:.0f} tps (min {min(on)}, max {max(on)}), "
      f"off {moff:.0f} tps (min {min(off)}, max {max(off)}); cost {100 * (moff - mon) / moff:.1f} % "
      f"(per round: median {statistics.median(per):.1f} %, from {per[0]:.1f} to {per[-1]:.1f} %; target < 3 %)")
PY
