#!/usr/bin/env bash
# Instructions pgstash executes per pgbench -S transaction, counted by valgrind's callgrind:
# a deterministic figure (unlike CPU time on a shared machine) for the relay path's cost.
#
#   bench/instructions.sh PGPORT [simple|extended] [CLIENTS]
#
# Needs a running PostgreSQL on 127.0.0.1:PGPORT with a `pgbench` database (pgbench -i) and
# user postgres (password in PGPASSWORD), valgrind, and .build/release/pgstash (or
# PGSTASH_BIN). pgstash runs twice under callgrind, with pgbench -t T1 and -t T2 per client
# (50 and 1050); (Ir2 - Ir1) / ((T2 - T1) * CLIENTS) cancels out start-up, logins and the
# pool's connects. Valgrind cannot read the DWARF 5 of Swift's debug info, so a copy of the
# binary without it is what runs. Prints one line; asserts nothing. With CALLGRIND_KEEP=DIR
# the two profiles are kept there as cg.MODE.CLIENTS.T1 and cg.MODE.CLIENTS.T2 (for
# linker/update-hot-functions.sh).
set -euo pipefail
PGPORT=${1:?usage: bench/instructions.sh PGPORT [simple|extended] [CLIENTS]}
MODE=${2:-extended}; CLIENTS=${3:-8}; T1=${T1:-50}; T2=${T2:-1050}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PGSTASH_BIN:-$ROOT/.build/release/pgstash}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
objcopy --strip-debug "$BIN" "$WORK/pgstash"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run() {   # run TX: total instructions of a pgstash that served CLIENTS x TX transactions
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$1" "$WORK/pgstash" --listen "127.0.0.1:$PORT" \
        --upstream "postgresql://postgres:${PGPASSWORD:-}@127.0.0.1:$PGPORT/pgbench" \
        -c pool.max_upstream=4 -c pool.mode=transaction -c redis.port=1 -c "metrics.port=$MPORT" \
        > "$WORK/log.$1" 2>&1 < /dev/null &
    local pid=$!
    for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p "$PORT" && break; sleep 0.2; done
    pgbench -n -h 127.0.0.1 -p "$PORT" -U postgres -M "$MODE" -c "$CLIENTS" -j 1 -t "$1" -S pgbench > "$WORK/pgbench.$1" 2>&1 \
        || { cat "$WORK/pgbench.$1" "$WORK/log.$1" >&2; kill "$pid"; exit 1; }
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true
    if [ -n "${CALLGRIND_KEEP:-}" ]; then cp "$WORK/cg.$1" "$CALLGRIND_KEEP/cg.$MODE.$CLIENTS.$1"; fi
    callgrind_annotate "$WORK/cg.$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}
a=$(run "$T1"); b=$(run "$T2")
awk -v a="$a" -v b="$b" -v n=$(( (T2 - T1) * CLIENTS )) -v m="$MODE" -v c="$CLIENTS" \
    'BEGIN { printf "pgstash, pgbench -S -M %s, %d clients, pool 4: %.0f instructions per transaction\n", m, c, (b - a) / n }'
