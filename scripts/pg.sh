#!/usr/bin/env bash
# Throwaway PostgreSQL 15: `pg.sh up BASE [PORT]` / `pg.sh down BASE`.
# PostgreSQL refuses to run as root, so initdb/pg_ctl run as the `postgres` OS user.
set -euo pipefail
PGBIN=/usr/lib/postgresql/15/bin
cmd=${1:?up|down}; BASE=${2:?base dir}
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
up)
    PORT=${3:-$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')}
    PGPASS=${PGPASS:-secret}
    if [ -f "$BASE/data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$BASE/data" status >/dev/null 2>&1; then
        echo "postgres already up: port=$(cat "$BASE/port")"; exit 0
    fi
    mkdir -p "$BASE"
    chmod 755 "$BASE"
    if [ ! -f "$BASE/data/PG_VERSION" ]; then
        rm -rf "$BASE/data"; mkdir -p "$BASE/data" "$BASE/sock" "$BASE/log"
        printf '%s\n' "$PGPASS" > "$BASE/pwfile"
        [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$BASE/data" "$BASE/sock" "$BASE/log" "$BASE/pwfile"
        chmod 700 "$BASE/data"; chmod 600 "$BASE/pwfile"
        as_pg "$PGBIN/initdb" -D "$BASE/data" -U postgres --pwfile="$BASE/pwfile" \
            --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
        cat >> "$BASE/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$BASE/sock'
password_encryption = 'scram-sha-256'
max_connections = 300
wal_level = logical
max_wal_senders = 4
max_replication_slots = 4
fsync = off
full_page_writes = off
shared_buffers = 256MB
CONF
    fi
    mkdir -p "$BASE/log"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$BASE/log"
    sed -i '/^port = /d' "$BASE/data/postgresql.conf"; echo "port = $PORT" >> "$BASE/data/postgresql.conf"
    as_pg "$PGBIN/pg_ctl" -D "$BASE/data" -l "$BASE/log/server.log" -w -t 60 start >/dev/null
    echo "$PORT" > "$BASE/port"
    echo "postgres up: port=$PORT"
    ;;
down)
    [ -d "$BASE/data" ] && as_pg "$PGBIN/pg_ctl" -D "$BASE/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
esac
