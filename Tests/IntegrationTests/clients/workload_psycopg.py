#!/usr/bin/python3
"""psycopg 3 with server-side prepared statements (prepare_threshold=0: every statement is a
named prepared statement from its first use) over CONNECTIONS connections through pgstash
in transaction mode, QUERIES statements in all. Each connection owns the rows with
owner = its number in TABLE (id int primary key, owner int, val int) and keeps what they
must hold; every SELECT result is checked, and at the end the table is compared, through a
direct connection, with what the connections committed. Prints one JSON summary line.

usage: workload_psycopg.py PROXY_DSN DIRECT_DSN CONNECTIONS QUERIES TABLE
"""
import json
import sys
import threading
import time

import psycopg

DEADLINE = 50.0


class Rollback(Exception):
    pass


def main():
    proxy_dsn, direct_dsn = sys.argv[1], sys.argv[2]
    connections, total, table = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    per_connection = total // connections
    lock = threading.Lock()
    stats = {"queries": 0, "wrong_results": 0, "transactions": 0, "rollbacks": 0}
    errors = []
    expected = {}   # id -> val, all connections
    start = time.monotonic()

    def worker(w):
        mine = {}
        done = 0
        wrong = 0
        transactions = rollbacks = 0
        next_id = w * 100_000

        def check(got, want, what):
            nonlocal wrong
            if got != want:
                wrong += 1
                with lock:
                    if len(errors) < 20:
                        errors.append(f"conn {w} query {done}: {what}: got {got!r}, want {want!r}")

        try:
            with psycopg.connect(proxy_dsn, autocommit=True, prepare_threshold=0, connect_timeout=30) as conn:
                while done < per_connection and time.monotonic() - start < DEADLINE:
                    step = done % 10
                    if not mine and step != 0:
                        step = 6        # nothing to read or update yet: insert first
                    if per_connection - done < 3:
                        step = 0        # room for single statements only
                    if step in (0, 1, 2):
                        a, b = done * 7 + w, w
                        row = conn.execute("SELECT %s::int + %s::int, %s::text || '-' || %s::text",
                                           (a, b, "w", w)).fetchone()
                        check(row, (a + b, f"w-{w}"), "arithmetic")
                        done += 1
                    elif step in (3, 4):
                        rid = sorted(mine)[done % len(mine)]
                        row = conn.execute(f"SELECT val, owner FROM {table} WHERE id = %s", (rid,)).fetchone()
                        check(row, (mine[rid], w), f"row {rid}")
                        done += 1
                    elif step == 5:
                        row = conn.execute(f"SELECT count(*), coalesce(sum(val), 0) FROM {table} WHERE owner = %s",
                                           (w,)).fetchone()
                        check(row, (len(mine), sum(mine.values())), "owner totals")
                        done += 1
                    elif step in (6, 7):
                        # INSERT then read it back inside one explicit transaction.
                        rid, val = next_id, done
                        next_id += 1
                        with conn.transaction():
                            conn.execute(f"INSERT INTO {table} (id, owner, val) VALUES (%s, %s, %s)", (rid, w, val))
                            row = conn.execute(f"SELECT val FROM {table} WHERE id = %s", (rid,)).fetchone()
                        mine[rid] = val
                        transactions += 1
                        check(row, (val,), "inserted row")
                        done += 2
                    elif step == 8:
                        rid = sorted(mine)[0]
                        with conn.transaction():
                            row = conn.execute(f"UPDATE {table} SET val = val + %s WHERE id = %s RETURNING val",
                                               (3, rid)).fetchone()
                        mine[rid] += 3
                        transactions += 1
                        check(row, (mine[rid],), "updated row")
                        done += 1
                    else:
                        # An UPDATE rolled back: the row must keep its value.
                        rid = sorted(mine)[-1]
                        try:
                            with conn.transaction():
                                conn.execute(f"UPDATE {table} SET val = -1 WHERE id = %s", (rid,))
                                raise Rollback()
                        except Rollback:
                            pass
                        rollbacks += 1
                        done += 1
                        row = conn.execute(f"SELECT val FROM {table} WHERE id = %s", (rid,)).fetchone()
                        check(row, (mine[rid],), "rolled-back row")
                        done += 1
        except Exception as e:  # noqa: BLE001 - every failure is reported
            with lock:
                errors.append(f"conn {w} after {done} queries: {type(e).__name__}: {e}".strip())
        with lock:
            stats["queries"] += done
            stats["wrong_results"] += wrong
            stats["transactions"] += transactions
            stats["rollbacks"] += rollbacks
            expected.update(mine)

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, DEADLINE + 5 - (time.monotonic() - start)))
    alive = sum(t.is_alive() for t in threads)

    # The committed state, read past pgstash.
    mismatched_rows = -1
    try:
        with psycopg.connect(direct_dsn) as direct:
            actual = dict(direct.execute(f"SELECT id, val FROM {table}").fetchall())
        mismatched_rows = sum(1 for k in set(actual) | set(expected) if actual.get(k) != expected.get(k))
    except Exception as e:  # noqa: BLE001
        errors.append(f"verification: {type(e).__name__}: {e}")

    with lock:
        print(json.dumps({
            **stats, "errors": len(errors) + alive, "still_running": alive, "rows": len(expected),
            "mismatched_rows": mismatched_rows, "first_errors": errors[:8],
            "seconds": round(time.monotonic() - start, 2),
        }), flush=True)


if __name__ == "__main__":
    main()
