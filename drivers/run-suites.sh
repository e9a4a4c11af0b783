#!/usr/bin/env bash
# Real drivers' own test suites, run twice: straight against a throwaway PostgreSQL 15, then
# through pgstash in transaction mode. Prints every test that passes direct but fails through
# pgstash, and exits 1 if one of them is not in drivers/expected-failures-SUITE.txt.
#
#   drivers/run-suites.sh [SUITE...]      SUITE: psycopg2 pgbench asyncpg (default: psycopg2 pgbench)
#
# Three runs per suite: direct; through pgstash in transaction mode with its defaults
# ("pgstash": LISTEN relayed, temp tables / WITH HOLD / advisory locks pin the client); and
# through a second pgstash with pool.pin_on_session_state=false ("pinned" in file names, kept
# for history: the refusal configuration, where such statements get 0A000).
#
# Suites come from the registries this machine reaches (Debian and PyPI): the driver is
# Debian's package, its tests are the PyPI sdist of the same version. Nothing downloaded is
# kept in the repository: everything goes under $PGSTASH_DRIVERS_CACHE (/tmp/pgstash-drivers).
# Env: SUITE_TIMEOUT (seconds per run, 600), TEST_TIMEOUT (seconds per test, 60),
#      PGSTASH_BIN (default .build/debug/pgstash, built if missing), KEEP=1 keeps the logs dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
CACHE=${PGSTASH_DRIVERS_CACHE:-/tmp/pgstash-drivers}
SUITE_TIMEOUT=${SUITE_TIMEOUT:-600}
TEST_TIMEOUT=${TEST_TIMEOUT:-60}
PGSTASH_BIN=${PGSTASH_BIN:-$root/.build/debug/pgstash}
suites=("$@"); [ ${#suites[@]} -eq 0 ] && suites=(psycopg2 pgbench)
# 4 servers saturate: failing tests keep their connection (held by the traceback) idle in a
# transaction, and every later test then waits acquire_timeout (30 s) for a server.
MAX_UPSTREAM=${MAX_UPSTREAM:-20}
DB=drivers_test
PY=/usr/bin/python3          # Debian's python: the drivers are Debian's packages

log() { printf '== %s\n' "$*" >&2; }
deb_version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null | sed -E 's/^[0-9]+://; s/-[^-]*$//; s/\+.*$//'; }

# --- 1. drivers (Debian) and their suites (PyPI sdists of the same versions) -------------
need=()
for p in python3-psycopg2 python3-psycopg python3-asyncpg python3-venv postgresql-15 postgresql-client-15; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    log "apt-get install ${need[*]}"
    timeout 600 apt-get install -y -q "${need[@]}" >/dev/null || { timeout 300 apt-get update -q >/dev/null; timeout 600 apt-get install -y -q "${need[@]}" >/dev/null; }
fi
mkdir -p "$CACHE/sdist"
fetch_sdist() {   # fetch_sdist PYPI_NAME VERSION -> prints unpacked dir
    local name=$1 ver=$2 dir="$CACHE/$1-$2"
    if [ ! -d "$dir" ]; then
        ls "$CACHE/sdist/$name-$ver".tar.gz >/dev/null 2>&1 ||
            timeout 300 "$PY" -m pip download -q --no-binary :all: --no-deps -d "$CACHE/sdist" "$name==$ver" >&2 ||
            timeout 300 pip download -q --no-binary :all: --no-deps -d "$CACHE/sdist" "$name==$ver" >&2
        tar xzf "$CACHE/sdist/$name-$ver.tar.gz" -C "$CACHE"
    fi
    echo "$dir"
}
if [ ! -x "$CACHE/venv/bin/pytest" ]; then
    log "venv with pytest in $CACHE/venv"
    rm -rf "$CACHE/venv"
    "$PY" -m venv --system-site-packages "$CACHE/venv"
    timeout 600 "$CACHE/venv/bin/pip" install -q pytest pytest-timeout >&2
fi

# psycopg 3: its PyPI sdist holds only the package, not the tests (they live in the source
# repository, which this machine cannot reach); say so instead of silently skipping it.
psycopg3_ver=$(deb_version python3-psycopg)
p3dir=$(fetch_sdist psycopg "$psycopg3_ver" 2>/dev/null || true)
if [ -n "$p3dir" ] && [ ! -d "$p3dir/tests" ]; then
    log "psycopg $psycopg3_ver: the PyPI sdist has no tests/ - psycopg 3's suite cannot be run here (see docs/drivers.md)"
fi

# --- 2. throwaway PostgreSQL 15 and pgstash ---------------------------------------------
if [ ! -x "$PGSTASH_BIN" ]; then
    log "swift build"; (cd "$root" && timeout 1800 swift build >&2)
fi
BASE=$(mktemp -d /tmp/pgstash-drivers-run.XXXXXX); chmod 755 "$BASE"
PGSTASH_PIDS=()
cleanup() {
    for p in "${PGSTASH_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    "$root/scripts/pg.sh" down "$BASE/pg"
    if [ "${KEEP:-0}" = 1 ]; then log "logs kept in $BASE"; else rm -rf "$BASE"; fi
}
trap cleanup EXIT
PGPASS=secret "$root/scripts/pg.sh" up "$BASE/pg" >/dev/null
PGPORT_=$(cat "$BASE/pg/port")
export PGPASSWORD=secret
psql -qX -h 127.0.0.1 -p "$PGPORT_" -U postgres -d postgres -c "CREATE DATABASE $DB" >/dev/null
# The suites' extensions, created once as the superuser (same for both runs).
psql -qX -h 127.0.0.1 -p "$PGPORT_" -U postgres -d $DB -c "CREATE EXTENSION hstore" >/dev/null
free_port() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
start_pgstash() {   # start_pgstash NAME PORT [-c ...]
    local name=$1 port=$2; shift 2
    "$PGSTASH_BIN" --listen "127.0.0.1:$port" \
        --upstream "postgresql://postgres:secret@127.0.0.1:$PGPORT_/$DB" \
        -c pool.mode=transaction -c pool.max_upstream="$MAX_UPSTREAM" "$@" >"$BASE/$name.log" 2>&1 &
    PGSTASH_PIDS+=($!)
    for _ in $(seq 100); do
        psql -qX -h 127.0.0.1 -p "$port" -U postgres -d $DB -c 'SELECT 1' >/dev/null 2>&1 && return
        sleep 0.2
    done
    log "pgstash $name did not come up"; exit 1
}
PROXY_PORT=$(free_port); PINNED_PORT=$(free_port)
start_pgstash pgstash "$PROXY_PORT"
start_pgstash pinned "$PINNED_PORT" -c pool.pin_on_session_state=false
log "postgres 127.0.0.1:$PGPORT_; pgstash 127.0.0.1:$PROXY_PORT and pinned 127.0.0.1:$PINNED_PORT (transaction mode, max_upstream=$MAX_UPSTREAM)"

# --- 3. the suites, direct then through pgstash -----------------------------------------
PYTEST=("$CACHE/venv/bin/pytest" -p no:cacheprovider -q -rN --timeout="$TEST_TIMEOUT" -o junit_family=xunit1)

run_psycopg2() {   # run_psycopg2 PORT JUNIT
    local dir; dir=$(fetch_sdist psycopg2 "$(deb_version python3-psycopg2)")
    # test_replication needs PSYCOPG2_TEST_REPL_DSN (a replication connection): left unset, it skips.
    (cd "$dir" && PSYCOPG2_TESTDB=$DB PSYCOPG2_TESTDB_HOST=127.0.0.1 PSYCOPG2_TESTDB_PORT=$1 \
        PSYCOPG2_TESTDB_USER=postgres PSYCOPG2_TESTDB_PASSWORD=secret \
        timeout -k 10 "$SUITE_TIMEOUT" "${PYTEST[@]}" --junitxml="$2" tests)
}
run_asyncpg() {
    local dir; dir=$(fetch_sdist asyncpg "$(deb_version python3-asyncpg)")
    # Its tests import the installed asyncpg (Debian's, compiled): run a copy of tests/ away
    # from the sdist's uncompiled package. PGHOST makes _testbase use the running server;
    # tests that start clusters of their own (initdb, refused as root) fail both ways.
    rm -rf "$CACHE/asyncpg-tests"; mkdir -p "$CACHE/asyncpg-tests"; cp -r "$dir/tests" "$CACHE/asyncpg-tests/"
    (cd "$CACHE/asyncpg-tests" && PGHOST=127.0.0.1 PGPORT=$1 PGUSER=postgres PGDATABASE=$DB \
        timeout -k 10 "$SUITE_TIMEOUT" "${PYTEST[@]}" --junitxml="$2" \
        --deselect tests/test__sourcecode.py tests)
}
run_pgbench() {    # pgbench in each protocol mode, as a tiny junit of its own
    "$PY" - "$1" "$2" "$BASE" "$DB" <<'PYEOF'
import subprocess, sys, os
port, out, base, db = sys.argv[1:5]
cases = []
def run(name, args):
    p = subprocess.run(["pgbench", "-h", "127.0.0.1", "-p", port, "-U", "postgres", *args, db],
                       capture_output=True, text=True, timeout=300)
    ok = p.returncode == 0 and "aborted" not in p.stdout + p.stderr
    cases.append((name, ok, (p.stdout + p.stderr)[-2000:]))
run("init", ["-i", "-s", "1", "-q"])
for mode in ("simple", "extended", "prepared"):
    run(f"tpcb_{mode}", ["-M", mode, "-c", "8", "-j", "2", "-t", "200", "-n"])
    run(f"select_only_{mode}", ["-M", mode, "-S", "-c", "8", "-j", "2", "-t", "500", "-n"])
from xml.sax.saxutils import escape
with open(out, "w") as f:
    f.write("<testsuite>")
    for name, ok, text in cases:
        f.write(f'<testcase classname="pgbench" name="{name}">')
        if not ok: f.write(f"<failure>{escape(text)}</failure>")
        f.write("</testcase>")
    f.write("</testsuite>")
PYEOF
}

status=0
for suite in "${suites[@]}"; do
    for target in direct pgstash pinned; do
        case $target in direct) port=$PGPORT_;; pgstash) port=$PROXY_PORT;; pinned) port=$PINNED_PORT;; esac
        log "$suite via $target (port $port, at most ${SUITE_TIMEOUT}s)"
        start=$(date +%s)
        "run_$suite" "$port" "$BASE/$suite-$target.xml" >"$BASE/$suite-$target.log" 2>&1 || true
        log "$suite via $target: $(tail -1 "$BASE/$suite-$target.log") [$(( $(date +%s) - start ))s]"
    done
    mkdir -p "$CACHE/results"
    cp "$BASE/$suite-"*.xml "$BASE/$suite-"*.log "$CACHE/results/" 2>/dev/null || true
    "$PY" "$here/compare.py" "$suite" "$BASE/$suite-direct.xml" "$BASE/$suite-pgstash.xml" \
        "$here/expected-failures-$suite.txt" || status=1
    "$PY" "$here/compare.py" "$suite-pinned" "$BASE/$suite-direct.xml" "$BASE/$suite-pinned.xml" \
        "$here/expected-failures-$suite-pinned.txt" || status=1
done
cp "$BASE/pgstash.log" "$BASE/pinned.log" "$CACHE/results/" 2>/dev/null || true
log "results (junit xml, logs) copied to $CACHE/results"
exit $status
