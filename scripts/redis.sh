#!/usr/bin/env bash
# Throwaway Redis: `redis.sh up BASE [PORT]` / `redis.sh down BASE`.
set -euo pipefail
cmd=${1:?up|down}; BASE=${2:?base dir}
case "$cmd" in
up)
    PORT=${3:-$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')}
    mkdir -p "$BASE"
    if [ -f "$BASE/redis.pid" ] && kill -0 "$(cat "$BASE/redis.pid")" 2>/dev/null; then
        echo "redis already up: port=$(cat "$BASE/redis.port")"; exit 0
    fi
    redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --pidfile "$BASE/redis.pid" --logfile "$BASE/redis.log" --dir "$BASE"
    for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    echo "$PORT" > "$BASE/redis.port"
    echo "redis up: port=$PORT"
    ;;
down)
    [ -f "$BASE/redis.pid" ] && kill "$(cat "$BASE/redis.pid")" 2>/dev/null || true
    rm -f "$BASE/redis.pid"
    ;;
esac
