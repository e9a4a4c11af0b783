#!/usr/bin/env bash
# Installs what pgstash needs to build, test and benchmark, from Debian's packages.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail
PKGS="libpq-dev libhiredis-dev libssl-dev libpg-query-dev postgresql-15 postgresql-client-15
      redis-server redis-tools pgbouncer python3-psycopg python3-asyncpg python3-matplotlib
      ca-certificates
      openjdk-17-jdk-headless libpostgresql-jdbc-java
      prometheus"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# node-postgres (Debian's node-pg) unpacked next to NodeSource's node (scripts/node-pg.sh).
"$(dirname "$0")/node-pg.sh" >/dev/null || echo "deps: node-postgres is not available (DriverTests' node test will fail)"
# Debian's packages may start their own services; pgstash's fixtures use their own ports.
command -v swift >/dev/null || { echo "deps: the Swift toolchain is not on PATH (see README)"; exit 1; }
echo "deps: ok"
