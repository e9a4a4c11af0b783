#!/usr/bin/env bash
# Metrics on vs off, end to end: pgbench -S at 64 clients through pgstash with
# [metrics] enabled = true (the endpoint served and every hot-path instrument updated) and
# enabled = false (no endpoint, no instrument updates: ProxyMetrics.recording), interleaved in
# ROUNDS rounds (the setting that runs first alternates each round), on a throwaway PostgreSQL
# from scripts/with-servers.sh. Query digests are off in both (their own cost:
# bench/digests-overhead.sh). A scrape of /metrics is made after each enabled run, so the
# figures come from an endpoint that was really serving. Prints each run's TPS and pgstash's CPU
# time per transaction (utime + stime from /proc, less sensitive than TPS to other load on a
# shared machine), the means and the cost of metrics in percent of each (target: under 3 %);
# asserts nothing. `make bench-metrics`.
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

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

run() {   # run true|false → prints "TPS CPU-µs-per-transaction"
    "$BIN" --listen "127.0.0.1:$PORT" --upstream "$UP" -c "metrics.enabled=$1" -c "metrics.port=$MPORT" \
        -c pool.max_upstream=20 -c admin.query_digests=0 -c log.level=warning 2>/dev/null &
    local pid=$! out tps txns t0 t1
    for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p "$PORT" && break; sleep 0.05; done
    t0=$(cpu_ticks "$pid")
    out=$(pgbench -n -S -M "$MODE" -c "$CLIENTS" -j 2 -T "$DURATION" -h 127.0.0.1 -p "$PORT" -U postgres postgres 2>/dev/null)
    t1=$(cpu_ticks "$pid")
    tps=$(awk '/^tps/ { print int($3) }' <<<"$out")
    txns=$(awk '/number of transactions actually processed/ { print $NF }' <<<"$out")
    cpu=$(python3 -c "import os,sys; print(round(1e6 * (int(sys.argv[2]) - int(sys.argv[1])) / os.sysconf('SC_CLK_TCK') / max(int(sys.argv[3]), 1), 2))" \
        "$t0" "$t1" "${txns:-0}")
    if [ "$1" = true ]; then
        # The instruments moved: pgstash_queries_total is the sum over pools of this run.
        curl -sf "http://127.0.0.1:$MPORT/metrics" | awk '/^pgstash_queries_total/ { n += $2 } END { if (n == 0) exit 1 }' \
            || echo "metrics-cost.sh: /metrics showed no queries after an enabled run" >&2
    fi
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true
    echo "$tps $cpu"
}

on=(); off=(); on_cpu=(); off_cpu=()
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then a=$(run true); b=$(run false); else b=$(run false); a=$(run true); fi
    on+=("${a% *}"); off+=("${b% *}"); on_cpu+=("${a#* }"); off_cpu+=("${b#* }")
    echo "round $r: metrics on ${a% *} tps (${a#* } µs CPU/txn), off ${b% *} tps (${b#* } µs CPU/txn)"
done
python3 - "${on[*]}" "${off[*]}" "${on_cpu[*]}" "${off_cpu[*]}" "$MODE" "$CLIENTS" <<'PY'
import statistics, sys
on, off = ([int(x) for x in a.split()] for a in sys.argv[1:3])
con, coff = ([float(x) for x in a.split()] for a in sys.argv[3:5])
mon, moff = sum(on) / len(on), sum(off) / len(off)
# Per round (the two runs of a round are back to back, so they share the machine's load).
per = sorted(100 * (b - a) / b for a, b in zip(on, off))
print(f"pgbench -S -M {sys.argv[5]}, {sys.argv[6]} clients, {len(on)} rounds:")
print(f"  TPS: metrics on {mon:.0f} (min {min(on)}, max {max(on)}), off {moff:.0f} (min {min(off)}, max {max(off)}); "
      f"cost {100 * (moff - mon) / moff:.1f} % (per round: median {statistics.median(per):.1f} %, "
      f"from {per[0]:.1f} to {per[-1]:.1f} %; target < 3 %)")
mcon, mcoff = statistics.median(con), statistics.median(coff)
print(f"  pgstash CPU per transaction (median): on {mcon:.2f} µs, off {mcoff:.2f} µs; cost {100 * (mcon - mcoff) / mcoff:.1f} %")
PY
