#!/usr/bin/env bash
# node-postgres for the driver tests. The machine's node is NodeSource's; Debian's node-pg
# depends on libnode108, which conflicts with it, so the packages are downloaded and unpacked
# (not installed) into a cache folder. Prints the folder to put in NODE_PATH.
# Idempotent: does nothing when the cache already holds pg and pg-cursor.
#     NODE_PATH=$(scripts/node-pg.sh) node client.js
set -euo pipefail
DIR=${PGSTASH_NODE_PG_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pgstash/node-pg}
LIB="$DIR/usr/share/nodejs"
PKGS="node-pg node-split2 node-xtend"
if [ ! -f "$LIB/pg/package.json" ] || [ ! -e "$LIB/pg-cursor" ] || [ ! -e "$LIB/split2" ]; then
    command -v node >/dev/null || { echo "node-pg: node is not on PATH" >&2; exit 1; }
    mkdir -p "$DIR/debs"
    cd "$DIR/debs"
    if ! apt-get download $PKGS >/dev/null 2>&1; then
        SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
        $SUDO apt-get update -qq
        apt-get download $PKGS >/dev/null
    fi
    for deb in ./*.deb; do dpkg-deb -x "$deb" "$DIR"; done
fi
# A check that the unpacked modules load with this node.
NODE_PATH="$LIB" node -e 'require("pg"); require("pg-cursor")' >&2 || { echo "node-pg: pg does not load from $LIB" >&2; exit 1; }
echo "$LIB"
