#!/usr/bin/env bash
# Rebuilds the committed seed corpus from real client traffic: captures psql, pgbench,
# psycopg, asyncpg and pgjdbc against a throwaway PostgreSQL (fuzz/capture/), turns the
# recordings into candidate inputs, and keeps those that add coverage (libFuzzer -merge=1)
# in fuzz/corpus/<harness>. Needs the harnesses built (fuzz/build.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${FUZZ_BUILD_DIR:-$root/.build/fuzz}
work=$(mktemp -d /tmp/pgstash-fuzz-seed.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
scripts/with-servers.sh fuzz/capture/capture.sh "$work/capture"
/usr/bin/python3 fuzz/capture/make_seeds.py "$work/capture" "$root" "$work/seeds"
for h in frontend backend startup scram config sql; do
    mkdir -p "fuzz/corpus/$h"
    "$bin/$h" -merge=1 -workers=1 "fuzz/corpus/$h" "$work/seeds/$h" 2>&1 | grep -E "MERGE-OUTER: [0-9]+ new files" || true
done
du -sh --apparent-size fuzz/corpus/*
