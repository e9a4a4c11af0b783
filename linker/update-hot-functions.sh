#!/usr/bin/env bash
# Rewrites linker/hot-functions.txt from callgrind profiles of pgbench -S through the release
# build: -M simple and -M extended at 8 clients, -M extended at 256 (see linker/README.md).
#
#   linker/update-hot-functions.sh PGPORT
#
# Needs what bench/instructions.sh needs (a PostgreSQL with a `pgbench` database on PGPORT,
# PGPASSWORD, valgrind, a release build). Takes a few minutes.
set -euo pipefail
PGPORT=${1:?usage: linker/update-hot-functions.sh PGPORT}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KEEP=$(mktemp -d); trap 'rm -rf "$KEEP"' EXIT
export CALLGRIND_KEEP=$KEEP
T1=20 T2=220 "$ROOT/bench/instructions.sh" "$PGPORT" simple 8
T1=20 T2=220 "$ROOT/bench/instructions.sh" "$PGPORT" extended 8
T1=10 T2=40 "$ROOT/bench/instructions.sh" "$PGPORT" extended 256
python3 "$ROOT/linker/hot_functions.py" \
    "$KEEP/cg.simple.8.20:$KEEP/cg.simple.8.220:1600" \
    "$KEEP/cg.extended.8.20:$KEEP/cg.extended.8.220:1600" \
    "$KEEP/cg.extended.256.10:$KEEP/cg.extended.256.40:7680" > "$ROOT/linker/hot-functions.txt"
echo "linker/hot-functions.txt: $(wc -l < "$ROOT/linker/hot-functions.txt") functions"
