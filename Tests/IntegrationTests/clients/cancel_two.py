#!/usr/bin/python3
"""Cancel routing: clients A and B (psycopg, through pgstash) each run pg_sleep(SLEEP);
after a second, TARGET's connection is cancelled with libpq's PQcancel (conn.cancel()),
and an idle third client C sends a cancel request too (it must reach nobody). The target
must end with 57014 quickly, the other must finish its sleep normally; then both must still
work. Prints one JSON summary line.

usage: cancel_two.py DSN TARGET(a|b) SLEEP
"""
import json
import sys
import threading
import time

import psycopg


def main():
    dsn, target, sleep = sys.argv[1], sys.argv[2], float(sys.argv[3])
    conns = {n: psycopg.connect(dsn, autocommit=True, connect_timeout=20) for n in ("a", "b", "c")}
    results = {}

    def run(name):
        start = time.monotonic()
        try:
            row = conns[name].execute("SELECT pg_sleep(%s), %s::text", (sleep, name)).fetchone()
            results[name] = {"outcome": "completed", "value": row[1], "seconds": round(time.monotonic() - start, 2)}
        except psycopg.Error as e:
            results[name] = {"outcome": "error", "sqlstate": e.sqlstate, "message": str(e).strip(),
                             "seconds": round(time.monotonic() - start, 2)}

    threads = {n: threading.Thread(target=run, args=(n,), daemon=True) for n in ("a", "b")}
    for t in threads.values():
        t.start()
    time.sleep(1.0)
    conns["c"].cancel()      # idle client: must cancel nothing
    time.sleep(0.2)
    conns[target].cancel()
    for t in threads.values():
        t.join(sleep + 15)
    after = {}
    for n in ("a", "b", "c"):
        try:
            after[n] = conns[n].execute("SELECT 41 + 1").fetchone()[0]
        except psycopg.Error as e:
            after[n] = f"{e.sqlstate}: {e}"
    print(json.dumps({"target": target, "a": results.get("a"), "b": results.get("b"), "after": after}), flush=True)


if __name__ == "__main__":
    main()
