"""Stale-read and lost-write checker for the result cache.

Usage: stale_check.py DSN_DIRECT CLIENTS OPERATIONS DSN_PROXY [DSN_PROXY ...]

CLIENTS threads, spread over the pgstash instances, run OPERATIONS operations in all on a few
hot rows of `stale_hot (id, v)`, whose values only ever increase by one:
  - reads (60%), simple or extended protocol, which the cache may serve;
  - autocommit increments (25%), extended protocol with RETURNING;
  - increments inside an explicit transaction (15%), committed or (one in four) rolled back.
Every read is compared with the last value *acknowledged* before the read started: a smaller
value is a stale read. At the end each row must hold exactly the number of acknowledged
increments (a lost write otherwise). Also counts failed client operations.

Prints one JSON line: {"operations", "reads", "writes", "stale", "lost", "failed", "errors"}.
The environment variable STALE_CHECK_SECONDS bounds the run time (default 600).
"""
import json
import os
import random
import sys
import threading
import time

import psycopg

DIRECT, CLIENTS, OPS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
PROXIES = sys.argv[4:]
ROWS = 8
deadline = time.time() + float(os.environ.get("STALE_CHECK_SECONDS", "600"))

with psycopg.connect(DIRECT, autocommit=True) as c:
    c.execute("DROP TABLE IF EXISTS stale_hot")
    c.execute("CREATE TABLE stale_hot (id int PRIMARY KEY, v bigint NOT NULL)")
    c.execute("INSERT INTO stale_hot SELECT g, 0 FROM generate_series(1, %s) g", (ROWS,))
    time.sleep(0.1)

lock = threading.Lock()
acked = [0] * (ROWS + 1)        # highest value acknowledged to any client, per row
increments = [0] * (ROWS + 1)   # acknowledged increments, per row
stats = {"operations": 0, "reads": 0, "writes": 0, "stale": 0, "failed": 0, "errors": []}
remaining = [OPS]


def take():
    with lock:
        if remaining[0] <= 0 or time.time() > deadline:
            return False
        remaining[0] -= 1
        return True


def acknowledge(row, value):
    with lock:
        increments[row] += 1
        if value > acked[row]:
            acked[row] = value
        stats["writes"] += 1


def client(n):
    dsn = PROXIES[n % len(PROXIES)]
    conn = None
    rnd = random.Random(n)
    while take():
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(dsn, autocommit=True, prepare_threshold=None if n % 2 else 0)
            row = rnd.randint(1, ROWS)
            p = rnd.random()
            if p < 0.60:
                with lock:
                    floor = acked[row]
                if n % 3 == 0:
                    v = conn.execute(f"SELECT v FROM stale_hot WHERE id = {row}").fetchone()[0]
                else:
                    v = conn.execute("SELECT v FROM stale_hot WHERE id = %s", (row,)).fetchone()[0]
                with lock:
                    stats["reads"] += 1
                    if v < floor:
                        stats["stale"] += 1
                        if len(stats["errors"]) < 10:
                            stats["errors"].append(f"stale read of row {row}: {v} < {floor}")
            elif p < 0.85:
                v = conn.execute("UPDATE stale_hot SET v = v + 1 WHERE id = %s RETURNING v", (row,)).fetchone()[0]
                acknowledge(row, v)
            else:
                rollback = rnd.random() < 0.25
                conn.execute("BEGIN")
                v = conn.execute("UPDATE stale_hot SET v = v + 1 WHERE id = %s RETURNING v", (row,)).fetchone()[0]
                seen = conn.execute("SELECT v FROM stale_hot WHERE id = %s", (row,)).fetchone()[0]
                if seen != v:
                    with lock:
                        stats["stale"] += 1
                        stats["errors"].append(f"a transaction did not see its own write: {seen} != {v}")
                if rollback:
                    conn.execute("ROLLBACK")
                else:
                    conn.execute("COMMIT")
                    acknowledge(row, v)
            with lock:
                stats["operations"] += 1
        except Exception as e:  # a failed client operation: counted, and the client reconnects
            with lock:
                stats["failed"] += 1
                if len(stats["errors"]) < 10:
                    stats["errors"].append(f"{type(e).__name__}: {e}"[:300])
            try:
                conn.close()
            except Exception:
                pass
            conn = None
    if conn is not None:
        conn.close()


threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
start = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.time() - start

with psycopg.connect(DIRECT, autocommit=True) as c:
    final = dict(c.execute("SELECT id, v FROM stale_hot").fetchall())
lost = sum(1 for r in range(1, ROWS + 1) if final[r] != increments[r])
stats["lost"] = lost
if lost:
    stats["errors"].append(f"final {final} vs acknowledged increments {increments[1:]}")
stats["seconds"] = round(elapsed, 2)
stats["ops_per_second"] = round(stats["operations"] / elapsed, 1) if elapsed else 0
print(json.dumps(stats))
