#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL 15 and Redis on free loopback ports, then stops
# them. The command sees PGSTASH_TEST_PG_PORT, PGSTASH_TEST_PG_PASSWORD, PGSTASH_TEST_REDIS_PORT.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BASE=$(mktemp -d /tmp/pgstash-test.XXXXXX)
chmod 755 "$BASE"
cleanup() { "$here/pg.sh" down "$BASE/pg"; "$here/redis.sh" down "$BASE/redis"; rm -rf "$BASE"; }
trap cleanup EXIT
PGPASS=secret "$here/pg.sh" up "$BASE/pg" >/dev/null
"$here/redis.sh" up "$BASE/redis" >/dev/null
export PGSTASH_TEST_PG_PORT=$(cat "$BASE/pg/port")
export PGSTASH_TEST_PG_PASSWORD=secret
export PGSTASH_TEST_REDIS_PORT=$(cat "$BASE/redis/redis.port")
export PGSTASH_TEST_TMP=$BASE
echo "test servers: postgres 127.0.0.1:$PGSTASH_TEST_PG_PORT, redis 127.0.0.1:$PGSTASH_TEST_REDIS_PORT"
set +e
"$@"
rc=$?
exit $rc
