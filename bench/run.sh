#!/usr/bin/env bash
# pgstash side-by-side benchmark runner (docs/benchmarks.md).
#
#   bench/run.sh --quick              every workload once, 3 s runs; 256 clients: mix only (make bench-quick)
#   bench/run.sh --full               every workload, 3 rounds, + scenarios   (make bench)
#   bench/run.sh --scenario NAME      select-only-session | select-only-prepared
#   bench/run.sh --pooling [--quick]  transaction pooling: pgbench -S at 8/64/256 clients, simple and
#                                     extended, 3 rounds × 10 s (quick: 2 × 5 s); then RSS per idle
#                                     client (900 held); writes bench/results/pooling-latest.md
#   bench/run.sh --cache [--quick]    the result cache (make bench-cache): pgstash with proxy.conf's
#                                     [cache] rules and tiers against direct and PgBouncer at 64
#                                     clients, -M extended and prepared (orders page, dashboard,
#                                     dashboard_stats, the mix), then a primary-key read at 1 client;
#                                     3 rounds × 10 s (quick: 2 × 5 s); hit rates per rule from
#                                     /metrics; writes bench/results/cache-latest.md
#
# Starts a throwaway PostgreSQL 15 and Redis (scripts/pg.sh, scripts/redis.sh) under
# $BENCH_DIR (default /tmp/pgstash-bench), loads the seed plan's data once (kept between runs),
# starts pgstash and PgBouncer in front of it, runs pgbench against direct PostgreSQL, pgstash
# and PgBouncer interleaved (round-robin, one short run per target in turn), and writes
# bench/results/latest.md and latest.png. Every process it starts is stopped on exit.
#
# Environment: BENCH_DIR, PGSTASH_BIN (default .build/release/pgstash), PGSTASH_EXTRA_ARGS
# (default: Redis and metrics ports of this run), POOL_SIZE (20), IDLE_TIMEOUT (600: how long both
# proxies keep an idle server, PgBouncer's default server_idle_timeout), DURATION, ROUNDS, BUDGET,
# HANG_MARGIN, TARGETS (e.g. "direct pgbouncer"), WORKLOADS (e.g. "mix search"),
# WIDE_WORKLOADS (those also run at 256 clients), CLIENTS (e.g. "8 64"), MODES (e.g. "prepared"),
# SCENARIOS; for --pooling also IDLE_CLIENTS (900), DIRECT_MAX_CLIENTS (64); for --cache also
# WARMUP (s of untimed load through pgstash before each cell), PK_CLIENTS (1), CACHE_PERF (1: a
# perf profile of pgstash serving hits; 0: none), PERF_MODE (its pgbench -M: prepared); DAEMON
# (setsid: how the proxies are started; empty: in this script's session).
set -euo pipefail
{   # the whole script is one block, so editing this file cannot disturb a run in progress

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/pgstash-bench}
PGSTASH_BIN=${PGSTASH_BIN:-$ROOT/.build/release/pgstash}
MICRO_BIN=${MICRO_BIN:-$ROOT/.build/release/pgstash-bench}
POOL_SIZE=${POOL_SIZE:-20}
# Both proxies keep idle servers alike. With pgstash's default (30 s) and PgBouncer's (600 s),
# pgstash alone would close the servers a small cell left idle and reconnect them (a fork, a
# SCRAM exchange and cold caches in PostgreSQL) inside the next cell's timed window.
IDLE_TIMEOUT=${IDLE_TIMEOUT:-600}
export PGPASS=${PGPASS:-secret}
export PGPASSWORD=$PGPASS PGCONNECT_TIMEOUT=10
PY=/usr/bin/python3          # Debian's python3 has matplotlib; the pyenv one on PATH does not
PGBIN=/usr/lib/postgresql/15/bin

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit "${1:-0}"; }

# Any of these set by the caller narrows the run: its report goes to $BENCH_DIR/run/partial.md.
NARROWED=${WORKLOADS:-}${MODES:-}${CLIENTS:-}${TARGETS:-}${DURATION:-}${ROUNDS:-}
ARGS="$*"      # for the report's "produced by" line, with the caller's narrowing below
WORKLOADS_ENV=${WORKLOADS:-}; MODES_ENV=${MODES:-}; CLIENTS_ENV=${CLIENTS:-}; TARGETS_ENV=${TARGETS:-}
DURATION_ENV=${DURATION:-}; ROUNDS_ENV=${ROUNDS:-}; WARMUP_ENV=${WARMUP:-}
CLIENTS_SET=${CLIENTS:-}; MODES_SET=${MODES:-}; TARGETS_SET=${TARGETS:-}   # --pooling: a narrowed matrix
MODE=""; SCENARIO=""; QUICK=0
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1; case "$MODE" in pooling|cache) ;; *) MODE=quick ;; esac ;;
        --full) MODE=full ;;
        --scenario) MODE=scenario; SCENARIO=${2:?--scenario NAME}; shift ;;
        --pooling) MODE=pooling ;;
        --cache) MODE=cache ;;
        -h|--help) usage 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; usage 2 ;;
    esac
    shift
done
[ -n "$MODE" ] || usage 2
case "$MODE" in
    quick) DURATION=${DURATION:-3}; ROUNDS=${ROUNDS:-1}; SCENARIOS=${SCENARIOS:-}; BUDGET=${BUDGET:-540}
           WIDE_WORKLOADS=${WIDE_WORKLOADS:-mix} ;;
    full) DURATION=${DURATION:-8}; ROUNDS=${ROUNDS:-3}; SCENARIOS=${SCENARIOS:-"select-only-session select-only-prepared"} ;;
    scenario)
        case "$SCENARIO" in select-only-session|select-only-prepared) ;;
            *) echo "run.sh: unknown scenario $SCENARIO (select-only-session, select-only-prepared)" >&2; exit 2 ;; esac
        DURATION=${DURATION:-10}; ROUNDS=${ROUNDS:-3}; SCENARIOS=$SCENARIO ;;
    pooling)
        if [ "$QUICK" = 1 ]; then DURATION=${DURATION:-5}; ROUNDS=${ROUNDS:-2}
        else DURATION=${DURATION:-10}; ROUNDS=${ROUNDS:-3}; fi
        SCENARIOS=pooling; MODES=${MODES:-"simple extended"} ;;
    cache)
        if [ "$QUICK" = 1 ]; then DURATION=${DURATION:-5}; ROUNDS=${ROUNDS:-2}; WARMUP=${WARMUP:-6}
        else DURATION=${DURATION:-10}; ROUNDS=${ROUNDS:-3}; WARMUP=${WARMUP:-10}; fi
        SCENARIOS=""; MODES=${MODES:-"extended prepared"}; CLIENTS=${CLIENTS:-64}
        WORKLOADS=${WORKLOADS:-"orders_page dashboard dashboard_stats mix"}
        TARGETS=${TARGETS:-"direct pgstash_cache pgbouncer"} ;;
esac
# Runs that would end past BUDGET seconds are skipped and reported as such (0: no budget);
# it keeps --quick under 10 minutes whatever the proxies do.
BUDGET=${BUDGET:-0}
WORKLOADS=${WORKLOADS:-"orders_page search dashboard assign mix"}
# Workloads also run at more than 64 clients (quick: the mix only, to stay under 10 minutes).
WIDE_WORKLOADS=${WIDE_WORKLOADS:-$WORKLOADS}
MODES=${MODES:-"simple prepared"}
CLIENTS=${CLIENTS:-"8 64 256"}
TARGETS=${TARGETS:-"direct pgstash pgbouncer"}
case "$MODE" in scenario|pooling) WORKLOADS="" ;; esac
PK_CLIENTS=${PK_CLIENTS:-1}; CACHE_PERF=${CACHE_PERF:-1}
IDLE_CLIENTS=${IDLE_CLIENTS:-900}
DIRECT_MAX_CLIENTS=${DIRECT_MAX_CLIENTS:-64}   # PostgreSQL has max_connections 300
# A run still going this many seconds after its -T is killed and reported as hung (PgBouncer
# with -M prepared in transaction mode can leave every client waiting for a server). Slow
# workloads at 256 clients legitimately need a while to finish their last transactions.
HANG_MARGIN=${HANG_MARGIN:-30}

for tool in pgbench psql redis-server runuser; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 1; }
done

T0=$(date +%s)
log() { printf '[%4ds] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
free_port() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

RUN=$BENCH_DIR/run            # this run's logs and per-transaction latencies (replaced each run)
mkdir -p "$BENCH_DIR"; chmod 755 "$BENCH_DIR"
exec 9>"$BENCH_DIR/lock"
flock -n 9 || { echo "run.sh: another run is using $BENCH_DIR (set BENCH_DIR to run beside it)" >&2; exit 1; }
rm -rf "$RUN"; mkdir -p "$RUN/lat" "$RUN/out"; chmod 755 "$RUN"
RUNS=$RUN/runs.jsonl; : > "$RUNS"
META=$RUN/meta.env; : > "$META"
meta() { printf '%s=%q\n' "$1" "$2" >> "$META"; }

# ---------------------------------------------------------------- cleanup of what we start
PIDS_TO_KILL=()      # proxies (pgstash, pgbouncer), each by its own pid
STARTED_PG=0; STARTED_REDIS=0
stop_pid() {         # stop_pid PID: TERM, wait up to 5 s, then KILL
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    for pid in "${PIDS_TO_KILL[@]}"; do stop_pid "$pid"; done
    [ "$STARTED_REDIS" = 1 ] && "$ROOT/scripts/redis.sh" down "$BENCH_DIR/redis"
    [ "$STARTED_PG" = 1 ] && "$ROOT/scripts/pg.sh" down "$BENCH_DIR/pg"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo; log "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- PostgreSQL, Redis, data
# pg.sh's server writes its log into BASE, so BASE must belong to the postgres OS user.
mkdir -p "$BENCH_DIR/pg"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$BENCH_DIR/pg"
STARTED_PG=1
"$ROOT/scripts/pg.sh" up "$BENCH_DIR/pg" >/dev/null
PGPORT=$(cat "$BENCH_DIR/pg/port")
STARTED_REDIS=1
"$ROOT/scripts/redis.sh" up "$BENCH_DIR/redis" >/dev/null
REDISPORT=$(cat "$BENCH_DIR/redis/redis.port")
log "postgres 127.0.0.1:$PGPORT, redis 127.0.0.1:$REDISPORT, data in $BENCH_DIR"
q() { psql -X -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -Atq "$@"; }

ensure_bench_db() {
    local sum have t
    sum=$(cat "$HERE"/sql/schema.sql "$HERE"/sql/generate.sql "$HERE"/sql/indexes.sql | sha1sum | cut -c1-12)
    [ "$(q -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'bench'")" = 1 ] \
        || q -d postgres -c 'CREATE DATABASE bench'
    have=$(q -d bench -c "SELECT value FROM bench_meta WHERE key = 'loaded'" 2>/dev/null || true)
    if [ "$have" = "$sum" ]; then
        log "bench database: already loaded (generator $sum)"; meta LOAD_SECONDS "cached"; return
    fi
    log "bench database: loading 200,000 orders (generator $sum) ..."
    t=$(date +%s)
    for f in schema generate indexes; do
        q -d bench -f "$HERE/sql/$f.sql" >>"$RUN/load.log" 2>&1 \
            || { grep -v NOTICE "$RUN/load.log" | tail -5; log "bench database: loading $f.sql failed"; exit 1; }
    done
    q -d bench -c "INSERT INTO bench_meta VALUES ('loaded', '$sum'), ('loaded_at', now()::text)"
    meta LOAD_SECONDS "$(( $(date +%s) - t ))"
    log "bench database: loaded in $(( $(date +%s) - t )) s"
}
ensure_pgbench_db() {
    local t
    [ "$(q -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'pgbench'")" = 1 ] \
        || q -d postgres -c 'CREATE DATABASE pgbench'
    if [ "$(q -d pgbench -c 'SELECT count(*) FROM pgbench_branches' 2>/dev/null || true)" = 10 ]; then
        log "pgbench database: already initialized (scale 10)"; return
    fi
    t=$(date +%s)
    pgbench -i -s 10 -q -h 127.0.0.1 -p "$PGPORT" -U postgres pgbench >"$RUN/pgbench-init.log" 2>&1 \
        || { tail -5 "$RUN/pgbench-init.log"; exit 1; }
    log "pgbench database: initialized at scale 10 in $(( $(date +%s) - t )) s"
}
[ -n "$WORKLOADS" ] && ensure_bench_db
[ -n "$SCENARIOS" ] && ensure_pgbench_db

# ---------------------------------------------------------------- proxies
# Each target has a port, a pid (proxies) and a status: "ok" or the reason it cannot be used.
declare -A PORT PID STATUS LOGF HUNG MPORT
PORT[direct]=$PGPORT; PID[direct]=""; STATUS[direct]=ok

why_exited() {       # the first error-looking line of a log, else its last line
    local line
    line=$(grep -v '^\s*$' "$1" | grep -i -m1 -E 'error|fatal|panic|fail' || true)
    [ -n "$line" ] || line=$(grep -v '^\s*$' "$1" | tail -1)
    echo "${line:-exited with no output}" | cut -c1-200
}
wait_accepting() {   # wait_accepting NAME DB: up to 20 s for `SELECT 1` to work through it
    local name=$1 db=$2 err deadline=$(( $(date +%s) + 20 ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if ! kill -0 "${PID[$name]}" 2>/dev/null; then
            STATUS[$name]="failed to start: $(why_exited "${LOGF[$name]}")"
            return 1
        fi
        if err=$(PGCONNECT_TIMEOUT=3 timeout 5 psql -X -h 127.0.0.1 -p "${PORT[$name]}" -U postgres -d "$db" -Atc 'SELECT 1' 2>&1); then
            STATUS[$name]=ok; return 0
        fi
        sleep 0.5
    done
    STATUS[$name]="not accepting clients after 20 s: $(echo "$err" | tail -1 | cut -c1-200)"
    return 1
}

# Both proxies start in a session of their own, as a service manager or a daemonizing proxy
# runs them, and as PostgreSQL runs each backend. With the kernel's autogroup scheduling
# (sched_autogroup_enabled, on by default), a proxy left in this script's session would share
# one CPU share with pgbench's threads. setsid execs in place here (a background job is not a
# process group leader), so $! stays the proxy's pid; DAEMON= starts them in this session.
DAEMON=${DAEMON-setsid}

start_pgstash() {    # start_pgstash NAME DB POOLMODE
    local name=$1 db=$2 mode=$3 mport
    LOGF[$name]=$RUN/$name.log; : > "${LOGF[$name]}"
    if [ ! -x "$PGSTASH_BIN" ]; then
        STATUS[$name]="not built ($PGSTASH_BIN missing; run make release)"; PID[$name]=""
        log "$name: ${STATUS[$name]}"; return 0
    fi
    PORT[$name]=$(free_port); mport=$(free_port)
    # shellcheck disable=SC2086
    $DAEMON "$PGSTASH_BIN" --listen "127.0.0.1:${PORT[$name]}" \
        --upstream "postgresql://postgres:$PGPASS@127.0.0.1:$PGPORT/$db" \
        -c "pool.max_upstream=$POOL_SIZE" -c "pool.mode=$mode" -c "pool.idle_timeout=$IDLE_TIMEOUT" \
        ${PGSTASH_EXTRA_ARGS:--c redis.port=$REDISPORT -c metrics.port=$mport} \
        >"${LOGF[$name]}" 2>&1 < /dev/null &
    PID[$name]=$!; PIDS_TO_KILL+=("${PID[$name]}")
    if wait_accepting "$name" "$db"; then log "$name: up on 127.0.0.1:${PORT[$name]} (pid ${PID[$name]}, $mode mode, pool $POOL_SIZE)"
    else log "$name: ${STATUS[$name]}"; fi
}

# The result cache (--cache): proxy.conf's [cache], [cache.tiers] and [[cache.rules]] verbatim,
# behind sections pointing at this run's PostgreSQL, Redis and ports. The other keys keep their
# defaults, as for the `pgstash` target (so no query digests).
cache_config() {     # cache_config FILE PORT METRICSPORT DB
    local f=$1 port=$2 mport=$3 db=$4
    printf '"postgres" "%s"\n' "$PGPASS" > "$RUN/userlist.txt"; chmod 600 "$RUN/userlist.txt"
    {
        echo "# Written by bench/run.sh --cache: this run's servers, then proxy.conf's cache sections."
        printf '[listen]\nhost = "127.0.0.1"\nport = %s\n\n' "$port"
        printf '[pool]\nmode = "transaction"\nmax_upstream = %s\nidle_timeout = %s\n\n' "$POOL_SIZE" "$IDLE_TIMEOUT"
        printf '[databases.%s]\nhost = "127.0.0.1"\nport = %s\ndbname = "%s"\nuser = "postgres"\npassword = "%s"\n\n' \
            "$db" "$PGPORT" "$db" "$PGPASS"
        printf '[auth]\ntype = "scram-sha-256"\nauth_file = "userlist.txt"\n\n'
        printf '[redis]\nhost = "127.0.0.1"\nport = %s\n\n' "$REDISPORT"
        printf '[metrics]\nenabled = true\nhost = "127.0.0.1"\nport = %s\n\n' "$mport"
        # from the line "[cache]" up to the next section that is not a cache one
        awk '/^\[cache\]$/ { on = 1 } on && /^\[/ && !/^\[cache\]$/ && !/^\[cache\.tiers\]$/ && !/^\[\[cache\.rules\]\]$/ { on = 0 } on' \
            "$ROOT/proxy.conf"
    } > "$f"
}
start_pgstash_cache() {   # start_pgstash_cache NAME DB
    local name=$1 db=$2 conf
    LOGF[$name]=$RUN/$name.log; : > "${LOGF[$name]}"
    if [ ! -x "$PGSTASH_BIN" ]; then
        STATUS[$name]="not built ($PGSTASH_BIN missing; run make release)"; PID[$name]=""
        log "$name: ${STATUS[$name]}"; return 0
    fi
    PORT[$name]=$(free_port); MPORT[$name]=$(free_port); conf=$RUN/$name.conf
    cache_config "$conf" "${PORT[$name]}" "${MPORT[$name]}" "$db"
    if ! "$PGSTASH_BIN" check --config "$conf" >"$RUN/$name.check" 2>&1; then
        STATUS[$name]="config rejected: $(why_exited "$RUN/$name.check")"; PID[$name]=""
        log "$name: ${STATUS[$name]}"; return 0
    fi
    # shellcheck disable=SC2086
    $DAEMON "$PGSTASH_BIN" --config "$conf" -c cache.enabled=true ${PGSTASH_EXTRA_ARGS:-} \
        >"${LOGF[$name]}" 2>&1 < /dev/null &
    PID[$name]=$!; PIDS_TO_KILL+=("${PID[$name]}")
    if wait_accepting "$name" "$db"; then
        log "$name: up on 127.0.0.1:${PORT[$name]} (pid ${PID[$name]}, cache on, metrics :${MPORT[$name]}, pool $POOL_SIZE)"
    else log "$name: ${STATUS[$name]}"; fi
}

start_pgbouncer() {  # start_pgbouncer NAME POOLMODE DB
    local name=$1 mode=$2 db=$3 dir=$RUN/$1 i
    LOGF[$name]=$dir/pgbouncer.log
    if ! command -v pgbouncer >/dev/null; then
        STATUS[$name]="not installed"; PID[$name]=""; log "$name: not installed"; return 0
    fi
    PORT[$name]=$(free_port)
    mkdir -p "$dir"
    printf '"postgres" "%s"\n' "$PGPASS" > "$dir/userlist.txt"
    cat > "$dir/pgbouncer.ini" <<INI
[databases]
bench = host=127.0.0.1 port=$PGPORT dbname=bench
pgbench = host=127.0.0.1 port=$PGPORT dbname=pgbench

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${PORT[$name]}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = $mode
default_pool_size = $POOL_SIZE
server_idle_timeout = $IDLE_TIMEOUT
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 1000
max_db_connections = 0
server_reset_query = DISCARD ALL
ignore_startup_parameters = extra_float_digits
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
log_connections = 0
log_disconnections = 0
stats_period = 60
INI
    touch "$dir/pgbouncer.log"
    [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$dir"
    chmod 600 "$dir/userlist.txt"
    # PgBouncer refuses to run as root. setpriv execs in place, so $! is pgbouncer's own pid.
    if [ "$(id -u)" -eq 0 ]; then
        $DAEMON setpriv --reuid=postgres --regid=postgres --init-groups pgbouncer "$dir/pgbouncer.ini" >>"$dir/pgbouncer.log" 2>&1 < /dev/null &
    else
        $DAEMON pgbouncer "$dir/pgbouncer.ini" >>"$dir/pgbouncer.log" 2>&1 < /dev/null &
    fi
    PID[$name]=$!; PIDS_TO_KILL+=("${PID[$name]}")
    if wait_accepting "$name" "$db"; then log "$name: up on 127.0.0.1:${PORT[$name]} (pid ${PID[$name]}, $mode mode, pool $POOL_SIZE)"
    else log "$name: ${STATUS[$name]}"; fi
}

stop_target() { local name=$1; [ -n "${PID[$name]:-}" ] && stop_pid "${PID[$name]}"; STATUS[$name]="${STATUS[$name]:-stopped}"; }

# ---------------------------------------------------------------- one pgbench run
# The machine's busy and idle CPU ticks so far (/proc/stat), as name=value lines.
machine_cpu() { awk '/^cpu / { print "cpu_busy=" $2+$3+$4+$7+$8; print "cpu_idle=" $5+$6 }' /proc/stat; }
# observe FILE TARGET: counters read just before and just after a run, so that the report can
# say where the time went: the load average, the machine's CPU (/proc/stat), the proxy's CPU
# (/proc/PID/stat), Redis's CPU and, for a target with a metrics port, its /metrics.
observe() {
    local f=$1 t=$2 pid=${PID[$2]:-}
    mkdir -p "$RUN/obs"
    {
        echo "time_ns=$(date +%s%N)"
        echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
        machine_cpu
        [ -n "$pid" ] && awk '{ print "proxy_cpu=" $14+$15 }' "/proc/$pid/stat" 2>/dev/null
        if [ -n "${MPORT[$t]:-}" ]; then
            redis-cli -p "$REDISPORT" INFO cpu 2>/dev/null | tr -d '\r' \
                | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "redis_cpu_s=%.3f\n", s }'
            redis-cli -p "$REDISPORT" INFO commandstats 2>/dev/null | tr -d '\r' \
                | awk -F'[:=,]' '/^cmdstat_/ { printf "redis_%s_calls=%s\nredis_%s_usec=%s\n", $1, $3, $1, $5 }'
        fi
    } > "$f" 2>/dev/null || true
    [ -n "${MPORT[$t]:-}" ] && { curl -s --max-time 5 "http://127.0.0.1:${MPORT[$t]}/metrics" > "$f.metrics" || true; }
    return 0
}
# window FILE PID: the steady-state window's edge (run_one samples it twice while pgbench runs,
# after the clients connected): wall clock, the proxy's user and system ticks, the machine's
# busy and idle ticks. report.py counts the transactions that ended between the two samples.
window() {
    {
        echo "time_ns=$(date +%s%N)"
        [ -n "$2" ] && awk '{ print "proxy_user=" $14; print "proxy_sys=" $15 }' "/proc/$2/stat" 2>/dev/null
        machine_cpu
    } > "$1" 2>/dev/null || true
}
# The CPU seconds of this shell's finished children, from bash's `times` written to a file
# (a subshell's `times` would start from zero): around a pgbench run, that is pgbench's CPU.
children_cpu() { awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.3f\n", u[1]*60 + u[2] + s[1]*60 + s[2] }' "$1"; }

RUN_NO=0
# run_one TARGET DB LABEL CELL MODE CLIENTS ROUND -- pgbench script args...
run_one() {
    local target=$1 db=$2 label=$3 cell=$4 mode=$5 clients=$6 round=$7; shift 8
    local id out rc pid=${PID[$target]:-} status=${STATUS[$target]}
    RUN_NO=$((RUN_NO + 1)); id=$(printf 'r%04d' "$RUN_NO"); out=$RUN/out/$id.txt
    if [ "$status" = ok ] && [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
        status="exited during the run: $(why_exited "${LOGF[$target]}")"
        STATUS[$target]=$status
    fi
    if [ "$status" = ok ] && [ "${HUNG[$target/$mode]:-0}" -ge 2 ]; then
        status="skipped: its -M $mode runs hung twice already"
    fi
    local secs=$((DURATION + clients * 5 / 256))
    if [ "$status" = ok ] && [ "$BUDGET" -gt 0 ] && [ $(( $(date +%s) - T0 + secs )) -gt "$BUDGET" ]; then
        status="skipped: over the $MODE run's time budget of $BUDGET s"
    fi
    if [ "$status" != ok ]; then
        "$PY" "$HERE/lib/report.py" record --runs "$RUNS" --id "$id" --cell "$cell" --target "$target" \
            --label "$label" --mode "$mode" --clients "$clients" --round "$round" --skipped "$status"
        return 0
    fi
    [ -n "$pid" ] && echo 5 > "/proc/$pid/clear_refs" 2>/dev/null || true   # reset VmHWM
    # pgbench's -T clock includes connecting the clients (SCRAM: ~2 s for 256 through a proxy
    # on this 2-core box), and its TPS excludes that time: many clients get extra seconds (secs).
    observe "$RUN/obs/$id.before" "$target"
    times > "$RUN/obs/$id.times0"
    set +e
    timeout --foreground -k 5 $((secs + HANG_MARGIN)) pgbench -n -h 127.0.0.1 -p "${PORT[$target]}" -U postgres \
        -M "$mode" -c "$clients" -j 2 -T "$secs" --log --log-prefix="$RUN/lat/$id" "$@" "$db" \
        >"$out" 2>&1 &
    local bench_pid=$!
    # The steady-state window: from 40 % to 90 % of the run (the clients have connected by then).
    ( sleep "$(awk -v s="$secs" 'BEGIN { print s * 0.4 }')"; window "$RUN/obs/$id.w0" "$pid"
      sleep "$(awk -v s="$secs" 'BEGIN { print s * 0.5 }')"; window "$RUN/obs/$id.w1" "$pid" ) &
    local window_pid=$!
    wait "$bench_pid"
    rc=$?
    kill "$window_pid" 2>/dev/null; wait "$window_pid" 2>/dev/null
    times > "$RUN/obs/$id.times1"
    set -e
    echo "pgbench_cpu_s=$(awk -v a="$(children_cpu "$RUN/obs/$id.times0")" -v b="$(children_cpu "$RUN/obs/$id.times1")" \
        'BEGIN { printf "%.3f", b - a }')" > "$RUN/obs/$id.pgbench"
    observe "$RUN/obs/$id.after" "$target"
    [ "$rc" = 130 ] && { echo; log "interrupted"; exit 130; }      # Ctrl-C reached pgbench
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then HUNG[$target/$mode]=$(( ${HUNG[$target/$mode]:-0} + 1 )); fi
    local rss=""
    [ -n "$pid" ] && rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    "$PY" "$HERE/lib/report.py" record --runs "$RUNS" --id "$id" --cell "$cell" --target "$target" \
        --label "$label" --mode "$mode" --clients "$clients" --round "$round" --rc "$rc" \
        --out "$out" --lat-prefix "$RUN/lat/$id" --window "$RUN/obs/$id" --rss-kb "${rss:-0}" --limit $((secs + HANG_MARGIN)) --echo
}

# run_cell CELL LABEL DB MODE CLIENTS "TARGETS" -- pgbench script args...
# Interleaved: ROUNDS rounds, each running every target once, the starting target rotating.
run_cell() {
    local cell=$1 label=$2 db=$3 mode=$4 clients=$5 targets=($6) r i n; shift 6
    [ "${1:-}" = "--" ] && shift
    n=${#targets[@]}
    for r in $(seq "$ROUNDS"); do
        for i in $(seq 0 $((n - 1))); do
            run_one "${targets[$(( (i + r - 1) % n ))]}" "$db" "$label" "$cell" "$mode" "$clients" "$r" -- "$@"
        done
    done
}

workload_args() {
    case "$1" in
        mix) echo "-f $HERE/workloads/orders_page.sql@60 -f $HERE/workloads/search.sql@20 -f $HERE/workloads/dashboard.sql@15 -f $HERE/workloads/assign.sql@5" ;;
        *) echo "-f $HERE/workloads/$1.sql" ;;
    esac
}

has_target() { [[ " $TARGETS " == *" $1 "* ]]; }

meta COMMAND "$(for v in WORKLOADS MODES CLIENTS TARGETS DURATION ROUNDS WARMUP; do [ -n "$(eval echo "\${${v}_ENV:-}")" ] && printf '%s=%s ' "$v" "$(eval echo "\${${v}_ENV}")"; done)bench/run.sh $ARGS"
meta MODE "$MODE"; meta DURATION "$DURATION"; meta ROUNDS "$ROUNDS"; meta POOL_SIZE "$POOL_SIZE"; meta IDLE_TIMEOUT "$IDLE_TIMEOUT"; meta QUICK "$QUICK"; meta DAEMON "${DAEMON:-none}"
meta STARTED "$(date -u '+%Y-%m-%d %H:%M UTC')"; meta HOST "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
meta PG_VERSION "$(q -d postgres -c 'SHOW server_version')"
meta PGBOUNCER_VERSION "$(pgbouncer --version 2>/dev/null | head -1 || echo none)"
if [ -x "$PGSTASH_BIN" ]; then
    v=$(timeout 5 "$PGSTASH_BIN" --version 2>&1 < /dev/null | head -1 | cut -c1-80 || true)
    meta PGSTASH_VERSION "${v:-?}"
else
    meta PGSTASH_VERSION "not built"
fi
meta PGSTASH_COMMIT "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"

# ---------------------------------------------------------------- the seed plan's workloads
if [ -n "$WORKLOADS" ] && [ "$MODE" != cache ]; then
    has_target pgstash && start_pgstash pgstash bench transaction
    has_target pgbouncer && start_pgbouncer pgbouncer transaction bench
    meta STATUS_pgstash "${STATUS[pgstash]:-not run}"; meta STATUS_pgbouncer "${STATUS[pgbouncer]:-not run}"
    for w in $WORKLOADS; do
        for m in $MODES; do
            for c in $CLIENTS; do
                [ "$c" -gt 64 ] && [[ " $WIDE_WORKLOADS " != *" $w "* ]] && continue
                ts=""
                for t in direct pgstash pgbouncer; do
                    has_target "$t" || continue
                    # Only the pooled targets take 256 clients (PostgreSQL has max_connections 300).
                    [ "$t" = direct ] && [ "$c" -gt 64 ] && continue
                    ts="$ts $t"
                done
                log "workload $w, -M $m, $c clients:$ts"
                # shellcheck disable=SC2046
                run_cell "$w/$m/$c" "$w" bench "$m" "$c" "$ts" $(workload_args "$w")
            done
        done
    done
    meta STATUS_END_pgstash "${STATUS[pgstash]:-not run}"
    stop_target pgstash 2>/dev/null || true; stop_target pgbouncer 2>/dev/null || true
fi

# ---------------------------------------------------------------- --cache
# The result cache: pgstash_cache (proxy.conf's rules and tiers, cache on, this run's Redis)
# against direct PostgreSQL and PgBouncer, same pool size. Before a cell, WARMUP seconds of the
# same workload through pgstash_cache fill the entries the cell will read (untimed); the cell
# then runs its ROUNDS interleaved as everywhere else. /metrics is read before and after every
# pgstash_cache run (observe), so each figure comes with its own hit rate per rule.
warm_cache() {       # warm_cache TARGET DB MODE CLIENTS -- pgbench script args...
    local target=$1 db=$2 mode=$3 clients=$4 out; shift 4
    [ "${1:-}" = "--" ] && shift
    [ "${STATUS[$target]}" = ok ] && [ "$WARMUP" -gt 0 ] || return 0
    if [ -n "${PID[$target]}" ] && ! kill -0 "${PID[$target]}" 2>/dev/null; then return 0; fi
    out=$RUN/out/warmup-$RUN_NO-$mode-$clients.txt
    observe "$out.before" "$target"
    timeout --foreground -k 5 $((WARMUP + HANG_MARGIN)) pgbench -n -h 127.0.0.1 -p "${PORT[$target]}" -U postgres \
        -M "$mode" -c "$clients" -j 2 -T "$WARMUP" "$@" "$db" >"$out" 2>&1 || true
    observe "$out.after" "$target"
    log "  warm-up through $target, -M $mode, $clients clients, $WARMUP s: $(grep -m1 -oE '^tps = [0-9.]+' "$out" || echo 'no tps') (not counted)"
}
perf_report() {      # perf_report PERF.DATA BINARY-NAME: self time by object and symbol, then inclusive time of the binary's functions
    local dm=cat
    command -v swift-demangle >/dev/null && dm="swift-demangle --simplified"
    { echo "self time by shared object:"
      perf report -i "$1" --stdio --no-children --sort dso -g none --percent-limit 1 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12
      echo; echo "self time by symbol:"
      perf report -i "$1" --stdio --no-children --sort dso,symbol -g none --percent-limit 0.7 2>/dev/null | grep -v '^#' | grep -v '^$' | head -30
      echo; echo "inclusive time (self + callees; call graphs from frame pointers), user space, from $2's main loop down:"
      perf report -i "$1" --stdio --children --sort dso,symbol -g none --percent-limit 2.5 2>/dev/null | grep -v '^#' \
          | awk '$3 != "[kernel.kallsyms]" && $3 != "[unknown]" && NF > 4' | grep -v '0000000000' | head -40
    } | $dm | sed -E 's/([[:space:]]+-)+[[:space:]]*$//; s/[[:space:]]+$//; s/   +/  /g'
}
if [ "$MODE" = cache ]; then
    log "cache: $ROUNDS round(s) × $DURATION s per cell, warm-up $WARMUP s, workloads $WORKLOADS, -M $MODES, $CLIENTS clients; primary-key read at $PK_CLIENTS client(s)"
    has_target pgstash_cache && start_pgstash_cache pgstash_cache bench
    has_target pgbouncer && start_pgbouncer pgbouncer transaction bench
    meta STATUS_pgstash_cache "${STATUS[pgstash_cache]:-not run}"; meta STATUS_pgbouncer "${STATUS[pgbouncer]:-not run}"
    meta WARMUP "$WARMUP"; meta PK_CLIENTS "$PK_CLIENTS"; meta PERF_MODE "${PERF_MODE:-prepared}"; meta CACHE_PID "${PID[pgstash_cache]:-}"
    for w in $WORKLOADS pk_read; do
        for m in $MODES; do
            if [ "$w" = pk_read ]; then cs=$PK_CLIENTS; else cs=$CLIENTS; fi
            for c in $cs; do
                ts=""
                for t in direct pgstash_cache pgbouncer; do
                    has_target "$t" || continue
                    [ "$w" = pk_read ] && [ "$t" = pgbouncer ] && continue   # the latency figure is cached vs direct
                    ts="$ts $t"
                done
                log "cache: workload $w, -M $m, $c clients:$ts"
                # shellcheck disable=SC2046
                has_target pgstash_cache && warm_cache pgstash_cache bench "$m" $([ "$w" = pk_read ] && echo 8 || echo "$c") \
                    -- $(workload_args "$w")
                # shellcheck disable=SC2046
                run_cell "$w/$m/$c" "$w" bench "$m" "$c" "$ts" $(workload_args "$w")
            done
        done
    done
    # Where the time of a hit goes: a perf profile of pgstash while it answers dashboard_stats
    # (every statement a hit) at 64 clients, -M $PERF_MODE (prepared). Untimed; not one of the figures.
    if [ "$CACHE_PERF" = 1 ] && command -v perf >/dev/null && [ "${STATUS[pgstash_cache]:-}" = ok ] \
        && kill -0 "${PID[pgstash_cache]}" 2>/dev/null; then
        log "cache: perf profile of pgstash (pid ${PID[pgstash_cache]}), dashboard_stats -M ${PERF_MODE:-prepared}, 64 clients, $DURATION s"
        pgbench -n -h 127.0.0.1 -p "${PORT[pgstash_cache]}" -U postgres -M "${PERF_MODE:-prepared}" -c 64 -j 2 -T $((DURATION + 2)) \
            -f "$HERE/workloads/dashboard_stats.sql" bench >"$RUN/out/perf-pgbench.txt" 2>&1 &
        pb=$!
        sleep 1.5
        perf record -q -F 997 -g -p "${PID[pgstash_cache]}" -o "$RUN/perf.data" -- sleep "$DURATION" >"$RUN/perf-record.log" 2>&1 || true
        wait "$pb" || true
        if [ -s "$RUN/perf.data" ]; then
            dm=cat; command -v swift-demangle >/dev/null && dm="swift-demangle --simplified"
            perf_report "$RUN/perf.data" "$(basename "$PGSTASH_BIN")" > "$RUN/perf.txt" || true
        fi
    fi
    meta STATUS_END_pgstash_cache "${STATUS[pgstash_cache]:-not run}"
    stop_target pgstash_cache 2>/dev/null || true; stop_target pgbouncer 2>/dev/null || true
fi

# ---------------------------------------------------------------- named scenarios
for s in $SCENARIOS; do
    case "$s" in
    select-only-session)
        log "scenario select-only-session: pgbench -S, 16 clients, session pooling"
        start_pgstash pgstash_session pgbench session
        start_pgbouncer pgbouncer_session session pgbench
        meta STATUS_pgstash_session "${STATUS[pgstash_session]}"
        run_cell "select-only-session" "select-only-session" pgbench simple 16 \
            "direct pgstash_session pgbouncer_session" -- -S
        stop_target pgstash_session; stop_target pgbouncer_session
        ;;
    select-only-prepared)
        log "scenario select-only-prepared: pgbench -S, 64 clients, transaction pooling"
        start_pgstash pgstash_tx pgbench transaction
        start_pgbouncer pgbouncer_tx transaction pgbench
        meta STATUS_pgstash_tx "${STATUS[pgstash_tx]}"
        run_cell "select-only-prepared/prepared" "select-only-prepared" pgbench prepared 64 \
            "direct pgstash_tx pgbouncer_tx" -- -S
        run_cell "select-only-prepared/extended" "select-only-prepared" pgbench extended 64 \
            "pgstash_tx pgbouncer_tx" -- -S
        stop_target pgstash_tx; stop_target pgbouncer_tx
        ;;
    esac
done

# ---------------------------------------------------------------- --pooling
# Transaction pooling, pgstash against PgBouncer, same pool size: pgbench -S over the whole
# matrix, interleaved at two levels — the outer loop is the round, so every round sweeps every
# cell (a burst of noise lands on one round of many cells, not on all rounds of one), and within
# a cell the targets run back to back, the first of them rotating each round.
if [ "$MODE" = pooling ]; then
    # 900 idle clients, the pgbench clients and the pools: file descriptors for all of them.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true
    log "pooling: fd limit $(ulimit -n); pgbench -S, $ROUNDS round(s) × $DURATION s, clients $CLIENTS, -M $MODES, pool $POOL_SIZE"
    has_target pgstash && start_pgstash pgstash pgbench transaction
    has_target pgbouncer && start_pgbouncer pgbouncer transaction pgbench
    meta STATUS_pgstash "${STATUS[pgstash]:-not run}"; meta STATUS_pgbouncer "${STATUS[pgbouncer]:-not run}"
    meta IDLE_CLIENTS "$IDLE_CLIENTS"; meta DIRECT_MAX_CLIENTS "$DIRECT_MAX_CLIENTS"
    for r in $(seq "$ROUNDS"); do
        log "pooling: round $r of $ROUNDS"
        for c in $CLIENTS; do
            for m in $MODES; do
                ts=()
                for t in direct pgstash pgbouncer; do
                    has_target "$t" || continue
                    [ "$t" = direct ] && [ "$c" -gt "$DIRECT_MAX_CLIENTS" ] && continue
                    ts+=("$t")
                done
                n=${#ts[@]}
                for i in $(seq 0 $((n - 1))); do
                    run_one "${ts[$(( (i + r + c / 8) % n ))]}" pgbench pooling "pooling/$m/$c" "$m" "$c" "$r" -- -S
                done
            done
        done
    done
    meta STATUS_END_pgstash "${STATUS[pgstash]:-not run}"; meta STATUS_END_pgbouncer "${STATUS[pgbouncer]:-not run}"
    stop_target pgstash 2>/dev/null || true; stop_target pgbouncer 2>/dev/null || true

    # RSS per idle client: fresh proxies (memory freed after 256 busy clients would otherwise be
    # reused and hide the cost), one at a time, IDLE_CLIENTS logged-in clients held by
    # lib/idle_clients.py while it reads the proxy's VmRSS before and after.
    idle_error() { "$PY" -c 'import json, sys; print(json.dumps({"label": sys.argv[1], "error": sys.argv[2]}))' "$1" "$2" > "$RUN/idle-$1.json"; }
    for t in pgstash pgbouncer; do
        has_target "$t" || continue
        name=${t}_idle
        if [ "$t" = pgstash ]; then start_pgstash "$name" pgbench transaction
        else start_pgbouncer "$name" transaction pgbench; fi
        meta "STATUS_$name" "${STATUS[$name]}"
        if [ "${STATUS[$name]}" = ok ]; then
            log "pooling: $IDLE_CLIENTS idle clients on $t (pid ${PID[$name]})"
            timeout 600 "$PY" "$HERE/lib/idle_clients.py" --port "${PORT[$name]}" --pid "${PID[$name]}" \
                --user postgres --password "$PGPASS" --db pgbench --n "$IDLE_CLIENTS" --label "$t" \
                --json "$RUN/idle-$t.json" || log "pooling: idle clients on $t: exit status $?"
            if ! kill -0 "${PID[$name]}" 2>/dev/null; then
                idle_error "$t" "exited: $(why_exited "${LOGF[$name]}")"
            fi
        else
            idle_error "$t" "${STATUS[$name]}"
        fi
        stop_target "$name"
    done
fi

# ---------------------------------------------------------------- micro-benchmarks, report
if [ "$MODE" = pooling ] || [ "$MODE" = cache ]; then
    : # not part of this comparison
elif [ -x "$MICRO_BIN" ]; then
    log "micro-benchmarks: $MICRO_BIN"
    timeout 300 "$MICRO_BIN" > "$RUN/micro.txt" 2>&1 || echo "(pgstash-bench exited with status $?)" >> "$RUN/micro.txt"
else
    echo "(not built: $MICRO_BIN; run make release)" > "$RUN/micro.txt"
fi
meta TOTAL_SECONDS "$(( $(date +%s) - T0 ))"
mkdir -p "$HERE/results"
out_md=$HERE/results/latest.md; out_png=$HERE/results/latest.png; docs=(--docs "$ROOT/docs/benchmarks.md")
# A partial run (a scenario alone, or a narrowed matrix) does not replace the published figures.
if [ "$MODE" = pooling ]; then
    out_md=$HERE/results/pooling-latest.md
    [ -n "${CLIENTS_SET}${MODES_SET}${TARGETS_SET}" ] && out_md=$RUN/pooling-partial.md
    "$PY" "$HERE/lib/report.py" pooling --run "$RUN" --md "$out_md"
    log "done in $(( $(date +%s) - T0 )) s: $out_md"
    exit 0
fi
if [ "$MODE" = cache ]; then
    out_md=$HERE/results/cache-latest.md
    [ -n "$NARROWED" ] && out_md=$RUN/cache-partial.md
    "$PY" "$HERE/lib/cache_report.py" --run "$RUN" --md "$out_md"
    log "done in $(( $(date +%s) - T0 )) s: $out_md"
    exit 0
fi
if [ "$MODE" = scenario ]; then
    out_md=$HERE/results/$SCENARIO.md; out_png=$HERE/results/$SCENARIO.png; docs=()
elif [ -n "$NARROWED" ]; then
    out_md=$RUN/partial.md; out_png=$RUN/partial.png; docs=()
fi
"$PY" "$HERE/lib/report.py" report --run "$RUN" --md "$out_md" --png "$out_png" "${docs[@]}"
log "done in $(( $(date +%s) - T0 )) s: $out_md"
exit 0
}
